// The HTTP edge of the payment functions: reading a request body safely, JSON responses, and
// the one mapping from domain errors to status codes. Pure: no AWS imports (the handlers adapt
// API Gateway events to HttpRequest).
import { createHash } from "node:crypto";
import {
  ActiveRegionUnknownError,
  DatabaseUnavailableError,
  IdempotencyKeyReusedError,
  IllegalTransitionError,
  ParametersUnavailableError,
  PassiveRegionError,
  PaymentNotFoundError,
  RefundExceedsCapturedError,
  RequestInProgressError,
  RequestValidationError,
  UnauthorizedError,
} from "./errors";

/** Largest request body accepted, in bytes after base64 decoding. */
export const MAX_BODY_BYTES = 16 * 1024;

/** Seconds a client should wait before retrying a write this region refused. */
export const RETRY_AFTER_SECONDS = { passive: 5, unavailable: 2, inProgress: 1 } as const;

export interface HttpRequest {
  /** Header names in lower case (as HTTP APIs deliver them). */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
  readonly isBase64Encoded: boolean;
  readonly pathParameters?: Readonly<Record<string, string | undefined>>;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly field: string | null;
  readonly [extra: string]: unknown;
}

/** Header lookup by case-insensitive name. */
export function header(request: HttpRequest, name: string): string | undefined {
  return request.headers[name.toLowerCase()];
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function bodyTooLarge(): RequestValidationError {
  return new RequestValidationError(
    400,
    "body_too_large",
    `the request body must be at most ${MAX_BODY_BYTES} bytes`,
  );
}

/** The body as text, refusing anything over MAX_BODY_BYTES (measured after base64 decoding). */
export function bodyText(request: HttpRequest): string {
  const raw = request.body ?? "";
  let bytes: Buffer;
  if (request.isBase64Encoded) {
    // Decoded size is at most 3/4 of the encoded length: refuse early without decoding.
    if (Math.floor((raw.length * 3) / 4) > MAX_BODY_BYTES + 2) throw bodyTooLarge();
    if (raw.length % 4 !== 0 || !BASE64.test(raw)) {
      throw new RequestValidationError(400, "malformed_body", "the body is not valid base64");
    }
    bytes = Buffer.from(raw, "base64");
  } else {
    if (raw.length > MAX_BODY_BYTES) throw bodyTooLarge();
    bytes = Buffer.from(raw, "utf8");
  }
  if (bytes.length > MAX_BODY_BYTES) throw bodyTooLarge();
  try {
    return utf8.decode(bytes);
  } catch {
    throw new RequestValidationError(400, "malformed_body", "the body is not valid UTF-8");
  }
}

/**
 * The body as a JSON object. An absent or empty body is `{}` when `emptyAllowed`, an error
 * otherwise.
 */
export function jsonObjectBody(
  request: HttpRequest,
  options: { emptyAllowed?: boolean } = {},
): Record<string, unknown> {
  const text = bodyText(request);
  if (text.trim() === "" && options.emptyAllowed) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new RequestValidationError(400, "malformed_json", "the body is not valid JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new RequestValidationError(400, "invalid_body", "the body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * SHA-256 (hex) of what a request asks for: the operation, its target and its validated fields.
 * Two requests with one idempotency key must have equal hashes to be the same request; key
 * order and whitespace in the body do not matter.
 */
export function requestHash(request: Record<string, unknown>): string {
  return createHash("sha256").update(canonicalJson(request)).digest("hex");
}

const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" };

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResponse {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

function errorResponse(
  statusCode: number,
  body: ErrorBody,
  headers: Record<string, string> = {},
): HttpResponse {
  return jsonResponse(statusCode, body, headers);
}

const retryAfter = (seconds: number) => ({ "retry-after": String(seconds) });

/** The response for a known domain error, or undefined for anything else (a bug: rethrow it). */
export function toErrorResponse(error: unknown): HttpResponse | undefined {
  if (error instanceof RequestValidationError) {
    return errorResponse(error.status, {
      code: error.code,
      message: error.message,
      field: error.field,
    });
  }
  if (error instanceof UnauthorizedError) {
    return errorResponse(401, { code: "unauthorized", message: error.message, field: "x-api-key" });
  }
  if (error instanceof PaymentNotFoundError) {
    return errorResponse(404, { code: "payment_not_found", message: error.message, field: "id" });
  }
  if (error instanceof IllegalTransitionError) {
    return errorResponse(409, { code: "illegal_transition", message: error.message, field: null });
  }
  if (error instanceof RequestInProgressError) {
    return errorResponse(
      409,
      { code: "request_in_progress", message: error.message, field: "Idempotency-Key" },
      retryAfter(RETRY_AFTER_SECONDS.inProgress),
    );
  }
  if (error instanceof RefundExceedsCapturedError) {
    return errorResponse(422, {
      code: "amount_exceeds_refundable",
      message: error.message,
      field: "amount",
    });
  }
  if (error instanceof IdempotencyKeyReusedError) {
    return errorResponse(422, {
      code: "idempotency_key_reused",
      message: error.message,
      field: "Idempotency-Key",
    });
  }
  if (error instanceof PassiveRegionError) {
    return errorResponse(
      503,
      {
        code: "region_passive",
        message: error.message,
        field: null,
        region: error.region,
        activeRegion: error.activeRegion,
      },
      retryAfter(RETRY_AFTER_SECONDS.passive),
    );
  }
  if (error instanceof ActiveRegionUnknownError) {
    return errorResponse(
      503,
      { code: "active_region_unknown", message: error.message, field: null },
      retryAfter(RETRY_AFTER_SECONDS.passive),
    );
  }
  if (error instanceof DatabaseUnavailableError) {
    return errorResponse(
      503,
      { code: "database_unavailable", message: "the database is unavailable", field: null },
      retryAfter(RETRY_AFTER_SECONDS.unavailable),
    );
  }
  if (error instanceof ParametersUnavailableError) {
    return errorResponse(
      503,
      { code: "configuration_unavailable", message: "configuration is unavailable", field: null },
      retryAfter(RETRY_AFTER_SECONDS.unavailable),
    );
  }
  return undefined;
}
