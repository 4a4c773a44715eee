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
// The check (Aurora PostgreSQL's documented functions):
// - `aurora_db_instance_identifier()` "Reports the name of the DB instance name to which you're
//   connected" (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_db_instance_identifier.html,
//   Aurora PostgreSQL 13.7 and later; the kit deploys 16.x);
// - `aurora_global_db_instance_status()` lists every instance of the global database with its
//   `server_id` and `aws_region` ("The AWS Region in which this global DB instance runs"), and
//   `session_id` "MASTER_SESSION_ID identifies the Writer (primary) DB instance"
//   (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_global_db_instance_status.html);
//   joined on server_id it names the region of the connected instance;
// - `pg_is_in_recovery()`: false on a writer.
// AWS's own Advanced JDBC Wrapper asks the same of application connections for its global
// database support (GlobalAuroraPgDialect: "SELECT AWS_REGION FROM
// aurora_global_db_instance_status() WHERE SERVER_ID = ?", github.com/aws/aws-advanced-jdbc-wrapper),
// so neither function needs more than the application role's privileges (not tested here: no
// Aurora; a refusal would be a 503 on every write, visible at the first drill's Verify).
// A write goes ahead only when the connected instance runs in this function's region and is not
// in recovery. The region, not the writer role, is what catches the M1 case: an old primary that
// Aurora's best-effort fencing has not stopped still believes it is the writer, but it runs in
// the other region. Writes are accepted only in the region the flag names (fencing.ts), so in
// every accepted write the writer must be in the function's own region.
//
// When: a connection is checked once per flag epoch (active region, fencing token, phase) while
// writes are open, and at EVERY use while they are not (Verify's exempt synthetic payment and
// void between the proof and Unfence). Unfence changes the phase, so every pooled connection is
// checked again at its first use after it: that is the first-write-after-Unfence check, and a
// connection that fails it is destroyed (Database.withClient), the settings re-read and the
// write retried once on a new connection, else 503 database_unavailable (Retry-After) and
// nothing written.
//
// Where the database is not Aurora (DATABASE_URL: tests, the lab's per-region nodes) there is no
// region identity to read: no check unless DATABASE_WRITER_IDENTITY=aurora (tests that model
// Aurora's functions on a real PostgreSQL).
import type { DatabaseSettings, Queryable } from "./database";
import { WriterMismatchError } from "./errors";
import type { ActiveRegionFlag } from "./fencing";
import { writesOpen } from "./fencing";

/** "aurora": run the Aurora identity check; "none": no region identity to read (plain PostgreSQL). */
export type WriterIdentityMode = "aurora" | "none";

export const WRITER_IDENTITY_MODES: readonly WriterIdentityMode[] = ["aurora", "none"];

/** One statement: the connected instance, its region in the global database, its role. */
export const AURORA_WRITER_IDENTITY_SQL = `
  SELECT di.id AS instance,
         pg_is_in_recovery() AS in_recovery,
         s.aws_region AS region,
         s.session_id AS session_id,
         (SELECT count(*) FROM aurora_global_db_instance_status())::int AS listed
    FROM aurora_db_instance_identifier() AS di(id)
    LEFT JOIN aurora_global_db_instance_status() AS s ON s.server_id = di.id`;

interface IdentityRow {
  readonly instance: string | null;
  readonly in_recovery: boolean;
  readonly region: string | null;
  readonly session_id: string | null;
  /** Instances aurora_global_db_instance_status() lists at all (0: in no global database). */
  readonly listed?: number;
}

export interface WriterCheckOptions {
  /** This function's region: the writer must run there. */
  readonly region: string;
  /** The flag as the guard has it (cached): its epoch decides when a connection is re-checked. */
  readonly flag: () => Promise<ActiveRegionFlag>;
  /** The mode for the current settings (Aurora settings: always "aurora"). */
  readonly mode: () => Promise<WriterIdentityMode>;
}

/** The mode: Aurora settings always check; DATABASE_URL only when asked to (tests). */
export function writerIdentityMode(
  settings: DatabaseSettings,
  requested: WriterIdentityMode | undefined,
): WriterIdentityMode {
  return settings.kind === "aurora" ? "aurora" : (requested ?? "none");
}

/**
 * A connection check for Database.useConnectionCheck: throws WriterMismatchError unless the
 * connection's server is this region's writer.
 */
export function writerIdentityCheck(
  options: WriterCheckOptions,
): (client: Queryable) => Promise<void> {
  // Per connection (pg-pool hands out the same client object for its whole life).
  const checkedIn = new WeakMap<object, string>();
  return async (client) => {
    if ((await options.mode()) === "none") return;
    const flag = await options.flag();
    const open = writesOpen(flag);
    const epoch = `${flag.activeRegion}|${flag.fencingToken ?? ""}|${flag.phase ?? ""}`;
    if (open && checkedIn.get(client) === epoch) return;
    checkedIn.delete(client);
    const { rows } = await client.query<IdentityRow>(AURORA_WRITER_IDENTITY_SQL);
    const row = rows[0];
    const where = row
      ? `instance ${row.instance ?? "(unnamed)"} in ${row.region ?? "(no region listed)"}${row.session_id ? `, session ${row.session_id}` : ""}`
      : "no instance";
    // A cluster in no global database (the detach path promotes the secondary out of it,
    // RemoveFromGlobalCluster) has no global endpoint that could send this write elsewhere, and
    // the old primary stays in the global cluster, where it lists itself with its region. The
    // AWS page does not say what the function lists on a standalone cluster ("You can run this
    // function from any instance in an Aurora PostgreSQL DB cluster or Aurora PostgreSQL global
    // database"): an empty list must not refuse every write after a detach.
    const standalone = !!row && row.region === null && row.listed === 0;
    if (!row || (!standalone && row.region !== options.region)) {
      throw new WriterMismatchError(
        `the connection reaches ${where}, not this region's (${options.region}) writer: the global writer endpoint (or a pooled connection) still names another region's instance`,
      );
    }
    if (row.in_recovery) {
      throw new WriterMismatchError(
        `the connection reaches ${where}, which is in recovery (not yet promoted): not a writer`,
      );
    }
    if (open) checkedIn.set(client, epoch);
  };
}
