// The part every write shares once its input is valid: the store call, then (for a first
// answer, not a replay) the best-effort publication of what it wrote. Pure: dependencies in.
import { PaymentRefusedError } from "./errors";
import { describeError } from "./http-api";
import type { PaymentView } from "./payment";
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
  | "merchantId"
  | "operation"
  | "paymentId"
  | "idempotencyKey"
  | "requestHash"
  | "requestId"
  | "plan"
  | "at"
> &
  Partial<Pick<TransitionRequest, "respond">>;

/**
 * A refusal by the payment's state (409, 422) as the answer recorded under the key, in the
 * documented error shape with the request id of the request that was refused. Stripe records
 * answers "regardless of whether it succeeds or fails" once the endpoint began executing
 * (docs.stripe.com/api/idempotent_requests); bad input never gets this far.
 */
export function refusalAnswer(
  error: unknown,
  requestId: string,
): { statusCode: number; body: unknown } | undefined {
  if (!(error instanceof PaymentRefusedError)) return undefined;
  const answer = describeError(error);
  if (!answer) return undefined;
  return { statusCode: answer.statusCode, body: { ...answer.body, requestId } };
}

/** Capture and void answer with the payment, as Stripe's capture answers the PaymentIntent. */
const paymentAnswer = (view: PaymentView) => ({ statusCode: 200, body: view });

export async function runTransition(
  command: TransitionCommand,
  deps: WriteDeps,
): Promise<ApiAnswer> {
  const result = await deps.store.transition({
    respond: paymentAnswer,
    ...command,
    refusal: (error) => refusalAnswer(error, command.requestId),
    eventId: deps.newId(),
    originRegion: deps.region,
  });
  if (!result.replayed) await deps.afterCommit(result.events);
  return toAnswer(result);
}
