// GET /payments/{id}: read a payment. Served in either region (reads are not fenced).
import { PaymentNotFoundError } from "../shared/errors";
import type { HttpRequest } from "../shared/http-api";
import { toView } from "../shared/payment";
import type { PaymentView } from "../shared/payment";
import type { PaymentStore } from "../shared/ports";
import { isPaymentId } from "../shared/validation";

export function parseGetPayment(request: HttpRequest): string {
  const paymentId = request.pathParameters?.id;
  if (!isPaymentId(paymentId)) throw new PaymentNotFoundError(String(paymentId));
  return paymentId;
}

export async function getPayment(
  paymentId: string,
  deps: { store: Pick<PaymentStore, "find"> },
): Promise<PaymentView> {
  const payment = await deps.store.find(paymentId);
  if (!payment) throw new PaymentNotFoundError(paymentId);
  return toView(payment);
}
