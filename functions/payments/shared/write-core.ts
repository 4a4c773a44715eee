// The part every write shares once its input is valid: the store call, then (for a first
// answer, not a replay) the best-effort publication of what it wrote. Pure: dependencies in.
import type { ApiAnswer, OutboxEvent, PaymentStore, TransitionRequest, WriteResult } from "./ports";

export interface WriteDeps {
  readonly store: PaymentStore;
  /** This function's region: the events' originRegion. */
  readonly region: string;
  readonly now: () => Date;
  readonly newId: () => string;
  /** Publishes events after commit; must not throw (failures are the relay's job). */
  readonly afterCommit: (events: readonly OutboxEvent[]) => Promise<void>;
}

export function toAnswer(result: WriteResult): ApiAnswer {
  return { statusCode: result.statusCode, body: result.body, replayed: result.replayed };
}

export type TransitionCommand = Pick<
  TransitionRequest,
  "merchantId" | "operation" | "paymentId" | "idempotencyKey" | "requestHash" | "plan"
>;

export async function runTransition(
  command: TransitionCommand,
  deps: WriteDeps,
): Promise<ApiAnswer> {
  const result = await deps.store.transition({
    ...command,
    eventId: deps.newId(),
    originRegion: deps.region,
    at: deps.now(),
  });
  if (!result.replayed) await deps.afterCommit(result.events);
  return toAnswer(result);
}
