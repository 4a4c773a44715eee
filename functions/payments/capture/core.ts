// POST /payments/{id}/capture: capture all or part of an authorization, once or several times.
// Stripe's `amount_to_capture` (default: all that is capturable) and `final_capture` (default
// true: the rest is released), Adyen's capture `reference` (docs.stripe.com/payments/multicapture,
// docs.adyen.com/api-explorer/Checkout/71/post/payments/_paymentPspReference_/captures).
import { PaymentNotFoundError } from "../shared/errors";
import { header, jsonObjectBody, requestHash } from "../shared/http-api";
import { planCapture } from "../shared/payment";
import type { ApiAnswer } from "../shared/ports";
import type { ApiRequest } from "../shared/runtime";
import {
  expectFields,
  isPaymentId,
  parseBoolean,
  parseIdempotencyKey,
  parseMinorUnits,
  parseReference,
} from "../shared/validation";
import { runTransition } from "../shared/write-core";
import type { WriteDeps } from "../shared/write-core";

export interface CaptureCommand {
  readonly merchantId: string;
  readonly paymentId: string;
  /** Minor units; all that is capturable when left out. Checked against the payment's currency. */
  readonly amount?: number;
  /** Release the rest of the authorization after this capture. @default true */
  readonly finalCapture: boolean;
  readonly reference?: string;
  readonly idempotencyKey: string;
  readonly requestHash: string;
  readonly requestId: string;
}

export function parseCapture(request: ApiRequest): CaptureCommand {
  const paymentId = request.pathParameters?.id;
  if (!isPaymentId(paymentId)) throw new PaymentNotFoundError(String(paymentId));
  const idempotencyKey = parseIdempotencyKey(header(request, "idempotency-key"));
  const body = jsonObjectBody(request, { emptyAllowed: true });
  expectFields(body, [], ["amount", "finalCapture", "reference"]);
  const finalCapture = parseBoolean(body.finalCapture, "finalCapture", true);
  const reference = parseReference(body.reference);
  // The currency's own rules (three-decimal step) follow in the plan, which knows the currency.
  const amount = body.amount === undefined ? undefined : parseMinorUnits(body.amount);
  return {
    merchantId: request.merchantId,
    requestId: request.requestId,
    paymentId,
    amount,
    finalCapture,
    reference,
    idempotencyKey,
    requestHash: requestHash({
      operation: "capture",
      paymentId,
      amount,
      // Defaults are left out, so a request that spells them out is the same request.
      finalCapture: finalCapture ? undefined : false,
      reference,
    }),
  };
}

export function capture(command: CaptureCommand, deps: WriteDeps): Promise<ApiAnswer> {
  const at = deps.now();
  const captureId = deps.newId();
  return runTransition(
    {
      merchantId: command.merchantId,
      requestId: command.requestId,
      operation: "capture",
      paymentId: command.paymentId,
      idempotencyKey: command.idempotencyKey,
      requestHash: command.requestHash,
      at,
      plan: (payment, operations) =>
        planCapture(payment, operations, {
          amount: command.amount,
          final: command.finalCapture,
          reference: command.reference,
          captureId,
          at,
        }),
    },
    deps,
  );
}
