// One PostgreSQL pool per process, rebuilt when the settings change (the orchestrator rewrites
// the writer endpoint after a failover). Errors that mean "the database is not there" become
// DatabaseUnavailableError (503); every operation of the payment store is idempotent, so a
// connection error is retried once on a fresh connection with freshly read settings.
import { createHash } from "node:crypto";
import { fullJitterMs } from "./connect-jitter";
import { Pool } from "pg";
import type { ClientConfig, PoolClient, PoolConfig, QueryResult, QueryResultRow } from "pg";
import { DATABASE_POOL_MAX } from "../../common/contract";
import {
  CommitUnconfirmedError,
  DatabaseUnavailableError,
  WriterCheckFailedError,
  WriterMismatchError,
} from "./errors";

export type DatabaseSettings =
  /** DATABASE_URL: tests and local runs, no TLS. */
  | { readonly kind: "url"; readonly connectionString: string }
  /** Aurora through SSM: always TLS with certificate verification. */
  | {
      readonly kind: "aurora";
      readonly host: string;
      readonly port: number;
      readonly database: string;
      readonly user: string;
      /**
       * The master password (the migrate function), or a provider called for every new
       * connection (the application role's IAM authentication token, see runtime.ts).
       */
      readonly password: string | PasswordProvider;
    };

/** Returns the password for one new connection (node-postgres calls it on each connect). */
export type PasswordProvider = () => Promise<string>;

export interface Timeouts {
  /** Waiting for a connection (TCP + TLS + auth) or a free pool slot. */
  readonly connectMs: number;
  /** Server-side limit of one statement. */
  readonly statementMs: number;
}

export const API_TIMEOUTS: Timeouts = { connectMs: 3_000, statementMs: 5_000 };

/**
 * node-postgres pool settings of a payment function: its connections' settings (clientConfig)
 * and how the pool keeps them. Exported for bench:payments, whose raw-SQL side must use the same.
 */
export function poolConfig(
  settings: DatabaseSettings,
  applicationName: string,
  max: number,
  timeouts: Timeouts = API_TIMEOUTS,
): PoolConfig {
  return {
    ...clientConfig(settings, applicationName, timeouts),
    max,
    // An idle environment gives its slot back after a minute: after a burst, the writer's
    // count falls back to the environments actually working instead of the burst's peak.
    idleTimeoutMillis: 60_000,
    // Lambda freezes between invocations; recycle connections that may have gone stale, and
    // bound how long a connection can outlive a writer change that no error revealed.
    maxLifetimeSeconds: 300,
  };
}

/** node-postgres settings for one connection. */
export function clientConfig(
  settings: DatabaseSettings,
  applicationName: string,
  timeouts: Timeouts = API_TIMEOUTS,
): ClientConfig {
  const common: ClientConfig = {
    application_name: applicationName,
    connectionTimeoutMillis: timeouts.connectMs,
    statement_timeout: timeouts.statementMs,
    // The client gives up a little after the server would have cancelled the statement.
    query_timeout: timeouts.statementMs + 1_000,
    idle_in_transaction_session_timeout: timeouts.statementMs * 2,
    keepAlive: true,
  };
  if (settings.kind === "url") return { ...common, connectionString: settings.connectionString };
  return {
    ...common,
    host: settings.host,
    port: settings.port,
    database: settings.database,
    user: settings.user,
    password: settings.password,
    // The RDS CA comes from NODE_EXTRA_CA_CERTS (set on every function).
    ssl: { rejectUnauthorized: true },
  };
}

/** Identifies settings without keeping the password in memory twice. */
function settingsKey(settings: DatabaseSettings): string {
  const text =
    settings.kind === "url"
      ? settings.connectionString
      : [
          settings.host,
          settings.port,
          settings.database,
          settings.user,
          // A provider signs a fresh token per connection: only who and where identify the pool.
          typeof settings.password === "string" ? settings.password : "(per-connection token)",
        ].join("\n");
  return createHash("sha256").update(text).digest("hex");
}

function settingsHost(settings: DatabaseSettings): string {
  if (settings.kind === "aurora") return `${settings.host}:${settings.port}`;
  try {
    const url = new URL(settings.connectionString);
    return `${url.hostname}:${url.port || "5432"}`;
  } catch {
    return "(DATABASE_URL)";
  }
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);
// admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections
const SERVER_GONE_CODES = new Set(["57P01", "57P02", "57P03", "53300"]);
// read_only_sql_transaction: we reached a reader, typically an old writer after a failover.
const READ_ONLY = "25006";
// query_canceled (statement timeout), serialization_failure, deadlock_detected, lock_not_available
const TRANSIENT_CODES = new Set(["57014", "40001", "40P01", "55P03"]);
const CONNECTION_MESSAGES =
  /connection terminated|connection ended|timeout exceeded when trying to connect|connection timeout|client has encountered a connection error|client was closed|socket hang up|query read timeout/i;

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The connection broke or never formed: safe to retry an idempotent operation elsewhere. */
export function isConnectionError(error: unknown): boolean {
  const code = errorCode(error);
  if (code && (NETWORK_CODES.has(code) || SERVER_GONE_CODES.has(code) || code.startsWith("08"))) {
    return true;
  }
  return error instanceof Error && CONNECTION_MESSAGES.test(error.message);
}

/** node-postgres's query_timeout fired: the client gave up, the server may still be working. */
function isClientTimeout(error: unknown): boolean {
  return error instanceof Error && /query read timeout/i.test(error.message);
}

/**
 * node-postgres refused to send the statement at all: the client had already lost its
 * connection ("Client has encountered a connection error and is not queryable", "Client was
 * closed and is not queryable"). A COMMIT refused so never reached the server, and a
 * transaction whose connection ends before COMMIT is rolled back.
 */
function isNeverSent(error: unknown): boolean {
  return error instanceof Error && /is not queryable/i.test(error.message);
}

/** The settings may point at the wrong server: re-read them before the next attempt. */
export function isStaleEndpointError(error: unknown): boolean {
  const code = errorCode(error);
  return code === READ_ONLY || code === "ENOTFOUND" || code === "ECONNREFUSED";
}

/** Errors that mean "the database cannot serve this now" (503) rather than a bug. */
export function isUnavailableError(error: unknown): boolean {
  const code = errorCode(error);
  return (
    isConnectionError(error) ||
    code === READ_ONLY ||
    (code !== undefined && TRANSIENT_CODES.has(code))
  );
}

export interface DatabaseOptions {
  /** Current settings; called before each operation, so it must be cached by the caller. */
  readonly settings: () => Promise<DatabaseSettings>;
  /** Called when an error suggests the settings are stale (endpoint moved, writer demoted). */
  readonly onStaleSettings?: () => void;
  /** Called after a new pool replaced the old one (settings changed). */
  readonly onPoolReplaced?: (host: string) => void;
  readonly applicationName: string;
  /**
   * Connections per pool. @default DATABASE_POOL_MAX (1): a Lambda environment serves one
   * request at a time and each request uses one connection at a time; a larger pool only adds
   * idle server connections that count against the writer's max_connections. Raise it only
   * where one process serves concurrent requests (the benchmark).
   */
  readonly max?: number;
  readonly timeouts?: Timeouts;
  /**
   * How long an idle connection stays open. @default 60 s (poolConfig). The writers' pool on
   * their own cluster endpoint (the writer identity check's reference, read at most once per
   * 30 s) closes within a second, so it does not hold a second connection on the writer.
   */
  readonly idleTimeoutMs?: number;
  /**
   * Full jitter before reconnecting after a lost connection or a writer change
   * (connect-jitter.ts): spreads the environments that all lost the old writer at once.
   * @default - none (a cold start's first connection is never delayed)
   */
  readonly connectJitter?: ConnectJitter;
}

export interface ConnectJitter {
  /** The widest delay, ms (connectJitterCapMs of the function's timeout). 0 turns it off. */
  readonly capMs: number;
  /** @default Math.random */
  readonly random?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Date.now */
  readonly now?: () => number;
}

export type Queryable = Pick<PoolClient, "query">;

/**
 * Runs on every connection before the work does (the write functions' writer identity check,
 * writer-identity.ts). A WriterMismatchError or WriterCheckFailedError destroys that connection
 * and the work is retried once on a new one.
 */
export type ConnectionCheck = (client: Queryable) => Promise<void>;

const openDatabases = new Set<Database>();

export interface PoolStats {
  /** Connections the process's pools hold (busy or idle). */
  readonly open: number;
  readonly idle: number;
  /** Callers waiting for a connection: every slot of their pool is busy. */
  readonly waiting: number;
  /**
   * Connections each pool failed to open since the process started, by application_name and
   * the error's code (a SQLSTATE such as 53300 too_many_connections or 57P03 cannot_connect_now,
   * or a socket error such as ECONNREFUSED): which function was refused, and why.
   */
  readonly refusedBy: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /**
   * The latest refusals themselves with their time (epoch ms of this process's clock), at most
   * REFUSALS_KEPT per pool's database, oldest first; `seq` numbers them within the process, so a
   * sampler that reads them repeatedly counts each once (review 22b-18 L1': a refusal is only
   * expected while a writer changes, so when it happened matters).
   */
  readonly refusals?: readonly PoolRefusal[];
}

export interface PoolRefusal {
  readonly seq: number;
  readonly application: string;
  readonly code: string;
  readonly at: number;
}

/** Refusals each Database keeps with their time (the counts in `refused` are never dropped). */
export const REFUSALS_KEPT = 200;
let refusalSeq = 0;

/**
 * Why a pool could not hand out a connection: the server's SQLSTATE or the socket's code when
 * there is one; "pool-wait-timeout" when the caller waited out connectionTimeoutMillis for a slot
 * of a full pool (pg-pool: "timeout exceeded when trying to connect"), which is the function
 * starving its own pool, not the server refusing; "connect-timeout" when a new connection itself
 * timed out (pg: "Connection terminated due to connection timeout").
 */
export function connectFailureCode(error: unknown): string {
  const code = errorCode(error);
  if (code) return code;
  const message = (error as Error)?.message ?? "";
  if (/timeout exceeded when trying to connect/i.test(message)) return "pool-wait-timeout";
  return /timeout/i.test(message) ? "connect-timeout" : "unknown";
}

/**
 * What this process's pools hold right now. For a process that serves many requests at once
 * (the lab's region API, the benchmark): in a Lambda environment it is at most one connection.
 */
export function poolStats(): PoolStats {
  let open = 0;
  let idle = 0;
  let waiting = 0;
  const refusedBy: Record<string, Record<string, number>> = {};
  const refusals: PoolRefusal[] = [];
  for (const db of openDatabases) {
    refusals.push(...db.refusals);
    if (Object.keys(db.refused).length > 0) {
      const mine = (refusedBy[db.applicationName] ??= {});
      for (const [code, n] of Object.entries(db.refused)) mine[code] = (mine[code] ?? 0) + n;
    }
    const pool = db.currentPool;
    if (!pool) continue;
    open += pool.totalCount;
    idle += pool.idleCount;
    waiting += pool.waitingCount;
  }
  return { open, idle, waiting, refusedBy, refusals: refusals.sort((a, b) => a.seq - b.seq) };
}

/** Ends every pool of this process (tests and scripts; Lambda never needs it). */
export async function closeAllDatabases(): Promise<void> {
  await Promise.all([...openDatabases].map((db) => db.end()));
}

/**
 * Runs the statement that commits (COMMIT, or a write sent alone in autocommit, as authorize's
 * one statement) and turns every outcome the client cannot confirm into CommitUnconfirmedError,
 * which withClient never runs again (see Database.transaction for the cases and sources).
 * `what` names the statement in the message.
 */
export async function committing<T>(
  client: PoolClient,
  what: string,
  run: () => Promise<T>,
): Promise<T> {
  const warnings: string[] = [];
  // Every notice, for the message of a commit whose connection then ends: a terminate during a
  // commit wait sends its WARNING with SQLSTATE 57P01, not class 01.
  const notices: string[] = [];
  // By SQLSTATE class 01 (warning), not by `severity`, which the server localizes
  // (lc_messages): https://www.postgresql.org/docs/current/errcodes-appendix.html
  const onNotice = (notice: { code?: string; message?: string }) => {
    notices.push(`${notice.code ?? "?"} ${notice.message ?? "(no message)"}`);
    if (notice.code?.startsWith("01")) warnings.push(notice.message ?? "(no message)");
  };
  client.on("notice", onNotice);
  let result: T;
  try {
    result = await run();
  } catch (error) {
    if (isClientTimeout(error)) {
      throw new CommitUnconfirmedError(
        // The cause's text ("Query read timeout") stays out of the message: it would read as a
        // broken connection (CONNECTION_MESSAGES), retried and answered `unavailable`.
        `${what} did not answer within the client's query_timeout: the server may still commit it`,
        { cause: error },
      );
    }
    if (isConnectionError(error) && !isNeverSent(error)) {
      const said = notices.length > 0 ? ` (the server said: ${notices.join("; ")})` : "";
      throw new CommitUnconfirmedError(
        // Worded so that it does not read as a broken connection either; the cause keeps the
        // driver's own text and code.
        `the connection was lost while ${what} was in flight${said}: the server may have committed it`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    client.off("notice", onNotice);
  }
  if (warnings.length > 0) {
    throw new CommitUnconfirmedError(`${what} returned a warning: ${warnings.join("; ")}`);
  }
  return result;
}

export class Database {
  #pool?: Pool;
  #key?: string;
  /** The settings object the pool was last checked against (skips re-hashing the same object). */
  #checked?: DatabaseSettings;
  /**
   * A connection broke, the endpoint moved or the pool was replaced, and no new connection has
   * formed since: the next one is jittered. Never set before the first connection.
   */
  #reconnecting = false;
  #check?: ConnectionCheck;

  /** Connections this database's pools failed to open, by error code (poolStats). */
  readonly refused: Record<string, number> = {};
  /** The latest REFUSALS_KEPT of them with their time (poolStats). */
  readonly refusals: PoolRefusal[] = [];

  constructor(private readonly options: DatabaseOptions) {
    openDatabases.add(this);
  }

  get applicationName(): string {
    return this.options.applicationName;
  }

  /** Checks every connection before work runs on it (see ConnectionCheck). */
  useConnectionCheck(check: ConnectionCheck): void {
    this.#check = check;
  }

  /** The pool of the current settings, if one was built (poolStats). */
  get currentPool(): Pool | undefined {
    return this.#pool;
  }

  /** The pool for the current settings, replacing (and draining) the old one if they changed. */
  private async pool(): Promise<Pool> {
    const settings = await this.options.settings();
    if (this.#pool && settings === this.#checked) return this.#pool;
    const key = settingsKey(settings);
    this.#checked = settings;
    if (this.#pool && key === this.#key) return this.#pool;
    const previous = this.#pool;
    const pool = new Pool({
      ...poolConfig(
        settings,
        this.options.applicationName,
        this.options.max ?? DATABASE_POOL_MAX,
        this.options.timeouts,
      ),
      ...(this.options.idleTimeoutMs === undefined
        ? {}
        : { idleTimeoutMillis: this.options.idleTimeoutMs }),
    });
    // An idle client losing its connection must not crash the process; the pool drops it. It is
    // how most environments learn the writer went away (their connection was idle between
    // requests), so the next connection is a reconnection and is jittered.
    pool.on("error", () => {
      if (this.#pool === pool) this.#reconnecting = true;
    });
    this.#pool = pool;
    this.#key = key;
    // Used again after end() (closeAllDatabases in a test): counted and closed again.
    openDatabases.add(this);
    if (previous) {
      this.#reconnecting = true;
      // In-flight work on the old pool finishes; its connections close as they are released.
      previous.end().catch(() => undefined);
      this.options.onPoolReplaced?.(settingsHost(settings));
    }
    return pool;
  }

  /**
   * Runs `work` on one connection. On a connection error, or a sign that the endpoint moved,
   * retries once on a new connection (after re-reading the settings): every caller's work is
   * idempotent. Other errors pass through untouched, so domain errors reach the handler.
   */
  async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const started = (this.options.connectJitter?.now ?? Date.now)();
    for (let attempt = 1; ; attempt++) {
      let client: PoolClient | undefined;
      // A checked-out client has no listener of its own: a connection lost between two
      // statements would otherwise be an unhandled 'error' event and kill the process. The next
      // statement fails anyway ("not queryable"), which is handled below.
      const onError = () => undefined;
      try {
        const pool = await this.pool();
        if (this.#reconnecting) await this.jitter(started);
        try {
          client = await pool.connect();
        } catch (error) {
          const code = connectFailureCode(error);
          this.refused[code] = (this.refused[code] ?? 0) + 1;
          this.refusals.push({
            seq: ++refusalSeq,
            application: this.options.applicationName,
            code,
            at: Date.now(),
          });
          if (this.refusals.length > REFUSALS_KEPT) this.refusals.shift();
          throw error;
        }
        this.#reconnecting = false;
        client.on("error", onError);
        if (this.#check) await this.#check(client);
        const result = await work(client);
        client.off("error", onError);
        client.release();
        return result;
      } catch (error) {
        // A connection that reaches the wrong server, or whose identity check failed (it may
        // sit in the check's aborted transaction), is never handed out again.
        const refusedByCheck =
          error instanceof WriterMismatchError || error instanceof WriterCheckFailedError;
        const broken = isConnectionError(error) || refusedByCheck;
        // A COMMIT abandoned on the client's timeout: its connection is mid-statement, so it is
        // destroyed rather than reused, and the transaction is not run again.
        const abandoned = error instanceof CommitUnconfirmedError && isConnectionError(error.cause);
        client?.off("error", onError);
        if (abandoned) {
          client?.release(error);
          this.#reconnecting = true;
          throw error;
        }
        client?.release(broken ? (error as Error) : undefined);
        if (isStaleEndpointError(error)) this.options.onStaleSettings?.();
        // A check's refusal is no sign of a writer change's reconnect storm: the SSM parameter
        // did not change (DNS did, or the deploy is wrong), so no re-read and no jitter
        // (review 24-10l L2); the retry below is one new connection.
        if ((broken && !refusedByCheck) || isStaleEndpointError(error)) this.#reconnecting = true;
        if (attempt < 2 && (broken || isStaleEndpointError(error))) continue;
        if (isUnavailableError(error)) {
          throw new DatabaseUnavailableError((error as Error).message, { cause: error });
        }
        throw error;
      }
    }
  }

  /**
   * Waits a full-jitter delay (connect-jitter.ts) before a reconnection. The cap is the
   * function's spare time (connectJitterCapMs), less what this call already spent (a failed
   * first attempt): jitter never pushes a request past the budget it was given.
   */
  private async jitter(started: number): Promise<void> {
    const jitter = this.options.connectJitter;
    if (!jitter) return;
    const spent = (jitter.now ?? Date.now)() - started;
    const ms = fullJitterMs(jitter.capMs - Math.max(0, spent), jitter.random ?? Math.random);
    if (ms <= 0) return;
    await (jitter.sleep ?? ((t: number) => new Promise<void>((r) => setTimeout(r, t))))(ms);
  }

  async query<R extends QueryResultRow>(
    text: string,
    values?: readonly unknown[],
  ): Promise<QueryResult<R>> {
    return this.withClient((client) => client.query<R>(text, values as unknown[]));
  }

  /**
   * BEGIN ... COMMIT around `work`; ROLLBACK on any error (domain errors included). A COMMIT
   * whose outcome is not known to be replicated throws CommitUnconfirmedError instead of
   * returning, and is never run again (review M2, review 22 L2):
   * - it returns with a warning (SQLSTATE class 01): a cancelled commit wait is written locally
   *   but maybe not replicated, and an acknowledgement would promise what `rds.global_db_rpo`
   *   was set to prevent. statement_timeout does not end a commit wait (measured, PostgreSQL
   *   16); a cancel does (pg_cancel_backend, or Aurora's own, undocumented);
   * - the client's query_timeout ends it ("Query read timeout"), which is how a commit paused by
   *   the RPO guard actually ends here: the server may still commit it once the pause ends, so
   *   running the transaction again on a new connection (withClient's retry after a broken
   *   connection) would wait behind its row locks and answer 503 unavailable for a write that
   *   may land. The connection is destroyed (withClient), not returned to the pool;
   * - the connection ends while it is in flight: the server terminated the backend (57P01
   *   admin_shutdown, 57P02, 57P03), the link failed (class 08) or the socket was reset or
   *   closed ("Connection terminated unexpectedly"). PostgreSQL documents that the outcome is
   *   then unknown to the client: pg_xact_status exists "to determine whether their transaction
   *   committed or aborted after the application and database server become disconnected while
   *   a COMMIT is in progress" (https://www.postgresql.org/docs/16/functions-info.html), and
   *   commits waiting for a standby when the primary restarts "will be marked fully committed
   *   once the primary database recovers"
   *   (https://www.postgresql.org/docs/16/warm-standby.html#SYNCHRONOUS-REPLICATION-HA). A
   *   terminate during a commit wait is the measured case: the server warns "canceling the wait for
   *   synchronous replication and terminating connection due to administrator command ... The
   *   transaction has already committed locally" (SQLSTATE 57P01, a WARNING, not class 01) and
   *   closes the connection without an answer to COMMIT (src/backend/replication/syncrep.c).
   *   Retried on a new connection, the transaction would replay its own recorded answer as a
   *   2xx: an acknowledgement of a write no secondary may hold (review 22 L2).
   *   Only a COMMIT node-postgres never sent (isNeverSent) is an ordinary connection error.
   */
  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query("BEGIN");
      let result: T;
      try {
        result = await work(client);
      } catch (error) {
        if (!isConnectionError(error)) await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
      try {
        await committing(client, "COMMIT", () => client.query("COMMIT"));
      } catch (error) {
        // Failed before it committed (nothing to roll back after a COMMIT's own error).
        if (!(error instanceof CommitUnconfirmedError) && !isConnectionError(error)) {
          await client.query("ROLLBACK").catch(() => undefined);
        }
        throw error;
      }
      return result;
    });
  }

  async end(): Promise<void> {
    openDatabases.delete(this);
    const pool = this.#pool;
    this.#pool = undefined;
    this.#key = undefined;
    this.#checked = undefined;
    await pool?.end();
  }
}
