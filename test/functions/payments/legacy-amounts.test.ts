// Payments authorized before the per-currency amount rules (review-11 M3): 001-004 took any
// currency code and 1..10^12 minor units with no step, so a deployed database holds KWD
// amounts that are not multiples of 10, USD amounts above 99999999 and currencies the table of
// shared/currencies.ts does not list. The new rules apply to new authorizations; every
// authorized minor unit of an older payment stays capturable and refundable, in one call.
import { randomUUID } from "node:crypto";
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import { FakeAws, setHandlerEnvironment } from "./support/aws";
import { PaymentsClient } from "./support/client";
import { createTestDatabase } from "./support/database";
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

/** An open authorization as the 001-004 code wrote it (no reference, no metadata). */
async function legacyAuthorization(amount: number, currency: string): Promise<string> {
  const id = randomUUID();
  const at = new Date(Date.now() - 86_400_000);
  await db.sql.query(
    `INSERT INTO payments (id, merchant_id, card_token, amount_minor, currency, status,
                           origin_region, created_at, updated_at, capture_before)
     VALUES ($1, 'merchant-1', 'tok_legacy_abcd', $2, $3, 'authorized', 'us-east-1', $4, $4, $5)`,
    [id, amount, currency, at, new Date(at.getTime() + 28 * 86_400_000)],
  );
  await db.sql.query(
    `INSERT INTO payment_events (event_id, payment_id, event_type, amount_minor, currency, detail,
                                 origin_region, created_at, published_at, payment_version)
     VALUES ($1, $2, 'payments.authorized', $3, $4, '{}', 'us-east-1', $5, $5, 1)`,
    [randomUUID(), id, amount, currency, at],
  );
  return id;
}

describe("payments authorized under the old amount rules", () => {
  it("captures and refunds every fils of a KWD amount that is not a multiple of 10", async () => {
    const id = await legacyAuthorization(5125, "KWD");

    const partial = await api.write("capture", id, { amount: 2005, finalCapture: false });
    const rest = await api.write("capture", id, { amount: 3120 });
    const refund = await api.write("refund", id, { amount: 5125 });

    expect([partial.status, rest.status, refund.status]).toEqual([200, 200, 201]);
    expect(refund.body.payment).toMatchObject({
      status: "refunded",
      capturedAmount: 5125,
      refundedAmount: 5125,
    });
  });

  it("captures and refunds a USD amount above today's maximum in one call each", async () => {
    const id = await legacyAuthorization(500_000_000, "USD");

    const capture = await api.write("capture", id, { amount: 500_000_000 });
    const refund = await api.write("refund", id, { amount: 500_000_000 });

    expect([capture.status, refund.status]).toEqual([200, 201]);
    expect(refund.body.payment).toMatchObject({ status: "refunded", refundedAmount: 500_000_000 });
  });

  it("captures and refunds a payment in a currency the table no longer lists", async () => {
    const id = await legacyAuthorization(777, "ZWD");

    const capture = await api.write("capture", id, { amount: 700 });
    const refund = await api.write("refund", id, { amount: 700 });

    expect([capture.status, refund.status]).toEqual([200, 201]);
    expect(refund.body.payment).toMatchObject({ currency: "ZWD", refundedAmount: 700 });
  });

  it("still holds new KWD payments to multiples of 10", async () => {
    const created = await api.authorize({
      cardToken: "tok_visa_4242abcd",
      amount: 5120,
      currency: "KWD",
    });
    const id = created.body.id as string;

    const capture = await api.write("capture", id, { amount: 2005 });

    expect(capture.status).toBe(422);
    expect(capture.body).toMatchObject({ code: "invalid_amount", field: "amount" });
  });

  it("lets the exact rest of a new KWD payment be refunded", async () => {
    const created = await api.authorize({
      cardToken: "tok_visa_4242abcd",
      amount: 5120,
      currency: "KWD",
    });
    const id = created.body.id as string;
    expect((await api.write("capture", id, {})).status).toBe(200);
    expect((await api.write("refund", id, { amount: 5000 })).status).toBe(201);

    const rest = await api.write("refund", id, { amount: 120 });

    expect(rest.status).toBe(201);
    expect(rest.body.payment).toMatchObject({ status: "refunded" });
  });
});
