// Idempotency of the write endpoints, in PostgreSQL alone.
//
// PostgreSQL is the authority: the idempotency_keys row is written in the transaction of the
// change it answers, so a recorded answer exists exactly when the change committed, and only a
// recorded answer is ever replayed. A concurrent duplicate (same merchant and key while the first
// attempt runs) is turned away with 409 by a transaction-scoped advisory lock taken in the same
// statement (postgres-store.ts, IN_FLIGHT_LOCK): no other store takes part in a write.
//
// Why not DynamoDB (the in-flight lock lived in the `idempotency` table until issue 15): a
// conditional PutItem per request cost as much CPU as the whole PostgreSQL authorization
// (npm run bench:payments), was evaluated in its own region only, and a lock whose attempt
// crashed held the key until it lapsed (up to the invocation's remaining time). The two stores
// also replicate independently between regions (DynamoDB global tables "typically within a
// second or less", Aurora global database with its own lag), so after an unplanned failover a
// DynamoDB record could describe a commit the promoted database never received; an advisory lock
// lives and dies with the writer's transaction, so nothing of a lost attempt survives a failover.
//
// Not stored (the same request may be sent again with the same key and then runs): failures
// before execution (authentication, validation, the passive region), a concurrent duplicate, and
// failures that rolled back (503, 500), as Stripe: "If incoming parameters fail validation, or the
// request conflicts with another request that's executing concurrently, we don't save the
// idempotent result" (docs.stripe.com/api/idempotent_requests).
import { IdempotencyKeyReusedError } from "./errors";
import type { ApiAnswer } from "./ports";

/**
 * How long a recorded answer is kept (and replayed): 31 days, Adyen's floor ("Idempotency keys
 * are valid for a minimum period of 31 days after first submission",
 * docs.adyen.com/development-resources/api-idempotency), longer than Stripe's ("You can remove
 * keys from the system automatically after they're at least 24 hours old",
 * docs.stripe.com/api/idempotent_requests), so a retry after a long outage still replays. Older
 * records are pruned by the expiry job; a key reused after that runs as a new request, as at
 * Stripe. The database refuses deleting younger ones (idempotency_keys_write_once, 005).
 */
export const IDEMPOTENCY_RETENTION_DAYS = 31;

/** A committed answer as recorded in PostgreSQL (idempotency_keys). */
export interface RecordedAnswer {
  readonly requestHash: string;
  readonly statusCode: number;
  readonly body: unknown;
}

/** The recorded answer, replayed: only for the very request that recorded it. */
export function replayOf(recorded: RecordedAnswer, requestHash: string): ApiAnswer {
  if (recorded.requestHash !== requestHash) throw new IdempotencyKeyReusedError();
  return { statusCode: recorded.statusCode, body: recorded.body, replayed: true };
}
