// Defect 1 of issue 11: an API key acts only for the merchant it is bound to. Another merchant's
// payment is answered exactly like a payment that does not exist (404, no existence leak: MDN
// "403 Forbidden" and RFC 9110 §15.5.4 allow hiding a forbidden resource behind a 404, and Stripe
// answers another account's object with the same `resource_missing` body as an unknown id).
import { randomUUID } from "node:crypto";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import "aws-sdk-client-mock-jest";
import { API_KEY, OTHER_API_KEY, lambdaContext } from "./support/aws";
import { writeCounts } from "./support/database";
import { paymentHandlers } from "./support/handlers";
import { apiEvent, json } from "./support/http";
import type { JsonResult } from "./support/http";

const suite = paymentHandlers();
const { aws, handlers } = suite;

// API_KEY is bound to merchant-1, OTHER_API_KEY to merchant-2 (support/aws.ts).
const PAYMENT = { cardToken: "tok_visa_4242abcd", amount: 1250, currency: "EUR" };

async function authorize(
  apiKey: string,
  body: Record<string, unknown>,
  key: string = randomUUID(),
): Promise<JsonResult> {
  return json(
    await handlers.authorize!(
      apiEvent({
        path: "/payments",
        headers: { "x-api-key": apiKey, "idempotency-key": key },
        body,
      }),
      lambdaContext(),
    ),
  );
}

async function get(apiKey: string, id: string): Promise<JsonResult> {
  return json(
    await handlers.get!(
      apiEvent({
        method: "GET",
        path: `/payments/${id}`,
        routeKey: "GET /payments/{id}",
        pathParameters: { id },
        headers: { "x-api-key": apiKey },
      }),
      lambdaContext(),
    ),
  );
}

async function act(
  apiKey: string,
  operation: "capture" | "refund" | "void",
  id: string,
  body?: unknown,
): Promise<JsonResult> {
  return json(
    await handlers[operation]!(
      apiEvent({
        path: `/payments/${id}/${operation}`,
        routeKey: `POST /payments/{id}/${operation}`,
        pathParameters: { id },
        headers: { "x-api-key": apiKey, "idempotency-key": randomUUID() },
        body,
      }),
      lambdaContext(),
    ),
  );
}

/** The error body without the per-request id, which differs between any two requests. */
function withoutRequestId(body: Record<string, unknown>): Record<string, unknown> {
  const { requestId: _ignored, ...rest } = body;
  return rest;
}

describe("merchant isolation", () => {
  it("answers another merchant's payment with the same 404 as an unknown id", async () => {
    const mine = await authorize(API_KEY, { ...PAYMENT, merchantId: "merchant-1" });
    expect(mine.status).toBe(201);

    const theirs = await get(OTHER_API_KEY, mine.body.id as string);
    const unknown = await get(OTHER_API_KEY, randomUUID());

    expect(theirs.status).toBe(404);
    expect(withoutRequestId(theirs.body)).toEqual(withoutRequestId(unknown.body));
    expect(JSON.stringify(theirs.body)).not.toContain("merchant-1");
  });

  it.each([
    ["capture", undefined],
    ["void", undefined],
    ["refund", { amount: 100 }],
  ] as const)(
    "rejects %s of another merchant's payment with 404 and writes nothing",
    async (operation, body) => {
      const mine = await authorize(API_KEY, { ...PAYMENT, merchantId: "merchant-1" });
      const id = mine.body.id as string;
      if (operation === "refund") expect((await act(API_KEY, "capture", id)).status).toBe(200);
      const before = await writeCounts(suite.db.sql);

      const response = await act(OTHER_API_KEY, operation, id, body);

      expect(response.status).toBe(404);
      expect(await writeCounts(suite.db.sql)).toEqual(before);
      expect((await get(API_KEY, id)).body.status).toBe(
        operation === "refund" ? "captured" : "authorized",
      );
    },
  );

  it("takes the merchant from the API key when the body leaves merchantId out", async () => {
    const response = await authorize(OTHER_API_KEY, PAYMENT);

    expect(response.status).toBe(201);
    expect(response.body.merchantId).toBe("merchant-2");
  });

  it("rejects a body merchantId that disagrees with the API key, writing nothing", async () => {
    const before = await writeCounts(suite.db.sql);

    const response = await authorize(OTHER_API_KEY, { ...PAYMENT, merchantId: "merchant-1" });

    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({
      type: "authentication",
      code: "merchant_mismatch",
      field: "merchantId",
    });
    expect(response.body.message).toContain('"merchant-1"');
    expect(await writeCounts(suite.db.sql)).toEqual(before);
    expect(aws.dynamodb).not.toHaveReceivedCommand(PutItemCommand);
  });

  it("never replays one merchant's answer to another merchant using the same Idempotency-Key", async () => {
    const key = randomUUID();
    const mine = await authorize(API_KEY, { ...PAYMENT, merchantId: "merchant-1" }, key);

    const theirs = await authorize(OTHER_API_KEY, PAYMENT, key);

    expect(theirs.status).toBe(201);
    expect(theirs.headers["idempotent-replayed"]).toBeUndefined();
    expect(theirs.body.id).not.toBe(mine.body.id);
    expect(theirs.body.merchantId).toBe("merchant-2");
  });
});

// Behind the Lambda authorizer the handler still verifies the key itself (defence in depth) and
// refuses a request whose authorizer context names another merchant than the key does.
describe("with the authorizer's context", () => {
  function withAuthorizer(merchantId: string, apiKey: string = API_KEY) {
    const event = apiEvent({
      path: "/payments",
      headers: { "x-api-key": apiKey, "idempotency-key": randomUUID() },
      body: { ...PAYMENT, merchantId: "merchant-1" },
    });
    (event.requestContext as unknown as Record<string, unknown>).authorizer = {
      lambda: { merchantId },
    };
    return event;
  }

  it("acts for the merchant the authorizer and the key agree on", async () => {
    const response = json(await handlers.authorize!(withAuthorizer("merchant-1"), lambdaContext()));

    expect(response.status).toBe(201);
    expect(response.body.merchantId).toBe("merchant-1");
  });

  it("rejects a request whose authorizer context disagrees with its key, writing nothing", async () => {
    const before = await writeCounts(suite.db.sql);

    const response = json(await handlers.authorize!(withAuthorizer("merchant-2"), lambdaContext()));

    expect(response.status).toBe(401);
    expect(await writeCounts(suite.db.sql)).toEqual(before);
  });

  it("rejects a body merchantId that disagrees with the authorized merchant, writing nothing", async () => {
    const before = await writeCounts(suite.db.sql);

    // Key and authorizer agree on merchant-2; the body claims merchant-1.
    const event = withAuthorizer("merchant-2", OTHER_API_KEY);
    const response = json(await handlers.authorize!(event, lambdaContext()));

    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ code: "merchant_mismatch", field: "merchantId" });
    expect(await writeCounts(suite.db.sql)).toEqual(before);
  });
});
