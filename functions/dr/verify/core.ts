// Proves the target region takes payments: GET /health, then a synthetic payment and its void
// through the target region's own API (API key from the target region's SSM). The payment's
// Idempotency-Key is derived from the run id, so a retry or a resumed run replays the same
// payment instead of creating another.
import { DR_SYNTHETIC_MERCHANT, PARAMETERS } from "../../common/contract";
import { answersWritable } from "../../common/taking-over";
import type { DrDeps } from "../shared/deps";
import { VerificationFailedError } from "../shared/errors";
import type { HttpResponse } from "../shared/ports";
import { apiBase, parameterName } from "../shared/topology";
import type { StepTimes, VerifyResult, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type VerifyOutcome = Omit<VerifyResult, keyof StepTimes>;

export const SYNTHETIC_PAYMENT = {
  amount: 1,
  currency: "USD",
  merchantId: DR_SYNTHETIC_MERCHANT,
  cardToken: "tok_dr_synthetic",
} as const;

export function verifyIdempotencyKey(failoverId: string): string {
  return `dr-verify-${failoverId}`;
}

/**
 * How long Verify keeps re-sending a request the stage throttle refused (429), ms, across the
 * task: from the proof on, merchants' clients are routed to the target and their writes answer
 * 503 `region_fenced` until Unfence, so their retries share the route's token bucket with this
 * task's synthetic payment (API Gateway: "429 Too Many Requests" when the throttle is exceeded,
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html). Worst
 * case with the 5 s HTTP timeout: health, payment and void at 5 s each + 8 s = 23 s, inside the
 * function's 28 s.
 */
export const THROTTLE_RETRY_BUDGET_MS = 8_000;
const THROTTLE_RETRY_PAUSE_MS = [100, 400] as const;

export async function verify(state: WorkflowState, deps: DrDeps): Promise<VerifyOutcome> {
  const { request } = state;
  const base = apiBase(deps.topology, request.targetRegion);
  const parameters = deps.ports(request.targetRegion, "critical").parameters;
  const apiKey = drApiKey(
    await parameters.get(parameterName(deps.topology, PARAMETERS.drVerifyApiKey), true),
  );
  const timeoutMs = deps.settings.httpTimeoutMs;
  let throttledMs = 0;
  const send = async (
    method: "GET" | "POST",
    path: string,
    options: { headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<HttpResponse> => {
    try {
      return await deps.http.request(method, `${base}${path}`, { ...options, timeoutMs });
    } catch (error) {
      throw new VerificationFailedError(
        `${method} ${path} in ${request.targetRegion} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  };

  const call = async (
    method: "GET" | "POST",
    path: string,
    options: { headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<HttpResponse> => {
    for (;;) {
      const started = Date.now();
      const response = await send(method, path, options);
      if (response.status !== 429 || throttledMs >= THROTTLE_RETRY_BUDGET_MS) return response;
      const [low, high] = THROTTLE_RETRY_PAUSE_MS;
      const pause = low + Math.random() * (high - low);
      await new Promise((resolve) => setTimeout(resolve, pause));
      throttledMs += Date.now() - started;
    }
  };

  // Verify runs before Unfence, so the target answers "taking-over": only with its own cluster
  // writable (promoted) does that say the database takes writes (review 23 L3); in recovery
  // it proves nothing yet.
  const health = await call("GET", "/health");
  if (!answersWritable(health)) {
    throw new VerificationFailedError(
      `GET /health in ${request.targetRegion} answered ${health.status}${statusOf(health.body)}, expected 200 with a writable database ("healthy", or "taking-over" with checks.database "writable")`,
    );
  }
  const headers = { "x-api-key": apiKey, "content-type": "application/json" };
  const payment = await call("POST", "/payments", {
    headers: { ...headers, "Idempotency-Key": verifyIdempotencyKey(request.failoverId) },
    body: SYNTHETIC_PAYMENT,
  });
  const paymentId = idOf(payment.body);
  if (payment.status < 200 || payment.status > 299 || !paymentId) {
    throw new VerificationFailedError(
      `POST /payments in ${request.targetRegion} answered ${payment.status} ${JSON.stringify(payment.body)}, expected 2xx with an id`,
    );
  }
  const voided = await call("POST", `/payments/${encodeURIComponent(paymentId)}/void`, {
    headers: { ...headers, "Idempotency-Key": `${verifyIdempotencyKey(request.failoverId)}-void` },
  });
  // 409: the payment is already voided (a retry after the void went through).
  if ((voided.status < 200 || voided.status > 299) && voided.status !== 409) {
    throw new VerificationFailedError(
      `POST /payments/${paymentId}/void in ${request.targetRegion} answered ${voided.status} ${JSON.stringify(voided.body)}`,
    );
  }
  deps.log.info("synthetic payment went through", { paymentId });
  return {
    paymentId,
    healthStatus: health.status,
    paymentStatus: payment.status,
    voidStatus: voided.status,
  };
}

/** The DR key is bound to SYNTHETIC_PAYMENT.merchantId, so it sees only synthetic payments. */
function drApiKey(raw: string | null): string {
  if (raw === null || raw.trim() === "") {
    throw new VerificationFailedError(
      `the target region's ${PARAMETERS.drVerifyApiKey} parameter must hold the DR API key`,
    );
  }
  return raw;
}

function idOf(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const id = record.id ?? record.paymentId;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/** The Verify task (functions/dr/tasks.ts). */
export const VERIFY_TASK = stateTask({
  step: "Verify",
  description: "Authorizes and voids a synthetic payment in the target region",
  workflows: ["failover", "switchover", "failback"],
  permissions: { parameters: { read: ["drVerifyApiKey"] }, http: true },
  run: verify,
});

function statusOf(body: unknown): string {
  if (body === null || typeof body !== "object") return "";
  const { status, checks } = body as { status?: unknown; checks?: { database?: unknown } };
  return ` (${String(status)}, database ${String(checks?.database)})`;
}
