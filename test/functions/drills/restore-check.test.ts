// The restore drill's database check on a real PostgreSQL: a "live" database and a "restored"
// copy of it as a backup at T would hold it, then the ways a copy can be wrong.
import { randomUUID } from "node:crypto";
import type { Client } from "pg";
import type { SqlClient } from "../../../functions/drills/restore-check/core";
import { checkRestore } from "../../../functions/drills/restore-check/core";
import type { TestDatabase } from "../payments/support/database";
import { createTestDatabase } from "../payments/support/database";
import { readMigrationFiles } from "../../../scripts/migrate";

const T = new Date("2026-11-10T03:00:00.000Z");
/** The newest migration: live and copy both have every one. */
const LATEST = Math.max(...readMigrationFiles().map((m) => Number(m.file.slice(0, 3))));
const at = (minutesFromT: number) => new Date(T.getTime() + minutesFromT * 60_000);

interface Payment {
  readonly id: string;
  readonly createdAt: Date;
  readonly amount: number;
}

async function insert(sql: Client, payments: readonly Payment[]): Promise<void> {
  if (payments.length === 0) return;
  const ids = payments.map((p) => p.id);
  const amounts = payments.map((p) => p.amount);
  const times = payments.map((p) => p.createdAt.toISOString());
  await sql.query(
    `INSERT INTO payments (id, merchant_id, card_token, amount_minor, currency, status, origin_region, created_at, updated_at, capture_before)
     SELECT id, 'm_1', 'tok_visa_4242', amount, 'EUR', 'authorized', 'us-east-1', at, at, at + interval '7 days'
       FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[]) AS p(id, amount, at)`,
    [ids, amounts, times],
  );
  await sql.query(
    `INSERT INTO payment_events (event_id, payment_id, event_type, amount_minor, currency, detail, origin_region, created_at, payment_version)
     SELECT gen_random_uuid(), id, 'payments.authorized', amount, 'EUR', '{}', 'us-east-1', at, 1
       FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[]) AS p(id, amount, at)`,
    [ids, amounts, times],
  );
}

/** Payments every 20 minutes over the two days before T, and a few after it. */
function history(): Payment[] {
  return Array.from({ length: 150 }, (_, i) => ({
    id: randomUUID(),
    createdAt: at(-48 * 60 + i * 20),
    amount: 1000 + i,
  }));
}

describe("the restore check", () => {
  let live: TestDatabase;
  let restored: TestDatabase;
  let payments: Payment[];

  beforeEach(async () => {
    [live, restored] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    payments = history();
    await insert(live.sql, payments);
    // The backup at T holds what was committed before T.
    await insert(
      restored.sql,
      payments.filter((p) => p.createdAt < T),
    );
  });

  afterEach(async () => {
    await Promise.all([live.drop(), restored.drop()]);
  });

  const deps = () => ({
    now: () => at(90),
    connect: async (target: "restored" | "live") =>
      ({
        query: (text: string, values?: unknown[]) =>
          (target === "live" ? live : restored).sql.query(text, values),
        end: async () => undefined,
      }) as unknown as SqlClient,
  });
  const event = {
    scratchEndpoint: "payments-restore-usw2-dev-1a2b3c4d.cluster-x.us-west-2.rds.amazonaws.com",
    snapshotTime: T.toISOString(),
  };

  it("passes a copy that holds every payment up to the snapshot, whatever came after", async () => {
    const result = await checkRestore(event, deps());
    expect(result.passed).toBe(true);
    // The newest payment in the copy is 20 minutes before T: the cutoff is 5 minutes before it.
    expect(result.newestPayment).toBe(at(-20).toISOString());
    expect(result.cutoff).toBe(at(-25).toISOString());
    expect(result.windowFrom).toBe(at(-25 - 24 * 60).toISOString());
    expect(result.checks.map((c) => [c.name, c.expected, c.actual, c.passed])).toEqual([
      ["payments up to the cutoff", "143", "143", true],
      ["payment events up to the cutoff", "143", "143", true],
      ["payments in the 24 h before the cutoff", "72", "72", true],
      [
        "checksum of those payments (md5 of id, merchant, card token, amount, currency, origin region, created_at)",
        result.live.windowChecksum,
        result.restored.windowChecksum,
        true,
      ],
      ["schema version (migrations applied)", `at most ${LATEST}`, String(LATEST), true],
    ]);
    expect(result.live.windowChecksum).toMatch(/^[0-9a-f]{32}$/);
  });

  it("does not count a payment that began before the snapshot but committed after it", async () => {
    const committedBefore = { id: randomUUID(), createdAt: at(-1), amount: 7 };
    // Its transaction started 2 minutes before T (its created_at), its commit came after T.
    const committedAfter = { id: randomUUID(), createdAt: at(-2), amount: 8 };
    await insert(live.sql, [committedBefore, committedAfter]);
    await insert(restored.sql, [committedBefore]);
    expect((await checkRestore(event, deps())).passed).toBe(true);
    // Without the settling margin the check would call it lost.
    const tight = await checkRestore({ ...event, settleMinutes: 1 }, deps());
    expect(tight.cutoff).toBe(at(-2).toISOString());
    expect(tight.checks[0]).toMatchObject({ expected: "145", actual: "144", passed: false });
  });

  it("fails a copy missing a recent payment, in the counts and the checksum", async () => {
    const lost = payments.filter((p) => p.createdAt < at(-60)).at(-1)!;
    // Past the triggers that forbid deleting payments and their events.
    await restored.sql.query("SET session_replication_role = replica");
    await restored.sql.query("DELETE FROM payment_events WHERE payment_id = $1", [lost.id]);
    await restored.sql.query("DELETE FROM payments WHERE id = $1", [lost.id]);
    const result = await checkRestore(event, deps());
    expect(result.passed).toBe(false);
    expect(result.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual([
      "payments up to the cutoff",
      "payment events up to the cutoff",
      "payments in the 24 h before the cutoff",
      "checksum of those payments (md5 of id, merchant, card token, amount, currency, origin region, created_at)",
    ]);
  });

  it("fails a copy whose payment changed, though every count matches", async () => {
    const changed = payments.filter((p) => p.createdAt < at(-60)).at(-3)!;
    await restored.sql.query("SET session_replication_role = replica"); // past the immutability trigger
    await restored.sql.query("UPDATE payments SET amount_minor = amount_minor + 1 WHERE id = $1", [
      changed.id,
    ]);
    const result = await checkRestore(event, deps());
    expect(result.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual([
      "checksum of those payments (md5 of id, merchant, card token, amount, currency, origin region, created_at)",
    ]);
  });

  it("ignores a payment older than the window in the checksum but not in the count", async () => {
    const old = payments[0]!;
    await restored.sql.query("SET session_replication_role = replica");
    await restored.sql.query("DELETE FROM payment_events WHERE payment_id = $1", [old.id]);
    await restored.sql.query("DELETE FROM payments WHERE id = $1", [old.id]);
    const result = await checkRestore(event, deps());
    expect(result.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual([
      "payments up to the cutoff",
      "payment events up to the cutoff",
    ]);
  });

  it("compares up to the snapshot's time when the copy has newer payments than the snapshot says", async () => {
    const result = await checkRestore(
      { ...event, snapshotTime: at(-40).toISOString(), settleMinutes: 10 },
      deps(),
    );
    expect(result.cutoff).toBe(at(-50).toISOString());
    expect(result.passed).toBe(true);
  });

  it("rejects a malformed request, naming the field", async () => {
    await expect(
      checkRestore({ ...event, scratchEndpoint: "x; DROP TABLE" }, deps()),
    ).rejects.toThrow('scratchEndpoint="x; DROP TABLE" is not allowed');
    await expect(checkRestore({ ...event, windowHours: 0 }, deps())).rejects.toThrow(
      "windowHours=0 is not allowed: a whole number of hours from 1 to 168",
    );
  });
});
