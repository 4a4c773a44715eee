// 005_merchant_api.sql on a database that already holds payments written by 001-004: what a
// deployed region has when the migration runs. Legacy rows keep working under the new rules:
// open authorizations get a captureBefore, every event its version, every capture and refund
// an id (its event id), and GET answers them in the new shape.
import { randomUUID } from "node:crypto";
import { Database, closeAllDatabases } from "../../../functions/payments/shared/database";
import { loadMigrations, migrate } from "../../../functions/payments/shared/migrator";
import { PostgresPaymentStore } from "../../../functions/payments/shared/postgres-store";
import { readMigrationFiles } from "../../../scripts/migrate";
import { createTestDatabase } from "./support/database";
import type { TestDatabase } from "./support/database";

let db: TestDatabase;
let store: PostgresPaymentStore;

const CREATED = new Date("2026-01-10T12:00:00Z");
const ids = { open: randomUUID(), refunded: randomUUID(), voided: randomUUID() };

/** A payment and its events as the 001-004 code wrote them (one statement per row). */
async function legacy(
  id: string,
  steps: { type: string; amount: number; status: string; captured: number; refunded: number }[],
): Promise<void> {
  await db.sql.query(
    `INSERT INTO payments (id, merchant_id, card_token, amount_minor, currency, status,
                           origin_region, created_at, updated_at)
     VALUES ($1, 'merchant-1', 'tok_legacy_abcd', 1000, 'EUR', 'authorized', 'us-east-1', $2, $2)`,
    [id, CREATED],
  );
  const event = async (type: string, amount: number, at: Date) =>
    db.sql.query(
      `INSERT INTO payment_events (event_id, payment_id, event_type, amount_minor, currency,
                                   detail, origin_region, created_at, published_at)
       VALUES ($1, $2, $3, $4, 'EUR', '{}', 'us-east-1', $5, $5)`,
      [randomUUID(), id, type, amount, at],
    );
  await event("payments.authorized", 1000, CREATED);
  let minute = 0;
  for (const step of steps) {
    const at = new Date(CREATED.getTime() + ++minute * 60_000);
    await db.sql.query(
      `UPDATE payments SET status = $2, captured_minor = $3, refunded_minor = $4, updated_at = $5
       WHERE id = $1`,
      [id, step.status, step.captured, step.refunded, at],
    );
    await event(step.type, step.amount, at);
  }
}

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  const all = loadMigrations(readMigrationFiles());
  await migrate(
    db.sql,
    all.filter((m) => m.version <= 4),
  );
  await legacy(ids.open, []);
  await legacy(ids.refunded, [
    { type: "payments.captured", amount: 1000, status: "captured", captured: 1000, refunded: 0 },
    {
      type: "payments.partially_refunded",
      amount: 300,
      status: "partially_refunded",
      captured: 1000,
      refunded: 300,
    },
    { type: "payments.refunded", amount: 700, status: "refunded", captured: 1000, refunded: 1000 },
  ]);
  await legacy(ids.voided, [
    { type: "payments.voided", amount: 1000, status: "voided", captured: 0, refunded: 0 },
  ]);
  // 005 alone on the legacy data (later migrations, such as 010, are not this test's subject).
  const result = await migrate(
    db.sql,
    all.filter((m) => m.version <= 5),
  );
  expect(result.applied).toEqual(["005_merchant_api.sql"]);
  store = new PostgresPaymentStore(
    new Database({
      settings: async () => ({ kind: "url", connectionString: db.url }),
      applicationName: "test",
    }),
  );
});

afterAll(async () => {
  await closeAllDatabases();
  await db.drop();
});

describe("005_merchant_api.sql on existing payments", () => {
  it("gives an open authorization the default 7-day captureBefore", async () => {
    const view = await store.find("merchant-1", ids.open);

    expect(view).toMatchObject({
      status: "authorized",
      captureBefore: "2026-01-17T12:00:00.000Z",
      capturableAmount: 1000,
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
    expect(rows).toHaveLength(3);
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
    const { rows } = await db.sql.query(
      "SELECT event_id FROM payment_events WHERE payment_id = $1 AND operation_id = event_id",
      [ids.refunded],
    );
    expect(rows).toHaveLength(3);
  });

  it("reports a voided legacy payment as released in full", async () => {
    expect(await store.find("merchant-1", ids.voided)).toMatchObject({
      status: "voided",
      releasedAmount: 1000,
      captureBefore: null,
    });
  });
});
