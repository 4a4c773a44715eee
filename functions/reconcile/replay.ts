// Replay: restores lost payments on the new primary through the payment API's own write cores
// (authorize / capture / refund / void, with PostgresPaymentStore), each with its original
// idempotency key, request, request id, ids and time, so:
// - a second replay does nothing: the key now holds the same request's answer, which the store
//   replays instead of writing (Stripe: "Subsequent requests with the same key return the same
//   result", docs.stripe.com/api/idempotent_requests);
// - a key taken meanwhile with another body is refused by the same store
//   (IdempotencyKeyReusedError, Stripe's idempotency_error) and becomes a conflict;
// - the restored payment keeps its id, createdAt and captureBefore: what the merchant holds and
//   was told still holds, and the answer the replay gets is compared with the one recorded then.
//
// Resumable without a journal: the state is in the new primary. Each run diffs first; changes
// already restored show as "replayed" (same version, type, amount and object id under a new
// event id) and are skipped; a run that died half-way leaves the rest "replayable".
import { randomUUID } from "node:crypto";
import { authorize } from "../payments/authorize/core";
import { capture } from "../payments/capture/core";
import { refund } from "../payments/refund/core";
import { voidPayment } from "../payments/void/core";
import { canonicalJson } from "../payments/shared/http-api";
import type { ApiAnswer, OutboxEvent, PaymentStore } from "../payments/shared/ports";
import type { WriteDeps } from "../payments/shared/write-core";
import { findLostWrites } from "./diff";
import type { ReconcileOptions } from "./diff";
import type { ForkPoint, Reconciliation, ReplayStep } from "./model";
import type { Connection } from "./read";
import { rebuildRequest } from "./rebuild";

export interface ReplayDeps {
  /** The payment store on the new primary (the live write path). */
  readonly store: PaymentStore;
  /** The new primary's region: the origin region of what the replay writes. */
  readonly region: string;
}

export interface ReplayedStep {
  readonly paymentId: string;
  readonly eventId: string;
  readonly idempotencyKey: string;
  /** New event ids the replay wrote (left in the outbox: the relay publishes them). */
  readonly newEventIds: readonly string[];
  /** The store answered from the key's record: nothing was written. */
  readonly alreadyRecorded: boolean;
  /** The replay's answer equals the answer the old primary recorded (status and body). */
  readonly sameAnswer: boolean;
}

export interface ReplayFailure {
  readonly paymentId: string;
  readonly eventId: string;
  readonly reason: string;
}

export interface ReplayRun {
  /** The diff before the replay. */
  readonly before: Reconciliation;
  /** The diff after it: what the report shows. */
  readonly after: Reconciliation;
  readonly replayed: readonly ReplayedStep[];
  readonly failures: readonly ReplayFailure[];
}

/**
 * The store as the replay uses it: a refused change records nothing under the key. The merchant
 * was told the change succeeded; a refusal recorded now would replay a 409 to their retries.
 */
function withoutRefusalRecords(store: PaymentStore): PaymentStore {
  return {
    recordedAnswer: (m, k) => store.recordedAnswer(m, k),
    authorize: (input) => store.authorize(input),
    transition: (input) => store.transition({ ...input, refusal: () => undefined }),
    find: (m, p) => store.find(m, p),
    list: (q) => store.list(q),
  };
}

/** Ids in the order the core asks for them: the original object id first, then fresh ones. */
function idsFrom(first: readonly string[]): () => string {
  const queue = [...first];
  return () => queue.shift() ?? randomUUID();
}

async function replayStep(step: ReplayStep, deps: ReplayDeps): Promise<ReplayedStep> {
  const result = rebuildRequest(step.payment, step.event, step.key);
  if (!result.ok) throw new Error(result.reason);
  const { rebuilt } = result;
  const written: OutboxEvent[] = [];
  const base = (first: readonly string[]): WriteDeps => ({
    store: withoutRefusalRecords(deps.store),
    region: deps.region,
    now: () => step.event.createdAt,
    newId: idsFrom(first),
    // Left in the outbox: the relay publishes them, at least once, like any payment event.
    afterCommit: async (events) => {
      written.push(...events);
    },
  });
  let answer: ApiAnswer;
  switch (rebuilt.kind) {
    case "authorize":
      answer = await authorize(rebuilt.command, {
        ...base([step.payment.id]),
        captureWindowHours: rebuilt.captureWindowHours,
        recordSession: async () => undefined,
      });
      break;
    case "capture":
      answer = await capture(rebuilt.command, base([step.event.operationId!]));
      break;
    case "refund":
      answer = await refund(rebuilt.command, base([step.event.operationId!]));
      break;
    case "void":
      answer = await voidPayment(rebuilt.command, base([]));
      break;
  }
  return {
    paymentId: step.payment.id,
    eventId: step.event.eventId,
    idempotencyKey: step.key.idempotencyKey,
    newEventIds: written.map((e) => e.eventId),
    alreadyRecorded: answer.replayed,
    sameAnswer:
      answer.statusCode === step.key.responseStatus &&
      canonicalJson(answer.body) === canonicalJson(step.key.responseBody),
  };
}

/**
 * Diffs, replays every replayable payment's missing changes in order (a payment stops at its
 * first failure, others go on), and diffs again. Conflicts are never touched.
 */
export async function replayLostWrites(
  oldCopy: Connection,
  newPrimary: Connection,
  fork: ForkPoint,
  deps: ReplayDeps,
  options: ReconcileOptions = {},
): Promise<ReplayRun> {
  const before = await findLostWrites(oldCopy, newPrimary, fork, options);
  const replayed: ReplayedStep[] = [];
  const failures: ReplayFailure[] = [];
  for (const lost of before.lost) {
    const steps = before.replaySteps.get(lost.paymentId);
    if (lost.outcome !== "replayable" || !steps) continue;
    for (const step of steps) {
      try {
        replayed.push(await replayStep(step, deps));
      } catch (error) {
        failures.push({
          paymentId: lost.paymentId,
          eventId: step.event.eventId,
          reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
        break;
      }
    }
  }
  const after = await findLostWrites(oldCopy, newPrimary, fork, options);
  return { before, after, replayed, failures };
}
