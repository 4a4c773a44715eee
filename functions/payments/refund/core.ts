// POST /payments/{id}/refund: refund part or all of a captured payment. Refunds add up and
// never exceed the captured amount.
import { PaymentNotFoundError } from "../shared/errors";
import { header, jsonObjectBody, requestHash } from "../shared/http-api";
import type { ApiRequest } from "../shared/runtime";
import { planRefund } from "../shared/payment";
import type { ApiAnswer } from "../shared/ports";
import { expectFields, isPaymentId, parseAmount, parseIdempotencyKey } from "../shared/validation";
import { runTransition } from "../shared/write-core";
import type { WriteDeps } from "../shared/write-core";

export interface RefundCommand {
  readonly merchantId: string;
  readonly paymentId: string;
  readonly amount: number;
  readonly idempotencyKey: string;
  readonly requestHash: string;
  readonly requestId: string;
}

export function parseRefund(request: ApiRequest): RefundCommand {
  const paymentId = request.pathParameters?.id;
  if (!isPaymentId(paymentId)) throw new PaymentNotFoundError(String(paymentId));
  const idempotencyKey = parseIdempotencyKey(header(request, "idempotency-key"));
  const body = jsonObjectBody(request);
  expectFields(body, ["amount"]);
  const amount = parseAmount(body.amount);
  return {
    merchantId: request.merchantId,
    requestId: request.requestId,
    paymentId,
    amount,
    idempotencyKey,
    requestHash: requestHash({ operation: "refund", paymentId, amount }),
  };
}

export function refund(command: RefundCommand, deps: WriteDeps): Promise<ApiAnswer> {
  return runTransition(
    {
      merchantId: command.merchantId,
      requestId: command.requestId,
      operation: "refund",
      paymentId: command.paymentId,
      idempotencyKey: command.idempotencyKey,
      requestHash: command.requestHash,
      plan: (payment) => planRefund(payment, command.amount),
    },
    deps,
  );
}
