import { randomUUID } from "node:crypto";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import "aws-sdk-client-mock-jest";
import { LEGAL_TRANSITIONS } from "../../../functions/payments/shared/payment";
import { lambdaContext } from "./support/aws";
import { writeCounts } from "./support/database";
import { paymentHandlers } from "./support/handlers";
import { apiEvent, json } from "./support/http";
import type { JsonResult } from "./support/http";

const suite = paymentHandlers();
const { aws, handlers } = suite;

async function authorized(amount = 1000): Promise<string> {
  const response = json(
    await handlers.authorize!(
      apiEvent({
        path: "/payments",
        headers: { "idempotency-key": randomUUID() },
        body: { merchantId: "merchant-1", cardToken: "tok_mc_5555abcd", amount, currency: "USD" },
      }),
      lambdaContext(),
    ),
  );
  expect(response.status).toBe(201);
  return response.body.id as string;
}

type Operation = "capture" | "refund" | "void";

async function act(
  operation: Operation,
  id: string,
  body?: unknown,
  key: string = randomUUID(),
): Promise<JsonResult> {
  return json(
    await handlers[operation]!(
      apiEvent({
        path: `/payments/${id}/${operation}`,
        routeKey: `POST /payments/{id}/${operation}`,
        pathParameters: { id },
        headers: { "idempotency-key": key },
        body,
      }),
      lambdaContext(),
    ),
  );
}

async function get(id: string, options: { anonymous?: boolean } = {}): Promise<JsonResult> {
  return json(
    await handlers.get!(
      apiEvent({
        method: "GET",
        path: `/payments/${id}`,
        routeKey: "GET /payments/{id}",
        pathParameters: { id },
        anonymous: options.anonymous,
      }),
      lambdaContext(),
    ),
  );
}

async function ledger(id: string): Promise<[string, number][]> {
  const { rows } = await suite.db.sql.query(
    "SELECT event_type, amount_minor FROM payment_events WHERE payment_id = $1 ORDER BY created_at, event_type",
    [id],
  );
  return rows.map((r) => [r.event_type, Number(r.amount_minor)]);
}

describe("GET /payments/{id}", () => {
  it("returns the payment", async () => {
    const id = await authorized(4200);

    const response = await get(id);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      id,
      merchantId: "merchant-1",
      status: "authorized",
      amount: 4200,
      currency: "USD",
      currencyExponent: 2,
      capturedAmount: 0,
      refundedAmount: 0,
      capturableAmount: 4200,
      releasedAmount: 0,
      reference: null,
      metadata: {},
      captureBefore: expect.any(String),
      captures: [],
      refunds: [],
      version: 1,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    // The default capture window: 7 days from the authorization.
    const window =
      Date.parse(response.body.captureBefore as string) -
      Date.parse(response.body.createdAt as string);
    expect(window).toBe(7 * 24 * 3600 * 1000);
  });

  it.each([
    ["an unknown id", randomUUID()],
    ["an id that is not a UUID", "42"],
  ])("rejects %s with 404", async (_label, id) => {
    const response = await get(id);

    expect(response.status).toBe(404);
    expect(response.body).toEqual({
      type: "invalid_request",
      requestId: response.headers["request-id"],
      code: "payment_not_found",
      message: "payment not found",
      field: "id",
    });
  });

  it("rejects a request without x-api-key with 401", async () => {
    const id = await authorized();

    const response = await get(id, { anonymous: true });

    expect(response.status).toBe(401);
  });
});

describe("capture, refund and void", () => {
  it("captures an authorized payment in full", async () => {
    const id = await authorized(1000);

    const response = await act("capture", id);

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id, status: "captured", capturedAmount: 1000 });
    expect(await ledger(id)).toEqual([
      ["payments.authorized", 1000],
      ["payments.captured", 1000],
    ]);
    expect(aws.eventBridge).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [expect.objectContaining({ DetailType: "payments.captured", Source: "payments" })],
    });
  });

  it("captures when the amount sent equals the authorized amount", async () => {
    const id = await authorized(1000);

    const response = await act("capture", id, { amount: 1000 });

    expect(response.status).toBe(200);
  });

  it("rejects a capture over the authorized amount with 422, changing nothing but recording the answer", async () => {
    const id = await authorized(1000);
    const before = await writeCounts(suite.db.sql);

    const response = await act("capture", id, { amount: 1001 });

    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ code: "amount_exceeds_capturable", field: "amount" });
    expect(response.body.message).toContain("1000");
    expect(await writeCounts(suite.db.sql)).toEqual({ ...before, keys: before.keys + 1 });
  });

  it("adds partial refunds up to the captured amount", async () => {
    const id = await authorized(1000);
    await act("capture", id);

    const first = await act("refund", id, { amount: 300 });
    const second = await act("refund", id, { amount: 200 });
    const last = await act("refund", id, { amount: 500 });

    expect(first.status).toBe(201);
    expect(first.body.payment).toMatchObject({ status: "partially_refunded", refundedAmount: 300 });
    expect(second.body.payment).toMatchObject({
      status: "partially_refunded",
      refundedAmount: 500,
    });
    expect(last.body.payment).toMatchObject({ status: "refunded", refundedAmount: 1000 });
    expect(await ledger(id)).toEqual([
      ["payments.authorized", 1000],
      ["payments.captured", 1000],
      ["payments.partially_refunded", 300],
      ["payments.partially_refunded", 200],
      ["payments.refunded", 500],
    ]);
  });

  it("rejects a refund over the refundable amount with 422, changing nothing but recording the answer", async () => {
    const id = await authorized(1000);
    await act("capture", id);
    await act("refund", id, { amount: 700 });
    const before = await writeCounts(suite.db.sql);

    const response = await act("refund", id, { amount: 301 });

    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ code: "amount_exceeds_refundable", field: "amount" });
    expect(response.body.message).toContain("300");
    expect(await writeCounts(suite.db.sql)).toEqual({ ...before, keys: before.keys + 1 });
  });

  it("voids an authorized payment", async () => {
    const id = await authorized(1000);

    const response = await act("void", id);

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: "voided", capturedAmount: 0 });
    expect(await ledger(id)).toEqual([
      ["payments.authorized", 1000],
      ["payments.voided", 1000],
    ]);
  });

  it.each<[string, Operation[], Operation, unknown]>([
    ["captures a voided payment", ["void"], "capture", undefined],
    ["refunds a voided payment", ["void"], "refund", { amount: 1 }],
    ["voids a captured payment", ["capture"], "void", undefined],
    ["captures a captured payment", ["capture"], "capture", undefined],
    ["refunds an authorized payment", [], "refund", { amount: 1 }],
    ["refunds a fully refunded payment", ["capture", "refund"], "refund", { amount: 1 }],
  ])(
    "rejects a request that %s with 409, changing nothing but recording the answer",
    async (_label, steps, operation, body) => {
      const id = await authorized(1000);
      for (const step of steps) {
        const done = await act(step, id, step === "refund" ? { amount: 1000 } : undefined);
        expect(done.status).toBeLessThan(300);
      }
      const before = await writeCounts(suite.db.sql);

      const response = await act(operation, id, body);

      expect(response.status).toBe(409);
      expect(response.body).toMatchObject({ code: "illegal_transition", field: null });
      expect(await writeCounts(suite.db.sql)).toEqual({ ...before, keys: before.keys + 1 });
    },
  );

  it.each<[string, Operation, unknown, number, string, string | null]>([
    ["a refund without amount", "refund", {}, 400, "missing_field", "amount"],
    ["a refund with a zero amount", "refund", { amount: 0 }, 422, "invalid_amount", "amount"],
    [
      "a refund with an unknown field",
      "refund",
      { amount: 1, reason: "x" },
      400,
      "unknown_field",
      "reason",
    ],
    ["a void with a body field", "void", { amount: 1 }, 400, "unknown_field", "amount"],
    ["a capture with malformed JSON", "capture", "{", 400, "malformed_json", null],
  ])("rejects %s and writes nothing", async (_label, operation, body, status, code, field) => {
    const id = await authorized(1000);
    if (operation === "refund") await act("capture", id);
    const before = await writeCounts(suite.db.sql);

    const response = await act(operation, id, body);

    expect(response.status).toBe(status);
    expect(response.body).toEqual({
      type: "invalid_request",
      code,
      message: expect.any(String),
      field,
      requestId: response.headers["request-id"],
    });
    expect(await writeCounts(suite.db.sql)).toEqual(before);
  });

  it.each<Operation>(["capture", "refund", "void"])(
    "rejects %s of an unknown payment with 404 and writes nothing",
    async (operation) => {
      const before = await writeCounts(suite.db.sql);

      const response = await act(
        operation,
        randomUUID(),
        operation === "refund" ? { amount: 1 } : undefined,
      );

      expect(response.status).toBe(404);
      expect(await writeCounts(suite.db.sql)).toEqual(before);
    },
  );

  it("replays a retried capture instead of answering 409, even when DynamoDB lost the record", async () => {
    const id = await authorized(1000);
    const key = randomUUID();
    const first = await act("capture", id, undefined, key);
    aws.idempotencyItems.clear();

    const retry = await act("capture", id, undefined, key);

    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers["idempotent-replayed"]).toBe("true");
  });

  it("refunds once for a retried refund", async () => {
    const id = await authorized(1000);
    await act("capture", id);
    const key = randomUUID();

    await act("refund", id, { amount: 100 }, key);
    aws.idempotencyItems.clear();
    await act("refund", id, { amount: 100 }, key);

    expect((await get(id)).body).toMatchObject({ refundedAmount: 100 });
  });

  it("rejects reusing a merchant's key for another operation with 422", async () => {
    const id = await authorized(1000);
    const key = randomUUID();
    await act("capture", id, undefined, key);

    const response = await act("refund", id, { amount: 10 }, key);

    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ code: "idempotency_key_reused" });
  });

  it("requires an Idempotency-Key on every write", async () => {
    const id = await authorized(1000);

    const response = json(
      await handlers.capture!(
        apiEvent({ path: `/payments/${id}/capture`, pathParameters: { id } }),
        lambdaContext(),
      ),
    );

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: "missing_idempotency_key" });
  });
});

describe("database constraints", () => {
  async function seed(status: "authorized" | "captured" | "refunded"): Promise<string> {
    const id = await authorized(1000);
    if (status !== "authorized") await act("capture", id);
    if (status === "refunded") await act("refund", id, { amount: 1000 });
    return id;
  }

  it.each<[string, "authorized" | "captured" | "refunded", string, string]>([
    [
      "captured -> authorized",
      "captured",
      "UPDATE payments SET status = 'authorized', captured_minor = 0 WHERE id = $1",
      "payments_legal_transition",
    ],
    [
      "authorized -> refunded",
      "authorized",
      "UPDATE payments SET status = 'refunded', captured_minor = 1000, refunded_minor = 1000 WHERE id = $1",
      "payments_legal_transition",
    ],
    [
      "refunded -> partially_refunded",
      "refunded",
      "UPDATE payments SET status = 'partially_refunded', refunded_minor = 500 WHERE id = $1",
      "payments_legal_transition",
    ],
    [
      "voided after capture",
      "captured",
      "UPDATE payments SET status = 'voided', captured_minor = 0 WHERE id = $1",
      "payments_legal_transition",
    ],
    [
      "a changed amount",
      "authorized",
      "UPDATE payments SET amount_minor = 1 WHERE id = $1",
      "payments_legal_transition",
    ],
    ["a delete", "authorized", "DELETE FROM payments WHERE id = $1", "payments_legal_transition"],
    [
      "a refund over the capture",
      "captured",
      "UPDATE payments SET status = 'refunded', refunded_minor = 1001 WHERE id = $1",
      "payments_refund_within_capture",
    ],
    [
      "a capture over the authorized amount",
      "authorized",
      "UPDATE payments SET status = 'captured', captured_minor = 1001 WHERE id = $1",
      "payments_capture_within_amount",
    ],
    [
      "a partial capture that claims to be open with nothing captured",
      "authorized",
      "UPDATE payments SET status = 'partially_captured' WHERE id = $1",
      "payments_status_matches_amounts",
    ],
    [
      "a captured amount changed after the capture closed",
      "captured",
      "UPDATE payments SET status = 'partially_refunded', captured_minor = 900, refunded_minor = 100 WHERE id = $1",
      "payments_legal_transition",
    ],
    [
      "an expiry after the capture",
      "captured",
      "UPDATE payments SET status = 'expired', captured_minor = 0 WHERE id = $1",
      "payments_legal_transition",
    ],
    [
      "a changed reference",
      "authorized",
      "UPDATE payments SET reference = 'other' WHERE id = $1",
      "payments_legal_transition",
    ],
    [
      "a moved captureBefore",
      "authorized",
      "UPDATE payments SET capture_before = capture_before + interval '1 day' WHERE id = $1",
      "payments_legal_transition",
    ],
    [
      "an update that changes nothing",
      "authorized",
      "UPDATE payments SET status = status WHERE id = $1",
      "payments_legal_transition",
    ],
    [
      "a status that does not match the amounts",
      "captured",
      "UPDATE payments SET status = 'partially_refunded' WHERE id = $1",
      "payments_status_matches_amounts",
    ],
    [
      "an unknown status",
      "authorized",
      "UPDATE payments SET status = 'settled' WHERE id = $1",
      "payments_legal_transition",
    ],
  ])("rejects %s in SQL", async (_label, status, statement, constraint) => {
    const id = await seed(status);

    await expect(suite.db.sql.query(statement, [id])).rejects.toMatchObject({ constraint });
  });

  const INSERT = `INSERT INTO payments
    (id, merchant_id, card_token, amount_minor, currency, status, captured_minor, origin_region, created_at, updated_at, capture_before)
    VALUES ($1, 'm', 'tok_abcdefgh', $2, 'EUR', $3, $4, 'us-east-1', now(), now(), $5)`;
  const WEEK = new Date(Date.now() + 7 * 86_400_000);

  it.each<[string, number, string, number, Date | null, string]>([
    [
      "a payment that does not start authorized",
      1000,
      "captured",
      1000,
      WEEK,
      "payments_legal_transition",
    ],
    ["a zero amount", 0, "authorized", 0, WEEK, "payments_amount_range"],
    ["an amount over 10^12", 1e12 + 1, "authorized", 0, WEEK, "payments_amount_range"],
    [
      "an authorization without captureBefore",
      1000,
      "authorized",
      0,
      null,
      "payments_capture_before_set",
    ],
  ])(
    "rejects inserting %s",
    async (_label, amount, status, captured, captureBefore, constraint) => {
      await expect(
        suite.db.sql.query(INSERT, [randomUUID(), amount, status, captured, captureBefore]),
      ).rejects.toMatchObject({ constraint });
    },
  );

  it.each([
    [
      "an event's content",
      "UPDATE payment_events SET amount_minor = 1 WHERE payment_id = $1",
      "payment_events_write_once",
    ],
    ["an event", "DELETE FROM payment_events WHERE payment_id = $1", "payment_events_write_once"],
    [
      "an idempotency record",
      "UPDATE idempotency_keys SET response_status = 500 WHERE payment_id = $1",
      "idempotency_keys_write_once",
    ],
    [
      "an idempotency record's deletion",
      "DELETE FROM idempotency_keys WHERE payment_id = $1",
      "idempotency_keys_write_once",
    ],
  ])("rejects changing %s in SQL: written once", async (_label, statement, constraint) => {
    const id = await authorized();

    await expect(suite.db.sql.query(statement, [id])).rejects.toMatchObject({ constraint });
  });

  it("lets the outbox mark an event published", async () => {
    const id = await authorized();

    await suite.db.sql.query(
      "UPDATE payment_events SET published_at = now(), publish_attempts = publish_attempts + 1 WHERE payment_id = $1",
      [id],
    );
  });

  it("rejects a second idempotency record for one merchant and key", async () => {
    const id = await authorized();
    const { rows } = await suite.db.sql.query(
      "SELECT merchant_id, idempotency_key FROM idempotency_keys WHERE payment_id = $1",
      [id],
    );

    await expect(
      suite.db.sql.query(
        `INSERT INTO idempotency_keys (merchant_id, idempotency_key, operation, request_hash, payment_id, response_status, response_body, created_at)
         VALUES ($1, $2, 'authorize', repeat('a', 64), $3, 201, '{}', now())`,
        [rows[0].merchant_id, rows[0].idempotency_key, id],
      ),
    ).rejects.toMatchObject({ code: "23505", constraint: "idempotency_keys_pkey" });
  });
});

// The code's table of transitions (LEGAL_TRANSITIONS, which the plans keep to: validation.test.ts
// walks random sequences) against what the database's trigger lets through: for every status a
// payment reaches through the API and every status it might be moved to (with amounts that fit
// the target), the trigger accepts the move exactly when the code's table lists it. Two
// implementations of one rule, checked against each other.
describe("the transitions the database allows", () => {
  type Status = keyof typeof LEGAL_TRANSITIONS;
  const STATUSES = Object.keys(LEGAL_TRANSITIONS) as Status[];

  /** A 1000 USD payment in `status`, reached through the API (expired: as the job does it). */
  async function reach(status: Status): Promise<string> {
    const id = await authorized(1000);
    const steps: Record<Status, () => Promise<unknown>> = {
      authorized: async () => undefined,
      partially_captured: () => act("capture", id, { amount: 400, finalCapture: false }),
      captured: () => act("capture", id),
      partially_refunded: async () => {
        await act("capture", id);
        await act("refund", id, { amount: 300 });
      },
      refunded: async () => {
        await act("capture", id);
        await act("refund", id, { amount: 1000 });
      },
      voided: () => act("void", id),
      expired: () =>
        suite.db.sql.query("UPDATE payments SET status = 'expired' WHERE id = $1", [id]),
    };
    await steps[status]();
    const { rows } = await suite.db.sql.query("SELECT status FROM payments WHERE id = $1", [id]);
    expect(rows[0].status).toBe(status);
    return id;
  }

  /** Amounts that fit `to` (payments_status_matches_amounts), moving forward from c and r. */
  function amountsFor(to: Status, c: number, r: number): { c: number; r: number } {
    const closed = c > 0 ? c : 1000;
    switch (to) {
      case "authorized":
      case "voided":
      case "expired":
        return { c: 0, r: 0 };
      case "partially_captured":
        return { c: c + 100 < 1000 ? c + 100 : 900, r };
      case "captured":
        return { c: closed, r: 0 };
      case "partially_refunded":
        return { c: closed, r: Math.min(r + 100, closed - 1) };
      case "refunded":
        return { c: closed, r: closed };
    }
  }

  it.each(STATUSES)("lets a %s payment move exactly where the code's table says", async (from) => {
    const id = await reach(from);
    const { rows } = await suite.db.sql.query(
      "SELECT captured_minor::int AS c, refunded_minor::int AS r FROM payments WHERE id = $1",
      [id],
    );
    const accepted: Status[] = [];
    for (const to of STATUSES) {
      const { c, r } = amountsFor(to, rows[0].c, rows[0].r);
      await suite.db.sql.query("BEGIN");
      try {
        await suite.db.sql.query(
          "UPDATE payments SET status = $2, captured_minor = $3, refunded_minor = $4 WHERE id = $1",
          [id, to, c, r],
        );
        accepted.push(to);
      } catch (error) {
        expect(error).toMatchObject({ code: "23514" });
      } finally {
        await suite.db.sql.query("ROLLBACK");
      }
    }

    expect(accepted.sort()).toEqual([...LEGAL_TRANSITIONS[from]].sort());
  });
});
