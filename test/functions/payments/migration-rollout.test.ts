// Migrations 005 (expand) and 006 (backfill, concurrent indexes, validation) on a database that
// already holds payments, with the previous release's code still writing (review-11 H1, H2, M4):
// - the previous release keeps working on the schema after 005 and after 006, and what it writes
//   meets the rules 006 validates;
// - rows written before 005 come out in the new shape: every event numbered, every capture and
//   refund an object, open authorizations a deadline that lapses no sooner than 7 days after the
//   migration;
// - the API's reads and writes are never blocked for more than a sliver of the migration: no
//   table rewrite, no full-table update or validation under an ACCESS EXCLUSIVE lock.
import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { Database, closeAllDatabases } from "../../../functions/payments/shared/database";
import { loadMigrations, migrate } from "../../../functions/payments/shared/migrator";
import type { Migration } from "../../../functions/payments/shared/migrator";
import { PostgresPaymentStore } from "../../../functions/payments/shared/postgres-store";
import { readMigrationFiles } from "../../../scripts/migrate";
// The releases these tests roll over predate the application role (migration 012): their code
// connected as the master user, so every connection here is the admin one.
import { createTestDatabase } from "./support/database";
import type { TestDatabase } from "./support/database";
import { authorizeV4, relayV4, transitionV4 } from "./support/release-004";

const ALL = loadMigrations(readMigrationFiles());
const upTo = (version: number): Migration[] => ALL.filter((m) => m.version <= version);
const DAY = 86_400_000;

function storeFor(db: TestDatabase): PostgresPaymentStore {
  return new PostgresPaymentStore(
    new Database({
      settings: async () => ({ kind: "url", connectionString: db.adminUrl }),
      applicationName: "test",
    }),
  );
}

/** A payment and its events as the 001-004 code wrote them, at `created`. */
async function legacy(
  sql: Client,
  created: Date,
  steps: { type: string; amount: number; status: string; captured: number; refunded: number }[],
): Promise<string> {
  const id = randomUUID();
  await sql.query(
    `INSERT INTO payments (id, merchant_id, card_token, amount_minor, currency, status,
                           origin_region, created_at, updated_at)
     VALUES ($1, 'merchant-1', 'tok_legacy_abcd', 1000, 'EUR', 'authorized', 'us-east-1', $2, $2)`,
    [id, created],
  );
  const event = async (type: string, amount: number, at: Date) =>
    sql.query(
      `INSERT INTO payment_events (event_id, payment_id, event_type, amount_minor, currency,
                                   detail, origin_region, created_at, published_at)
       VALUES ($1, $2, $3, $4, 'EUR', '{}', 'us-east-1', $5, $5)`,
      [randomUUID(), id, type, amount, at],
    );
  await event("payments.authorized", 1000, created);
  let minute = 0;
  for (const step of steps) {
    const at = new Date(created.getTime() + ++minute * 60_000);
    await sql.query(
      `UPDATE payments SET status = $2, captured_minor = $3, refunded_minor = $4, updated_at = $5
       WHERE id = $1`,
      [id, step.status, step.captured, step.refunded, at],
    );
    await event(step.type, step.amount, at);
  }
  return id;
}

const CAPTURE = {
  type: "payments.captured",
  amount: 1000,
  status: "captured",
  captured: 1000,
  refunded: 0,
} as const;

afterAll(async () => {
  await closeAllDatabases();
});

describe("rows written before the migrations", () => {
  let db: TestDatabase;
  let store: PostgresPaymentStore;
  let migratedAt: number;
  const ids = { old: "", recent: "", refunded: "", voided: "" };

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    await migrate(db.sql, upTo(4));
    const now = Date.now();
    ids.old = await legacy(db.sql, new Date(now - 40 * DAY), []);
    ids.recent = await legacy(db.sql, new Date(now - 2 * DAY), []);
    ids.refunded = await legacy(db.sql, new Date(now - 90 * DAY), [
      CAPTURE,
      {
        type: "payments.partially_refunded",
        amount: 300,
        status: "partially_refunded",
        captured: 1000,
        refunded: 300,
      },
      {
        type: "payments.refunded",
        amount: 700,
        status: "refunded",
        captured: 1000,
        refunded: 1000,
      },
    ]);
    ids.voided = await legacy(db.sql, new Date(now - 9 * DAY), [
      { type: "payments.voided", amount: 1000, status: "voided", captured: 0, refunded: 0 },
    ]);
    migratedAt = Date.now();
    const result = await migrate(db.sql, upTo(6));
    expect(result.applied).toEqual(["005_merchant_api.sql", "006_merchant_api_backfill.sql"]);
    store = storeFor(db);
  });

  afterAll(async () => {
    await db.drop();
  });

  it("gives an open authorization 28 days from its authorization (Adyen's expiry)", async () => {
    const view = await store.find("merchant-1", ids.recent);
    const created = Date.parse(view!.createdAt);

    expect(Date.parse(view!.captureBefore!)).toBe(created + 28 * DAY);
  });

  it("gives an authorization already older than that 7 days from the migration, not an expiry at deploy", async () => {
    const view = await store.find("merchant-1", ids.old);
    const deadline = Date.parse(view!.captureBefore!);

    expect(deadline).toBeGreaterThanOrEqual(migratedAt + 7 * DAY - 1_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 7 * DAY);
    const run = await store.expireDue(new Date(), 100, {
      originRegion: "us-east-1",
      newId: randomUUID,
      beforeCommit: () => undefined,
    });
    expect(run.expired).toBe(0);
    expect(await store.find("merchant-1", ids.old)).toMatchObject({
      status: "authorized",
      version: 1,
    });
  });

  it("numbers the events of each payment in order, matching its version", async () => {
    const { rows } = await db.sql.query(
      `SELECT p.id, p.version, array_agg(e.payment_version ORDER BY e.created_at) AS versions
       FROM payments p JOIN payment_events e ON e.payment_id = p.id GROUP BY p.id, p.version`,
    );

    for (const row of rows) {
      expect(row.versions).toEqual(Array.from({ length: row.version }, (_, i) => i + 1));
    }
    expect(rows).toHaveLength(4);
  });

  it("turns past captures and refunds into objects listed on the payment", async () => {
    const view = await store.find("merchant-1", ids.refunded);

    expect(view).toMatchObject({
      status: "refunded",
      releasedAmount: 0,
      captures: [{ amount: 1000, final: true, reference: null }],
      refunds: [
        { amount: 300, currency: "EUR", status: "succeeded" },
        { amount: 700, currency: "EUR", status: "succeeded" },
      ],
    });
  });

  it("reports a voided legacy payment as released in full, without a deadline", async () => {
    expect(await store.find("merchant-1", ids.voided)).toMatchObject({
      status: "voided",
      releasedAmount: 1000,
      captureBefore: null,
    });
  });

  it("leaves every constraint validated and no index invalid", async () => {
    const { rows } = await db.sql.query(
      `SELECT conname FROM pg_constraint WHERE NOT convalidated
       UNION ALL
       SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid`,
    );
    expect(rows).toEqual([]);
    const notNull = await db.sql.query(
      `SELECT attnotnull FROM pg_attribute
       WHERE attrelid = 'payment_events'::regclass AND attname = 'payment_version'`,
    );
    expect(notNull.rows[0].attnotnull).toBe(true);
  });
});

describe("the previous release's code during the rollout", () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase({ migrated: false });
    await migrate(db.sql, upTo(4));
  });

  afterEach(async () => {
    await db.drop();
  });

  /** Authorize, capture, refund in part and in full, void, relay: as the 004 code does them. */
  async function oldCodeLifecycle(sql: Client): Promise<{ refunded: string; voided: string }> {
    const refunded = await authorizeV4(sql);
    await transitionV4(sql, refunded, { ...CAPTURE });
    await transitionV4(sql, refunded, {
      type: "payments.partially_refunded",
      status: "partially_refunded",
      captured: 1000,
      refunded: 400,
      amount: 400,
    });
    await transitionV4(sql, refunded, {
      type: "payments.refunded",
      status: "refunded",
      captured: 1000,
      refunded: 1000,
      amount: 600,
    });
    const voided = await authorizeV4(sql);
    await transitionV4(sql, voided, {
      type: "payments.voided",
      status: "voided",
      captured: 0,
      refunded: 0,
      amount: 1000,
    });
    await authorizeV4(sql);
    await relayV4(sql);
    return { refunded, voided };
  }

  it("keeps working after 005, and what it writes passes 006", async () => {
    await migrate(db.sql, upTo(5));

    const written = await oldCodeLifecycle(db.sql);
    const result = await migrate(db.sql, upTo(6));

    expect(result.applied).toEqual(["006_merchant_api_backfill.sql"]);
    expect(await storeFor(db).find("merchant-1", written.refunded)).toMatchObject({
      status: "refunded",
      version: 4,
      captures: [{ amount: 1000, final: true }],
      refunds: [{ amount: 400 }, { amount: 600 }],
    });
  });

  it("keeps working after 006, writing rows in the new shape", async () => {
    await migrate(db.sql, ALL);

    const written = await oldCodeLifecycle(db.sql);

    const { rows } = await db.sql.query(
      `SELECT e.event_type, e.payment_version, e.operation_id = e.event_id AS own_id, e.final_capture
       FROM payment_events e WHERE e.payment_id = $1 ORDER BY e.payment_version`,
      [written.refunded],
    );
    expect(rows).toEqual([
      { event_type: "payments.authorized", payment_version: 1, own_id: null, final_capture: null },
      { event_type: "payments.captured", payment_version: 2, own_id: true, final_capture: true },
      {
        event_type: "payments.partially_refunded",
        payment_version: 3,
        own_id: true,
        final_capture: null,
      },
      { event_type: "payments.refunded", payment_version: 4, own_id: true, final_capture: null },
    ]);
    const open = await db.sql.query(
      `SELECT capture_before - created_at AS window FROM payments WHERE status = 'authorized'`,
    );
    expect(open.rows.map((r) => r.window)).toEqual([expect.objectContaining({ days: 7 })]);
  });
});

describe("locks taken by the migrations", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    await migrate(db.sql, upTo(4));
    // Enough history that a migration doing row work under ACCESS EXCLUSIVE holds it for
    // seconds (the review measured 11 s at 100 k payments and 300 k events).
    await db.sql.query(`
      INSERT INTO payments (id, merchant_id, card_token, amount_minor, currency, status,
                            origin_region, created_at, updated_at)
      SELECT gen_random_uuid(), 'merchant-' || (n % 50), 'tok_legacy_abcd', 1000, 'EUR',
             'authorized', 'us-east-1', now() - n * interval '1 minute', now() - n * interval '1 minute'
      FROM generate_series(1, 12000) AS n`);
    await db.sql.query(`
      INSERT INTO payment_events (event_id, payment_id, event_type, amount_minor, currency,
                                  detail, origin_region, created_at, published_at)
      SELECT gen_random_uuid(), id, 'payments.authorized', 1000, 'EUR', '{}', 'us-east-1',
             created_at, created_at FROM payments`);
    await db.sql.query(`
      UPDATE payments SET status = 'captured', captured_minor = 1000,
                          updated_at = updated_at + interval '1 second'
      WHERE merchant_id <> 'merchant-0'`);
    await db.sql.query(`
      INSERT INTO payment_events (event_id, payment_id, event_type, amount_minor, currency,
                                  detail, origin_region, created_at, published_at)
      SELECT gen_random_uuid(), id, 'payments.captured', 1000, 'EUR', '{}', 'us-east-1',
             updated_at, updated_at FROM payments WHERE status = 'captured'`);
    await db.sql.query("ANALYZE");
  }, 60_000);

  afterAll(async () => {
    await db.drop();
  });

  it("never blocks the API's reads and writes for more than a sliver of the migration", async () => {
    const probe = new Client({ connectionString: db.adminUrl });
    const migrator = new Client({ connectionString: db.adminUrl });
    await Promise.all([probe.connect(), migrator.connect()]);
    const waits: number[] = [];
    let done = false;
    try {
      // The API's traffic meanwhile: a read of each table and a 004-era authorization.
      const traffic = (async () => {
        const some = await probe.query("SELECT id FROM payments LIMIT 1");
        while (!done) {
          const t0 = performance.now();
          await probe.query("SELECT count(*) FROM payments WHERE merchant_id = 'merchant-7'");
          await probe.query("SELECT count(*) FROM payment_events WHERE payment_id = $1", [
            some.rows[0].id,
          ]);
          await authorizeV4(probe);
          waits.push(performance.now() - t0);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      const t0 = performance.now();
      await migrate(migrator, ALL);
      const took = performance.now() - t0;
      done = true;
      await traffic;

      // A request of the probe normally takes milliseconds; one that waited behind a lock
      // shows it. Relative to the migration, so the machine's load does not decide.
      console.log(
        `migration ${took.toFixed(0)} ms, ${waits.length} probes, max ${Math.max(...waits).toFixed(0)} ms`,
      );
      expect(waits.length).toBeGreaterThan(10);
      expect(Math.max(...waits)).toBeLessThan(took * 0.25);
    } finally {
      done = true;
      await Promise.all([probe.end(), migrator.end()]);
    }
  }, 120_000);
});
