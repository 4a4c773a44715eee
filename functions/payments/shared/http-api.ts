// The HTTP edge of the payment functions: reading a request body safely, JSON responses, and
// the one mapping from domain errors to status codes. Pure: no AWS imports (the handlers adapt
// API Gateway events to HttpRequest).
import { createHash } from "node:crypto";
import {
  ActiveRegionUnknownError,
  AuthorizationExpiredError,
  CaptureExceedsCapturableError,
  OperationLimitError,
  CommitUnconfirmedError,
  DatabaseUnavailableError,
  IdempotencyKeyReusedError,
  IllegalTransitionError,
  MerchantMismatchError,
  ParametersUnavailableError,
  PassiveRegionError,
  PeerLeaseLapsedError,
  RegionFencedError,
  PaymentNotFoundError,
  RefundExceedsCapturedError,
  IdempotencyKeyInUseError,
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
  /** Decoded query string parameters; repeated names arrive joined with commas. */
  readonly query?: Readonly<Record<string, string | undefined>>;
  /** API Gateway's request id (in its access logs too), or the Lambda request id. */
  readonly requestId: string;
  /**
   * The merchant the Lambda authorizer bound the request's key to (its context), when the route
   * has the authorizer; the handler checks the key again and refuses a disagreement.
   */
  readonly authorizerMerchantId?: string;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * What a merchant's code branches on: `invalid_request` (fix the request), `authentication` (the
 * API key), `idempotency` (the Idempotency-Key), `conflict` (the payment's state refuses it),
 * `unavailable` (retry later, same key), `internal` (a bug on our side; quote the requestId).
 */
export type ErrorType =
  "invalid_request" | "authentication" | "idempotency" | "conflict" | "unavailable" | "internal";

/** The documented error shape of every non-2xx answer. */
export interface ErrorBody {
  readonly type: ErrorType;
  readonly code: string;
  readonly message: string;
  /** The request field, header or query parameter at fault, or null. */
  readonly field: string | null;
  /** The API Gateway request id, also in the `request-id` header: quote it to support. */
  readonly requestId?: string;
  readonly [extra: string]: unknown;
}

/** An error as an answer, before the request id is added. */
export interface ErrorAnswer {
  readonly statusCode: number;
  readonly body: ErrorBody;
  readonly headers: Record<string, string>;
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

const retryAfter = (seconds: number) => ({ "retry-after": String(seconds) });

function answer(
  statusCode: number,
  body: ErrorBody,
  headers: Record<string, string> = {},
): ErrorAnswer {
  return { statusCode, body, headers };
}

/** The answer for a known domain error, or undefined for anything else (a bug). */
export function describeError(error: unknown): ErrorAnswer | undefined {
  if (error instanceof RequestValidationError) {
    return answer(error.status, {
      type: "invalid_request",
      code: error.code,
      message: error.message,
      field: error.field,
    });
  }
  if (error instanceof UnauthorizedError) {
    return answer(401, {
      type: "authentication",
      code: "unauthorized",
      message: error.message,
      field: "x-api-key",
    });
  }
  if (error instanceof MerchantMismatchError) {
    return answer(403, {
      type: "authentication",
      code: "merchant_mismatch",
      message: error.message,
      field: "merchantId",
    });
  }
  if (error instanceof PaymentNotFoundError) {
    return answer(404, {
      type: "invalid_request",
      code: "payment_not_found",
      message: error.message,
      field: "id",
    });
  }
  if (error instanceof IllegalTransitionError) {
    return answer(409, {
      type: "conflict",
      code: "illegal_transition",
      message: error.message,
      field: null,
    });
  }
  if (error instanceof IdempotencyKeyInUseError) {
    return answer(
      409,
      {
        type: "idempotency",
        code: "idempotency_key_in_use",
        message: error.message,
        field: "Idempotency-Key",
      },
      retryAfter(error.retryAfterSeconds),
    );
  }
  if (error instanceof RefundExceedsCapturedError) {
    return answer(422, {
      type: "invalid_request",
      code: "amount_exceeds_refundable",
      message: error.message,
      field: "amount",
    });
  }
  if (error instanceof CaptureExceedsCapturableError) {
    return answer(422, {
      type: "invalid_request",
      code: "amount_exceeds_capturable",
      message: error.message,
      field: "amount",
    });
  }
  if (error instanceof AuthorizationExpiredError) {
    return answer(409, {
      type: "conflict",
      code: "authorization_expired",
      message: error.message,
      field: null,
    });
  }
  if (error instanceof OperationLimitError) {
    return answer(409, {
      type: "conflict",
      code: error.kind === "capture" ? "too_many_captures" : "too_many_refunds",
      message: error.message,
      field: null,
    });
  }
  if (error instanceof IdempotencyKeyReusedError) {
    return answer(422, {
      type: "idempotency",
      code: "idempotency_key_reused",
      message: error.message,
      field: "Idempotency-Key",
    });
  }
  if (error instanceof RegionFencedError) {
    // Same class of refusal as a passive region (fencing.ts): retry shortly, same region.
    return answer(
      503,
      {
        type: "unavailable",
        code: "region_fenced",
        message: error.message,
        field: null,
        region: error.region,
        activeRegion: error.activeRegion,
      },
      retryAfter(RETRY_AFTER_SECONDS.passive),
    );
  }
  if (error instanceof PassiveRegionError) {
    return answer(
      503,
      {
        type: "unavailable",
        code: "region_passive",
        message: error.message,
        field: null,
        region: error.region,
        activeRegion: error.activeRegion,
      },
      retryAfter(RETRY_AFTER_SECONDS.passive),
    );
  }
  if (error instanceof PeerLeaseLapsedError) {
    // The documented 503 of a region that may have been fenced out (state-machines/README.md).
    return answer(
      503,
      {
        type: "unavailable",
        code: "peer_lease_lapsed",
        message: error.message,
        field: null,
        region: error.region,
      },
      retryAfter(RETRY_AFTER_SECONDS.passive),
    );
  }
  if (error instanceof ActiveRegionUnknownError) {
    return answer(
      503,
      { type: "unavailable", code: "active_region_unknown", message: error.message, field: null },
      retryAfter(RETRY_AFTER_SECONDS.passive),
    );
  }
  if (error instanceof DatabaseUnavailableError) {
    return answer(
      503,
      {
        type: "unavailable",
        code: "database_unavailable",
        message: "the database is unavailable",
        field: null,
      },
      retryAfter(RETRY_AFTER_SECONDS.unavailable),
    );
  }
  if (error instanceof CommitUnconfirmedError) {
    // Not acknowledged (review M2). Stripe's convention for an outcome the server cannot
    // confirm: a 5xx the client retries with the same Idempotency-Key.
    return answer(
      503,
      {
        type: "unavailable",
        code: "commit_unconfirmed",
        message:
          "the database could not confirm the write was replicated; retry with the same Idempotency-Key",
        field: null,
      },
      retryAfter(RETRY_AFTER_SECONDS.unavailable),
    );
  }
  if (error instanceof ParametersUnavailableError) {
    return answer(
      503,
      {
        type: "unavailable",
        code: "configuration_unavailable",
        message: "configuration is unavailable",
        field: null,
      },
      retryAfter(RETRY_AFTER_SECONDS.unavailable),
    );
  }
  return undefined;
}

/**
 * The answer to a failure nobody mapped (a bug): a 500 in the documented shape that says nothing
 * about the failure itself (no SQL, no stack) but names the request, so support can find its log.
 */
export function internalError(): ErrorAnswer {
  return answer(500, {
    type: "internal",
    code: "internal_error",
    message: "an unexpected error occurred",
    field: null,
  });
}

/** The JSON response of an error answer, carrying the request id in its body. */
export function errorResponse(error: ErrorAnswer, requestId: string): HttpResponse {
  const message =
    error.body.type === "internal"
      ? `${error.body.message}; quote request ${requestId} to support`
      : error.body.message;
  return jsonResponse(error.statusCode, { ...error.body, message, requestId }, error.headers);
}
