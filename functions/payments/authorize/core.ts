// POST /payments: authorize a payment. Idempotent on (merchant, Idempotency-Key).
import { header, jsonObjectBody, requestHash } from "../shared/http-api";
import type { ApiAnswer, SessionTouch } from "../shared/ports";
import type { ApiRequest } from "../shared/runtime";
import {
  expectFields,
  parseAmount,
  parseCardToken,
  parseCurrency,
  parseIdempotencyKey,
  parseMetadata,
  parseReference,
  parseSessionId,
  resolveMerchantId,
} from "../shared/validation";
import { toAnswer } from "../shared/write-core";
import type { WriteDeps } from "../shared/write-core";

/** Capture window when CAPTURE_WINDOW_HOURS is unset: 7 days, Stripe's default ("Uncaptured
 * PaymentIntents are cancelled a set number of days (7 by default) after their creation"). */
export const DEFAULT_CAPTURE_WINDOW_HOURS = 168;
/** Up to 30 days: the longest hold Stripe documents for a card (JPY, "for up to 30 days"). */
export const MAX_CAPTURE_WINDOW_HOURS = 720;

export interface AuthorizeCommand {
  readonly merchantId: string;
  readonly cardToken: string;
  readonly amount: number;
  readonly currency: string;
  readonly reference?: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly idempotencyKey: string;
  /** The checkout session (header x-session-id), recorded best effort. */
  readonly sessionId?: string;
  readonly requestHash: string;
  readonly requestId: string;
}

export function parseAuthorize(request: ApiRequest): AuthorizeCommand {
  const idempotencyKey = parseIdempotencyKey(header(request, "idempotency-key"));
  const sessionId = parseSessionId(header(request, "x-session-id"));
  const body = jsonObjectBody(request);
  expectFields(body, ["cardToken", "amount", "currency"], ["merchantId", "reference", "metadata"]);
  const currency = parseCurrency(body.currency);
  const fields = {
    // The key's merchant, also when the body leaves it out: the hash is the same either way.
    merchantId: resolveMerchantId(body.merchantId, request.merchantId),
    cardToken: parseCardToken(body.cardToken),
    amount: parseAmount(body.amount, currency),
    currency: currency.code,
    reference: parseReference(body.reference),
    metadata: parseMetadata(body.metadata),
  };
  return {
    ...fields,
    idempotencyKey,
    sessionId,
    requestId: request.requestId,
    requestHash: requestHash({
      operation: "authorize",
      ...fields,
      // Absent and empty metadata are the same request; older records hashed neither field.
      metadata: Object.keys(fields.metadata).length > 0 ? fields.metadata : undefined,
    }),
  };
}

export interface AuthorizeDeps extends WriteDeps {
  /** Records the checkout session; must not throw (sessions are off the critical path). */
  readonly recordSession: (touch: SessionTouch) => Promise<void>;
  /** How long the authorization may be captured (CAPTURE_WINDOW_HOURS). */
  readonly captureWindowHours: number;
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
    reference: command.reference ?? null,
    metadata: command.metadata,
    captureBefore: new Date(at.getTime() + deps.captureWindowHours * 3_600_000),
    idempotencyKey: command.idempotencyKey,
    requestHash: command.requestHash,
    requestId: command.requestId,
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
