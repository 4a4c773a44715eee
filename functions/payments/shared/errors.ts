// Domain errors of the payment service. Each maps to one HTTP answer in http-api.ts; anything
// else is a bug: it is logged with its stack and answered with a 500 in the same error shape.

/** Bad input: 400 for a request that is malformed, 422 for one that is well-formed but invalid. */
export class RequestValidationError extends Error {
  override name = "RequestValidationError";
  constructor(
    readonly status: 400 | 422,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

export class UnauthorizedError extends Error {
  override name = "UnauthorizedError";
  constructor() {
    super("a valid x-api-key header is required");
  }
}

/** The body names a merchant other than the one the API key is bound to. */
export class MerchantMismatchError extends Error {
  override name = "MerchantMismatchError";
  constructor(
    readonly sent: string,
    readonly keyMerchant: string,
  ) {
    super(
      `merchantId ${JSON.stringify(sent)} is not the merchant this API key is bound to ` +
        `(${JSON.stringify(keyMerchant)}); leave merchantId out or send ${JSON.stringify(keyMerchant)}`,
    );
  }
}

export class PaymentNotFoundError extends Error {
  override name = "PaymentNotFoundError";
  constructor(readonly paymentId: string) {
    super("payment not found");
  }
}

/**
 * The payment's state refuses a valid request (409, 422). Unlike bad input, such a refusal is an
 * answer: it is recorded under the request's Idempotency-Key and replayed to a retry.
 */
export abstract class PaymentRefusedError extends Error {}

export class IllegalTransitionError extends PaymentRefusedError {
  override name = "IllegalTransitionError";
  constructor(
    readonly from: string,
    readonly operation: string,
  ) {
    super(`cannot ${operation} a payment that is ${from}`);
  }
}

/** A refund that would take the refunded total past the captured amount. */
export class RefundExceedsCapturedError extends PaymentRefusedError {
  override name = "RefundExceedsCapturedError";
  constructor(readonly refundable: number) {
    super(`amount exceeds the refundable amount of ${refundable}`);
  }
}

/** A capture of more than the authorization still holds. */
export class CaptureExceedsCapturableError extends PaymentRefusedError {
  override name = "CaptureExceedsCapturableError";
  constructor(readonly capturable: number) {
    super(`amount exceeds the capturable amount of ${capturable}`);
  }
}

/** A capture at or after the payment's captureBefore: the authorization has lapsed. */
export class AuthorizationExpiredError extends PaymentRefusedError {
  override name = "AuthorizationExpiredError";
  constructor(readonly captureBefore: Date) {
    super(
      `the authorization expired at ${captureBefore.toISOString()} (captureBefore); it can no longer be captured`,
    );
  }
}

/** A payment already has as many captures or refunds as it may. */
export class OperationLimitError extends PaymentRefusedError {
  override name = "OperationLimitError";
  constructor(
    readonly kind: "capture" | "refund",
    readonly limit: number,
  ) {
    super(`a payment takes at most ${limit} ${kind}s`);
  }
}

/** The idempotency key was used before with a different request. */
export class IdempotencyKeyReusedError extends Error {
  override name = "IdempotencyKeyReusedError";
  constructor() {
    super("this Idempotency-Key was already used with a different request");
  }
}

/** A request with the same idempotency key is still being processed. */
export class IdempotencyKeyInUseError extends Error {
  override name = "IdempotencyKeyInUseError";
  constructor(readonly retryAfterSeconds = 1) {
    super("a request with this Idempotency-Key is in progress; retry shortly with the same key");
  }
}

/** This region is not the active one: writes are fenced off. */
export class PassiveRegionError extends Error {
  override name = "PassiveRegionError";
  constructor(
    readonly region: string,
    readonly activeRegion: string,
  ) {
    super(`passive region: writes go to ${activeRegion}`);
  }
}

/**
 * The flag names this region but a move towards it is not finished (phase `fenced`, from the
 * Fence to the Unfence): its database may not be the writer yet, and through the global writer
 * endpoint a write would land on the old one (fencing.ts). Refused like a passive region.
 */
export class RegionFencedError extends PassiveRegionError {
  override name = "RegionFencedError";
  constructor(
    region: string,
    readonly phase: string,
  ) {
    super(region, region);
    this.message = `writes paused in ${region}: a move to this region is in progress (flag phase ${phase || "unknown"}); they open when the new writer is verified`;
  }
}

/**
 * This region is the active one, but the standby's lease renewal in its replica of the flag is
 * older than PEER_LEASE allows: a fence written in the other region may not have arrived, so
 * writes are refused until a renewal does (review M3; state-machines/README.md).
 */
export class PeerLeaseLapsedError extends Error {
  override name = "PeerLeaseLapsedError";
  constructor(
    readonly region: string,
    readonly peerSeenAt: string | null,
    readonly ageMs: number | null,
  ) {
    super(
      peerSeenAt === null
        ? `writes paused in ${region}: the peer lease is armed but was never renewed`
        : `writes paused in ${region}: the peer region last renewed its lease at ${peerSeenAt} (${Math.round((ageMs ?? 0) / 1000)} s ago, more than the lease allows)`,
    );
  }
}

/** The active-region flag could not be read (or is missing), so writes are refused. */
export class ActiveRegionUnknownError extends Error {
  override name = "ActiveRegionUnknownError";
}

export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
}

/**
 * The connection a write would go through does not reach this region's writer (another region's
 * instance through a stale global endpoint or a pooled connection, or one still in recovery):
 * writer-identity.ts. A 503 `database_unavailable` like any other unavailable database, never a
 * write on the wrong server.
 */
export class WriterMismatchError extends DatabaseUnavailableError {
  override name = "WriterMismatchError";
}

/** Why the writer identity check could not run (WriterCheckFailed metric's Reason). */
export type WriterCheckFailure =
  /** 42883: aurora_db_instance_identifier() absent (engine older than its floor). */
  | "function_missing"
  /** 42501: the application role may not execute it. */
  | "permission_denied"
  /** 57014: the check's own statement_timeout (or a cancel). */
  | "timeout"
  /** This region's own cluster endpoint could not answer (the reference side of the check). */
  | "own_cluster_unavailable"
  | "other";

/**
 * The writer identity check itself failed (review 24-10l H1): the query could not run, so the
 * write cannot know where it would land. Refused as 503 `database_unavailable` with
 * Retry-After, never a 500, and counted as WriterCheckFailed (alarmed), not as a plain
 * DatabaseUnavailable: it usually means a deploy-time fault (engine version, privilege) that
 * refuses every write until fixed.
 */
export class WriterCheckFailedError extends DatabaseUnavailableError {
  override name = "WriterCheckFailedError";
  constructor(
    readonly reason: WriterCheckFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * COMMIT came back with a WARNING, did not come back within the client's query_timeout
 * (review 22 L2), or its connection ended while it was in flight (a terminated backend, a reset
 * socket: the client cannot know the outcome, Database.transaction). A WARNING: the server
 * stopped waiting for the commit's replication (a cancel: pg_cancel_backend or the server's own;
 * statement_timeout does not end a commit wait, measured on PostgreSQL 16) after writing it
 * locally. A client timeout: the wait goes on server-side, and the commit lands once it ends.
 * PostgreSQL's synchronous replication answers so ("canceling wait for synchronous replication
 * ... The transaction has already committed locally, but might not have been replicated to the
 * standby"), and Aurora's
 * `rds.global_db_rpo` pauses a commit until a secondary is within the RPO without documenting
 * what a cancel does: the write may be durable here and missing from every secondary, so it is
 * not acknowledged (review M2; state-machines/README.md, "A COMMIT the RPO guard paused").
 */
export class CommitUnconfirmedError extends Error {
  override name = "CommitUnconfirmedError";
}

/** SSM parameters (database settings, API keys) could not be loaded. */
export class ParametersUnavailableError extends Error {
  override name = "ParametersUnavailableError";
}
