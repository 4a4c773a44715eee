// Translates AWS SDK (and fetch) errors into the three names the state machines act on:
// TransientError (retried), AccessDeniedError (stop and page), DependencyError (stop and page).
import { AccessDeniedError, DependencyError, DrError, TransientError } from "../errors";

const ACCESS_DENIED = new Set([
  "AccessDenied",
  "AccessDeniedException",
  "AuthorizationError",
  "AuthorizationErrorException",
  "UnauthorizedOperation",
  "UnrecognizedClientException",
  "InvalidClientTokenId",
  "ExpiredTokenException",
  "KMSAccessDeniedException",
]);

const TRANSIENT = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "TooManyUpdates",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "LimitExceededException",
  "BandwidthLimitExceeded",
  "SlowDown",
  "PriorRequestNotComplete",
  "TransactionInProgressException",
  "InternalFailure",
  "InternalError",
  "InternalServerError",
  "InternalServerErrorException",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "AbortError",
]);

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "ENETUNREACH",
  "EHOSTUNREACH",
]);

interface SdkErrorShape {
  readonly name?: string;
  readonly code?: string;
  readonly message?: string;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly cause?: { readonly code?: string };
}

/** The error code of an SDK error (its `name`). */
export function awsErrorName(error: unknown): string {
  return (error as SdkErrorShape)?.name ?? "Error";
}

export function toPortError(call: string, error: unknown): Error {
  if (error instanceof DrError) return error;
  const e = (error ?? {}) as SdkErrorShape;
  const name = e.name ?? "Error";
  const message = `${call} failed: ${name}: ${e.message ?? String(error)}`;
  const status = e.$metadata?.httpStatusCode ?? 0;
  if (ACCESS_DENIED.has(name) || status === 403) {
    return new AccessDeniedError(message, { cause: error });
  }
  if (
    TRANSIENT.has(name) ||
    NETWORK_CODES.has(e.code ?? "") ||
    NETWORK_CODES.has(e.cause?.code ?? "") ||
    e.$retryable !== undefined ||
    status === 429 ||
    status >= 500
  ) {
    return new TransientError(message, { cause: error });
  }
  return new DependencyError(message, { cause: error, code: name });
}
