// POST /payments/{id}/refund: refund part or all of what was captured, as a refund object of its
// own (Stripe's Refund: "You can optionally refund only part of a charge. You can do so multiple
// times, until the entire charge has been refunded", docs.stripe.com/api/refunds/create). The
// amount is required, as in Adyen's refunds: a retry bug never refunds everything by default.
import { PaymentNotFoundError } from "../shared/errors";
import { header, jsonObjectBody, requestHash } from "../shared/http-api";
import { planRefund, refundView } from "../shared/payment";
import type { ApiAnswer } from "../shared/ports";
import type { ApiRequest } from "../shared/runtime";
import {
  expectFields,
  isPaymentId,
  parseIdempotencyKey,
  parseMinorUnits,
  parseReference,
} from "../shared/validation";
import { runTransition } from "../shared/write-core";
import type { WriteDeps } from "../shared/write-core";

export interface RefundCommand {
  readonly merchantId: string;
  readonly paymentId: string;
  /** Minor units; the currency's own rules follow in the plan. */
  readonly amount: number;
  readonly reference?: string;
  readonly idempotencyKey: string;
  readonly requestHash: string;
  readonly requestId: string;
}

export function parseRefund(request: ApiRequest): RefundCommand {
  const paymentId = request.pathParameters?.id;
  if (!isPaymentId(paymentId)) throw new PaymentNotFoundError(String(paymentId));
  const idempotencyKey = parseIdempotencyKey(header(request, "idempotency-key"));
  const body = jsonObjectBody(request);
  expectFields(body, ["amount"], ["reference"]);
  const reference = parseReference(body.reference);
  const amount = parseMinorUnits(body.amount);
  return {
    merchantId: request.merchantId,
    requestId: request.requestId,
    paymentId,
    amount,
    reference,
    idempotencyKey,
    requestHash: requestHash({ operation: "refund", paymentId, amount, reference }),
  };
}

export function refund(command: RefundCommand, deps: WriteDeps): Promise<ApiAnswer> {
  const refundId = deps.newId();
  return runTransition(
    {
      merchantId: command.merchantId,
      requestId: command.requestId,
      operation: "refund",
      paymentId: command.paymentId,
      idempotencyKey: command.idempotencyKey,
      requestHash: command.requestHash,
      at: deps.now(),
      plan: (payment, operations) =>
        planRefund(payment, operations, {
          amount: command.amount,
          reference: command.reference,
          refundId,
        }),
      // 201 with the refund, and the payment as it stands after it.
      respond: (view, created) => ({
        statusCode: 201,
        body: { ...refundView(view, created!), payment: view },
      }),
    },
    deps,
  );
}
