// POST /payments: authorize a payment. Idempotent on (merchantId, Idempotency-Key).
import { header, jsonObjectBody, requestHash } from "../shared/http-api";
import type { ApiRequest } from "../shared/runtime";
import type { ApiAnswer, SessionTouch } from "../shared/ports";
import {
  expectFields,
  parseAmount,
  parseCardToken,
  parseCurrency,
  parseIdempotencyKey,
  parseSessionId,
  resolveMerchantId,
} from "../shared/validation";
import { toAnswer } from "../shared/write-core";
import type { WriteDeps } from "../shared/write-core";

export interface AuthorizeCommand {
  readonly merchantId: string;
  readonly cardToken: string;
  readonly amount: number;
  readonly currency: string;
  readonly idempotencyKey: string;
  /** The checkout session (header x-session-id), recorded best effort. */
  readonly sessionId?: string;
  readonly requestHash: string;
}

export function parseAuthorize(request: ApiRequest): AuthorizeCommand {
  const idempotencyKey = parseIdempotencyKey(header(request, "idempotency-key"));
  const sessionId = parseSessionId(header(request, "x-session-id"));
  const body = jsonObjectBody(request);
  expectFields(body, ["cardToken", "amount", "currency"], ["merchantId"]);
  const fields = {
    // The key's merchant, also when the body leaves it out: the hash is the same either way.
    merchantId: resolveMerchantId(body.merchantId, request.merchantId),
    cardToken: parseCardToken(body.cardToken),
    amount: parseAmount(body.amount),
    currency: parseCurrency(body.currency),
  };
  return {
    ...fields,
    idempotencyKey,
    sessionId,
    requestHash: requestHash({ operation: "authorize", ...fields }),
  };
}

export interface AuthorizeDeps extends WriteDeps {
  /** Records the checkout session; must not throw (sessions are off the critical path). */
  readonly recordSession: (touch: SessionTouch) => Promise<void>;
}

export async function authorize(
  command: AuthorizeCommand,
  deps: AuthorizeDeps,
): Promise<ApiAnswer> {
  const at = deps.now();
  const paymentId = deps.newId();
  const result = await deps.store.authorize({
    paymentId,
    merchantId: command.merchantId,
    cardToken: command.cardToken,
    amount: command.amount,
    currency: command.currency,
    idempotencyKey: command.idempotencyKey,
    requestHash: command.requestHash,
    eventId: deps.newId(),
    originRegion: deps.region,
    at,
  });
  if (!result.replayed) {
    const { sessionId } = command;
    await Promise.all([
      deps.afterCommit(result.events),
      sessionId &&
        deps.recordSession({
          sessionId,
          merchantId: command.merchantId,
          paymentId,
          region: deps.region,
          at,
        }),
    ]);
  }
  return toAnswer(result);
}
