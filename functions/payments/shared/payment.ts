// The payment model and its lifecycle. Pure: the database enforces the same rules (see
// functions/payments/migrations/001_payments.sql), this module decides them first so callers
// get a precise error instead of a constraint violation.
import { PAYMENT_EVENTS } from "../../common/contract";
import {
  IllegalTransitionError,
  RefundExceedsCapturedError,
  RequestValidationError,
} from "./errors";

export type PaymentStatus =
  "authorized" | "captured" | "partially_refunded" | "refunded" | "voided";
export type Operation = "authorize" | "capture" | "refund" | "void";
export type PaymentEventType = (typeof PAYMENT_EVENTS)[keyof typeof PAYMENT_EVENTS];

/** authorized -> captured -> partially_refunded / refunded, or authorized -> voided. */
export const LEGAL_TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  authorized: ["captured", "voided"],
  captured: ["partially_refunded", "refunded"],
  partially_refunded: ["partially_refunded", "refunded"],
  refunded: [],
  voided: [],
};

export interface Payment {
  readonly id: string;
  readonly merchantId: string;
  readonly amount: number;
  readonly currency: string;
  readonly status: PaymentStatus;
  readonly capturedAmount: number;
  readonly refundedAmount: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** What the API returns for a payment (the card token is never echoed). */
export interface PaymentView {
  readonly id: string;
  readonly merchantId: string;
  readonly status: PaymentStatus;
  readonly amount: number;
  readonly currency: string;
  readonly capturedAmount: number;
  readonly refundedAmount: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function toView(payment: Payment): PaymentView {
  return {
    id: payment.id,
    merchantId: payment.merchantId,
    status: payment.status,
    amount: payment.amount,
    currency: payment.currency,
    capturedAmount: payment.capturedAmount,
    refundedAmount: payment.refundedAmount,
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
}

function assertLegal(payment: Payment, next: PaymentStatus, operation: Operation): void {
  if (!LEGAL_TRANSITIONS[payment.status].includes(next)) {
    throw new IllegalTransitionError(payment.status, operation);
  }
}

/**
 * Full capture only: a partial capture would leave the rest of the authorization dangling,
 * so `amount`, when sent, must equal the authorized amount.
 */
export function planCapture(payment: Payment, amount: number | undefined): PlannedChange {
  assertLegal(payment, "captured", "capture");
  if (amount !== undefined && amount !== payment.amount) {
    throw new RequestValidationError(
      422,
      "partial_capture_not_supported",
      `capture takes the full authorized amount (${payment.amount})`,
      "amount",
    );
  }
  return {
    status: "captured",
    capturedAmount: payment.amount,
    refundedAmount: 0,
    eventType: PAYMENT_EVENTS.captured,
    eventAmount: payment.amount,
  };
}

export function planVoid(payment: Payment): PlannedChange {
  assertLegal(payment, "voided", "void");
  return {
    status: "voided",
    capturedAmount: 0,
    refundedAmount: 0,
    eventType: PAYMENT_EVENTS.voided,
    eventAmount: payment.amount,
  };
}

/** Refunds add up; their sum never exceeds the captured amount. */
export function planRefund(payment: Payment, amount: number): PlannedChange {
  if (payment.status !== "captured" && payment.status !== "partially_refunded") {
    throw new IllegalTransitionError(payment.status, "refund");
  }
  const refundable = payment.capturedAmount - payment.refundedAmount;
  if (amount > refundable) throw new RefundExceedsCapturedError(refundable);
  const refunded = payment.refundedAmount + amount;
  const full = refunded === payment.capturedAmount;
  return {
    status: full ? "refunded" : "partially_refunded",
    capturedAmount: payment.capturedAmount,
    refundedAmount: refunded,
    eventType: full ? PAYMENT_EVENTS.refunded : PAYMENT_EVENTS.partiallyRefunded,
    eventAmount: amount,
  };
}

/** The `detail` of a payment event, as published on EventBridge. */
export interface PaymentEventDetail {
  readonly eventId: string;
  readonly originRegion: string;
  readonly paymentId: string;
  readonly merchantId: string;
  readonly status: PaymentStatus;
  readonly amount: number;
  readonly currency: string;
  readonly authorizedAmount: number;
  readonly capturedAmount: number;
  readonly refundedAmount: number;
  readonly occurredAt: string;
}

export function eventDetail(
  payment: Payment,
  change: { eventId: string; amount: number; originRegion: string },
): PaymentEventDetail {
  return {
    eventId: change.eventId,
    originRegion: change.originRegion,
    paymentId: payment.id,
    merchantId: payment.merchantId,
    status: payment.status,
    amount: change.amount,
    currency: payment.currency,
    authorizedAmount: payment.amount,
    capturedAmount: payment.capturedAmount,
    refundedAmount: payment.refundedAmount,
    occurredAt: payment.updatedAt.toISOString(),
  };
}
