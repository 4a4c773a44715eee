// Records what the run did: each step's start, end and duration (carried through the state
// data), the replication lag when the run began (the RPO estimate) and the RTO, as CloudWatch
// metrics and a `dr.<workflow>.completed` event on the target region's bus. Sent once per run:
// the lock remembers that it was sent; the event's eventId lets consumers drop a duplicate.
// Also hands the run's report to the region's report writer and links it from the event.
import { EVENTS, METRICS } from "../../common/contract";
import type { DrDeps } from "../shared/deps";
import type { MetricDatum } from "../shared/ports";
import { TIMELINE_STEPS } from "../shared/types";
import type {
  RecordTimelineResult,
  StepTimes,
  TimelineEntry,
  WorkflowState,
} from "../shared/types";
import { requestReport } from "../shared/run-report";
import { stateTask } from "../shared/task";

export type RecordTimelineOutcome = Omit<RecordTimelineResult, keyof StepTimes>;

const RECORDED_FACT = "timelineRecordedAt";

export function completedEventId(failoverId: string, workflow: string): string {
  return `${workflow}-${failoverId}-completed`;
}

export function buildTimeline(state: WorkflowState): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  for (const step of TIMELINE_STEPS[state.request.workflow]) {
    const times = state.steps[step] as Partial<StepTimes> | undefined;
    if (!times?.startedAt || !times.endedAt) continue;
    entries.push({
      step,
      startedAt: times.startedAt,
      endedAt: times.endedAt,
      seconds: secondsBetween(times.startedAt, times.endedAt),
    });
  }
  return entries;
}

export async function recordTimeline(
  state: WorkflowState,
  deps: DrDeps,
): Promise<RecordTimelineOutcome> {
  const { request, steps } = state;
  const timeline = buildTimeline(state);
  const lagFact = steps.AcquireLock?.facts.replicationLagMs;
  const rpoEstimateMs =
    typeof lagFact === "number" ? lagFact : (steps.Preflight?.replicationLagMs ?? null);
  // From this execution's start, or for a resumed run from when its first attempt took the lock.
  // A failback may wait hours for the old region to rejoin before it takes the lock: its RTO
  // starts when it does.
  const began = (
    request.workflow === "failback" && steps.AcquireLock
      ? [steps.AcquireLock.acquiredAt]
      : [request.startedAt, steps.AcquireLock?.acquiredAt]
  )
    .filter((t): t is string => typeof t === "string")
    .sort()[0] as string;
  const verifiedAt = steps.Verify?.endedAt ?? deps.now().toISOString();
  const rtoSeconds = secondsBetween(began, verifiedAt);
  const eventId = completedEventId(request.failoverId, request.workflow);
  // Every attempt hands the report over (the writer stores it idempotently), so a retried step
  // still links one; a report that cannot be requested never holds up the timeline.
  // A re-protect restores protection; it recovers nothing, so its hours of rebuilding are not an
  // RTO: its report says "not measured" and keeps it out of the ledger's RTO figures.
  const report = await requestReport(
    state,
    request.workflow === "reprotect"
      ? { rtoSeconds: null, rpoEstimateMs }
      : { rtoSeconds, rpoEstimateMs, rtoStartedAt: began },
    deps,
  );
  const outcome: RecordTimelineOutcome = { eventId, rtoSeconds, rpoEstimateMs, timeline, report };

  const ports = deps.ports(request.targetRegion, "critical");
  const lock = await ports.control.getLock();
  if (lock?.owner === request.failoverId && lock.facts[RECORDED_FACT] !== undefined) {
    deps.log.info("timeline already recorded by this run", { eventId });
    return outcome;
  }

  const dimensions = { Workflow: request.workflow };
  const at = new Date(verifiedAt);
  const data: MetricDatum[] = [
    ...timeline.map((entry): MetricDatum => ({
      name: METRICS.stepDuration,
      value: entry.seconds,
      unit: "Seconds",
      dimensions: { ...dimensions, Step: entry.step },
      timestamp: at,
    })),
    { name: METRICS.rto, value: rtoSeconds, unit: "Seconds", dimensions, timestamp: at },
  ];
  if (rpoEstimateMs !== null) {
    data.push({
      name: METRICS.rpoEstimate,
      value: rpoEstimateMs,
      unit: "Milliseconds",
      dimensions,
      timestamp: at,
    });
  }
  await ports.metrics.put(METRICS.namespace, data);
  await ports.events.put({
    source: EVENTS.drSource,
    detailType: `${EVENTS.drPrefix}${request.workflow}.completed`,
    detail: {
      [EVENTS.eventIdField]: eventId,
      [EVENTS.originRegionField]: request.targetRegion,
      failoverId: request.failoverId,
      workflow: request.workflow,
      executionId: request.executionId,
      trigger: request.trigger,
      reason: request.reason,
      targetRegion: request.targetRegion,
      sourceRegion: request.sourceRegion,
      promotionMethod: steps.Promote?.method ?? steps.Switchover?.method ?? null,
      fencingToken: steps.Fence?.fencingToken ?? null,
      rpoEstimateMs,
      rtoSeconds,
      timeline,
      report,
    },
  });
  await ports.control.recordFact(request.failoverId, RECORDED_FACT, deps.now().toISOString());
  deps.log.info("timeline recorded", { eventId, rtoSeconds, rpoEstimateMs });
  return outcome;
}

function secondsBetween(from: string, to: string): number {
  return Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 10) / 100);
}

/** The RecordTimeline task (functions/dr/tasks.ts). */
export const RECORD_TIMELINE_TASK = stateTask({
  step: "RecordTimeline",
  description: "Records step durations, RTO and RPO",
  workflows: ["failover", "switchover", "failback", "reprotect"],
  permissions: {
    control: ["getLock", "recordFact"],
    metrics: ["put"],
    events: ["put"],
    reports: ["submit"],
  },
  run: recordTimeline,
});
