// POST /payments/{id}/void: release what is not captured. An authorized payment becomes voided;
// a partially captured one closes its capture (what was captured stays captured).
import { PaymentNotFoundError } from "../shared/errors";
import { header, jsonObjectBody, requestHash } from "../shared/http-api";
import type { ApiRequest } from "../shared/runtime";
import { planVoid } from "../shared/payment";
import type { ApiAnswer } from "../shared/ports";
import { expectFields, isPaymentId, parseIdempotencyKey } from "../shared/validation";
import { runTransition } from "../shared/write-core";
import type { WriteDeps } from "../shared/write-core";

export interface VoidCommand {
  readonly merchantId: string;
  readonly paymentId: string;
  readonly idempotencyKey: string;
  readonly requestHash: string;
  readonly requestId: string;
}

export function parseVoid(request: ApiRequest): VoidCommand {
  const paymentId = request.pathParameters?.id;
  if (!isPaymentId(paymentId)) throw new PaymentNotFoundError(String(paymentId));
  const idempotencyKey = parseIdempotencyKey(header(request, "idempotency-key"));
  expectFields(jsonObjectBody(request, { emptyAllowed: true }), []);
  return {
    merchantId: request.merchantId,
    requestId: request.requestId,
    paymentId,
    idempotencyKey,
    requestHash: requestHash({ operation: "void", paymentId }),
  };
}

export function voidPayment(command: VoidCommand, deps: WriteDeps): Promise<ApiAnswer> {
  return runTransition(
    {
      merchantId: command.merchantId,
      requestId: command.requestId,
      operation: "void",
      paymentId: command.paymentId,
      idempotencyKey: command.idempotencyKey,
      requestHash: command.requestHash,
      at: deps.now(),
      plan: (payment) => planVoid(payment),
    },
    deps,
  );
}
