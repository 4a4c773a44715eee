// API Gateway HTTP API (payload v2) events for the handlers under test.
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { API_KEY } from "./aws";

export interface RequestSpec {
  readonly method?: "GET" | "POST";
  readonly path: string;
  readonly routeKey?: string;
  readonly pathParameters?: Record<string, string>;
  readonly headers?: Record<string, string | undefined>;
  /** An object is sent as JSON; a string as is. */
  readonly body?: unknown;
  readonly isBase64Encoded?: boolean;
  /** Leave out the x-api-key header. */
  readonly anonymous?: boolean;
  /** Query string parameters (GET /payments). */
  readonly query?: Record<string, string>;
  /** API Gateway's request id. @default a fresh `req-<uuid>` */
  readonly requestId?: string;
}

export function apiEvent(spec: RequestSpec): APIGatewayProxyEventV2 {
  const method = spec.method ?? "POST";
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (!spec.anonymous) headers["x-api-key"] = API_KEY;
  for (const [key, value] of Object.entries(spec.headers ?? {})) {
    if (value === undefined) delete headers[key];
    else headers[key] = value;
  }
  const body =
    spec.body === undefined
      ? undefined
      : typeof spec.body === "string"
        ? spec.body
        : JSON.stringify(spec.body);
  return {
    version: "2.0",
    routeKey: spec.routeKey ?? `${method} ${spec.path}`,
    rawPath: spec.path,
    rawQueryString: new URLSearchParams(spec.query ?? {}).toString(),
    queryStringParameters: spec.query,
    headers,
    pathParameters: spec.pathParameters,
    body,
    isBase64Encoded: spec.isBase64Encoded ?? false,
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "api.example.test",
      domainPrefix: "api",
      http: {
        method,
        path: spec.path,
        protocol: "HTTP/1.1",
        sourceIp: "192.0.2.1",
        userAgent: "jest",
      },
      requestId: spec.requestId ?? `req-${randomUUID()}`,
      routeKey: spec.routeKey ?? `${method} ${spec.path}`,
      stage: "$default",
      time: "01/Jan/2026:00:00:00 +0000",
      timeEpoch: 0,
    },
  };
}

export interface JsonResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown>;
}

export function json(result: APIGatewayProxyStructuredResultV2): JsonResult {
  return {
    status: result.statusCode ?? 0,
    headers: (result.headers ?? {}) as Record<string, string>,
    body: JSON.parse(result.body ?? "null"),
  };
}
