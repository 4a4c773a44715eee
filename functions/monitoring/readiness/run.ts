// One run of the evaluator: evaluate, publish the metrics, store the evaluation. Pure wiring over
// ports (no AWS imports) so the handler stays a shell and the tests drive the same path.
import type { ControlPort, MetricsPort } from "../../dr/shared/ports";
import type { CheckId, Evaluation, ReadinessDeps } from "./core";
import { CHECK_IDS, evaluate, evaluationMetrics } from "./core";

/**
 * SDK client settings. This region: three attempts (throttling is common on the control-plane
 * reads), 5 s per request. The other region and IAM: two attempts, 3 s, so a region that is down
 * costs at most ~8 s per read and its checks say `unknown` long before the check cap (60 s) and
 * the function's timeout (90 s).
 */
export const READINESS_CLIENTS = {
  own: { maxAttempts: 3, connectionTimeout: 2000, requestTimeout: 5000 },
  peer: { maxAttempts: 2, connectionTimeout: 1000, requestTimeout: 3000 },
} as const;

export interface ReadinessRequest {
  /** Only these checks; nothing is stored then (a partial evaluation is not the latest). */
  readonly checks?: readonly CheckId[];
}

export class InvalidReadinessRequestError extends Error {
  override name = "InvalidReadinessRequestError";
}

/** A scheduled event (EventBridge) or `{ checks: [...] }`; anything else is refused by name. */
export function parseReadinessEvent(event: unknown): ReadinessRequest {
  const checks = (event as { checks?: unknown } | null)?.checks;
  if (checks === undefined) return {};
  if (
    !Array.isArray(checks) ||
    checks.length === 0 ||
    checks.some((c) => !(CHECK_IDS as readonly unknown[]).includes(c))
  ) {
    throw new InvalidReadinessRequestError(
      `checks=${JSON.stringify(checks)} is not allowed: a non-empty list of ${CHECK_IDS.join(", ")}`,
    );
  }
  return { checks: checks as CheckId[] };
}

export interface RunDeps extends ReadinessDeps {
  readonly metrics: Pick<MetricsPort, "put">;
  readonly control: Pick<ControlPort, "putReadiness">;
  readonly namespace: string;
}

export async function evaluateAndPublish(
  request: ReadinessRequest,
  deps: RunDeps,
): Promise<Evaluation> {
  const evaluation = await evaluate(deps, request.checks ?? CHECK_IDS);
  for (const c of evaluation.checks) {
    if (c.status !== "ok") deps.log.warn("readiness finding", { ...c });
  }
  deps.log.info("readiness evaluated", {
    overall: evaluation.overall,
    durationMs: evaluation.durationMs,
  });
  // Publishing and storing are independent: one failing must not lose the other. A failure
  // of either fails the invocation, so Lambda's Errors metric shows it.
  const results = await Promise.allSettled([
    deps.metrics.put(deps.namespace, evaluationMetrics(evaluation, !request.checks)),
    request.checks ? Promise.resolve() : deps.control.putReadiness(evaluation),
  ]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length > 0) {
    throw new Error(
      `evaluation done (${evaluation.overall}) but not fully published: ${failed.map((f) => String(f.reason)).join("; ")}`,
    );
  }
  return evaluation;
}
