// Captures and refunds racing on one payment with different idempotency keys (review-11 M1), on
// the real PostgreSQL: each answer must describe the payment as its own change left it (the
// captures and refunds listed add up to capturedAmount / refundedAmount), and the per-payment
// operation limits hold under concurrency, not only sequentially.
//
// How the race is made deterministic: a test connection holds the payment's row lock
// (SELECT ... FOR UPDATE), the requests are sent and seen waiting on it in pg_stat_activity, then
// the lock is released. PostgreSQL then grants the waiters one at a time, as with real traffic
// ("Explicit Locking", www.postgresql.org/docs/16/explicit-locking.html: a FOR UPDATE waits for
// the holder to end its transaction).
import { randomUUID } from "node:crypto";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import "aws-sdk-client-mock-jest";
import { Client } from "pg";
import { PAYMENTS_ENV } from "../../../functions/common/contract";
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import { MAX_CAPTURES, MAX_REFUNDS } from "../../../functions/payments/shared/payment";
import { FakeAws, TEST_ENV, setHandlerEnvironment } from "./support/aws";
import { PaymentsClient } from "./support/client";
import type { JsonResult } from "./support/http";
import { createTestDatabase } from "./support/database";
import type { TestDatabase } from "./support/database";

const aws = new FakeAws();
let db: TestDatabase;
const api = new PaymentsClient();

beforeAll(async () => {
  db = await createTestDatabase();
  setHandlerEnvironment(db.url);
  // Each racing request stands for its own Lambda execution environment, with its own
  // connection (DATABASE_POOL_MAX is 1 per environment, issue 18). In one process they share the
  // handler's pool, so it gets a connection for each of the (at most 4) requests of a race:
  // with one, the second request would wait for the pool, never reaching the row lock.
  process.env[PAYMENTS_ENV.databasePoolMax] = "4";
  await api.load();
});

afterAll(async () => {
  delete process.env[PAYMENTS_ENV.databasePoolMax];
  await closeAllDatabases();
  await db.drop();
});

beforeEach(() => aws.reset());

const CARD = { cardToken: "tok_visa_4242abcd" };

async function authorized(amount: number): Promise<string> {
  const response = await api.authorize({ ...CARD, amount, currency: "EUR" });
  expect(response.status).toBe(201);
  return response.body.id as string;
}

/**
 * Runs `requests` while a separate connection holds the payment's row lock, and releases it once
 * all of them wait for it, so they all read the payment before any of them commits.
 */
async function racing(
  paymentId: string,
  requests: (() => Promise<JsonResult>)[],
): Promise<JsonResult[]> {
  const holder = new Client({ connectionString: db.url });
  await holder.connect();
  try {
    await holder.query("BEGIN");
    await holder.query("SELECT id FROM payments WHERE id = $1 FOR UPDATE", [paymentId]);
    const answers = requests.map((send) => send());
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await db.sql.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (Number(rows[0]!.n) >= requests.length) break;
      if (Date.now() > deadline) throw new Error(`only ${rows[0]!.n} requests reached the lock`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await holder.query("COMMIT");
    return await Promise.all(answers);
  } finally {
    await holder.end();
  }
}

const sum = (items: unknown) => (items as { amount: number }[]).reduce((n, i) => n + i.amount, 0);

describe("operations racing on one payment", () => {
  it("answers each racing capture with every capture committed before it", async () => {
    const id = await authorized(1000);

    const answers = await racing(id, [
      () => api.write("capture", id, { amount: 100, finalCapture: false }),
      () => api.write("capture", id, { amount: 200, finalCapture: false }),
    ]);

    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    for (const answer of answers) {
      const captures = answer.body.captures as unknown[];
      expect(sum(captures)).toBe(answer.body.capturedAmount);
      expect(captures).toHaveLength(answer.body.version === 3 ? 2 : 1);
    }
    const later = answers.find((a) => a.body.version === 3)!;
    expect(later.body.capturedAmount).toBe(300);
    const now = await api.get(id);
    expect(now.body.captures).toEqual(later.body.captures);
  });

  it("answers each racing refund with every refund committed before it", async () => {
    const id = await authorized(1000);
    expect((await api.write("capture", id, {})).status).toBe(200);

    const answers = await racing(id, [
      () => api.write("refund", id, { amount: 100 }),
      () => api.write("refund", id, { amount: 250 }),
    ]);

    expect(answers.map((a) => a.status)).toEqual([201, 201]);
    for (const answer of answers) {
      const payment = answer.body.payment as Record<string, unknown>;
      expect(sum(payment.refunds)).toBe(payment.refundedAmount);
    }
    const refunded = answers.map(
      (a) => (a.body.payment as { refundedAmount: number }).refundedAmount,
    );
    expect(refunded.sort((a, b) => a - b)).toEqual([expect.any(Number), 350]);
  });

  it("rejects racing captures past the limit of captures per payment", async () => {
    const id = await authorized(10_000);
    for (let i = 0; i < MAX_CAPTURES - 2; i++) {
      expect((await api.write("capture", id, { amount: 1, finalCapture: false })).status).toBe(200);
    }

    const answers = await racing(
      id,
      Array.from(
        { length: 4 },
        () => () => api.write("capture", id, { amount: 1, finalCapture: false }),
      ),
    );

    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 409, 409]);
    expect(answers.filter((a) => a.status === 409).map((a) => a.body.code)).toEqual([
      "too_many_captures",
      "too_many_captures",
    ]);
    const now = await api.get(id);
    expect(now.body.captures).toHaveLength(MAX_CAPTURES);
    expect(now.body.capturedAmount).toBe(MAX_CAPTURES);
  });

  it("rejects racing refunds past the limit of refunds per payment", async () => {
    const id = await authorized(10_000);
    expect((await api.write("capture", id, {})).status).toBe(200);
    for (let i = 0; i < MAX_REFUNDS - 1; i++) {
      expect((await api.write("refund", id, { amount: 1 })).status).toBe(201);
    }

    const answers = await racing(
      id,
      Array.from({ length: 3 }, () => () => api.write("refund", id, { amount: 1 })),
    );

    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409]);
    expect(answers.filter((a) => a.status === 409).map((a) => a.body.code)).toEqual([
      "too_many_refunds",
      "too_many_refunds",
    ]);
    expect((await api.get(id)).body.refunds).toHaveLength(MAX_REFUNDS);
  });

  it("rejects a duplicate capture (same key) with 409 while the first waits on the payment, with no DynamoDB", async () => {
    // The in-flight lock is PostgreSQL's, taken with the key lookup as the transaction's first
    // statement (issue 15): the duplicate is turned away at once rather than queueing behind the
    // first on the payment's row, and the idempotency table takes no part (here unreachable).
    aws.dynamodb
      .on(PutItemCommand, { TableName: TEST_ENV.IDEMPOTENCY_TABLE })
      .rejects(new Error("ProvisionedThroughputExceededException"));
    const id = await authorized(1000);
    const key = randomUUID();
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    let first: Promise<JsonResult>;
    let duplicate: JsonResult;
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT id FROM payments WHERE id = $1 FOR UPDATE", [id]);
      first = api.write("capture", id, { amount: 100 }, { key });
      const deadline = Date.now() + 10_000;
      for (;;) {
        const { rows } = await db.sql.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        if (Number(rows[0]!.n) >= 1) break;
        if (Date.now() > deadline) throw new Error("the first capture never reached the row lock");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      duplicate = await api.write("capture", id, { amount: 100 }, { key });
    } finally {
      await holder.query("COMMIT");
      await holder.end();
    }
    const committed = await first;
    const retried = await api.write("capture", id, { amount: 100 }, { key });

    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toMatchObject({ code: "idempotency_key_in_use" });
    expect(duplicate.headers["retry-after"]).toBe("1");
    expect(committed.status).toBe(200);
    expect(retried.status).toBe(200);
    expect(retried.headers["idempotent-replayed"]).toBe("true");
    expect(retried.body).toEqual(committed.body);
    expect((await api.get(id)).body.capturedAmount).toBe(100);
    expect(aws.dynamodb).not.toHaveReceivedCommand(PutItemCommand);
  });
});
