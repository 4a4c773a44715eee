import { randomUUID } from "node:crypto";
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import "aws-sdk-client-mock-jest";
import { Client } from "pg";
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import { IN_FLIGHT_LOCK } from "../../../functions/payments/shared/postgres-store";
import type { ApiHandler } from "../../../functions/payments/shared/runtime";
import {
  FakeAws,
  OTHER_API_KEY,
  REGION,
  TEST_ENV,
  lambdaContext,
  setHandlerEnvironment,
} from "./support/aws";
import { createTestDatabase, writeCounts } from "./support/database";
import type { TestDatabase } from "./support/database";
import { apiEvent, json } from "./support/http";

const aws = new FakeAws();
let db: TestDatabase;
let handler: ApiHandler;

beforeAll(async () => {
  db = await createTestDatabase();
  setHandlerEnvironment(db.url);
  // Some tests keep two requests in flight: in Lambda they run in two execution environments of
  // one connection each, here in one process whose pool stands for both.
  process.env.DATABASE_POOL_MAX = "2";
  ({ handler } = await import("../../../functions/payments/authorize/handler"));
});

afterAll(async () => {
  delete process.env.DATABASE_POOL_MAX;
  await closeAllDatabases();
  await db.drop();
});

beforeEach(() => aws.reset());

const VALID = {
  merchantId: "merchant-1",
  cardToken: "tok_visa_4242abcd",
  amount: 1250,
  currency: "EUR",
};

interface PostOptions {
  /** Idempotency-Key; null sends none. @default a fresh UUID */
  readonly key?: string | null;
  /** x-api-key; null sends none. @default the test key */
  readonly apiKey?: string | null;
  readonly headers?: Record<string, string>;
  /** Send base64-encoded (isBase64Encoded); "as-is" sends the body string unencoded. */
  readonly base64?: boolean | "as-is";
}

/** Advisory locks granted right now: the in-flight locks of idempotency keys. */
async function inFlightLocks(): Promise<number> {
  const { rows } = await db.sql.query(
    // This file's database only: pg_locks is server-wide, and test files running beside this
    // one take advisory locks of their own (the migrator's, their requests' in-flight locks).
    `SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND granted
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return rows[0].n as number;
}

/**
 * Claims (merchant-1, key) in idempotency_keys in this session's open transaction, without the
 * in-flight lock: a request with the key then waits on the unique entry, mid-statement, holding
 * its lock (a table lock would stop it earlier, at parse time, before it takes any).
 */
async function claimUncommitted(key: string): Promise<void> {
  await db.sql.query(
    `INSERT INTO idempotency_keys
       (merchant_id, idempotency_key, operation, request_hash, payment_id, response_status,
        response_body, created_at)
     VALUES ('merchant-1', $1, 'authorize', repeat('0', 64), gen_random_uuid(), 201, '{}', now())`,
    [key],
  );
}

/** Waits until `n` in-flight locks are held (a request reached its first statement). */
async function untilInFlightLocks(n: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while ((await inFlightLocks()) !== n) {
    if (Date.now() > deadline) throw new Error(`never ${n} in-flight locks`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function post(body: unknown, options: PostOptions = {}) {
  const key = options.key === undefined ? randomUUID() : options.key;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return handler(
    apiEvent({
      path: "/payments",
      routeKey: "POST /payments",
      anonymous: options.apiKey === null,
      headers: {
        ...(key === null ? {} : { "idempotency-key": key }),
        ...(options.apiKey ? { "x-api-key": options.apiKey } : {}),
        ...options.headers,
      },
      body: options.base64 === true ? Buffer.from(text).toString("base64") : text,
      isBase64Encoded: options.base64 !== undefined && options.base64 !== false,
    }),
    lambdaContext("payments-authorize-test"),
  ).then(json);
}

describe("POST /payments", () => {
  it("authorizes a payment, stores it with its outbox event and publishes the event", async () => {
    const response = await post(VALID);

    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      merchantId: "merchant-1",
      status: "authorized",
      amount: 1250,
      currency: "EUR",
      capturedAmount: 0,
      refundedAmount: 0,
    });
    expect(response.body).not.toHaveProperty("cardToken");
    const id = response.body.id as string;
    const payment = await db.sql.query("SELECT * FROM payments WHERE id = $1", [id]);
    expect(payment.rows[0]).toMatchObject({
      merchant_id: "merchant-1",
      card_token: "tok_visa_4242abcd",
      amount_minor: "1250",
      currency: "EUR",
      status: "authorized",
      origin_region: REGION,
    });
    const events = await db.sql.query(
      "SELECT event_id, event_type, detail, published_at FROM payment_events WHERE payment_id = $1",
      [id],
    );
    expect(events.rows).toHaveLength(1);
    const event = events.rows[0];
    expect(event.event_type).toBe("payments.authorized");
    expect(event.published_at).not.toBeNull();
    expect(event.detail).toMatchObject({
      eventId: event.event_id,
      originRegion: REGION,
      paymentId: id,
      amount: 1250,
      status: "authorized",
    });
    expect(aws.eventBridge).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [
        expect.objectContaining({
          EventBusName: TEST_ENV.EVENT_BUS_NAME,
          Source: "payments",
          DetailType: "payments.authorized",
          Detail: JSON.stringify(event.detail),
        }),
      ],
    });
  });

  it("records the checkout session named by x-session-id", async () => {
    const response = await post(VALID, { headers: { "x-session-id": "checkout-77" } });

    expect(response.status).toBe(201);
    expect(aws.dynamodb).toHaveReceivedCommandWith(UpdateItemCommand, {
      TableName: TEST_ENV.SESSIONS_TABLE,
      Key: { sessionId: { S: "checkout-77" } },
      ConditionExpression: "attribute_not_exists(merchantId) OR merchantId = :merchant",
    });
    const session = aws.sessionItems.get("checkout-77")!;
    expect(session.merchantId).toEqual({ S: "merchant-1" });
    expect(session.lastPaymentId).toEqual({ S: response.body.id });
    expect(Number(session.expiresAt!.N)).toBeGreaterThan(Date.now() / 1000 + 23 * 3600);
  });

  it("authorizes even when the session cannot be recorded", async () => {
    aws.dynamodb
      .on(UpdateItemCommand, { TableName: TEST_ENV.SESSIONS_TABLE })
      .rejects(new Error("sessions table throttled"));

    const response = await post(VALID, { headers: { "x-session-id": "checkout-78" } });

    expect(response.status).toBe(201);
  });

  it("authorizes even when publishing fails, leaving the event for the relay", async () => {
    aws.eventBridge.on(PutEventsCommand).rejects(new Error("EventBridge unavailable"));

    const response = await post(VALID);

    expect(response.status).toBe(201);
    const { rows } = await db.sql.query(
      "SELECT published_at FROM payment_events WHERE payment_id = $1",
      [response.body.id],
    );
    expect(rows).toEqual([{ published_at: null }]);
  });

  it("accepts a base64-encoded body", async () => {
    const response = await post(VALID, { base64: true });

    expect(response.status).toBe(201);
  });

  it("accepts a body of exactly 16 KB", async () => {
    const compact = JSON.stringify(VALID);
    const body = compact.slice(0, -1) + " ".repeat(16 * 1024 - compact.length) + "}";

    const response = await post(body);

    expect(Buffer.byteLength(body)).toBe(16 * 1024);
    expect(response.status).toBe(201);
  });

  describe("API key", () => {
    it.each([
      ["a missing", null],
      ["a wrong", "not-a-key"],
      ["a prefix of a real", "test-api-key"],
    ])("rejects %s x-api-key with 401 and writes nothing", async (_label, apiKey) => {
      const before = await writeCounts(db.sql);

      const response = await post(VALID, { apiKey });

      expect(response.status).toBe(401);
      expect(response.body).toEqual({
        type: "authentication",
        requestId: response.headers["request-id"],
        code: "unauthorized",
        message: "a valid x-api-key header is required",
        field: "x-api-key",
      });
      expect(await writeCounts(db.sql)).toEqual(before);
      expect(aws.dynamodb).not.toHaveReceivedCommand(PutItemCommand);
    });

    it("accepts any of the configured keys, acting as its merchant", async () => {
      const { merchantId: _merchant, ...body } = VALID;

      const response = await post(body, { apiKey: OTHER_API_KEY });

      expect(response.status).toBe(201);
      expect(response.body.merchantId).toBe("merchant-2");
    });
  });

  describe("bad input", () => {
    const big = "x".repeat(16 * 1024);
    it.each<[string, unknown, PostOptions, number, string, string | null]>([
      ["malformed JSON", '{"merchantId": "m",', {}, 400, "malformed_json", null],
      ["a JSON array", "[]", {}, 400, "invalid_body", null],
      ["an empty body", "", {}, 400, "malformed_json", null],
      ["a missing field", { ...VALID, currency: undefined }, {}, 400, "missing_field", "currency"],
      ["an unknown field", { ...VALID, cardNumber: "x" }, {}, 400, "unknown_field", "cardNumber"],
      ["a negative amount", { ...VALID, amount: -5 }, {}, 422, "invalid_amount", "amount"],
      ["a zero amount", { ...VALID, amount: 0 }, {}, 422, "invalid_amount", "amount"],
      ["a fractional amount", { ...VALID, amount: 10.5 }, {}, 422, "invalid_amount", "amount"],
      ["an amount over 10^12", { ...VALID, amount: 1e12 + 1 }, {}, 422, "invalid_amount", "amount"],
      ["an amount as a string", { ...VALID, amount: "1250" }, {}, 422, "invalid_amount", "amount"],
      [
        "an unknown currency",
        { ...VALID, currency: "XYZ" },
        {},
        422,
        "unknown_currency",
        "currency",
      ],
      [
        "a lower-case currency",
        { ...VALID, currency: "eur" },
        {},
        422,
        "unknown_currency",
        "currency",
      ],
      [
        "a withdrawn currency",
        { ...VALID, currency: "HRK" },
        {},
        422,
        "unknown_currency",
        "currency",
      ],
      [
        "a PAN as token",
        { ...VALID, cardToken: "4111111111111111" },
        {},
        422,
        "pan_not_allowed",
        "cardToken",
      ],
      [
        "a spaced PAN",
        { ...VALID, cardToken: "4111 1111 1111 1111" },
        {},
        422,
        "pan_not_allowed",
        "cardToken",
      ],
      [
        "a dashed PAN in a token",
        { ...VALID, cardToken: "tok-4111-1111-1111-1111" },
        {},
        422,
        "pan_not_allowed",
        "cardToken",
      ],
      [
        "a Luhn-invalid 13-digit run",
        { ...VALID, cardToken: "tok_1234567890123" },
        {},
        422,
        "pan_not_allowed",
        "cardToken",
      ],
      [
        "a PAN as merchant id",
        { ...VALID, merchantId: "5500000000000004" },
        {},
        422,
        "pan_not_allowed",
        "merchantId",
      ],
      ["a body over 16 KB", { ...VALID, pad: big }, {}, 400, "body_too_large", null],
      [
        "a base64 body over 16 KB",
        { ...VALID, pad: big },
        { base64: true },
        400,
        "body_too_large",
        null,
      ],
      // 6,000 characters but 18,000 bytes: the limit counts bytes.
      [
        "a multi-byte body over 16 KB",
        { ...VALID, pad: "€".repeat(6000) },
        {},
        400,
        "body_too_large",
        null,
      ],
      ["invalid base64", "not base64!", { base64: "as-is" }, 400, "malformed_body", null],
      [
        "no Idempotency-Key",
        VALID,
        { key: null },
        400,
        "missing_idempotency_key",
        "Idempotency-Key",
      ],
      [
        "a bad x-session-id",
        VALID,
        { headers: { "x-session-id": "a b" } },
        400,
        "invalid_session_id",
        "x-session-id",
      ],
    ])("rejects %s and writes nothing", async (_label, body, options, status, code, field) => {
      const before = await writeCounts(db.sql);

      const response = await post(body, options);

      expect(response.status).toBe(status);
      expect(response.body).toEqual({
        type: "invalid_request",
        code,
        message: expect.any(String),
        field,
        requestId: response.headers["request-id"],
      });
      expect(await writeCounts(db.sql)).toEqual(before);
      expect(aws.dynamodb).not.toHaveReceivedCommand(PutItemCommand);
      expect(aws.eventBridge).not.toHaveReceivedCommand(PutEventsCommand);
    });

    it.each([
      ["as the token", { ...VALID, cardToken: "4111111111111111" }],
      ["as a field name", { ...VALID, "4111111111111111": "12/29" }],
      ["in a reference", { ...VALID, reference: "order 4111111111111111" }],
      ["in metadata", { ...VALID, metadata: { card: "4111 1111 1111 1111" } }],
    ])("never echoes a rejected card number sent %s", async (_label, body) => {
      const before = await writeCounts(db.sql);

      const response = await post(body);

      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({ code: "pan_not_allowed" });
      expect(JSON.stringify(response)).not.toMatch(/4111[ -]?1111/);
      expect(await writeCounts(db.sql)).toEqual(before);
    });
  });

  describe("idempotency", () => {
    it("replays the original answer for the same key and body, charging once", async () => {
      const key = randomUUID();
      const first = await post(VALID, { key });

      const second = await post(
        { currency: "EUR", amount: 1250, cardToken: VALID.cardToken, merchantId: "merchant-1" },
        { key },
      );

      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.body).toEqual(first.body);
      expect(second.headers["idempotent-replayed"]).toBe("true");
      const { rows } = await db.sql.query(
        "SELECT count(*)::int AS n FROM payments WHERE merchant_id = $1 AND id = $2",
        ["merchant-1", first.body.id],
      );
      expect(rows[0].n).toBe(1);
    });

    it("rejects the same key with a different body with 422", async () => {
      const key = randomUUID();
      await post(VALID, { key });
      const before = await writeCounts(db.sql);

      const response = await post({ ...VALID, amount: 9999 }, { key });

      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({
        code: "idempotency_key_reused",
        field: "Idempotency-Key",
      });
      expect(await writeCounts(db.sql)).toEqual(before);
    });

    it("rejects a different body with 422 from PostgreSQL when DynamoDB has no record", async () => {
      const key = randomUUID();
      await post(VALID, { key });
      aws.idempotencyItems.clear(); // as in the other region, before replication caught up
      const before = await writeCounts(db.sql);

      const response = await post({ ...VALID, amount: 9999 }, { key });

      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({ code: "idempotency_key_reused" });
      expect(await writeCounts(db.sql)).toEqual(before);
    });

    it("replays from PostgreSQL when DynamoDB has no record", async () => {
      const key = randomUUID();
      const first = await post(VALID, { key });
      aws.idempotencyItems.clear();

      const second = await post(VALID, { key });

      expect(second.status).toBe(201);
      expect(second.body).toEqual(first.body);
      expect(second.headers["idempotent-replayed"]).toBe("true");
      expect(aws.eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    });

    it("scopes keys per merchant", async () => {
      const key = randomUUID();
      const first = await post(VALID, { key });

      const { merchantId: _merchant, ...body } = VALID;
      const other = await post(body, { key, apiKey: OTHER_API_KEY });

      expect(other.status).toBe(201);
      expect(other.body.id).not.toBe(first.body.id);
    });

    it("rejects a duplicate while the first request has not committed with 409 and Retry-After, then replays", async () => {
      // The first request takes the key's in-flight lock in PostgreSQL, then waits on the
      // key's unique entry, which this session has claimed without committing; it rolls back,
      // and the first request's claim goes through.
      const key = randomUUID();
      await db.sql.query("BEGIN");
      await claimUncommitted(key);
      let first: Promise<Awaited<ReturnType<typeof post>>>;
      let duplicate: Awaited<ReturnType<typeof post>>;
      try {
        first = post(VALID, { key });
        await untilInFlightLocks(1);
        duplicate = await post(VALID, { key });
      } finally {
        await db.sql.query("ROLLBACK");
      }
      const committed = await first;
      const retried = await post(VALID, { key });

      expect(duplicate.status).toBe(409);
      expect(duplicate.body).toMatchObject({ type: "idempotency", code: "idempotency_key_in_use" });
      // The holder is one short transaction: a second later its answer is there.
      expect(duplicate.headers["retry-after"]).toBe("1");
      expect(committed.status).toBe(201);
      expect(retried.status).toBe(201);
      expect(retried.body.id).toBe(committed.body.id);
      expect(retried.headers["idempotent-replayed"]).toBe("true");
      const { rows } = await db.sql.query(
        "SELECT count(*)::int AS n FROM idempotency_keys WHERE idempotency_key = $1",
        [key],
      );
      expect(rows[0].n).toBe(1);
    });

    it("turns a concurrent duplicate away with 409 without DynamoDB: no write to any table but PostgreSQL", async () => {
      // The in-flight lock is PostgreSQL's (issue 15): the write path makes no DynamoDB write, so
      // the 409 holds with the idempotency table unreachable.
      aws.dynamodb
        .on(PutItemCommand, { TableName: TEST_ENV.IDEMPOTENCY_TABLE })
        .rejects(new Error("ProvisionedThroughputExceededException"));
      const key = randomUUID();
      await db.sql.query("BEGIN");
      await claimUncommitted(key);
      let first: Promise<Awaited<ReturnType<typeof post>>>;
      let duplicate: Awaited<ReturnType<typeof post>>;
      try {
        first = post(VALID, { key });
        await untilInFlightLocks(1);
        duplicate = await post(VALID, { key });
      } finally {
        await db.sql.query("ROLLBACK");
      }

      expect(duplicate.status).toBe(409);
      expect((await first).status).toBe(201);
      expect(aws.dynamodb).not.toHaveReceivedCommand(PutItemCommand);
      expect(aws.dynamodb).not.toHaveReceivedCommand(DeleteItemCommand);
    });

    it("holds the in-flight lock only while its transaction runs: none is left once answered", async () => {
      const key = randomUUID();

      const first = await post(VALID, { key });
      const retry = await post(VALID, { key });
      const other = await post({ ...VALID, amount: 2 }, { key });

      expect(await inFlightLocks()).toBe(0);
      expect(retry.status).toBe(201);
      expect(retry.headers["idempotent-replayed"]).toBe("true");
      expect(retry.body).toEqual(first.body);
      expect(other.status).toBe(422);
      expect(other.body).toMatchObject({ code: "idempotency_key_reused" });
    });

    it("frees the key of a request that failed, so its retry runs at once", async () => {
      const key = randomUUID();
      await db.sql.query("ALTER TABLE payments RENAME TO payments_away");
      let failed: Awaited<ReturnType<typeof post>>;
      try {
        failed = await post(VALID, { key });
      } finally {
        await db.sql.query("ALTER TABLE payments_away RENAME TO payments");
      }

      const retry = await post(VALID, { key });

      expect(failed.status).toBeGreaterThanOrEqual(500);
      expect(retry.status).toBe(201);
      expect(retry.headers["idempotent-replayed"]).toBeUndefined();
    });

    it("frees the key of an attempt whose connection died mid-request, so its retry runs at once", async () => {
      // As when the Lambda environment running the first attempt is killed (timeout, crash):
      // its session ends, PostgreSQL rolls its transaction back and the lock goes with it.
      const key = randomUUID();
      const holder = new Client({ connectionString: db.url });
      holder.on("error", () => undefined); // the terminated session reports its end
      await holder.connect();
      const { rows } = await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      await holder.query("BEGIN");
      const taken = await holder.query<{ free: boolean }>(
        `SELECT ${IN_FLIGHT_LOCK("$1", "$2")} AS free`,
        ["merchant-1", key],
      );
      expect(taken.rows[0]!.free).toBe(true);

      const whileHeld = await post(VALID, { key });
      await db.sql.query("SELECT pg_terminate_backend($1)", [rows[0]!.pid]);
      await holder.end().catch(() => undefined);
      await untilInFlightLocks(0);

      const retry = await post(VALID, { key });

      expect(whileHeld.status).toBe(409);
      expect(retry.status).toBe(201);
      expect(retry.headers["idempotent-replayed"]).toBeUndefined();
    });

    it("creates exactly one payment for 50 concurrent requests with one key, every other answer a replay or 409", async () => {
      const key = randomUUID();

      const responses = await Promise.all(Array.from({ length: 50 }, () => post(VALID, { key })));

      const created = responses.filter((r) => r.status === 201);
      expect(responses.every((r) => r.status === 201 || r.status === 409)).toBe(true);
      expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
      expect(created.filter((r) => r.headers["idempotent-replayed"] !== "true")).toHaveLength(1);
      expect(
        responses
          .filter((r) => r.status === 409)
          .every((r) => r.body.code === "idempotency_key_in_use"),
      ).toBe(true);
      const counts = await db.sql.query(
        `SELECT (SELECT count(*)::int FROM payments WHERE id = $1) AS payments,
                (SELECT count(*)::int FROM payment_events WHERE payment_id = $1) AS events,
                (SELECT count(*)::int FROM idempotency_keys WHERE idempotency_key = $2) AS keys`,
        [[...created][0]!.body.id, key],
      );
      expect(counts.rows[0]).toEqual({ payments: 1, events: 1, keys: 1 });
    });
  });
});
