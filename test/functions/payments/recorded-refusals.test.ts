// Defect 4 of issue 11: a request that passed validation and was refused by the payment's state
// (409, 422) is recorded under its Idempotency-Key, so a retry replays the refusal and the key
// cannot be reused for a different request. Stripe: "Stripe's idempotency works by saving the
// resulting status code and body of the first request made for any given idempotency key,
// regardless of whether it succeeds or fails" (docs.stripe.com/api/idempotent_requests); "A
// request that returns a 400 sends back the same 400 if followed by a new request with the same
// idempotency key" (docs.stripe.com/error-low-level). Validation failures are not recorded: "If
// incoming parameters fail validation ... we don't save the idempotent result".
import { randomUUID } from "node:crypto";
import "aws-sdk-client-mock-jest";
import { lambdaContext } from "./support/aws";
import { writeCounts } from "./support/database";
import { paymentHandlers } from "./support/handlers";
import { apiEvent, json } from "./support/http";
import type { JsonResult } from "./support/http";

const suite = paymentHandlers();
const { aws, handlers } = suite;

type Operation = "capture" | "refund" | "void";

async function captured(amount = 1000): Promise<string> {
  const response = json(
    await handlers.authorize!(
      apiEvent({
        path: "/payments",
        headers: { "idempotency-key": randomUUID() },
        body: { merchantId: "merchant-1", cardToken: "tok_visa_4242abcd", amount, currency: "USD" },
      }),
      lambdaContext(),
    ),
  );
  const id = response.body.id as string;
  expect((await act("capture", id, undefined, randomUUID())).status).toBe(200);
  return id;
}

async function act(
  operation: Operation,
  id: string,
  body: unknown,
  key: string,
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

async function refunded(id: string): Promise<number> {
  const { rows } = await suite.db.sql.query("SELECT refunded_minor FROM payments WHERE id = $1", [
    id,
  ]);
  return Number(rows[0].refunded_minor);
}

describe("refusals recorded under their Idempotency-Key", () => {
  it("rejects the same key with a different body after a 422, instead of running it", async () => {
    const id = await captured(1000);
    const key = randomUUID();
    const refused = await act("refund", id, { amount: 1001 }, key);
    expect(refused.status).toBe(422);

    const other = await act("refund", id, { amount: 10 }, key);

    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ type: "idempotency", code: "idempotency_key_reused" });
    expect(await refunded(id)).toBe(0);
  });

  it("replays a 422 for the same key and body, also from PostgreSQL alone", async () => {
    const id = await captured(1000);
    const key = randomUUID();
    const refused = await act("refund", id, { amount: 1001 }, key);
    aws.idempotencyItems.clear();
    const counts = await writeCounts(suite.db.sql);

    const retry = await act("refund", id, { amount: 1001 }, key);

    expect(retry.status).toBe(422);
    expect(retry.body).toEqual(refused.body);
    expect(retry.headers["idempotent-replayed"]).toBe("true");
    expect(await writeCounts(suite.db.sql)).toEqual(counts);
  });

  it("replays a 409 for an illegal transition and refuses its key for another operation", async () => {
    const id = await captured(1000);
    const key = randomUUID();
    const refused = await act("void", id, undefined, key);
    expect(refused.status).toBe(409);

    const retry = await act("void", id, undefined, key);
    const other = await act("refund", id, { amount: 5 }, key);

    expect(retry.status).toBe(409);
    expect(retry.body).toEqual(refused.body);
    expect(retry.headers["idempotent-replayed"]).toBe("true");
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ code: "idempotency_key_reused" });
    expect(await refunded(id)).toBe(0);
  });

  it("records nothing for a request that fails validation: the corrected request runs under the same key", async () => {
    const id = await captured(1000);
    const key = randomUUID();
    const counts = await writeCounts(suite.db.sql);
    const invalid = await act("refund", id, { amount: 0 }, key);
    expect(invalid.status).toBe(422);
    expect(await writeCounts(suite.db.sql)).toEqual(counts);

    const corrected = await act("refund", id, { amount: 100 }, key);

    expect(corrected.status).toBeLessThan(300);
    expect(await refunded(id)).toBe(100);
  });
});
