// Scheduled: releases authorizations past their captureBefore. An authorized payment becomes
// `expired`; a partially captured one closes its capture (what was captured stays captured and
// refundable). Each change emits payments.expired with the released amount. Stripe: "If the
// authorization expires before you capture the funds, the funds are released" and
// "Uncaptured PaymentIntents transition to canceled, while partially captured PaymentIntents
// transition to succeeded" (docs.stripe.com/payments/multicapture).
//
// Only the active region expires: it is a write, fenced like the API's writes (a passive region
// skips the run). A capture that arrives after captureBefore and before this job is refused by
// the capture itself (409 authorization_expired), so the job's delay never extends a window.
import { PassiveRegionError } from "../shared/errors";
import type { ExpiryStore, OutboxEvent } from "../shared/ports";

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

export async function expireAuthorizations(deps: ExpiryDeps): Promise<ExpiryReport> {
  let expired = 0;
  while (expired < deps.maxPayments) {
    // Checked before every batch: a failover during a long run stops it at the next batch.
    try {
      await deps.guard.assertActive();
    } catch (error) {
      if (error instanceof PassiveRegionError) {
        return { skipped: error.message, expired, more: false };
      }
      throw error;
    }
    const limit = Math.min(deps.batchSize, deps.maxPayments - expired);
    const batch = await deps.store.expireDue(deps.now(), limit, {
      originRegion: deps.region,
      newId: deps.newId,
    });
    expired += batch.expired;
    await deps.afterCommit(batch.events);
    if (batch.expired < limit) return { skipped: null, expired, more: false };
  }
  return { skipped: null, expired, more: true };
}
