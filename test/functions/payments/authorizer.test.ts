// The HTTP API's Lambda REQUEST authorizer (payload format 2.0, simple responses): a valid key
// puts its merchant in the context; any other request is denied with nothing that says why.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html
import { GetParametersCommand } from "@aws-sdk/client-ssm";
import type { APIGatewayRequestAuthorizerEventV2 } from "aws-lambda";
import "aws-sdk-client-mock-jest";
import { PARAMETERS } from "../../../functions/common/contract";
import { authorizeApiKey } from "../../../functions/payments/authorizer/core";
import { ApiKeyVerifier } from "../../../functions/payments/shared/api-keys";
import { ParametersUnavailableError } from "../../../functions/payments/shared/errors";
import {
  API_KEY,
  DR_API_KEY,
  FakeAws,
  OTHER_API_KEY,
  TEST_ENV,
  apiKeysParameter,
  setHandlerEnvironment,
} from "./support/aws";

const aws = new FakeAws();
let handler: (event: APIGatewayRequestAuthorizerEventV2) => Promise<unknown>;

beforeAll(async () => {
  setHandlerEnvironment(undefined);
  ({ handler } = await import("../../../functions/payments/authorizer/handler"));
});

beforeEach(() => aws.reset());

/** What API Gateway sends a REQUEST authorizer with payload format 2.0. */
function authorizerEvent(headers: Record<string, string>): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: "2.0",
    type: "REQUEST",
    routeArn: "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/POST/payments",
    identitySource: headers["x-api-key"] ? [headers["x-api-key"]] : [],
    routeKey: "POST /payments",
    rawPath: "/payments",
    rawQueryString: "",
    cookies: [],
    headers,
    requestContext: {
      accountId: "123456789012",
      apiId: "abcdef123",
      domainName: "abcdef123.execute-api.us-east-1.amazonaws.com",
      domainPrefix: "abcdef123",
      http: {
        method: "POST",
        path: "/payments",
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.7",
        userAgent: "test",
      },
      requestId: "req-1",
      routeKey: "POST /payments",
      stage: "$default",
      time: "30/Nov/2026:09:00:00 +0000",
      timeEpoch: 1_795_000_000_000,
    },
  } as APIGatewayRequestAuthorizerEventV2;
}

describe("authorizer core", () => {
  const keys = new ApiKeyVerifier(async () => apiKeysParameter());

  it("puts the merchant the key is bound to in the context", async () => {
    await expect(authorizeApiKey(API_KEY, { keys })).resolves.toEqual({
      isAuthorized: true,
      context: { merchantId: "merchant-1" },
    });
    await expect(authorizeApiKey(OTHER_API_KEY, { keys })).resolves.toEqual({
      isAuthorized: true,
      context: { merchantId: "merchant-2" },
    });
  });

  it("rejects a wrong, near-miss, empty or missing key with the same bare denial", async () => {
    const answers = await Promise.all(
      [`${API_KEY}x`, API_KEY.slice(0, -1), API_KEY.toUpperCase(), "", undefined].map((k) =>
        authorizeApiKey(k, { keys }),
      ),
    );
    // Identical, and nothing but the decision: no reason, no merchant, no hint of a near miss.
    for (const answer of answers) expect(answer).toStrictEqual({ isAuthorized: false });
  });

  it("fails (API Gateway answers 500) rather than deny or allow when the key store is broken", async () => {
    const broken = new ApiKeyVerifier(async () => "not json");
    await expect(authorizeApiKey(API_KEY, { keys: broken })).rejects.toBeInstanceOf(
      ParametersUnavailableError,
    );
  });
});

describe("authorizer handler", () => {
  it("reads only the api/keys parameter and answers in the simple response format", async () => {
    const result = await handler(authorizerEvent({ "x-api-key": DR_API_KEY }));

    expect(result).toEqual({ isAuthorized: true, context: { merchantId: "dr-synthetic" } });
    expect(aws.ssm).toHaveReceivedCommandWith(GetParametersCommand, {
      Names: [`${TEST_ENV.PARAMETER_PREFIX}/${PARAMETERS.apiKeys}`],
      WithDecryption: true,
    });
  });

  it("rejects a request whose key is not in the store", async () => {
    await expect(
      handler(authorizerEvent({ "x-api-key": "sk_not_a_real_key_0123456789" })),
    ).resolves.toStrictEqual({
      isAuthorized: false,
    });
    await expect(handler(authorizerEvent({}))).resolves.toStrictEqual({ isAuthorized: false });
  });
});
