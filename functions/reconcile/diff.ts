// Finding the lost writes: every payment, payment event and idempotency record the old primary
// committed after the fork that the new primary lacks or holds differently.
//
// How (no trust in the fork's precision): the old copy's events and idempotency records from
// `scanMarginSeconds` before the fork on are compared with the new primary row by row, so a
// fork recorded a little late, clocks apart, or a write whose `created_at` (taken before its
// COMMIT) predates the fork cannot hide a loss; rows both sides hold identically drop out.
// Before any of it, the copy has to prove it is a complete copy (read.ts, `proveCopy`): a
// truncated copy would otherwise report "nothing lost".
import type {
  EventRow,
  ForkPoint,
  KeyRow,
  LostChange,
  LostPayment,
  LostRecord,
  NewSideState,
  PaymentRow,
  Reconciliation,
  ReplayStep,
} from "./model";
import { CopyIncompleteError, ReconcileInputError } from "./model";
import type { Connection } from "./read";
import {
  assertNotLive,
  assertSchema,
  copyEnd,
  identify,
  keyOf,
  overlapIds,
  presentEventIds,
  readKeys,
  readOnly,
  readPayments,
  readWindow,
  writerHeartbeat,
} from "./read";
import { rebuildRequest } from "./rebuild";

export interface ReconcileOptions {
  /**
   * Seconds before the fork the scan starts. Covers the writer's clock (a row's created_at is
   * taken before its COMMIT, up to the write path's 10 s timeout earlier), clock skew, and a
   * fork recorded late. @default 600
   */
  readonly scanMarginSeconds?: number;
  /** The old copy's host, checked against `liveHosts`. */
  readonly copyHost?: string;
  /** Endpoints of the deployment's live clusters (both regions): never accepted as the copy. */
  readonly liveHosts?: readonly string[];
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

function time(field: string, value: unknown): Date {
  if (typeof value !== "string" || !ISO.test(value) || Number.isNaN(Date.parse(value))) {
    throw new ReconcileInputError(
      field,
      value,
      "an ISO 8601 timestamp such as 2026-11-30T08:00:00.000Z",
    );
  }
  return new Date(value);
}

/** Checks the fork and options; throws ReconcileInputError naming the field. */
export function validateFork(fork: ForkPoint, options: ReconcileOptions = {}) {
  if (typeof fork.oldRegion !== "string" || !REGION.test(fork.oldRegion)) {
    throw new ReconcileInputError(
      "fork.oldRegion",
      fork.oldRegion,
      "an AWS region code such as us-east-1",
    );
  }
  if (typeof fork.oldCluster !== "string" || fork.oldCluster === "") {
    throw new ReconcileInputError(
      "fork.oldCluster",
      fork.oldCluster,
      "the old primary cluster's identifier",
    );
  }
  const failoverAt = time("fork.failoverAt", fork.failoverAt);
  const lastReplicatedAt =
    fork.lastReplicatedAt === null ? null : time("fork.lastReplicatedAt", fork.lastReplicatedAt);
  if (lastReplicatedAt && lastReplicatedAt.getTime() > failoverAt.getTime()) {
    throw new ReconcileInputError(
      "fork.lastReplicatedAt",
      fork.lastReplicatedAt,
      `not after fork.failoverAt (${fork.failoverAt}): the promoted cluster cannot hold commits from after its promotion`,
    );
  }
  const margin = options.scanMarginSeconds ?? 600;
  if (!Number.isInteger(margin) || margin < 30 || margin > 7 * 86_400) {
    throw new ReconcileInputError(
      "scanMarginSeconds",
      margin,
      "a whole number of seconds from 30 to 604800",
    );
  }
  const forkAt = lastReplicatedAt ?? failoverAt;
  return { forkAt, failoverAt, scanFrom: new Date(forkAt.getTime() - margin * 1000), margin };
}

function stateOf(p: PaymentRow | undefined): NewSideState | null {
  return p
    ? {
        status: p.status,
        version: p.version,
        capturedAmount: p.capturedAmount,
        refundedAmount: p.refundedAmount,
      }
    : null;
}

function describeNew(p: NewSideState | null, retriedAs?: string): string {
  if (retriedAs)
    return `payment ${retriedAs} under the same idempotency key (retried after the failover)`;
  if (!p) return "nothing (no such payment)";
  return `${p.status}, version ${p.version}, captured ${p.capturedAmount}, refunded ${p.refundedAmount}`;
}

/** Same change: the event's own id, or a replay of it (same version, type, amount, object id). */
function sameChange(a: EventRow, b: EventRow): boolean {
  return (
    a.type === b.type &&
    a.amount === b.amount &&
    a.version === b.version &&
    (a.operationId ?? null) === (b.operationId ?? null)
  );
}

/**
 * The copy's own consistency, for the payments the diff looks at: every event's payment exists,
 * a payment's events are versions 1..version, every request's event has its idempotency record.
 * A restore that lost part of a table fails here instead of reporting less.
 */
function checkCopyConsistency(
  payments: Map<string, PaymentRow>,
  events: Map<string, EventRow[]>,
  keysByRequest: Map<string, KeyRow>,
  windowKeys: readonly KeyRow[],
  windowEvents: readonly EventRow[],
): void {
  for (const [paymentId, list] of events) {
    const payment = payments.get(paymentId);
    if (!payment) {
      throw new CopyIncompleteError(
        `old copy: payment_events ${list[0]!.eventId} names payment ${paymentId}, which the copy lacks (payments truncated?)`,
      );
    }
  }
  for (const payment of payments.values()) {
    const versions = (events.get(payment.id) ?? []).map((e) => e.version);
    const expected = Array.from({ length: payment.version }, (_, i) => i + 1);
    if (versions.join(",") !== expected.join(",")) {
      throw new CopyIncompleteError(
        `old copy: payment ${payment.id} is at version ${payment.version} but its events are versions [${versions.join(", ")}], allowed: exactly 1..${payment.version} (payment_events truncated?)`,
      );
    }
  }
  for (const event of windowEvents) {
    if (event.requestId !== null && !keysByRequest.has(`${event.paymentId}|${event.requestId}`)) {
      throw new CopyIncompleteError(
        `old copy: payment_events ${event.eventId} (request ${event.requestId}) has no idempotency record, which is written in the same transaction (idempotency_keys truncated?)`,
      );
    }
  }
  const requests = new Set(windowEvents.map((e) => `${e.paymentId}|${e.requestId}`));
  for (const key of windowKeys) {
    // A change (2xx) writes its event in the transaction of its record; refusals write none.
    if (key.responseStatus < 300 && !requests.has(`${key.paymentId}|${key.requestId}`)) {
      const any = (events.get(key.paymentId) ?? []).some((e) => e.requestId === key.requestId);
      if (!any) {
        throw new CopyIncompleteError(
          `old copy: idempotency record (${key.merchantId}, ${key.idempotencyKey}) answered ${key.responseStatus} but payment ${key.paymentId} has no event of request ${key.requestId} (payment_events truncated?)`,
        );
      }
    }
  }
}

/** A payment of the new primary that looks like `payment` retried: same merchant, card, amount. */
async function lookalike(
  newPrimary: Connection,
  payment: PaymentRow,
  since: Date,
): Promise<string | undefined> {
  const { rows } = await newPrimary.query<{ id: string }>(
    `SELECT id FROM payments
     WHERE merchant_id = $1 AND card_token = $2 AND amount_minor = $3 AND currency = $4
       AND created_at >= $5 AND id <> $6 AND ($7::text IS NULL OR reference = $7)
     ORDER BY created_at LIMIT 1`,
    [
      payment.merchantId,
      payment.cardToken,
      payment.amount,
      payment.currency,
      since,
      payment.id,
      payment.reference,
    ],
  );
  return rows[0]?.id;
}

/**
 * Compares the old copy with the new primary. Reads only, both in read-only transactions.
 * Throws LiveClusterError for a live "copy", CopyIncompleteError for a copy that cannot show it
 * reaches the fork or misses rows, InvalidRowError for a row the API could never have written.
 */
export async function findLostWrites(
  oldCopy: Connection,
  newPrimary: Connection,
  fork: ForkPoint,
  options: ReconcileOptions = {},
): Promise<Reconciliation> {
  const { forkAt, failoverAt, scanFrom } = validateFork(fork, options);
  return readOnly(oldCopy, () =>
    readOnly(newPrimary, async () => {
      const copyId = await identify(oldCopy);
      const primaryId = await identify(newPrimary);
      const heartbeat = await writerHeartbeat(oldCopy);
      assertNotLive(copyId, primaryId, heartbeat, options);
      await assertSchema(oldCopy, "old copy");
      await assertSchema(newPrimary, "new primary");
      const ts = copyId.commitTimestamps;

      // The copy must reach the fork, and hold what the new primary got from the old one.
      const end = await copyEnd(oldCopy, ts);
      const reach = [end, heartbeat].filter((d): d is Date => d !== null);
      const reaches = reach.some((d) => d.getTime() >= forkAt.getTime());
      if (!reaches) {
        throw new CopyIncompleteError(
          `old copy ends at ${end?.toISOString() ?? "nothing (no payment rows)"} (writer heartbeat ${heartbeat?.toISOString() ?? "none"}), before the fork ${forkAt.toISOString()}: it is not the point-of-failure copy, or it is truncated; it would hide what was lost`,
        );
      }
      const overlap = await overlapIds(newPrimary, fork.oldRegion, scanFrom, forkAt);
      const inCopy = await presentEventIds(oldCopy, overlap.events);
      const missingEvents = overlap.events.filter((id) => !inCopy.has(id));
      const copyKeys = await readKeys(oldCopy, overlap.keys, ts);
      const missingKeys = overlap.keys.filter(
        (k) => !copyKeys.has(keyOf(k.merchantId, k.idempotencyKey)),
      );
      if (missingEvents.length > 0 || missingKeys.length > 0) {
        throw new CopyIncompleteError(
          `old copy lacks ${missingEvents.length} payment event(s) and ${missingKeys.length} idempotency record(s) that the new primary received from ${fork.oldRegion} before the fork (e.g. ${missingEvents[0] ?? JSON.stringify(missingKeys[0])}): it is truncated or older than the fork`,
        );
      }

      // The old side's window, the payments it touches, and their whole histories.
      const window = await readWindow(oldCopy, "old copy", scanFrom, ts);
      const paymentIds = [
        ...new Set([
          ...window.events.map((e) => e.paymentId),
          ...window.keys.map((k) => k.paymentId),
        ]),
      ];
      const old = await readPayments(oldCopy, "old copy", paymentIds, ts);
      const keysByRequest = new Map(
        window.keys
          .filter((k) => k.requestId !== null)
          .map((k) => [`${k.paymentId}|${k.requestId}`, k]),
      );
      // An event inside the window may belong to a request recorded just before it.
      const extraKeys = await readKeys(
        oldCopy,
        [...new Map(window.keys.map((k) => [keyOf(k.merchantId, k.idempotencyKey), k])).values()],
        ts,
      );
      for (const k of extraKeys.values()) {
        if (k.requestId !== null) keysByRequest.set(`${k.paymentId}|${k.requestId}`, k);
      }
      checkCopyConsistency(old.payments, old.events, keysByRequest, window.keys, window.events);

      const fresh = await readPayments(
        newPrimary,
        "new primary",
        paymentIds,
        primaryId.commitTimestamps,
      );
      const newKeys = await readKeys(
        newPrimary,
        window.keys.map((k) => ({ merchantId: k.merchantId, idempotencyKey: k.idempotencyKey })),
        primaryId.commitTimestamps,
      );

      const lost: LostPayment[] = [];
      const replaySteps = new Map<string, ReplayStep[]>();
      const windowEventIds = new Set(window.events.map((e) => e.eventId));
      for (const paymentId of paymentIds) {
        const payment = old.payments.get(paymentId)!;
        const oldEvents = (old.events.get(paymentId) ?? []).filter((e) =>
          windowEventIds.has(e.eventId),
        );
        const newEvents = new Map((fresh.events.get(paymentId) ?? []).map((e) => [e.version, e]));
        const newPayment = fresh.payments.get(paymentId);
        const changes: (LostChange & { row: EventRow; key: KeyRow | undefined })[] = [];
        const retriedEvents = new Set<string>();
        for (const event of oldEvents) {
          const counterpart = newEvents.get(event.version);
          if (counterpart?.eventId === event.eventId) continue;
          const key =
            event.requestId === null
              ? undefined
              : keysByRequest.get(`${paymentId}|${event.requestId}`);
          // The merchant's own retry of the same request under the same key, answered by the new
          // primary (a commit whose answer the old region never delivered): the change exists,
          // under another event and object id. Restored, not a conflict; its old event id is
          // invalidated (consumers may have seen it, and the new one names another object).
          const theirs = key && newKeys.get(keyOf(key.merchantId, key.idempotencyKey));
          const retriedByClient =
            counterpart !== undefined &&
            theirs !== undefined &&
            theirs.requestHash === key!.requestHash &&
            theirs.paymentId === paymentId &&
            theirs.requestId !== null &&
            theirs.requestId === counterpart.requestId &&
            counterpart.type === event.type &&
            counterpart.amount === event.amount;
          if (retriedByClient) retriedEvents.add(event.eventId);
          const state: LostChange["state"] = !counterpart
            ? "missing"
            : sameChange(event, counterpart) || retriedByClient
              ? "replayed"
              : "diverged";
          changes.push({
            eventId: event.eventId,
            type: event.type,
            version: event.version,
            amount: event.amount,
            committedAt: event.committedAt.toISOString(),
            idempotencyKey: key?.idempotencyKey ?? null,
            requestId: event.requestId,
            state,
            ...(counterpart ? { newEventId: counterpart.eventId } : {}),
            row: event,
            key,
          });
        }
        if (changes.length === 0) continue;
        const newState = stateOf(newPayment);
        const authKey = changes.find((c) => c.type === "payments.authorized")?.key;
        let outcome: LostPayment["outcome"] = "replayed";
        let reason: string | undefined;
        let retriedAs: string | undefined;
        const diverged = changes.find((c) => c.state === "diverged");
        const missing = changes.filter((c) => c.state === "missing");
        if (diverged) {
          const theirs = newEvents.get(diverged.version)!;
          outcome = "conflict";
          reason = `state moved on: at version ${diverged.version} the new primary has ${theirs.type} of ${theirs.amount} (event ${theirs.eventId}), the old primary had ${diverged.type} of ${diverged.amount}`;
        } else if (missing.length > 0) {
          outcome = "replayable";
          const first = missing[0]!;
          const expectedVersion = first.version - 1;
          if ((newState?.version ?? 0) !== expectedVersion) {
            outcome = "conflict";
            reason = `state moved on: the new primary's payment is at version ${newState?.version ?? 0}, the lost change was version ${first.version}`;
          }
          for (const change of missing) {
            if (outcome === "conflict") break;
            if (!change.key) {
              // Only the expiry job writes without a request (checkCopyConsistency saw to that).
              outcome = "conflict";
              reason =
                "an expiry by the old primary's job, not a request: the new primary's expiry job releases it when due";
              break;
            }
            const theirs = newKeys.get(keyOf(change.key.merchantId, change.key.idempotencyKey));
            if (theirs && theirs.requestHash !== change.key.requestHash) {
              outcome = "conflict";
              reason = `idempotency key ${change.key.idempotencyKey} was reused on the new primary with another request (${theirs.operation} of payment ${theirs.paymentId}); replaying would be refused as Stripe's idempotency_error, and it is another order: a human decides`;
              break;
            }
            if (theirs && theirs.paymentId !== paymentId) {
              outcome = "conflict";
              retriedAs = `payment ${theirs.paymentId} under the same idempotency key (retried after the failover)`;
              reason = `the merchant retried key ${change.key.idempotencyKey} after the failover and the new primary answered with payment ${theirs.paymentId}; replaying would charge the customer twice`;
              break;
            }
            if (theirs) {
              outcome = "conflict";
              reason = `the new primary holds key ${change.key.idempotencyKey} for this payment (answered ${theirs.responseStatus}) but not its change: a human decides`;
              break;
            }
            const rebuilt = rebuildRequest(payment, change.row, change.key);
            if (!rebuilt.ok) {
              outcome = "conflict";
              reason = rebuilt.reason;
              break;
            }
          }
          // A merchant who retried with a NEW key got a second payment for the same order:
          // restoring the lost one would hold the customer's card twice. Only a human can tell.
          if (outcome === "replayable" && missing[0]!.type === "payments.authorized") {
            const twin = await lookalike(newPrimary, payment, scanFrom);
            if (twin) {
              outcome = "conflict";
              retriedAs = `payment ${twin}: same merchant, card and amount, another idempotency key`;
              reason = `possible duplicate: after the fork the new primary took payment ${twin} for the same merchant, card, amount and currency${payment.reference ? " and reference" : ""} (a retry with a new idempotency key?); replaying could charge the customer twice`;
            }
          }
        }
        if (outcome === "replayable") {
          replaySteps.set(
            paymentId,
            missing.map((c) => ({ payment, event: c.row, key: c.key! })),
          );
        }
        const firstLost = changes.reduce(
          (a, c) => (c.committedAt < a ? c.committedAt : a),
          changes[0]!.committedAt,
        );
        lost.push({
          paymentId,
          merchantId: payment.merchantId,
          amount: payment.amount,
          currency: payment.currency,
          capturedAmount: payment.capturedAmount,
          refundedAmount: payment.refundedAmount,
          status: payment.status,
          idempotencyKey:
            authKey?.idempotencyKey ?? changes.find((c) => c.key)?.key?.idempotencyKey ?? null,
          committedAt: firstLost,
          changes: changes.map(({ row: _row, key: _key, ...c }) => c),
          newPrimary: newState,
          newPrimaryHas: describeNew(newState, retriedAs),
          outcome,
          ...(reason ? { reason } : {}),
          invalidatedEventIds: changes
            .filter((c) => c.state !== "replayed" || retriedEvents.has(c.eventId))
            .map((c) => c.eventId),
        });
      }

      // Records lost without a change of their own: refusals (409/422) the old primary answered.
      const changeRequests = new Set(
        [...old.events.values()].flat().map((e) => `${e.paymentId}|${e.requestId}`),
      );
      const lostRecords: LostRecord[] = window.keys
        .filter((k) => !changeRequests.has(`${k.paymentId}|${k.requestId}`))
        .filter((k) => {
          const theirs = newKeys.get(keyOf(k.merchantId, k.idempotencyKey));
          return (
            !theirs || theirs.requestHash !== k.requestHash || theirs.paymentId !== k.paymentId
          );
        })
        .map((k) => {
          const theirs = newKeys.get(keyOf(k.merchantId, k.idempotencyKey));
          return {
            merchantId: k.merchantId,
            idempotencyKey: k.idempotencyKey,
            operation: k.operation,
            paymentId: k.paymentId,
            responseStatus: k.responseStatus,
            committedAt: k.committedAt.toISOString(),
            newPrimaryHas: theirs
              ? `${theirs.operation} of payment ${theirs.paymentId} answered ${theirs.responseStatus}`
              : "nothing",
          };
        });

      lost.sort((a, b) =>
        a.committedAt < b.committedAt
          ? -1
          : a.committedAt > b.committedAt
            ? 1
            : a.paymentId < b.paymentId
              ? -1
              : 1,
      );
      return {
        fork,
        replaySteps,
        lost,
        lostRecords,
        checks: {
          overlapRows: overlap.events.length + overlap.keys.length,
          copyHeartbeatAt: heartbeat?.toISOString() ?? null,
          scanFrom: scanFrom.toISOString(),
          copyEnd: end?.toISOString() ?? null,
          oldEventsScanned: window.events.length,
          oldKeysScanned: window.keys.length,
          commitTimestamps: ts,
          failoverAt: failoverAt.toISOString(),
        },
      };
    }),
  );
}
