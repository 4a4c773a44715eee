// The write path confirms, on the very connection it writes through, that the server is this
// region's writer (review 23b-10 M1).
//
// Why: the payment functions reach Aurora through the GLOBAL writer endpoint. After a managed
// failover AWS says "The global writer endpoint update after a global database failover or
// switchover can take a long time depending upon your DNS caching duration", and "Although Aurora
// attempts on best-effort basis to block writes in the original primary AWS Region, failover can
// be susceptible to split-brain issues"
// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-connecting.html).
// So a cached DNS answer, or a connection pooled while the region was passive, can still reach a
// reachable old primary that has not yet been demoted: Verify's synthetic payment, and the first
// merchant writes after Unfence, would commit there and be lost when it rejoins as a secondary.
// /health's proof reads the region's OWN cluster endpoint, a different connection; only a check
// on the write's own connection says where the write lands.
//
// The check (review 24-10l M1, replacing a join on aurora_global_db_instance_status()): the
// write's connection and a connection to this region's OWN cluster endpoint must reach the same
// instance, and it must not be in recovery.
// - `aurora_db_instance_identifier()` "Reports the name of the DB instance name to which you're
//   connected" (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_db_instance_identifier.html);
//   AWS: "This function is available starting with the release of Aurora PostgreSQL versions
//   13.7, 12.11, 11.16, 10.21 and for all other later versions" (infra/config.ts refuses older
//   engines; the migrate function verifies the function and the role's EXECUTE on it).
// - The cluster endpoint of this region's cluster "connects to the current primary DB instance"
//   of that cluster, and on a secondary cluster it is read-only ("You can still connect to the
//   cluster endpoint, but only for read queries",
//   https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-connecting.html).
//   So "same instance as my cluster endpoint, and not in recovery" means "this region's writer",
//   whatever the global topology says: after a managed failover or switchover (the global
//   endpoint follows the promoted cluster), after a detach (the writer endpoint parameter IS
//   this cluster endpoint), and on a standalone cluster. A detached or not-yet-demoted old
//   primary in the other region is never behind this region's cluster endpoint, so it is
//   refused whatever its global-database view says. No region names, no
//   aurora_global_db_instance_status() (whose standalone and privilege behaviour AWS does not
//   document), no join on server_id (unique per region only: AWS's own example lists one name
//   in two regions).
// - `pg_postmaster_start_time()` is compared too: DB instance identifiers are unique per
//   account and region only, so an operator-named instance in the other region could share this
//   region's writer's name; two instances do not share a postmaster start time, one instance
//   reached through two endpoints does. (The kit's own names carry the region code anyway.)
// - `pg_is_in_recovery()`: false on a writer.
// The reference answer (this region's cluster endpoint) is cached per flag epoch for
// OWN_IDENTITY_TTL_MS and read again once on a mismatch before refusing, so an in-region
// failover or an instance restart costs one extra query, never a refusal. A stale cached
// answer cannot accept a wrong writer: it names an instance of this region, which is a writer
// only if it is not in recovery.
//
// Failure mode (review 24-10l H1): the check is a gate on every write, so its own failure must
// be visible and retryable, never a 500. Anything that makes it fail other than a broken
// connection (the function missing, EXECUTE not granted, its statement_timeout of
// WRITER_CHECK_TIMEOUT_MS, the own cluster endpoint unreachable, anything else) is
// WriterCheckFailedError: 503 `database_unavailable` with Retry-After, metric
// WriterCheckFailed (by Reason, and by Region alone for the writer-check-failed alarm).
//
// When: a connection is checked once per flag epoch (active region, fencing token, phase) while
// writes are open, and at EVERY use while they are not (Verify's exempt synthetic payment and
// void between the proof and Unfence). Unfence changes the phase, so every pooled connection is
// checked again at its first use after it: that is the first-write-after-Unfence check, and a
// connection that fails it is destroyed (Database.withClient) and the write retried once on a
// new connection, without re-reading SSM and without reconnect jitter (the parameter did not
// change, DNS did: review 24-10l L2), else 503 database_unavailable (Retry-After), metric
// WriterMismatch, nothing written.
// The check and the write share one server session because the kit connects straight to
// Aurora: an RDS Proxy with transaction-level multiplexing would invalidate it (README).
//
// Where the database is not Aurora (DATABASE_URL: tests, the lab's per-region nodes) there is no
// region identity to read: no check unless DATABASE_WRITER_IDENTITY=aurora (tests that model
// Aurora's functions on a real PostgreSQL).
import { PAYMENTS_LOCAL_ENV } from "../../common/contract";
import { MissingEnvironmentError } from "../../common/env";
import type { DatabaseSettings, Queryable } from "./database";
import { isConnectionError } from "./database";
import { WriterCheckFailedError, WriterMismatchError } from "./errors";
import type { WriterCheckFailure } from "./errors";
import type { ActiveRegionFlag } from "./fencing";
import { writesOpen } from "./fencing";

/** "aurora": run the Aurora identity check; "none": no region identity to read (plain PostgreSQL). */
export type WriterIdentityMode = "aurora" | "none";

export const WRITER_IDENTITY_MODES: readonly WriterIdentityMode[] = ["aurora", "none"];

/**
 * The check's own server-side bound: an unknown stall is a fast 503, not the write's whole
 * statement budget (API_TIMEOUTS.statementMs).
 */
export const WRITER_CHECK_TIMEOUT_MS = 500;

/**
 * Idle time after which the writers close their connection to their own cluster endpoint: it is
 * read once per OWN_IDENTITY_TTL_MS at most, and a connection kept between reads would be a
 * second connection per environment on the writer, which the connection budget does not count.
 */
export const OWN_CLUSTER_IDLE_MS = 1_000;

/** How long this region's own cluster endpoint's answer is reused within one flag epoch. */
export const OWN_IDENTITY_TTL_MS = 30_000;

/**
 * The functions the check calls as the application role: the migrate function verifies that
 * each exists and that the role may EXECUTE it (migrate/core.ts), so a cluster that cannot
 * fails the deploy instead of every payment.
 */
export const WRITER_IDENTITY_FUNCTIONS = [
  "aurora_db_instance_identifier()",
  "pg_postmaster_start_time()",
  "pg_is_in_recovery()",
] as const;

/**
 * One round trip: the check's statement_timeout is local to its own short read-only
 * transaction, so the session's settings are untouched. (Several statements in one simple Query
 * message: the timeout applies to each, https://www.postgresql.org/docs/16/runtime-config-client.html.)
 */
export const AURORA_WRITER_IDENTITY_SQL = `BEGIN READ ONLY;
SET LOCAL statement_timeout = ${WRITER_CHECK_TIMEOUT_MS};
SELECT aurora_db_instance_identifier()::text AS instance,
       pg_postmaster_start_time()::text AS started,
       pg_is_in_recovery() AS in_recovery;
COMMIT`;

/** What one connection reaches. */
export interface InstanceIdentity {
  readonly instance: string | null;
  readonly started: string | null;
  readonly in_recovery: boolean;
}

/** Runs AURORA_WRITER_IDENTITY_SQL on a connection. */
export async function readIdentity(client: Queryable): Promise<InstanceIdentity> {
  const results = (await client.query(AURORA_WRITER_IDENTITY_SQL)) as unknown;
  const list = (Array.isArray(results) ? results : [results]) as { rows?: unknown[] }[];
  const row = list.find((r) => Array.isArray(r.rows) && r.rows.length > 0)?.rows?.[0];
  if (!row) throw new Error("the writer identity query returned no row");
  return row as InstanceIdentity;
}

export interface WriterCheckOptions {
  /** This function's region (messages). */
  readonly region: string;
  /** The flag as the guard has it (cached): its epoch decides when a connection is re-checked. */
  readonly flag: () => Promise<ActiveRegionFlag>;
  /** The mode for the current settings (Aurora settings: always "aurora"). */
  readonly mode: () => Promise<WriterIdentityMode>;
  /** The identity behind this region's own cluster endpoint (runtime.ts ownClusterEndpoint). */
  readonly ownCluster: () => Promise<InstanceIdentity>;
  /** @default Date.now */
  readonly now?: () => number;
}

/** DATABASE_WRITER_IDENTITY (DATABASE_URL only): "aurora" or "none", unset = "none". */
export function writerIdentityRequest(
  env: NodeJS.ProcessEnv = process.env,
): WriterIdentityMode | undefined {
  const raw = env[PAYMENTS_LOCAL_ENV.writerIdentity];
  if (raw === undefined || raw === "") return undefined;
  if (!(WRITER_IDENTITY_MODES as readonly string[]).includes(raw)) {
    throw new MissingEnvironmentError(
      `environment variable ${PAYMENTS_LOCAL_ENV.writerIdentity}=${JSON.stringify(raw)} must be one of ${WRITER_IDENTITY_MODES.join(", ")}`,
    );
  }
  return raw as WriterIdentityMode;
}

/** The mode: Aurora settings always check; DATABASE_URL only when asked to (tests). */
export function writerIdentityMode(
  settings: DatabaseSettings,
  requested: WriterIdentityMode | undefined,
): WriterIdentityMode {
  return settings.kind === "aurora" ? "aurora" : (requested ?? "none");
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** What an error of the check means, by SQLSTATE (https://www.postgresql.org/docs/16/errcodes-appendix.html). */
export function checkFailure(error: unknown, side: "write" | "own"): WriterCheckFailure {
  const state = sqlState(error) ?? sqlState((error as { cause?: unknown } | null)?.cause);
  if (state === "42883") return "function_missing";
  if (state === "42501") return "permission_denied";
  if (state === "57014") return "timeout";
  return side === "own" ? "own_cluster_unavailable" : "other";
}

const REMEDY: Partial<Record<WriterCheckFailure, string>> = {
  function_missing:
    "aurora_db_instance_identifier() does not exist: the engine is older than Aurora PostgreSQL 13.7/12.11/11.16/10.21 (upgrade it; README, Writer identity check)",
  permission_denied:
    "the application role may not EXECUTE aurora_db_instance_identifier(): run the migrate function, which grants and verifies it (README, Writer identity check)",
};

function describe(identity: InstanceIdentity): string {
  return `instance ${identity.instance ?? "(unnamed)"} (started ${identity.started ?? "?"}${identity.in_recovery ? ", in recovery" : ""})`;
}

function sameInstance(a: InstanceIdentity, b: InstanceIdentity): boolean {
  return a.instance !== null && a.instance === b.instance && a.started === b.started;
}

/**
 * A connection check for Database.useConnectionCheck: throws WriterMismatchError unless the
 * connection reaches the instance behind this region's own cluster endpoint and it is not in
 * recovery, and WriterCheckFailedError when the check cannot tell.
 */
export function writerIdentityCheck(
  options: WriterCheckOptions,
): (client: Queryable) => Promise<void> {
  const now = options.now ?? Date.now;
  // Per connection (pg-pool hands out the same client object for its whole life).
  const checkedIn = new WeakMap<object, string>();
  let own: { epoch: string; at: number; identity: InstanceIdentity } | undefined;
  const ownIdentity = async (epoch: string, fresh: boolean): Promise<InstanceIdentity> => {
    if (!fresh && own && own.epoch === epoch && now() - own.at < OWN_IDENTITY_TTL_MS) {
      return own.identity;
    }
    own = undefined;
    let identity: InstanceIdentity;
    try {
      identity = await options.ownCluster();
    } catch (error) {
      const reason = checkFailure(error, "own");
      throw new WriterCheckFailedError(
        reason,
        `the writer identity check could not read this region's (${options.region}) own cluster endpoint (${reason}): ${REMEDY[reason] ?? (error as Error).message}`,
        { cause: error },
      );
    }
    own = { epoch, at: now(), identity };
    return identity;
  };
  return async (client) => {
    if ((await options.mode()) === "none") return;
    const flag = await options.flag();
    const open = writesOpen(flag);
    const epoch = `${flag.activeRegion}|${flag.fencingToken ?? ""}|${flag.phase ?? ""}`;
    if (open && checkedIn.get(client) === epoch) return;
    checkedIn.delete(client);
    let reached: InstanceIdentity;
    try {
      reached = await readIdentity(client);
    } catch (error) {
      // A broken connection stays what it is: Database.withClient retries it on a new one.
      if (isConnectionError(error)) throw error;
      const reason = checkFailure(error, "write");
      throw new WriterCheckFailedError(
        reason,
        `the writer identity check failed on the write's connection (${reason}): ${REMEDY[reason] ?? (error as Error).message}`,
        { cause: error },
      );
    }
    let expected = await ownIdentity(epoch, false);
    // The cached answer may predate an in-region failover or a restart: ask once more.
    if (!sameInstance(reached, expected)) expected = await ownIdentity(epoch, true);
    if (!sameInstance(reached, expected)) {
      throw new WriterMismatchError(
        `the connection reaches ${describe(reached)}, not ${describe(expected)} behind this region's (${options.region}) own cluster endpoint: the global writer endpoint (or a pooled connection) still names another cluster's instance`,
      );
    }
    if (reached.in_recovery) {
      throw new WriterMismatchError(
        `the connection reaches ${describe(reached)}, which is in recovery (this region's cluster is not yet promoted): not a writer`,
      );
    }
    if (open) checkedIn.set(client, epoch);
  };
}
