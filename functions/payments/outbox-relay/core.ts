// Scheduled: publishes the outbox rows the writes could not publish inline. At least once:
// rows are marked only for the PutEvents entries that succeeded; failed ones keep their row
// (attempts + 1, last_error) for the next run. Only the active region relays: marking rows is a
// write, and events belong on the bus of the region that took the write.
import { PassiveRegionError, PeerLeaseLapsedError } from "../shared/errors";
import { publishInBatches } from "../shared/outbox";
import type { OutboxStore, Publisher } from "../shared/ports";

export interface RelayDeps {
  readonly guard: { assertActive(): Promise<void> };
  readonly outbox: Pick<OutboxStore, "relay">;
  readonly publish: Publisher;
  /** Rows locked per transaction. */
  readonly batchSize: number;
  /** Rows looked at per run, so one run ends well within the function timeout. */
  readonly maxEvents: number;
}

export interface RelayReport {
  readonly skipped: string | null;
  readonly published: number;
  readonly failed: number;
  /** Distinct error messages of the failed entries. */
  readonly errors: readonly string[];
}

export async function relayOutbox(deps: RelayDeps): Promise<RelayReport> {
  try {
    await deps.guard.assertActive();
  } catch (error) {
    if (error instanceof PassiveRegionError || error instanceof PeerLeaseLapsedError) {
      return { skipped: error.message, published: 0, failed: 0, errors: [] };
    }
    throw error;
  }
  let published = 0;
  const failedIds: string[] = [];
  const errors = new Set<string>();
  while (published + failedIds.length < deps.maxEvents) {
    const limit = Math.min(deps.batchSize, deps.maxEvents - published - failedIds.length);
    // Rows that failed in this run are skipped, so a poison row cannot stall the rest.
    const outcomes = await deps.outbox.relay(limit, failedIds, (events) =>
      publishInBatches(events, deps.publish),
    );
    for (const outcome of outcomes) {
      if (outcome.ok) published += 1;
      else {
        failedIds.push(outcome.eventId);
        errors.add(outcome.error ?? "unknown error");
      }
    }
    if (outcomes.length < limit) break;
  }
  return { skipped: null, published, failed: failedIds.length, errors: [...errors] };
}
