// Review 22-13 H1, on a real PostgreSQL server: the function's timeout ends the invocation, not the
// statement it last sent. Lambda stops the function at its timeout
// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html) and its
// connection goes with it, but the server does not look at the client while a statement runs
// (client_connection_check_interval is 0 by default: "the server will detect the loss of the
// connection only at the next interaction with the socket",
// https://www.postgresql.org/docs/16/runtime-config-connection.html#GUC-CLIENT-CONNECTION-CHECK-INTERVAL):
// the statement runs on, and an autocommit statement commits, until statement_timeout aborts it
// (https://www.postgresql.org/docs/16/runtime-config-client.html#GUC-STATEMENT-TIMEOUT). The DR
// settle times must count it (infra/lib/fence-bound.ts, writeWorstCaseSeconds). Scaled down: a
// 600 ms function, a 1.5 s statement_timeout, set the way the payment functions set theirs
// (clientConfig).
import { Client } from "pg";
import { clientConfig } from "../../../functions/payments/shared/database";
import { writeWorstCaseSeconds } from "../../../infra/lib/fence-bound";
import { createTestDatabase } from "./support/database";
import type { TestDatabase } from "./support/database";

const FUNCTION_TIMEOUT_MS = 600;
const STATEMENT_MS = 1_500;
const path = { writeTimeoutSeconds: FUNCTION_TIMEOUT_MS / 1000, statementMs: STATEMENT_MS };

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  // A statement whose server-side work takes `work_s` (a lock wait, a slow disk): authorize's
  // single autocommit CTE, sent just before the deadline.
  await db.sql.query(`
    CREATE TABLE late_writes (id int PRIMARY KEY, work_s float8 NOT NULL);
    CREATE FUNCTION late_work() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_sleep(NEW.work_s); RETURN NEW; END $$;
    CREATE TRIGGER late_work BEFORE INSERT ON late_writes
      FOR EACH ROW EXECUTE FUNCTION late_work();`);
});

afterAll(async () => {
  await db.drop();
});

/**
 * One invocation whose fencing check passed at its start: it sends the INSERT 100 ms before its
 * timeout, and at the timeout Lambda stops it (its socket closes). Resolves with the ms from the
 * check to the row becoming visible to others, or null if it never does within `watchMs`.
 */
async function lastMomentWrite(id: number, workSeconds: number, watchMs: number) {
  const fn = new Client(
    clientConfig({ kind: "url", connectionString: db.adminUrl }, "late-statement", {
      connectMs: 3_000,
      statementMs: STATEMENT_MS,
    }),
  );
  fn.on("error", () => undefined);
  await fn.connect();
  const checkedAt = Date.now();
  const deadline = checkedAt + FUNCTION_TIMEOUT_MS;
  await new Promise((r) => setTimeout(r, FUNCTION_TIMEOUT_MS - 100));
  const sent = fn
    .query("INSERT INTO late_writes (id, work_s) VALUES ($1, $2)", [id, workSeconds])
    .then(
      () => "answered" as const,
      () => "lost" as const,
    );
  await new Promise((r) => setTimeout(r, deadline - Date.now()));
  // The function is stopped: its connection closes with the statement still running.
  (fn as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  const answer = await sent;
  let visibleAfterMs: number | null = null;
  while (Date.now() - checkedAt < watchMs) {
    const { rowCount } = await db.sql.query("SELECT 1 FROM late_writes WHERE id = $1", [id]);
    if (rowCount) {
      visibleAfterMs = Date.now() - checkedAt;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { answer, visibleAfterMs };
}

describe("a payment statement sent just before the function's timeout", () => {
  it("commits after the function ended, which the write path's worst case covers and its timeout alone does not", async () => {
    const { answer, visibleAfterMs } = await lastMomentWrite(1, 1.0, 5_000);

    // The client never heard back (API Gateway answered 500), yet the row is in.
    expect(answer).toBe("lost");
    expect(visibleAfterMs).not.toBeNull();
    expect(visibleAfterMs!).toBeGreaterThan(FUNCTION_TIMEOUT_MS + 200);
    expect(visibleAfterMs!).toBeGreaterThan(path.writeTimeoutSeconds * 1000);
    expect(visibleAfterMs!).toBeLessThanOrEqual(writeWorstCaseSeconds(path) * 1000);
  });

  it("commits nothing once statement_timeout has aborted it", async () => {
    // Work longer than the statement timeout: the server cancels it, whatever the client did.
    const { visibleAfterMs } = await lastMomentWrite(
      2,
      3.0,
      writeWorstCaseSeconds(path) * 1000 + 2_500,
    );

    expect(visibleAfterMs).toBeNull();
    // And the server is not still running it.
    const { rows } = await db.sql.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'late-statement' AND state = 'active'",
    );
    expect(rows[0]!.n).toBe(0);
  });
});
