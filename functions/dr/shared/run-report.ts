// A workflow run as a report: what RecordTimeline (completed runs) and the page (halted runs)
// hand the report writer. `workflowReport` is pure: the workflow state in, the report out.
import type { ReportStep, RunReportInput } from "../../reports/shared/model";
import type { DrDeps } from "./deps";
import { executionUrl } from "./format";
import type { ReportLink, StepFailure, Steps, WorkflowState } from "./types";
import { TIMELINE_STEPS } from "./types";

export interface RunFigures {
  /** Measured RTO (RecordTimeline's); null for a halted run. */
  readonly rtoSeconds: number | null;
  readonly rpoEstimateMs: number | null;
  /** When the RTO clock started: a resumed run counts from its first attempt's lock. */
  readonly rtoStartedAt?: string;
}

/** A Lambda task's Cause is JSON with errorMessage; show just the message. */
export function causeText(cause: string | undefined): string {
  if (!cause) return "";
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === "string") return parsed.errorMessage;
  } catch {
    // Not JSON: as is.
  }
  return cause;
}

function failureText(failure: StepFailure): string {
  const cause = causeText(failure.Cause);
  return cause ? `${failure.Error}: ${cause}` : failure.Error;
}

/** Who or what started it, as far as the input says: the alarm, the drill, or on-call. */
function triggeredBy(trigger: string, reason: string): string | null {
  if (trigger === "alarm") return /^alarm (\S+)/.exec(reason)?.[1] ?? null;
  if (trigger === "drill") return /(drill-[A-Za-z0-9-]+)/.exec(reason)?.[1] ?? "the DR drill";
  return null;
}

/**
 * Every step the run's state records, in workflow order: timed steps with their times, a
 * non-blocking step that failed as a warning, the step a halted run stopped at as failed, and
 * the workflow's steps that never ran as skipped.
 */
export function reportSteps(state: Partial<WorkflowState>): ReportStep[] {
  const request = state.request;
  const steps = (state.steps ?? {}) as Record<string, { startedAt?: unknown; endedAt?: unknown }>;
  const failures = state.failures ?? {};
  const warnings = state.warnings ?? {};
  const order = [
    ...(request ? (TIMELINE_STEPS[request.workflow] ?? []) : []),
    ...Object.keys(steps),
    ...Object.keys(warnings),
    ...Object.keys(failures),
  ].filter((name, i, all) => all.indexOf(name) === i) as string[];
  const timed = (name: string) => {
    const s = steps[name];
    return typeof s?.startedAt === "string" && typeof s.endedAt === "string"
      ? { startedAt: s.startedAt, endedAt: s.endedAt }
      : null;
  };
  // The run's own bookkeeping after the timeline is not a recovery step.
  const hidden = new Set(["RecordTimeline", "NotifyCompleted", "ReleaseLock"]);
  return order
    .filter((name) => !hidden.has(name))
    .map((name): ReportStep => {
      const times = timed(name);
      const failure = failures[name];
      const warning = warnings[name];
      if (failure) {
        return { name, ...(times ?? {}), status: "failed", detail: failureText(failure) };
      }
      if (warning) {
        return { name, ...(times ?? {}), status: "warning", detail: failureText(warning) };
      }
      if (times) return { name, ...times, status: "succeeded" };
      if (steps[name] !== undefined) {
        return { name, status: "succeeded", detail: "no timing recorded" };
      }
      return { name, status: "skipped" };
    });
}

function promotionMethod(steps: Steps): string | null {
  return steps.Promote?.method ?? steps.Switchover?.method ?? null;
}

/** The report of a workflow run that completed (after RecordTimeline) or halted (the page). */
export function workflowReport(
  state: Partial<WorkflowState>,
  outcome: "completed" | "halted",
  figures: RunFigures,
  deps: DrDeps,
): RunReportInput {
  const request = state.request!;
  const steps = state.steps ?? {};
  const warnings = Object.entries(state.warnings ?? {}).map(
    ([step, failure]) => `${step} failed (${failureText(failure)}); the run went on without it.`,
  );
  const [failedStep, failure] = Object.entries(state.failures ?? {})[0] ?? [];
  const drill = request.trigger === "drill" ? " (drill)" : "";
  const planned = request.workflow !== "failover";
  const summary =
    outcome === "completed"
      ? `${request.targetRegion} is the active region after this ${request.workflow} from ${request.sourceRegion}; its synthetic payment went through${promotionMethod(steps) ? ` (promotion: ${promotionMethod(steps)})` : ""}.`
      : `Stopped in a safe state at ${failedStep ?? "an unknown step"}${failure ? ` (${failureText(failure)})` : ""}; on-call was paged with how to resume.`;
  const fork = steps.Promote?.fork;
  if (fork) {
    warnings.push(
      `Writes ${fork.oldCluster} committed after ${fork.lastReplicatedAt ?? `about ${fork.failoverAt}`} may be lost: when ${fork.oldRegion} returns, copy the snapshot ${fork.snapshotPrefix}<timestamp> to a manual snapshot before anything else, keep ${fork.oldCluster} and that snapshot, and reconcile (runbooks/reconcile.md, payments-dr reconcile).`,
    );
  }
  if (outcome === "halted") {
    warnings.push(
      steps.AcquireLock
        ? `The failover lock is still held by run ${request.failoverId}: resume with resumeFailoverId or release it.`
        : "No lock was taken.",
    );
  }
  return {
    kind: request.workflow,
    runId: request.executionName,
    groupId: request.failoverId,
    region: deps.executionRegion,
    title: `${request.workflow} to ${request.targetRegion}${drill}`,
    outcome: outcome === "completed" ? "succeeded" : "failed",
    summary,
    startedAt: request.startedAt,
    endedAt: deps.now().toISOString(),
    trigger: {
      kind: request.trigger,
      by: triggeredBy(request.trigger, request.reason),
      reason: request.reason,
    },
    rtoSeconds: figures.rtoSeconds,
    ...(figures.rtoStartedAt && figures.rtoStartedAt !== request.startedAt
      ? { rtoStartedAt: figures.rtoStartedAt }
      : {}),
    rpoSeconds: figures.rpoEstimateMs === null ? null : figures.rpoEstimateMs / 1000,
    rpoBasis: `the target cluster's replication lag (AuroraGlobalDBReplicationLag) when the run began: what an unplanned failover at that moment could lose${planned ? `; a ${request.workflow} waits until the secondary has caught up, so this run itself lost nothing` : ""}`,
    steps: reportSteps(state),
    warnings,
    config: {
      workflow: request.workflow,
      sourceRegion: request.sourceRegion,
      targetRegion: request.targetRegion,
      mode: request.mode,
      forceDetach: request.forceDetach,
      ignoreCooldown: request.ignoreCooldown,
      allowUnknownLag: request.allowUnknownLag,
      resumed: request.resumed,
      failoverId: request.failoverId,
      stateMachine: request.stateMachineArn,
      promotionMethod: promotionMethod(steps),
      fencingToken: steps.Fence?.fencingToken ?? null,
      cooldownMinutes: deps.settings.cooldownMinutes,
      lockTtlMinutes: deps.settings.lockTtlMinutes,
      failbackMaxLagMs: deps.settings.failbackMaxLagMs,
      ...(fork
        ? {
            forkOldRegion: fork.oldRegion,
            forkOldCluster: fork.oldCluster,
            forkOldClusterArn: fork.oldClusterArn,
            forkPromotedCluster: fork.promotedCluster,
            forkLastReplicatedAt: fork.lastReplicatedAt,
            forkReplicationLagMs: fork.replicationLagMs,
            forkFailoverAt: fork.failoverAt,
            forkSnapshotPrefix: fork.snapshotPrefix,
          }
        : {}),
    },
    links: [
      {
        label: "Execution in the Step Functions console",
        url: executionUrl(deps.executionRegion, request.executionId),
      },
    ],
  };
}

/** Hands the run's report to the writer; on failure, says why instead of a link. */
export async function requestReport(
  state: WorkflowState,
  figures: RunFigures,
  deps: DrDeps,
  outcome: "completed" | "halted" = "completed",
): Promise<ReportLink> {
  try {
    const location = await deps.reports.submit(workflowReport(state, outcome, figures, deps));
    return { uri: location.htmlUri, consoleUrl: location.consoleUrl };
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    deps.log.warn("the run's report could not be requested", { error: message });
    return { uri: null, consoleUrl: null, error: message };
  }
}
