// Authorization expiry (issue 11): captureBefore is set at authorization (CAPTURE_WINDOW_HOURS,
// default 7 days), captures from then on are refused, and the scheduled job releases what is
// left, in the active region only. The job runs every 5 minutes, so it sees a payment between 0
// and 5 minutes (plus its own run time) after captureBefore: the tests run it across that range.
import { randomUUID } from "node:crypto";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import "aws-sdk-client-mock-jest";
import type { ExpiryReport } from "../../../functions/payments/expire-authorizations/core";
import {
  EXPIRY_BATCH_SECONDS,
  expireAuthorizations,
} from "../../../functions/payments/expire-authorizations/core";
import { authorize } from "../../../functions/payments/authorize/core";
import { Database, closeAllDatabases } from "../../../functions/payments/shared/database";
import { PostgresPaymentStore } from "../../../functions/payments/shared/postgres-store";
import { FakeAws, OTHER_REGION, REGION, lambdaContext, setHandlerEnvironment } from "./support/aws";
import { PaymentsClient, travelTo } from "./support/client";
import { createTestDatabase } from "./support/database";
import type { TestDatabase } from "./support/database";

const aws = new FakeAws();
let db: TestDatabase;
let store: PostgresPaymentStore;
const api = new PaymentsClient();
let expire: (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<ExpiryReport>;

beforeAll(async () => {
  db = await createTestDatabase();
  store = new PostgresPaymentStore(
    new Database({
      settings: async () => ({ kind: "url", connectionString: db.url }),
      applicationName: "test",
    }),
  );
  setHandlerEnvironment(db.url);
  await api.load();
  ({ handler: expire } = await import("../../../functions/payments/expire-authorizations/handler"));
});

afterAll(async () => {
  await closeAllDatabases();
  await db.drop();
});

beforeEach(() => aws.reset());
afterEach(() => jest.useRealTimers());

const run = () => expire({}, lambdaContext("payments-expire-authorizations-test"));

async function authorized(amount = 1000): Promise<{ id: string; captureBefore: Date }> {
  const response = await api.authorize({ cardToken: "tok_visa_4242abcd", amount, currency: "EUR" });
  expect(response.status).toBe(201);
  return {
    id: response.body.id as string,
    captureBefore: new Date(response.body.captureBefore as string),
  };
}

async function eventsOf(id: string): Promise<Record<string, unknown>[]> {
  const { rows } = await db.sql.query(
    "SELECT detail FROM payment_events WHERE payment_id = $1 ORDER BY payment_version",
    [id],
  );
  return rows.map((r) => r.detail);
}

/** No open authorization is past its deadline: what the job guarantees after a run. */
async function expectNothingDue(at: Date): Promise<void> {
  const { rows } = await db.sql.query(
    `SELECT count(*)::int AS n FROM payments
     WHERE status IN ('authorized', 'partially_captured') AND capture_before <= $1`,
    [at],
  );
  expect(rows[0].n).toBe(0);
}

describe.each([1, 150, 300])("the expiry job %i s after captureBefore", (lateSeconds) => {
  it("expires an uncaptured authorization and closes a partially captured one, emitting payments.expired", async () => {
    const open = await authorized(1000);
    const partial = await authorized(1000);
    const done = await authorized(1000);
    expect(
      (await api.write("capture", partial.id, { amount: 400, finalCapture: false })).status,
    ).toBe(200);
    expect((await api.write("capture", done.id)).status).toBe(200);
    const at = new Date(open.captureBefore.getTime() + lateSeconds * 1000);
    travelTo(at);

    const report = await run();

    expect(report.skipped).toBeNull();
    expect(report.expired).toBeGreaterThanOrEqual(2);
    expect((await api.get(open.id)).body).toMatchObject({
      status: "expired",
      capturedAmount: 0,
      capturableAmount: 0,
      releasedAmount: 1000,
    });
    expect((await api.get(partial.id)).body).toMatchObject({
      status: "captured",
      capturedAmount: 400,
      releasedAmount: 600,
    });
    expect((await api.get(done.id)).body).toMatchObject({ status: "captured", version: 2 });
    expect((await eventsOf(open.id)).at(-1)).toMatchObject({
      type: "payments.expired",
      amount: 1000,
      status: "expired",
      version: 2,
      requestId: null,
      schemaVersion: 1,
    });
    expect((await eventsOf(partial.id)).at(-1)).toMatchObject({
      type: "payments.expired",
      amount: 600,
      status: "captured",
      version: 3,
    });
    expect(aws.eventBridge).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: expect.arrayContaining([
        expect.objectContaining({ DetailType: "payments.expired", Source: "payments" }),
      ]),
    });
    await expectNothingDue(at);
  });
});

describe("authorization expiry", () => {
  it("refuses a capture from captureBefore on, even before the job ran, and records the refusal", async () => {
    const payment = await authorized(1000);
    travelTo(payment.captureBefore);
    const key = randomUUID();

    const late = await api.write("capture", payment.id, undefined, { key });
    const retry = await api.write("capture", payment.id, undefined, { key });

    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ type: "conflict", code: "authorization_expired" });
    expect(late.body.message).toContain(payment.captureBefore.toISOString());
    expect(retry.headers["idempotent-replayed"]).toBe("true");
    expect((await api.get(payment.id)).body).toMatchObject({ status: "authorized" });
  });

  it("captures until the last millisecond before captureBefore", async () => {
    const payment = await authorized(1000);
    travelTo(new Date(payment.captureBefore.getTime() - 1_000));

    const capture = await api.write("capture", payment.id);

    expect(capture.status).toBe(200);
  });

  it("leaves authorizations whose captureBefore is still ahead", async () => {
    const payment = await authorized(1000);
    travelTo(new Date(payment.captureBefore.getTime() - 60_000));

    await run();

    expect((await api.get(payment.id)).body).toMatchObject({ status: "authorized", version: 1 });
  });

  it("expires each payment exactly once, also when two runs overlap", async () => {
    const payments = await Promise.all([1, 2, 3, 4, 5].map(() => authorized(500)));
    travelTo(new Date(payments[0]!.captureBefore.getTime() + 60_000));

    const [a, b] = await Promise.all([run(), run()]);
    const again = await run();

    expect(again.expired).toBe(0);
    expect(a.expired + b.expired).toBeGreaterThanOrEqual(payments.length);
    for (const { id } of payments) {
      const expired = (await eventsOf(id)).filter((e) => e.type === "payments.expired");
      expect(expired).toHaveLength(1);
    }
  });

  it("does nothing in the passive region", async () => {
    const payment = await authorized(1000);
    aws.flag = { activeRegion: OTHER_REGION };
    travelTo(new Date(payment.captureBefore.getTime() + 60_000));

    const report = await run();

    expect(report).toEqual({
      skipped: `passive region: writes go to ${OTHER_REGION}`,
      expired: 0,
      more: false,
    });
    expect((await api.get(payment.id)).body).toMatchObject({ status: "authorized" });
    expect(aws.published.filter((e) => e.DetailType === "payments.expired")).toEqual([]);
  });

  it("takes at most maxPayments per run, in batches, and says more are due", async () => {
    const payments = await Promise.all(Array.from({ length: 7 }, () => authorized(100)));
    const at = new Date(payments.at(-1)!.captureBefore.getTime() + 1_000);
    const published: unknown[] = [];
    const deps = {
      guard: { assertActive: async () => undefined },
      store,
      afterCommit: async (events: readonly unknown[]) => {
        published.push(...events);
      },
      now: () => at,
      newId: randomUUID,
      region: REGION,
      batchSize: 3,
      maxPayments: 5,
    };

    const first = await expireAuthorizations(deps);
    const second = await expireAuthorizations(deps);

    expect(first).toEqual({ skipped: null, expired: 5, more: true });
    expect(second.more).toBe(false);
    expect(first.expired + second.expired).toBeGreaterThanOrEqual(7);
    expect(published).toHaveLength(first.expired + second.expired);
    await expectNothingDue(at);
  });

  // The DR orchestrator waits DR_FENCE_SETTLE_SECONDS after the old region's flag names the new
  // one (infra/lib/fence-bound.ts): a write that passed the fencing check must commit within the
  // write functions' timeout or not at all. This job runs for up to 120 s, so each batch carries
  // its own deadline from its check instead.
  it("rolls a batch back when it would commit later than EXPIRY_BATCH_SECONDS after its fencing check", async () => {
    const payments = await Promise.all([1, 2].map(() => authorized(100)));
    const at = new Date(payments.at(-1)!.captureBefore.getTime() + 1_000);
    let clock = at.getTime();
    const deps = {
      guard: { assertActive: async () => undefined },
      store,
      afterCommit: async () => undefined,
      // Every look at the clock after the check finds the batch slower than its deadline.
      now: () => {
        const t = new Date(clock);
        clock += (EXPIRY_BATCH_SECONDS + 1) * 1000;
        return t;
      },
      newId: randomUUID,
      region: REGION,
      batchSize: 50,
      maxPayments: 100,
    };

    const report = await expireAuthorizations(deps);

    expect(report).toEqual({
      skipped: expect.stringMatching(
        new RegExp(
          `^a batch of \\d+ did not commit within ${EXPIRY_BATCH_SECONDS} s of its fencing check: rolled back$`,
        ),
      ),
      expired: 0,
      more: true,
    });
    for (const { id } of payments) {
      expect((await api.get(id)).body).toMatchObject({ status: "authorized", version: 1 });
      expect((await eventsOf(id)).map((e) => e.type)).toEqual(["payments.authorized"]);
    }
  });

  it("sets captureBefore from the configured capture window", async () => {
    const at = new Date("2026-05-04T08:30:00Z");
    const result = await authorize(
      {
        merchantId: "merchant-1",
        cardToken: "tok_visa_4242abcd",
        amount: 100,
        currency: "EUR",
        metadata: {},
        idempotencyKey: randomUUID(),
        requestHash: "e".repeat(64),
        requestId: "req-window",
      },
      {
        store,
        region: REGION,
        now: () => at,
        newId: randomUUID,
        afterCommit: async () => undefined,
        recordSession: async () => undefined,
        captureWindowHours: 120,
      },
    );

    expect((result.body as { captureBefore: string }).captureBefore).toBe(
      "2026-05-09T08:30:00.000Z",
    );
  });
});

describe("idempotency records past their retention", () => {
  const DAY = 86_400_000;

  /** An idempotency record of a payment, written `daysAgo` days ago. */
  async function recordAged(daysAgo: number): Promise<string> {
    const { id } = await authorized();
    const key = `aged-${randomUUID()}`;
    await db.sql.query(
      `INSERT INTO idempotency_keys (merchant_id, idempotency_key, operation, request_hash,
                                     payment_id, response_status, response_body, created_at)
       VALUES ('merchant-1', $1, 'void', $2, $3, 200, '{}', $4)`,
      [key, "c".repeat(64), id, new Date(Date.now() - daysAgo * DAY)],
    );
    return key;
  }

  const exists = async (key: string) =>
    (await db.sql.query("SELECT 1 FROM idempotency_keys WHERE idempotency_key = $1", [key])).rows
      .length === 1;

  it("prunes records older than 31 days in the active region and keeps younger ones", async () => {
    const old = await recordAged(32);
    const young = await recordAged(30);

    await run();

    expect(await exists(old)).toBe(false);
    expect(await exists(young)).toBe(true);
  });

  it("prunes nothing in the passive region", async () => {
    const old = await recordAged(40);
    aws.flag = { activeRegion: OTHER_REGION };

    await run();

    expect(await exists(old)).toBe(true);
  });

  it("rejects deleting a record younger than the retention, whoever asks", async () => {
    const young = await recordAged(30);

    await expect(
      db.sql.query("DELETE FROM idempotency_keys WHERE idempotency_key = $1", [young]),
    ).rejects.toMatchObject({ code: "23514", constraint: "idempotency_keys_write_once" });
    await expect(
      db.sql.query("UPDATE idempotency_keys SET response_status = 201 WHERE idempotency_key = $1", [
        young,
      ]),
    ).rejects.toMatchObject({ constraint: "idempotency_keys_write_once" });
  });
});
