// The payment model and its lifecycle. Pure: the database enforces the same rules (see
// functions/payments/migrations/001_payments.sql and 005_merchant_api.sql), this module decides
// them first so callers get a precise error instead of a constraint violation.
//
// authorized -> partially_captured (a capture with finalCapture false) -> ... -> captured (the
// final capture, a void or the expiry closes it; the rest of the authorization is released) ->
// partially_refunded / refunded; or authorized -> voided / expired (nothing captured).
// Conventions: Stripe's manual capture ("A partial capture automatically releases the remaining
// amount", `final_capture` "Defaults to true", docs.stripe.com/payments/multicapture) and Adyen's
// modifications (capture "value must be smaller than or equal to the authorised amount"; refunds
// "as long as their sum doesn't exceed the captured amount").
import { PAYMENT_EVENTS, PAYMENT_EVENT_SCHEMA_VERSION } from "../../common/contract";
import { currencyOf } from "./currencies";
import {
  AuthorizationExpiredError,
  CaptureExceedsCapturableError,
  IllegalTransitionError,
  OperationLimitError,
  RefundExceedsCapturedError,
} from "./errors";
import { MAX_AMOUNT_MINOR, parseAmount } from "./validation";

export type PaymentStatus =
  | "authorized"
  | "partially_captured"
  | "captured"
  | "partially_refunded"
  | "refunded"
  | "voided"
  | "expired";
export type Operation = "authorize" | "capture" | "refund" | "void";
export type PaymentEventType = (typeof PAYMENT_EVENTS)[keyof typeof PAYMENT_EVENTS];

export const PAYMENT_STATUSES: readonly PaymentStatus[] = [
  "authorized",
  "partially_captured",
  "captured",
  "partially_refunded",
  "refunded",
  "voided",
  "expired",
];

/** The statuses a change may lead to (payments_enforce_lifecycle, 005_merchant_api.sql). */
export const LEGAL_TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  authorized: ["partially_captured", "captured", "voided", "expired"],
  partially_captured: ["partially_captured", "captured", "partially_refunded", "refunded"],
  captured: ["partially_refunded", "refunded"],
  partially_refunded: ["partially_refunded", "refunded"],
  refunded: [],
  voided: [],
  expired: [],
};

/** Statuses in which more may be captured: the authorization is still open. */
const OPEN: ReadonlySet<PaymentStatus> = new Set(["authorized", "partially_captured"]);

/** Stripe: "Stripe allows you to capture up to 50 times for a single PaymentIntent". */
export const MAX_CAPTURES = 50;
/** Refunds per payment: the same bound, so a payment and its objects stay one small answer. */
export const MAX_REFUNDS = 50;

export interface Payment {
  readonly id: string;
  readonly merchantId: string;
  readonly amount: number;
  readonly currency: string;
  readonly status: PaymentStatus;
  readonly capturedAmount: number;
  readonly refundedAmount: number;
  readonly reference: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  /** When the authorization lapses; null only for payments closed before it was recorded. */
  readonly captureBefore: Date | null;
  /** 1 at authorization, +1 per change: the `version` of the event each change emits. */
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A capture or a refund: an object of its own, created by one request, listed on its payment. */
export interface PaymentOperation {
  readonly kind: "capture" | "refund";
  readonly id: string;
  readonly amount: number;
  readonly reference: string | null;
  /** Captures: whether this capture closed the authorization. */
  readonly final: boolean | null;
  readonly createdAt: Date;
}

export interface CaptureView {
  readonly id: string;
  readonly amount: number;
  readonly reference: string | null;
  readonly final: boolean;
  readonly createdAt: string;
}

export interface RefundView {
  readonly id: string;
  readonly paymentId: string;
  readonly amount: number;
  readonly currency: string;
  readonly reference: string | null;
  /** Refunds complete with the request: there is no processor behind this service. */
  readonly status: "succeeded";
  readonly createdAt: string;
}

/** What the API returns for a payment (the card token is never echoed). */
export interface PaymentView {
  readonly id: string;
  readonly merchantId: string;
  readonly status: PaymentStatus;
  readonly amount: number;
  readonly currency: string;
  /** ISO 4217 minor-unit exponent: amounts are in 10^-exponent of the currency. */
  readonly currencyExponent: number;
  readonly capturedAmount: number;
  readonly refundedAmount: number;
  /** What a capture may still take: the uncaptured rest while the authorization is open. */
  readonly capturableAmount: number;
  /** The uncaptured rest released by the final capture, a void or the expiry. */
  readonly releasedAmount: number;
  readonly reference: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly captureBefore: string | null;
  readonly captures: readonly CaptureView[];
  readonly refunds: readonly RefundView[];
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** The answer to a refund: the refund, with its payment as it stands after it. */
export interface RefundAnswer extends RefundView {
  readonly payment: PaymentView;
}

export function capturableOf(payment: Payment): number {
  return OPEN.has(payment.status) ? payment.amount - payment.capturedAmount : 0;
}

export function releasedOf(payment: Payment): number {
  return OPEN.has(payment.status) ? 0 : payment.amount - payment.capturedAmount;
}

export function exponentOf(currency: string): number {
  return currencyOf(currency)?.exponent ?? 2;
}

export function refundView(
  payment: Pick<Payment, "id" | "currency">,
  refund: PaymentOperation,
): RefundView {
  return {
    id: refund.id,
    paymentId: payment.id,
    amount: refund.amount,
    currency: payment.currency,
    reference: refund.reference,
    status: "succeeded",
    createdAt: refund.createdAt.toISOString(),
  };
}

export function toView(payment: Payment, operations: readonly PaymentOperation[]): PaymentView {
  return {
    id: payment.id,
    merchantId: payment.merchantId,
    status: payment.status,
    amount: payment.amount,
    currency: payment.currency,
    currencyExponent: exponentOf(payment.currency),
    capturedAmount: payment.capturedAmount,
    refundedAmount: payment.refundedAmount,
    capturableAmount: capturableOf(payment),
    releasedAmount: releasedOf(payment),
    reference: payment.reference,
    metadata: payment.metadata,
    captureBefore: payment.captureBefore?.toISOString() ?? null,
    captures: operations
      .filter((o) => o.kind === "capture")
      .map((o) => ({
        id: o.id,
        amount: o.amount,
        reference: o.reference,
        final: o.final ?? true,
        createdAt: o.createdAt.toISOString(),
      })),
    refunds: operations.filter((o) => o.kind === "refund").map((o) => refundView(payment, o)),
    version: payment.version,
    createdAt: payment.createdAt.toISOString(),
    updatedAt: payment.updatedAt.toISOString(),
  };
}

/** A state change decided from the current payment, before anything is written. */
export interface PlannedChange {
  readonly status: PaymentStatus;
  readonly capturedAmount: number;
  readonly refundedAmount: number;
  readonly eventType: PaymentEventType;
  /** Minor units moved by this change (the event's `amount`). */
  readonly eventAmount: number;
  /** The capture or refund this change creates. */
  readonly operation?: Omit<PaymentOperation, "createdAt">;
}

/** The status once the capture is closed, from what was captured and refunded. */
function closedStatus(captured: number, refunded: number): PaymentStatus {
  if (refunded === 0) return "captured";
  return refunded < captured ? "partially_refunded" : "refunded";
}

function count(operations: readonly PaymentOperation[], kind: PaymentOperation["kind"]): number {
  return operations.filter((o) => o.kind === kind).length;
}

/**
 * The amount of a capture or refund under the rules its payment was authorized with. The
 * per-currency maximum is not applied (the capturable or refundable rest bounds it), and the
 * three-decimal step ("round amounts to the nearest ten") only when the payment's own amount
 * keeps it and the amount is not exactly what is left: a payment authorized before these rules
 * (migration 005; 001-004 took any currency and 1..10^12 with no step) must stay capturable and
 * refundable to its last minor unit, in one call. Amounts arrive as whole minor units from 1 to
 * 10^12 (parseMinorUnits).
 */
function operationAmount(payment: Payment, amount: number, rest?: number): number {
  const currency = currencyOf(payment.currency);
  if (!currency || currency.step === 1 || amount === rest) return amount;
  if (payment.amount % currency.step !== 0) return amount;
  return parseAmount(amount, { ...currency, minAmount: 1, maxAmount: MAX_AMOUNT_MINOR });
}

export interface CaptureRequest {
  /** Minor units; the whole capturable rest when left out (Stripe's `amount_to_capture`). */
  readonly amount?: number;
  /** Release the rest after this capture (default true, Stripe's `final_capture`). */
  readonly final: boolean;
  readonly reference?: string;
  readonly captureId: string;
  readonly at: Date;
}

export function planCapture(
  payment: Payment,
  operations: readonly PaymentOperation[],
  request: CaptureRequest,
): PlannedChange {
  if (!OPEN.has(payment.status)) throw new IllegalTransitionError(payment.status, "capture");
  if (payment.captureBefore && request.at.getTime() >= payment.captureBefore.getTime()) {
    throw new AuthorizationExpiredError(payment.captureBefore);
  }
  const capturable = payment.amount - payment.capturedAmount;
  const amount =
    request.amount === undefined ? capturable : operationAmount(payment, request.amount);
  if (amount > capturable) throw new CaptureExceedsCapturableError(capturable);
  if (count(operations, "capture") >= MAX_CAPTURES) {
    throw new OperationLimitError("capture", MAX_CAPTURES);
  }
  const captured = payment.capturedAmount + amount;
  // Capturing the whole rest closes the authorization whatever finalCapture says.
  const final = request.final || captured === payment.amount;
  return {
    status: final ? closedStatus(captured, payment.refundedAmount) : "partially_captured",
    capturedAmount: captured,
    refundedAmount: payment.refundedAmount,
    eventType: PAYMENT_EVENTS.captured,
    eventAmount: amount,
    operation: {
      kind: "capture",
      id: request.captureId,
      amount,
      reference: request.reference ?? null,
      final,
    },
  };
}

/**
 * Releases what is not captured: an authorized payment becomes voided; a partially captured one
 * closes its capture (the captured part stays captured and refundable).
 */
export function planVoid(payment: Payment): PlannedChange {
  if (!OPEN.has(payment.status)) throw new IllegalTransitionError(payment.status, "void");
  return {
    status:
      payment.capturedAmount === 0
        ? "voided"
        : closedStatus(payment.capturedAmount, payment.refundedAmount),
    capturedAmount: payment.capturedAmount,
    refundedAmount: payment.refundedAmount,
    eventType: PAYMENT_EVENTS.voided,
    eventAmount: payment.amount - payment.capturedAmount,
  };
}

/** The expiry job's change: as a void, with status `expired` when nothing was captured. */
export function planExpire(payment: Payment): PlannedChange {
  if (!OPEN.has(payment.status)) throw new IllegalTransitionError(payment.status, "expire");
  return {
    ...planVoid(payment),
    status:
      payment.capturedAmount === 0
        ? "expired"
        : closedStatus(payment.capturedAmount, payment.refundedAmount),
    eventType: PAYMENT_EVENTS.expired,
  };
}

export interface RefundRequest {
  readonly amount: number;
  readonly reference?: string;
  readonly refundId: string;
}

/** Refunds add up; their sum never exceeds the captured amount. */
export function planRefund(
  payment: Payment,
  operations: readonly PaymentOperation[],
  request: RefundRequest,
): PlannedChange {
  const refundable = payment.capturedAmount - payment.refundedAmount;
  if (payment.capturedAmount === 0 || (refundable === 0 && !OPEN.has(payment.status))) {
    throw new IllegalTransitionError(payment.status, "refund");
  }
  const amount = operationAmount(payment, request.amount, refundable);
  if (amount > refundable) throw new RefundExceedsCapturedError(refundable);
  if (count(operations, "refund") >= MAX_REFUNDS) {
    throw new OperationLimitError("refund", MAX_REFUNDS);
  }
  const refunded = payment.refundedAmount + amount;
  const status =
    payment.status === "partially_captured"
      ? "partially_captured"
      : closedStatus(payment.capturedAmount, refunded);
  return {
    status,
    capturedAmount: payment.capturedAmount,
    refundedAmount: refunded,
    eventType: status === "refunded" ? PAYMENT_EVENTS.refunded : PAYMENT_EVENTS.partiallyRefunded,
    eventAmount: amount,
    operation: {
      kind: "refund",
      id: request.refundId,
      amount,
      reference: request.reference ?? null,
      final: null,
    },
  };
}

/**
 * The `detail` of a payment event, as published on EventBridge (contract: PAYMENT_EVENTS and the
 * README's "Event contract"). The payment's state after the change, and what the change moved.
 */
export interface PaymentEventDetail {
  readonly schemaVersion: typeof PAYMENT_EVENT_SCHEMA_VERSION;
  readonly eventId: string;
  readonly type: PaymentEventType;
  readonly originRegion: string;
  readonly occurredAt: string;
  /** The API request that caused the change; null for the expiry job. */
  readonly requestId: string | null;
  readonly paymentId: string;
  readonly merchantId: string;
  /** The payment's version after this change: apply an event only if newer than what you hold. */
  readonly version: number;
  readonly status: PaymentStatus;
  /** Minor units moved by this change: authorized, captured, refunded or released. */
  readonly amount: number;
  readonly currency: string;
  readonly currencyExponent: number;
  readonly authorizedAmount: number;
  readonly capturedAmount: number;
  readonly refundedAmount: number;
  readonly capturableAmount: number;
  readonly releasedAmount: number;
  readonly reference: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly captureBefore: string | null;
  /** payments.captured: the capture this event records. */
  readonly capture?: Omit<CaptureView, "createdAt">;
  /** payments.refunded / payments.partially_refunded: the refund this event records. */
  readonly refund?: {
    readonly id: string;
    readonly amount: number;
    readonly reference: string | null;
  };
}

export function eventDetail(
  payment: Payment,
  change: Pick<PlannedChange, "eventType" | "eventAmount" | "operation">,
  context: { eventId: string; originRegion: string; requestId: string | null },
): PaymentEventDetail {
  const { operation } = change;
  return {
    schemaVersion: PAYMENT_EVENT_SCHEMA_VERSION,
    eventId: context.eventId,
    type: change.eventType,
    originRegion: context.originRegion,
    occurredAt: payment.updatedAt.toISOString(),
    requestId: context.requestId,
    paymentId: payment.id,
    merchantId: payment.merchantId,
    version: payment.version,
    status: payment.status,
    amount: change.eventAmount,
    currency: payment.currency,
    currencyExponent: exponentOf(payment.currency),
    authorizedAmount: payment.amount,
    capturedAmount: payment.capturedAmount,
    refundedAmount: payment.refundedAmount,
    capturableAmount: capturableOf(payment),
    releasedAmount: releasedOf(payment),
    reference: payment.reference,
    metadata: payment.metadata,
    captureBefore: payment.captureBefore?.toISOString() ?? null,
    ...(operation?.kind === "capture"
      ? {
          capture: {
            id: operation.id,
            amount: operation.amount,
            reference: operation.reference,
            final: operation.final ?? true,
          },
        }
      : {}),
    ...(operation?.kind === "refund"
      ? { refund: { id: operation.id, amount: operation.amount, reference: operation.reference } }
      : {}),
  };
}
