// payments.lost and payments.replayed (RECONCILIATION_EVENTS in functions/common/contract.ts):
// downstream systems saw authorized/captured events for writes that no longer exist and need to
// compensate, then learn when a payment is restored. Pure builders plus the publishing loop;
// delivery is at least once and consumers deduplicate on eventId, which is derived from the
// incident and the payment, so a second run sends the same ids (Stripe: "guard against
// duplicated event receipts by logging the event IDs you've processed", docs.stripe.com/webhooks).
import { createHash } from "node:crypto";
import { PAYMENT_EVENT_SCHEMA_VERSION, RECONCILIATION_EVENTS } from "../common/contract";
import { exponentOf } from "../payments/shared/payment";
import { publishInBatches } from "../payments/shared/outbox";
import type { PublishOutcome } from "../payments/shared/ports";
import type { ForkPoint, LostPayment, Reconciliation } from "./model";

export type ReconciliationEventType =
  (typeof RECONCILIATION_EVENTS)[keyof typeof RECONCILIATION_EVENTS];

export interface ReconciliationEvent {
  readonly eventId: string;
  readonly type: ReconciliationEventType;
  /** The EventBridge detail, JSON text. */
  readonly detail: string;
  readonly createdAt: Date;
}

interface Incident {
  readonly oldRegion: string;
  readonly oldCluster: string;
  readonly failoverAt: string;
  readonly lastReplicatedAt: string | null;
  readonly failoverRunId: string | null;
}

export interface ReconciliationEventDetail {
  readonly schemaVersion: typeof PAYMENT_EVENT_SCHEMA_VERSION;
  readonly eventId: string;
  readonly type: ReconciliationEventType;
  /** The region that published it: the new primary's. */
  readonly originRegion: string;
  readonly occurredAt: string;
  readonly paymentId: string;
  readonly merchantId: string;
  /** The payment as the old primary last had it (what the customer and merchant were told). */
  readonly status: string;
  readonly currency: string;
  readonly currencyExponent: number;
  readonly authorizedAmount: number;
  readonly capturedAmount: number;
  readonly refundedAmount: number;
  readonly incident: Incident;
  /** payments.lost: the events of writes that no longer exist. */
  readonly invalidatedEventIds?: readonly string[];
  /** payments.lost: what happens next: replay, or a human (with the reason). */
  readonly resolution?: {
    readonly outcome: LostPayment["outcome"];
    readonly reason: string | null;
  };
  /** payments.replayed: the restored writes' events, and the lost ones they replace. */
  readonly replayedEventIds?: readonly string[];
  readonly replacesEventIds?: readonly string[];
}

/** A UUID-shaped id from the incident, the payment and the type: the same on every run. */
export function eventIdOf(fork: ForkPoint, paymentId: string, type: string): string {
  const hex = createHash("sha256")
    .update(`${fork.oldCluster}|${fork.failoverAt}|${paymentId}|${type}`)
    .digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function incident(fork: ForkPoint): Incident {
  return {
    oldRegion: fork.oldRegion,
    oldCluster: fork.oldCluster,
    failoverAt: fork.failoverAt,
    lastReplicatedAt: fork.lastReplicatedAt,
    failoverRunId: fork.failoverRunId ?? null,
  };
}

function detailOf(
  lost: LostPayment,
  type: ReconciliationEventType,
  fork: ForkPoint,
  context: { region: string; at: Date },
): Omit<ReconciliationEventDetail, "invalidatedEventIds" | "resolution"> {
  return {
    schemaVersion: PAYMENT_EVENT_SCHEMA_VERSION,
    eventId: eventIdOf(fork, lost.paymentId, type),
    type,
    originRegion: context.region,
    occurredAt: context.at.toISOString(),
    paymentId: lost.paymentId,
    merchantId: lost.merchantId,
    status: lost.status,
    currency: lost.currency,
    currencyExponent: exponentOf(lost.currency),
    authorizedAmount: lost.amount,
    capturedAmount: lost.capturedAmount,
    refundedAmount: lost.refundedAmount,
    incident: incident(fork),
  };
}

function event(detail: ReconciliationEventDetail, at: Date): ReconciliationEvent {
  return {
    eventId: detail.eventId,
    type: detail.type,
    detail: JSON.stringify(detail),
    createdAt: at,
  };
}

/**
 * One payments.lost per lost payment (every outcome: consumers compensate whether or not it is
 * replayed), and one payments.replayed per payment restored.
 */
export function reconciliationEvents(
  reconciliation: Reconciliation,
  context: { region: string; at: Date },
): ReconciliationEvent[] {
  const { fork } = reconciliation;
  const out: ReconciliationEvent[] = [];
  for (const lost of reconciliation.lost) {
    // Lost writes: the ones not on the new side, and the ones a replay restored (their events
    // were invalidated too; the restored ones have new ids).
    const invalidated = lost.changes.map((c) => c.eventId);
    out.push(
      event(
        {
          ...detailOf(lost, RECONCILIATION_EVENTS.lost, fork, context),
          invalidatedEventIds: invalidated,
          resolution: {
            outcome: lost.outcome === "conflict" ? "conflict" : "replayable",
            reason: lost.reason ?? null,
          },
        },
        context.at,
      ),
    );
    if (lost.outcome === "replayed") {
      out.push(
        event(
          {
            ...detailOf(lost, RECONCILIATION_EVENTS.replayed, fork, context),
            replayedEventIds: lost.changes.map((c) => c.newEventId!),
            replacesEventIds: invalidated,
          },
          context.at,
        ),
      );
    }
  }
  return out;
}

/**
 * Publishes in PutEvents-sized batches, as the payment functions publish their outbox (a batch
 * that throws counts as failed, entry by entry).
 */
export function publishReconciliationEvents(
  events: readonly ReconciliationEvent[],
  publish: (batch: readonly ReconciliationEvent[]) => Promise<readonly PublishOutcome[]>,
): Promise<PublishOutcome[]> {
  return publishInBatches(events, publish);
}
