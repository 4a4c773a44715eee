// What merchants expect (issue 11), through the real handlers on the real PostgreSQL: partial and
// multiple captures, refunds as objects, reference and metadata, currency exponents and limits,
// versioned events. Expiry and listing have files of their own.
import { randomUUID } from "node:crypto";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import "aws-sdk-client-mock-jest";
import { DR_SYNTHETIC_MERCHANT } from "../../../functions/common/contract";
import { SYNTHETIC_PAYMENT, verifyIdempotencyKey } from "../../../functions/dr/verify/core";
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import { DR_API_KEY, FakeAws, TEST_ENV, setHandlerEnvironment } from "./support/aws";
import { PaymentsClient } from "./support/client";
import { createTestDatabase, writeCounts } from "./support/database";
import type { TestDatabase } from "./support/database";

const aws = new FakeAws();
let db: TestDatabase;
const api = new PaymentsClient();

beforeAll(async () => {
  db = await createTestDatabase();
  setHandlerEnvironment(db.url);
  await api.load();
});

afterAll(async () => {
  await closeAllDatabases();
  await db.drop();
});

beforeEach(() => aws.reset());

const CARD = { cardToken: "tok_visa_4242abcd" };

async function authorized(amount = 1000, currency = "EUR", extra: object = {}): Promise<string> {
  const response = await api.authorize({ ...CARD, amount, currency, ...extra });
  expect(response.status).toBe(201);
  return response.body.id as string;
}

/** The payment's events as stored (and published): detail JSON, in version order. */
async function events(id: string): Promise<Record<string, unknown>[]> {
  const { rows } = await db.sql.query(
    "SELECT detail FROM payment_events WHERE payment_id = $1 ORDER BY payment_version",
    [id],
  );
  return rows.map((r) => r.detail);
}

describe("partial and multiple captures", () => {
  it("captures in parts up to the authorized amount, releasing the rest on the final capture", async () => {
    const id = await authorized(1000);

    const first = await api.write("capture", id, {
      amount: 300,
      finalCapture: false,
      reference: "shipment-1",
    });
    const second = await api.write("capture", id, { amount: 200, reference: "shipment-2" });

    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      status: "partially_captured",
      capturedAmount: 300,
      capturableAmount: 700,
      releasedAmount: 0,
    });
    expect(second.body).toMatchObject({
      status: "captured",
      capturedAmount: 500,
      capturableAmount: 0,
      releasedAmount: 500,
    });
    const captures = second.body.captures as { id: string }[];
    expect(captures).toEqual([
      {
        id: expect.any(String),
        amount: 300,
        reference: "shipment-1",
        final: false,
        createdAt: expect.any(String),
      },
      {
        id: expect.any(String),
        amount: 200,
        reference: "shipment-2",
        final: true,
        createdAt: expect.any(String),
      },
    ]);
    expect(new Set(captures.map((c) => c.id)).size).toBe(2);
    expect((await api.get(id)).body).toEqual(second.body);
    const [, c1, c2] = await events(id);
    expect(c1).toMatchObject({
      type: "payments.captured",
      amount: 300,
      capture: { id: captures[0]!.id, final: false, reference: "shipment-1" },
    });
    expect(c2).toMatchObject({
      type: "payments.captured",
      amount: 200,
      status: "captured",
      releasedAmount: 500,
      capture: { id: captures[1]!.id, final: true },
    });
  });

  it("captures everything capturable when no amount is sent", async () => {
    const id = await authorized(1000);
    await api.write("capture", id, { amount: 250, finalCapture: false });

    const rest = await api.write("capture", id);

    expect(rest.body).toMatchObject({
      status: "captured",
      capturedAmount: 1000,
      releasedAmount: 0,
    });
  });

  it("closes the authorization when a non-final capture takes all that is left", async () => {
    const id = await authorized(1000);

    const all = await api.write("capture", id, { amount: 1000, finalCapture: false });

    expect(all.body).toMatchObject({ status: "captured", capturableAmount: 0 });
    expect((all.body.captures as { final: boolean }[])[0]!.final).toBe(true);
  });

  it("rejects a capture after the final one with 409", async () => {
    const id = await authorized(1000);
    await api.write("capture", id, { amount: 400 });

    const again = await api.write("capture", id, { amount: 100 });

    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ type: "conflict", code: "illegal_transition" });
  });

  it("rejects a capture over what is still capturable, naming it", async () => {
    const id = await authorized(1000);
    await api.write("capture", id, { amount: 700, finalCapture: false });

    const over = await api.write("capture", id, { amount: 301 });

    expect(over.status).toBe(422);
    expect(over.body).toMatchObject({ code: "amount_exceeds_capturable", field: "amount" });
    expect(over.body.message).toContain("300");
  });

  it("voids the rest of a partially captured payment, keeping what was captured", async () => {
    const id = await authorized(1000);
    await api.write("capture", id, { amount: 350, finalCapture: false });

    const voided = await api.write("void", id);

    expect(voided.status).toBe(200);
    expect(voided.body).toMatchObject({
      status: "captured",
      capturedAmount: 350,
      releasedAmount: 650,
    });
    expect((await events(id)).at(-1)).toMatchObject({ type: "payments.voided", amount: 650 });
  });

  it("refuses a 51st capture (Stripe's limit of 50)", async () => {
    const id = await authorized(1000);
    for (let i = 0; i < 50; i++) {
      expect((await api.write("capture", id, { amount: 1, finalCapture: false })).status).toBe(200);
    }

    const over = await api.write("capture", id, { amount: 1, finalCapture: false });

    expect(over.status).toBe(409);
    expect(over.body).toMatchObject({ code: "too_many_captures" });
    expect((await api.get(id)).body).toMatchObject({ capturedAmount: 50 });
  });
});

describe("refunds as objects", () => {
  it("answers a refund with the refund (its own id and reference) and the payment after it", async () => {
    const id = await authorized(1000);
    await api.write("capture", id);

    const refund = await api.write("refund", id, { amount: 300, reference: "return-77" });

    expect(refund.status).toBe(201);
    expect(refund.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      paymentId: id,
      amount: 300,
      currency: "EUR",
      reference: "return-77",
      status: "succeeded",
      createdAt: expect.any(String),
      payment: expect.objectContaining({ id, status: "partially_refunded", refundedAmount: 300 }),
    });
    expect(refund.body.id).not.toBe(id);
  });

  it("lists every refund on the payment, in the order they were made", async () => {
    const id = await authorized(1000);
    await api.write("capture", id);
    const a = await api.write("refund", id, { amount: 100, reference: "r-a" });
    const b = await api.write("refund", id, { amount: 900 });

    const payment = (await api.get(id)).body;

    expect(payment).toMatchObject({ status: "refunded", refundedAmount: 1000 });
    expect(payment.refunds).toEqual(
      [
        { ...(a.body as object), payment: undefined },
        { ...(b.body as object), payment: undefined },
      ].map(({ payment: _p, ...refund }) => refund),
    );
    const [, , r1, r2] = await events(id);
    expect(r1).toMatchObject({
      type: "payments.partially_refunded",
      refund: { id: a.body.id, amount: 100, reference: "r-a" },
    });
    expect(r2).toMatchObject({ type: "payments.refunded", refund: { id: b.body.id } });
  });

  it("refunds what was captured while more may still be captured", async () => {
    const id = await authorized(1000);
    await api.write("capture", id, { amount: 400, finalCapture: false });

    const refund = await api.write("refund", id, { amount: 400 });
    const rest = await api.write("capture", id, { amount: 600 });

    expect(refund.status).toBe(201);
    expect(refund.body.payment).toMatchObject({
      status: "partially_captured",
      refundedAmount: 400,
    });
    expect(rest.body).toMatchObject({
      status: "partially_refunded",
      capturedAmount: 1000,
      refundedAmount: 400,
    });
  });

  it("replays a refund object for its key, never refunding twice", async () => {
    const id = await authorized(1000);
    await api.write("capture", id);
    const key = randomUUID();

    const first = await api.write("refund", id, { amount: 100 }, { key });
    aws.idempotencyItems.clear();
    const retry = await api.write("refund", id, { amount: 100 }, { key });

    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers["idempotent-replayed"]).toBe("true");
    expect((await api.get(id)).body).toMatchObject({ refundedAmount: 100 });
  });
});

describe("reference and metadata", () => {
  const METADATA = { orderId: "A-1042", channel: "web" };

  it("stores them at authorization and returns them on every answer and event", async () => {
    const response = await api.authorize({
      ...CARD,
      amount: 2500,
      currency: "GBP",
      reference: "order-A-1042",
      metadata: METADATA,
    });
    const id = response.body.id as string;

    expect(response.body).toMatchObject({ reference: "order-A-1042", metadata: METADATA });
    expect((await api.get(id)).body).toMatchObject({
      reference: "order-A-1042",
      metadata: METADATA,
    });
    await api.write("capture", id);
    for (const detail of await events(id)) {
      expect(detail).toMatchObject({ reference: "order-A-1042", metadata: METADATA });
    }
  });

  it("takes order numbers that are digits but no card number", async () => {
    const response = await api.authorize({
      ...CARD,
      amount: 10,
      currency: "EUR",
      reference: "ORDER-20260130-000123",
      metadata: {
        invoice: "INV-4111111111111112",
        orderId: "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
      },
    });

    expect(response.status).toBe(201);
  });

  it("treats the same key with other metadata as another request", async () => {
    const key = randomUUID();
    await api.authorize({ ...CARD, amount: 10, currency: "EUR", metadata: METADATA }, { key });

    const other = await api.authorize(
      { ...CARD, amount: 10, currency: "EUR", metadata: { ...METADATA, channel: "app" } },
      { key },
    );

    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ code: "idempotency_key_reused" });
  });

  it("treats empty metadata as no metadata for the same key", async () => {
    const key = randomUUID();
    const first = await api.authorize({ ...CARD, amount: 10, currency: "EUR" }, { key });

    const same = await api.authorize(
      { ...CARD, amount: 10, currency: "EUR", metadata: {} },
      { key },
    );

    expect(same.status).toBe(201);
    expect(same.body.id).toBe(first.body.id);
  });

  it.each<[string, object, number, string, string]>([
    [
      "an 81-character reference",
      { reference: "r".repeat(81) },
      422,
      "invalid_reference",
      "reference",
    ],
    [
      "a reference holding a card number",
      { reference: "4111111111111111" },
      422,
      "pan_not_allowed",
      "reference",
    ],
    ["metadata as a list", { metadata: ["a"] }, 422, "invalid_metadata", "metadata"],
    ["a metadata number", { metadata: { qty: 2 } }, 422, "invalid_metadata", "metadata.qty"],
    [
      "a card number in metadata",
      { metadata: { note: "5500 0000 0000 0004" } },
      422,
      "pan_not_allowed",
      "metadata.note",
    ],
    [
      "21 metadata keys",
      { metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, "v"])) },
      422,
      "invalid_metadata",
      "metadata",
    ],
  ])(
    "rejects %s, naming the field and writing nothing",
    async (_label, extra, status, code, field) => {
      const before = await writeCounts(db.sql);

      const response = await api.authorize({ ...CARD, amount: 10, currency: "EUR", ...extra });

      expect(response.status).toBe(status);
      expect(response.body).toMatchObject({ type: "invalid_request", code, field });
      expect(JSON.stringify(response.body)).not.toMatch(/4111111111111111|5500 0000/);
      expect(await writeCounts(db.sql)).toEqual(before);
      expect(aws.dynamodb).not.toHaveReceivedCommand(PutItemCommand);
    },
  );
});

describe("currency exponents and limits", () => {
  it.each([
    ["JPY", 1500, 0],
    ["EUR", 1500, 2],
    ["KWD", 1500, 3],
  ])("returns the ISO 4217 exponent of %s", async (currency, amount, exponent) => {
    const id = await authorized(amount, currency);

    expect((await api.get(id)).body).toMatchObject({ currency, currencyExponent: exponent });
    expect((await events(id))[0]).toMatchObject({ currencyExponent: exponent });
  });

  it.each<[string, number, string]>([
    ["a KWD amount whose last digit is not 0", 5124, "KWD"],
    ["a EUR amount of 9 digits", 100_000_000, "EUR"],
    ["a JPY amount of 11 digits", 10_000_000_000, "JPY"],
  ])("rejects %s, naming value and rule, writing nothing", async (_label, amount, currency) => {
    const before = await writeCounts(db.sql);

    const response = await api.authorize({ ...CARD, amount, currency });

    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ code: "invalid_amount", field: "amount" });
    expect(response.body.message).toContain(String(amount));
    expect(response.body.message).toContain(currency);
    expect(await writeCounts(db.sql)).toEqual(before);
  });

  it("accepts the largest JPY and IDR amounts Stripe documents", async () => {
    expect((await api.authorize({ ...CARD, amount: 9_999_999_999, currency: "JPY" })).status).toBe(
      201,
    );
    expect(
      (await api.authorize({ ...CARD, amount: 999_999_999_999, currency: "IDR" })).status,
    ).toBe(201);
  });

  it("holds captures and refunds in a three-decimal currency to tens, recording nothing for a bad amount", async () => {
    const id = await authorized(5120, "KWD");
    const key = randomUUID();
    const before = await writeCounts(db.sql);

    const bad = await api.write("capture", id, { amount: 1005 }, { key });
    const good = await api.write("capture", id, { amount: 1010 }, { key });

    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({ code: "invalid_amount", field: "amount" });
    expect(good.status).toBe(200);
    expect(await writeCounts(db.sql)).toEqual({
      payments: before.payments,
      events: before.events + 1,
      keys: before.keys + 1,
    });
  });
});

describe("versioned events", () => {
  it("numbers every event with the payment's version and a schemaVersion", async () => {
    const id = await authorized(1000);
    await api.write("capture", id, { amount: 600, finalCapture: false });
    await api.write("refund", id, { amount: 100 });
    await api.write("void", id);

    const details = await events(id);
    const payment = (await api.get(id)).body;

    expect(details.map((d) => d.version)).toEqual([1, 2, 3, 4]);
    expect(details.map((d) => d.type)).toEqual([
      "payments.authorized",
      "payments.captured",
      "payments.partially_refunded",
      "payments.voided",
    ]);
    expect(payment.version).toBe(4);
    for (const detail of details) {
      expect(detail).toMatchObject({
        schemaVersion: 1,
        eventId: expect.any(String),
        paymentId: id,
        merchantId: "merchant-1",
        originRegion: "us-east-1",
        requestId: expect.stringMatching(/^req-/),
      });
    }
    // What was published is what was stored, as the EventBridge detail.
    const published = aws.published.filter((e) => JSON.parse(e.Detail!).paymentId === id);
    expect(published.map((e) => JSON.parse(e.Detail!))).toEqual(details);
    expect(aws.eventBridge).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [expect.objectContaining({ EventBusName: TEST_ENV.EVENT_BUS_NAME })],
    });
  });

  it("keeps one event per version: the database refuses a second event for a version", async () => {
    const id = await authorized(1000);

    await expect(
      db.sql.query(
        `INSERT INTO payment_events (event_id, payment_id, event_type, amount_minor, currency, detail, origin_region, created_at, payment_version)
         VALUES ($1, $2, 'payments.voided', 1000, 'EUR', '{}', 'us-east-1', now(), 1)`,
        [randomUUID(), id],
      ),
    ).rejects.toMatchObject({ constraint: "payment_events_version_unique" });
  });
});

describe("the DR verification's synthetic payment", () => {
  it("authorizes and voids exactly as the Verify task sends it, with a key bound to the synthetic merchant", async () => {
    const drKey = DR_API_KEY;
    const run = `run-${randomUUID()}`;

    const payment = await api.authorize(SYNTHETIC_PAYMENT, {
      apiKey: drKey,
      key: verifyIdempotencyKey(run),
    });
    const voided = await api.write("void", payment.body.id as string, undefined, {
      apiKey: drKey,
      key: `${verifyIdempotencyKey(run)}-void`,
    });
    const theirs = await api.get(payment.body.id as string);

    expect(payment.status).toBe(201);
    expect(payment.body.merchantId).toBe(DR_SYNTHETIC_MERCHANT);
    expect(voided.status).toBe(200);
    // A merchant's key does not see the synthetic payment.
    expect(theirs.status).toBe(404);
  });
});
