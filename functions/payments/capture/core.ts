// POST /payments/{id}/capture: capture an authorized payment in full.
import { PaymentNotFoundError } from "../shared/errors";
import { header, jsonObjectBody, requestHash } from "../shared/http-api";
import type { ApiRequest } from "../shared/runtime";
import { planCapture } from "../shared/payment";
import type { ApiAnswer } from "../shared/ports";
import { expectFields, isPaymentId, parseAmount, parseIdempotencyKey } from "../shared/validation";
import { runTransition } from "../shared/write-core";
import type { WriteDeps } from "../shared/write-core";

export interface CaptureCommand {
  readonly merchantId: string;
  readonly paymentId: string;
  /** When sent, must equal the authorized amount (no partial capture). */
  readonly amount?: number;
  readonly idempotencyKey: string;
  readonly requestHash: string;
  readonly requestId: string;
}

export function parseCapture(request: ApiRequest): CaptureCommand {
  const paymentId = request.pathParameters?.id;
  if (!isPaymentId(paymentId)) throw new PaymentNotFoundError(String(paymentId));
  const idempotencyKey = parseIdempotencyKey(header(request, "idempotency-key"));
  const body = jsonObjectBody(request, { emptyAllowed: true });
  expectFields(body, [], ["amount"]);
  const amount = body.amount === undefined ? undefined : parseAmount(body.amount);
  return {
    merchantId: request.merchantId,
    requestId: request.requestId,
    paymentId,
    amount,
    idempotencyKey,
    requestHash: requestHash({ operation: "capture", paymentId, amount }),
  };
}

export function capture(command: CaptureCommand, deps: WriteDeps): Promise<ApiAnswer> {
  return runTransition(
    {
      merchantId: command.merchantId,
      requestId: command.requestId,
      operation: "capture",
      paymentId: command.paymentId,
      idempotencyKey: command.idempotencyKey,
      requestHash: command.requestHash,
      plan: (payment) => planCapture(payment, command.amount),
    },
    deps,
  );
}
