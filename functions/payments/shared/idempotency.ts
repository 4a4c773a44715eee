// Idempotency of the write endpoints, PostgreSQL first.
//
// PostgreSQL is the authority: the idempotency_keys row is written in the transaction of the
// change it answers, so a recorded answer exists exactly when the change committed, and only a
// recorded answer is ever replayed. DynamoDB (the `idempotency` global table) is only the
// in-flight lock that turns a concurrent duplicate away while the first attempt runs; it never
// answers a request. A lock is deleted only when its attempt failed; an answered attempt leaves
// it to lapse (a retry meanwhile replays from PostgreSQL).
//
// Why: the two stores replicate independently between regions (DynamoDB global tables "typically
// within a second or less", Aurora global database with its own lag), so after an unplanned
// failover a DynamoDB record can describe a commit the promoted database never received. Trusted,
// it would tell a retry "201, replayed" for a payment that GET then calls unknown. A lock whose
// attempt left nothing in PostgreSQL is treated as an attempt that did not happen, once it
// expires (with the invocation that held it).
//
// Not stored (the same request may be sent again with the same key and then runs): failures
// before execution (authentication, validation, the passive region), a concurrent duplicate, and
// failures that rolled back (503, 500), as Stripe: "If incoming parameters fail validation, or the
// request conflicts with another request that's executing concurrently, we don't save the
// idempotent result" (docs.stripe.com/api/idempotent_requests).
import { IdempotencyKeyInUseError, IdempotencyKeyReusedError } from "./errors";
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

export type LockOutcome =
  | { readonly acquired: true }
  | {
      readonly acquired: false;
      /** Epoch ms the holder's lock lapses. */ readonly heldUntil: number;
    };

/** The in-flight lock (DynamoDB): conditional writes, local to the region. */
export interface LockStore {
  /** Takes the lock unless another holder's lock is still live. */
  acquire(lockId: string, holder: string, expiresAt: number, now: number): Promise<LockOutcome>;
  /** Drops the lock if this holder still has it. */
  release(lockId: string, holder: string): Promise<void>;
}

export interface IdempotencyScope {
  readonly merchantId: string;
  readonly idempotencyKey: string;
  readonly requestHash: string;
}

export interface IdempotencyGuardOptions {
  readonly locks: LockStore;
  /** The committed answer for (merchant, key), from PostgreSQL. */
  readonly recorded: (merchantId: string, key: string) => Promise<RecordedAnswer | undefined>;
  readonly newHolder: () => string;
  readonly now?: () => number;
  /** DynamoDB failed; the request goes on with PostgreSQL alone (its unique key still dedupes). */
  readonly onDegraded: (error: unknown) => void;
}

/** Keys are unique per merchant across endpoints, as in PostgreSQL (Stripe: "within your account"). */
export function lockId(scope: Pick<IdempotencyScope, "merchantId" | "idempotencyKey">): string {
  // Merchant ids cannot contain '#', so the first '#' always ends the merchant. The prefix keeps
  // these items apart from records an earlier version left in the table.
  return `lock#${scope.merchantId}#${scope.idempotencyKey}`;
}

/** The recorded answer, replayed: only for the very request that recorded it. */
export function replayOf(recorded: RecordedAnswer, requestHash: string): ApiAnswer {
  if (recorded.requestHash !== requestHash) throw new IdempotencyKeyReusedError();
  return { statusCode: recorded.statusCode, body: recorded.body, replayed: true };
}

/** A lock shorter than a second is not worth taking; longer than a minute outlives any write. */
export const LOCK_BOUNDS_MS = { min: 1_000, max: 60_000 } as const;

export class IdempotencyGuard {
  private readonly now: () => number;

  constructor(private readonly options: IdempotencyGuardOptions) {
    this.now = options.now ?? (() => Date.now());
  }

  /**
   * Runs `execute` (which records its answer in PostgreSQL with its change, or replays the
   * recorded one) under the in-flight lock. `lockMs` is how long the invocation may still run:
   * the lock lapses with it, so a crashed attempt frees its key.
   */
  async run(
    scope: IdempotencyScope,
    execute: () => Promise<ApiAnswer>,
    lockMs: number,
  ): Promise<ApiAnswer> {
    const id = lockId(scope);
    const holder = this.options.newHolder();
    const now = this.now();
    const ttl = Math.min(LOCK_BOUNDS_MS.max, Math.max(LOCK_BOUNDS_MS.min, Math.floor(lockMs)));
    let outcome: LockOutcome | undefined;
    try {
      outcome = await this.options.locks.acquire(id, holder, now + ttl, now);
    } catch (error) {
      this.options.onDegraded(error);
    }
    if (outcome && !outcome.acquired) {
      // Held by a live attempt. If its answer committed, that answer is the answer.
      const recorded = await this.options.recorded(scope.merchantId, scope.idempotencyKey);
      if (recorded) return replayOf(recorded, scope.requestHash);
      throw new IdempotencyKeyInUseError(
        Math.max(1, Math.ceil((outcome.heldUntil - this.now()) / 1000)),
      );
    }
    const locked = outcome?.acquired === true;
    try {
      const answer = await execute();
      // Answered: the answer is committed in PostgreSQL with its change (or was replayed from
      // there), so the lock is left to lapse rather than deleted, saving a DynamoDB write per
      // request. A retry while it lives is refused by it and replays the recorded answer (the
      // branch above reads PostgreSQL first); after it lapses the retry runs, and PostgreSQL's
      // unique (merchant, key) replays it.
      return answer;
    } catch (error) {
      // Nothing was recorded (rolled back, or refused before the store): free the key at once
      // so the client's retry runs instead of waiting for the lock to lapse.
      if (locked) {
        await this.options.locks.release(id, holder).catch((releaseError: unknown) => {
          // The lock lapses by itself; a retry meanwhile waits for it.
          this.options.onDegraded(releaseError);
        });
      }
      throw error;
    }
  }
}
