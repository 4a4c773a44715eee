// Publishing outbox events: at least once. The outbox-relay publishes them; with
// EVENT_PUBLICATION=inline a write also publishes its own right after commit (best effort, never
// failing the request), and the relay publishes whatever is left.
import { MAX_EVENTS_PER_PUT } from "./ports";
import type { OutboxEvent, OutboxStore, PublishOutcome, Publisher } from "./ports";

/**
 * Publishes in PutEvents-sized batches, `concurrency` calls at a time; a batch that throws counts
 * as failed, entry by entry. Outcomes come back in the order of `events`.
 */
export async function publishInBatches<E extends { readonly eventId: string } = OutboxEvent>(
  events: readonly E[],
  publish: (batch: readonly E[]) => Promise<readonly PublishOutcome[]>,
  concurrency = 1,
): Promise<PublishOutcome[]> {
  const batches: E[][] = [];
  for (let i = 0; i < events.length; i += MAX_EVENTS_PER_PUT) {
    batches.push(events.slice(i, i + MAX_EVENTS_PER_PUT));
  }
  const outcomes: PublishOutcome[][] = new Array(batches.length);
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const index = next++;
      const batch = batches[index]!;
      try {
        outcomes[index] = [...(await publish(batch))];
      } catch (error) {
        const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        outcomes[index] = batch.map((e) => ({ eventId: e.eventId, ok: false, error: message }));
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, batches.length)) }, worker),
  );
  return outcomes.flat();
}

export interface AfterCommitDeps {
  readonly publish: Publisher;
  readonly outbox: Pick<OutboxStore, "markPublished">;
  /** Told about anything that went wrong; the request still succeeds. */
  readonly onError: (error: unknown) => void;
}

/** Best effort: publish the events a write just committed and mark the ones that went out. */
export async function publishAfterCommit(
  events: readonly OutboxEvent[],
  deps: AfterCommitDeps,
): Promise<number> {
  if (events.length === 0) return 0;
  try {
    const outcomes = await publishInBatches(events, deps.publish);
    const published = outcomes.filter((o) => o.ok).map((o) => o.eventId);
    const failed = outcomes.filter((o) => !o.ok);
    if (failed.length > 0) {
      deps.onError(new Error(`${failed.length} event(s) left for the relay: ${failed[0]!.error}`));
    }
    await deps.outbox.markPublished(published);
    return published.length;
  } catch (error) {
    deps.onError(error);
    return 0;
  }
}
