// GET /payments/{id}: read a payment. Served in either region (reads are not fenced).
import { PaymentNotFoundError } from "../shared/errors";
import type { ApiRequest } from "../shared/runtime";
import type { PaymentView } from "../shared/payment";
import type { PaymentStore } from "../shared/ports";
import { isPaymentId } from "../shared/validation";

export interface GetPaymentQuery {
  readonly merchantId: string;
  readonly paymentId: string;
}

export function parseGetPayment(request: ApiRequest): GetPaymentQuery {
  const paymentId = request.pathParameters?.id;
  if (!isPaymentId(paymentId)) throw new PaymentNotFoundError(String(paymentId));
  return { merchantId: request.merchantId, paymentId };
}

export async function getPayment(
  query: GetPaymentQuery,
  deps: { store: Pick<PaymentStore, "find"> },
): Promise<PaymentView> {
  const payment = await deps.store.find(query.merchantId, query.paymentId);
  if (!payment) throw new PaymentNotFoundError(query.paymentId);
  return payment;
}
