// An unplanned failover as the payment service sees it, on the real PostgreSQL of the test run.
//
// Aurora: a managed failover "doesn't wait for data to synchronize" and "can result in a loss of
// write transaction data that wasn't replicated to the chosen secondary before the failover
// event occurred. However, the recovery process ... guarantees that the data is in a
// transactionally consistent state" (aurora-global-database-disaster-recovery). So the promoted
// secondary holds exactly the committed state as of some earlier moment: `replicaState()` takes
// that state, `promote()` makes the database hold exactly it again, losing every commit since.
//
// DynamoDB global tables replicate independently ("asynchronously replicated to all other
// replicas, typically within a second or less", V2globaltables_HowItWorks), so whether a
// DynamoDB item made it across is decided separately by each test.
import type { Client } from "pg";

export interface ReplicaState {
  readonly payments: unknown;
  readonly events: unknown;
  readonly keys: unknown;
}

const TABLES = {
  payments: "payments",
  events: "payment_events",
  keys: "idempotency_keys",
} as const;

/** The committed rows of the payment tables, as the secondary has them at this moment. */
export async function replicaState(sql: Client): Promise<ReplicaState> {
  const state: Record<string, unknown> = {};
  for (const [name, table] of Object.entries(TABLES)) {
    const { rows } = await sql.query(
      `SELECT coalesce(json_agg(t), '[]'::json) AS rows FROM ${table} t`,
    );
    state[name] = rows[0].rows;
  }
  return state as unknown as ReplicaState;
}

/**
 * The secondary is promoted: the payment tables hold exactly `state` again. Runs as a
 * replication session (session_replication_role = replica), as a replica applying changes does,
 * so the lifecycle trigger and foreign keys do not fire on rows that are being put back.
 */
export async function promote(sql: Client, state: ReplicaState): Promise<void> {
  await sql.query("BEGIN");
  try {
    await sql.query("SET LOCAL session_replication_role = replica");
    for (const table of Object.values(TABLES)) await sql.query(`DELETE FROM ${table}`);
    for (const [name, table] of Object.entries(TABLES)) {
      await sql.query(
        `INSERT INTO ${table} SELECT * FROM json_populate_recordset(NULL::${table}, $1::json)`,
        [JSON.stringify(state[name as keyof ReplicaState])],
      );
    }
    await sql.query("COMMIT");
  } catch (error) {
    await sql.query("ROLLBACK");
    throw error;
  }
}

/**
 * How long an unplanned failover takes, from the lost commit to the client's retry reaching the
 * new primary: a fast drill (45 s), the README's worst-case RTO with the defaults (178 s), and
 * the RTO target (900 s). Aurora: "Typically, the chosen secondary cluster assumes the primary
 * role within a few minutes." Never below the longest Lambda timeout of a write (10 s).
 */
export const FAILOVER_SECONDS = [45, 178, 900] as const;

const realNow = Date.now.bind(Date);
let offsetMs = 0;

/**
 * Moves Date.now() forward by `ms` (cumulative within a test; jest.restoreAllMocks() in an
 * afterEach puts the real clock back).
 */
export function advanceClock(ms: number): void {
  if (!jest.isMockFunction(Date.now)) offsetMs = 0;
  offsetMs += ms;
  if (!jest.isMockFunction(Date.now)) {
    jest.spyOn(Date, "now").mockImplementation(() => realNow() + offsetMs);
  }
}
