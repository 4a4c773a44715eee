// The outbox relay: publishes the outbox rows to EventBridge. At least once: rows are marked only
// for the PutEvents entries that succeeded, in the transaction that locked them; failed ones keep
// their row (attempts + 1, last_error) for a later pass. A relay that dies mid-batch (after
// PutEvents, before its commit) leaves its rows unmarked, so the next pass publishes them again:
// a duplicate with the same eventId, never a loss. Only the active region relays: marking rows is
// a write, and events belong on the bus of the region that took the write.
//
// Since issue 15 the relay is how events reach the bus (EVENT_PUBLICATION=relay, the default):
// a run drains continuously, polling an empty outbox every pollMs, until the invocation is
// nearly over; the schedule starts the next run as this one ends.
import { PassiveRegionError, PeerLeaseLapsedError } from "../shared/errors";
import { publishInBatches } from "../shared/outbox";
import type { OutboxStore, PublishOutcome, Publisher } from "../shared/ports";

/** A draining run stops polling with this much of its invocation left (milliseconds). */
export const RELAY_STOP_BEFORE_MS = 5_000;

export interface RelayDeps {
  readonly guard: { assertActive(): Promise<void> };
  readonly outbox: Pick<OutboxStore, "relay">;
  readonly publish: Publisher;
  /** Rows locked per transaction. */
  readonly batchSize: number;
  /** Rows looked at per run without `drain`, so one run ends well within the function timeout. */
  readonly maxEvents: number;
  /** PutEvents calls in flight at once within a batch. @default 1 */
  readonly publishConcurrency?: number;
  /** Told the delay of each event it published (ms from the event's creation). */
  readonly onPublished?: (delayMs: number) => void;
  readonly now?: () => Date;
}

/** Draining: poll until the invocation is nearly over, instead of one sweep. */
export interface DrainOptions {
  /** Milliseconds left in this invocation (Lambda's context.getRemainingTimeInMillis). */
  readonly remainingMs: () => number;
  /** Stop polling once less than this is left: room for the last batch and the report. */
  readonly stopBeforeMs: number;
  /** Pause after a pass that found the outbox caught up. */
  readonly pollMs: number;
  readonly sleep: (ms: number) => Promise<void>;
}

export interface RelayReport {
  readonly skipped: string | null;
  readonly published: number;
  readonly failed: number;
  /** Distinct error messages of the failed entries. */
  readonly errors: readonly string[];
}

export async function relayOutbox(deps: RelayDeps, drain?: DrainOptions): Promise<RelayReport> {
  let published = 0;
  // Rows that failed in this run are skipped for the rest of it, so a poison row cannot stall
  // the rest (nor be retried in a tight loop); the next run tries them again.
  const failedIds: string[] = [];
  const errors = new Set<string>();
  const now = deps.now ?? (() => new Date());
  const publish = (events: Parameters<Publisher>[0]) =>
    publishInBatches(events, deps.publish, deps.publishConcurrency ?? 1);
  const report = (skipped: string | null): RelayReport => ({
    skipped,
    published,
    failed: failedIds.length,
    errors: [...errors],
  });
  for (let pass = 0; ; pass++) {
    // Checked on every pass (the flag is cached for ACTIVE_REGION_CACHE_MS): a failover stops
    // the old region's relay within that time, mid-run included.
    try {
      await deps.guard.assertActive();
    } catch (error) {
      if (error instanceof PassiveRegionError || error instanceof PeerLeaseLapsedError) {
        return report(error.message);
      }
      throw error;
    }
    const limit = drain
      ? deps.batchSize
      : Math.min(deps.batchSize, deps.maxEvents - published - failedIds.length);
    const outcomes: readonly PublishOutcome[] = await deps.outbox.relay(
      limit,
      failedIds,
      async (events) => {
        const results = await publish(events);
        if (deps.onPublished) {
          const at = now().getTime();
          const ok = new Set(results.filter((o) => o.ok).map((o) => o.eventId));
          for (const e of events)
            if (ok.has(e.eventId)) deps.onPublished(at - e.createdAt.getTime());
        }
        return results;
      },
    );
    for (const outcome of outcomes) {
      if (outcome.ok) published += 1;
      else {
        failedIds.push(outcome.eventId);
        errors.add(outcome.error ?? "unknown error");
      }
    }
    const caughtUp = outcomes.length < limit;
    if (!drain) {
      if (caughtUp || published + failedIds.length >= deps.maxEvents) return report(null);
      continue;
    }
    if (drain.remainingMs() < drain.stopBeforeMs) return report(null);
    if (caughtUp) await drain.sleep(drain.pollMs);
    if (drain.remainingMs() < drain.stopBeforeMs) return report(null);
  }
}
