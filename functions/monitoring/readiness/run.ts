// One run of the evaluator: evaluate, publish the metrics, store the evaluation. Pure wiring over
// ports (no AWS imports) so the handler stays a shell and the tests drive the same path.
import type { ReadinessRecord } from "../../common/contract";
import type { ControlPort, MetricsPort, ReportsPort } from "../../dr/shared/ports";
import type { RunReportInput } from "../../reports/shared/model";
import type { CheckId, CheckResult, Evaluation, ReadinessDeps } from "./core";
import { CHECK_IDS, evaluate, evaluationMetrics, worst } from "./core";

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
  readonly control: Pick<ControlPort, "putReadiness" | "getReadiness">;
  readonly namespace: string;
  /** The region's report writer, when the stack has one (REPORT_WRITER_FUNCTION). */
  readonly reports?: ReportsPort;
}

/** The report kind of a readiness change (functions/reports: any kebab-case kind is stored). */
export const READINESS_REPORT_KIND = "readiness";

/**
 * A change of the overall status as a report: evidence of when the environment stopped (or
 * started again) being ready and why, in the same store and ledger as the runs and drills. Only
 * on a change (and the first evaluation), not every 30 minutes: the ledger is read for the last
 * runs and drills, and an unchanged status adds no evidence.
 */
export function readinessReportInput(
  evaluation: Evaluation,
  previous: ReadinessRecord | null,
): RunReportInput {
  const from = previous ? previous.overall.toUpperCase() : "no evaluation";
  const notOk = evaluation.checks.filter((c) => c.status !== "ok");
  return {
    kind: READINESS_REPORT_KIND,
    runId: `readiness-${evaluation.region}-${evaluation.at.replace(/[^0-9]/g, "").slice(0, 14)}`,
    region: evaluation.region,
    title: `readiness of ${evaluation.region}: ${from} -> ${evaluation.overall.toUpperCase()}`,
    outcome: evaluation.overall === "fail" ? "failed" : "succeeded",
    summary:
      notOk.length === 0
        ? `every check ok (writer in ${evaluation.activeRegion ?? "unknown"})`
        : `${notOk.length} check(s) not ok: ${notOk.map((c) => `${c.id} ${c.status}`).join(", ")}`,
    startedAt: evaluation.at,
    endedAt: new Date(Date.parse(evaluation.at) + evaluation.durationMs).toISOString(),
    trigger: { kind: "schedule", by: "readiness evaluator", reason: `status changed from ${from}` },
    rtoSeconds: null,
    rpoSeconds: null,
    steps: [],
    checks: evaluation.checks.map((c) => ({
      name: c.id,
      expected: "ok",
      actual: `${c.status}: ${c.reason}${c.status !== "ok" && c.fix ? ` (fix: ${c.fix})` : ""}`,
      passed: c.status === "ok",
    })),
    config: {
      previousOverall: previous?.overall ?? null,
      activeRegion: evaluation.activeRegion,
      scheduleMinutes: evaluation.scheduleMinutes ?? null,
    },
  };
}

/**
 * A check that stays `unknown` is a blind spot: counted across the stored evaluations, the
 * `unknownPageAfter`-th unknown in a row is a `fail` (which pages through the overall status,
 * like any fail), naming how long it has not been able to tell. Any other status restarts the
 * count. Pure: the previous evaluation in, this one out.
 */
export function escalateUnknowns(
  evaluation: Evaluation,
  previous: ReadinessRecord | null,
  pageAfter: number,
): Evaluation {
  const checks = evaluation.checks.map((c): CheckResult => {
    if (c.status !== "unknown") return c;
    const before = previous?.checks.find((p) => p.id === c.id);
    const runs = (before?.unknownRuns ?? (before?.status === "unknown" ? 1 : 0)) + 1;
    if (runs < pageAfter) return { ...c, unknownRuns: runs };
    return {
      ...c,
      status: "fail",
      reason: `unknown for ${runs} evaluations in a row: ${c.reason}`,
      fix: c.fix || "find why the check cannot read (its reason): until then this is not checked",
      unknownRuns: runs,
    };
  });
  return { ...evaluation, checks, overall: worst(checks.map((c) => c.status)) };
}

export async function evaluateAndPublish(
  request: ReadinessRequest,
  deps: RunDeps,
): Promise<Evaluation> {
  const fresh = await evaluate(deps, request.checks ?? CHECK_IDS);
  // Only a full evaluation is stored, so only a full one counts unknowns. The previous one is
  // this region's own; if it cannot be read the count restarts (one evaluation later paging).
  let previous: ReadinessRecord | null = null;
  if (!request.checks) {
    try {
      previous = await deps.control.getReadiness(deps.region);
    } catch (error) {
      deps.log.warn("could not read the previous evaluation", { error: String(error) });
    }
  }
  const evaluation = request.checks
    ? fresh
    : escalateUnknowns(fresh, previous, deps.settings.unknownPageAfter);
  for (const c of evaluation.checks) {
    if (c.status !== "ok") deps.log.warn("readiness finding", { ...c });
  }
  deps.log.info("readiness evaluated", {
    overall: evaluation.overall,
    durationMs: evaluation.durationMs,
  });
  // Publishing and storing are independent: one failing must not lose the other. A failure
  // of either fails the invocation, so Lambda's Errors metric shows it.
  const changed = !request.checks && evaluation.overall !== previous?.overall;
  const results = await Promise.allSettled([
    deps.metrics.put(deps.namespace, evaluationMetrics(evaluation, !request.checks)),
    request.checks ? Promise.resolve() : deps.control.putReadiness(evaluation),
    changed && deps.reports
      ? deps.reports.submit(readinessReportInput(evaluation, previous))
      : Promise.resolve(),
  ]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length > 0) {
    throw new Error(
      `evaluation done (${evaluation.overall}) but not fully published: ${failed.map((f) => String(f.reason)).join("; ")}`,
    );
  }
  return evaluation;
}
