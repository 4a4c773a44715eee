// Rebuilding the API request that wrote a lost change, from what the old copy recorded, through
// the payment API's own parsers: the request hash they compute must equal the one recorded under
// the idempotency key, or the change is not replayed (we would not be sending the same request).
import { parseAuthorize } from "../payments/authorize/core";
import type { AuthorizeCommand } from "../payments/authorize/core";
import { parseCapture } from "../payments/capture/core";
import type { CaptureCommand } from "../payments/capture/core";
import { parseRefund } from "../payments/refund/core";
import type { RefundCommand } from "../payments/refund/core";
import { parseVoid } from "../payments/void/core";
import type { VoidCommand } from "../payments/void/core";
import type { ApiRequest } from "../payments/shared/runtime";
import type { EventRow, KeyRow, PaymentRow } from "./model";

export type Rebuilt =
  | {
      readonly kind: "authorize";
      readonly command: AuthorizeCommand;
      readonly captureWindowHours: number;
    }
  | { readonly kind: "capture"; readonly command: CaptureCommand }
  | { readonly kind: "refund"; readonly command: RefundCommand }
  | { readonly kind: "void"; readonly command: VoidCommand };

function request(
  key: KeyRow,
  body: Record<string, unknown>,
  pathParameters?: Record<string, string>,
): ApiRequest {
  return {
    headers: { "idempotency-key": key.idempotencyKey },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    ...(pathParameters ? { pathParameters } : {}),
    // The original request's id: the replayed event and record name the request they restore.
    requestId: key.requestId ?? `reconcile-${key.idempotencyKey}`,
    merchantId: key.merchantId,
  };
}

/**
 * The request behind `event`, parsed by the API's parser, when its hash is the recorded one;
 * otherwise why not (a human decides).
 */
export function rebuildRequest(
  payment: PaymentRow,
  event: EventRow,
  key: KeyRow,
): { ok: true; rebuilt: Rebuilt } | { ok: false; reason: string } {
  const mismatch = {
    ok: false as const,
    reason: `the request rebuilt from the old copy does not hash to the one recorded under key ${key.idempotencyKey}: not the same request, so it is not replayed`,
  };
  try {
    switch (event.type) {
      case "payments.authorized": {
        const hours =
          payment.captureBefore === null
            ? NaN
            : (payment.captureBefore.getTime() - payment.createdAt.getTime()) / 3_600_000;
        if (!Number.isInteger(hours) || hours < 1) {
          return {
            ok: false,
            reason: `its capture window (${payment.captureBefore?.toISOString() ?? "none"} - ${payment.createdAt.toISOString()}) is not a whole number of hours: the authorization cannot be rebuilt as it was`,
          };
        }
        const body: Record<string, unknown> = {
          cardToken: payment.cardToken,
          amount: payment.amount,
          currency: payment.currency,
        };
        if (payment.reference !== null) body.reference = payment.reference;
        if (Object.keys(payment.metadata).length > 0) body.metadata = payment.metadata;
        const command = parseAuthorize(request(key, body));
        if (command.requestHash !== key.requestHash) return mismatch;
        return { ok: true, rebuilt: { kind: "authorize", command, captureWindowHours: hours } };
      }
      case "payments.captured": {
        const base: Record<string, unknown> = {};
        if (event.finalCapture === false) base.finalCapture = false;
        if (event.operationReference !== null) base.reference = event.operationReference;
        // The merchant may have sent the amount or left it out (all that was capturable).
        for (const body of [{ ...base, amount: event.amount }, base]) {
          const command = parseCapture(request(key, body, { id: payment.id }));
          if (command.requestHash === key.requestHash) {
            return { ok: true, rebuilt: { kind: "capture", command } };
          }
        }
        return mismatch;
      }
      case "payments.partially_refunded":
      case "payments.refunded": {
        const body: Record<string, unknown> = { amount: event.amount };
        if (event.operationReference !== null) body.reference = event.operationReference;
        const command = parseRefund(request(key, body, { id: payment.id }));
        if (command.requestHash !== key.requestHash) return mismatch;
        return { ok: true, rebuilt: { kind: "refund", command } };
      }
      case "payments.voided": {
        const command = parseVoid(request(key, {}, { id: payment.id }));
        if (command.requestHash !== key.requestHash) return mismatch;
        return { ok: true, rebuilt: { kind: "void", command } };
      }
      case "payments.expired":
        return { ok: false, reason: "an expiry is not a request: nothing to replay" };
    }
  } catch (error) {
    return {
      ok: false,
      reason: `the payment API refuses the rebuilt request (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`,
    };
  }
}
