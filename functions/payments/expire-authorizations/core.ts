// Scheduled: releases authorizations past their captureBefore. An authorized payment becomes
// `expired`; a partially captured one closes its capture (what was captured stays captured and
// refundable). Each change emits payments.expired with the released amount. Stripe: "If the
// authorization expires before you capture the funds, the funds are released" and
// "Uncaptured PaymentIntents transition to canceled, while partially captured PaymentIntents
// transition to succeeded" (docs.stripe.com/payments/multicapture).
//
// Only the active region expires: it is a write, fenced like the API's writes (a passive region
// skips the run). The DR orchestrator counts on a write committing within the write functions'
// timeout of its fencing check (DR_FENCE_SETTLE_SECONDS, infra/lib/fence-bound.ts); this job runs
// for up to two minutes, so each batch checks the flag first and rolls back instead of
// committing more than EXPIRY_BATCH_SECONDS after that check. A capture that arrives after captureBefore and before this job is refused by
// the capture itself (409 authorization_expired), so the job's delay never extends a window.
import { PassiveRegionError, PeerLeaseLapsedError } from "../shared/errors";
import { IDEMPOTENCY_RETENTION_DAYS } from "../shared/idempotency";
import type { ExpiryBatch, ExpiryStore, OutboxEvent } from "../shared/ports";

/** Seconds a batch may take from its fencing check to its commit (above). */
export const EXPIRY_BATCH_SECONDS = 10;

export interface ExpiryDeps {
  readonly guard: { assertActive(): Promise<void> };
  readonly store: ExpiryStore;
  /** Publishes a batch's events after its commit; must not throw (the relay retries). */
  readonly afterCommit: (events: readonly OutboxEvent[]) => Promise<void>;
  readonly now: () => Date;
  readonly newId: () => string;
  readonly region: string;
  /** Payments locked per transaction. */
  readonly batchSize: number;
  /** Payments looked at per run, so one run ends well within the function timeout. */
  readonly maxPayments: number;
}

export interface ExpiryReport {
  readonly skipped: string | null;
  readonly expired: number;
  /** More were due than one run takes: the next run continues. */
  readonly more: boolean;
}

class BatchDeadlineError extends Error {}

export async function expireAuthorizations(deps: ExpiryDeps): Promise<ExpiryReport> {
  let expired = 0;
  while (expired < deps.maxPayments) {
    // Checked before every batch: a failover during a long run stops it at the next batch.
    try {
      await deps.guard.assertActive();
    } catch (error) {
      if (error instanceof PassiveRegionError || error instanceof PeerLeaseLapsedError) {
        return { skipped: error.message, expired, more: false };
      }
      throw error;
    }
    const limit = Math.min(deps.batchSize, deps.maxPayments - expired);
    const checkedAt = deps.now();
    let batch: ExpiryBatch;
    try {
      batch = await deps.store.expireDue(checkedAt, limit, {
        originRegion: deps.region,
        newId: deps.newId,
        beforeCommit: (count) => {
          if (deps.now().getTime() - checkedAt.getTime() > EXPIRY_BATCH_SECONDS * 1000) {
            throw new BatchDeadlineError(
              `a batch of ${count} did not commit within ${EXPIRY_BATCH_SECONDS} s of its fencing check: rolled back`,
            );
          }
        },
      });
    } catch (error) {
      // A slow database: the next scheduled run checks the flag again and takes the rest.
      if (error instanceof BatchDeadlineError)
        return { skipped: error.message, expired, more: true };
      throw error;
    }
    expired += batch.expired;
    await deps.afterCommit(batch.events);
    if (batch.expired < limit) return { skipped: null, expired, more: false };
  }
  return { skipped: null, expired, more: true };
}

export interface PruneDeps {
  readonly guard: { assertActive(): Promise<void> };
  readonly store: Pick<ExpiryStore, "pruneIdempotencyRecords">;
  readonly now: () => Date;
  /** Records deleted per statement (its own transaction). */
  readonly batchSize: number;
  /** Records deleted per run, so one run ends well within the function timeout. */
  readonly maxRecords: number;
}

/**
 * Deletes idempotency records past their retention (IDEMPOTENCY_RETENTION_DAYS), in batches, in
 * the active region only (a passive region's database is a read-only replica), each batch
 * committed within EXPIRY_BATCH_SECONDS of its fencing check like the expiry's (or rolled back,
 * ending the run). Returns how many went; a backlog is worked off over the next runs.
 */
export async function pruneIdempotencyRecords(deps: PruneDeps): Promise<number> {
  const before = new Date(deps.now().getTime() - IDEMPOTENCY_RETENTION_DAYS * 86_400_000);
  let pruned = 0;
  while (pruned < deps.maxRecords) {
    try {
      await deps.guard.assertActive();
    } catch (error) {
      if (error instanceof PassiveRegionError || error instanceof PeerLeaseLapsedError)
        return pruned;
      throw error;
    }
    const limit = Math.min(deps.batchSize, deps.maxRecords - pruned);
    const checkedAt = deps.now().getTime();
    let deleted: number;
    try {
      deleted = await deps.store.pruneIdempotencyRecords(before, limit, () => {
        if (deps.now().getTime() - checkedAt > EXPIRY_BATCH_SECONDS * 1000) {
          throw new BatchDeadlineError("prune batch past its deadline: rolled back");
        }
      });
    } catch (error) {
      if (error instanceof BatchDeadlineError) return pruned;
      throw error;
    }
    pruned += deleted;
    if (deleted < limit) break;
  }
  return pruned;
}
