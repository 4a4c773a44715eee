// One poll of the promotion (DescribeGlobalClusters and DescribeDBClusters in the target region).
// The state machine calls it in a loop with a Wait state in between, pages once when it is slower
// than expected and stops after a bound in seconds (both literals in the ASL, set at synth); this
// core reports, counts the seconds since the first poll and says when to poll next.
import type { DrDeps } from "../shared/deps";
import { regionOf } from "../shared/topology";
import type { CheckPromotionResult, StepTimes, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type CheckPromotionOutcome = Omit<CheckPromotionResult, keyof StepTimes> &
  Partial<Pick<StepTimes, "startedAt">>;

/**
 * Poll every 5 s while a promotion is young, every 15 s once it has taken two minutes: AWS says
 * "within a few minutes" and documents no bound, so a long promotion should not fill the
 * execution history (25,000 events) with polls.
 */
export function nextPollSeconds(elapsedSeconds: number): number {
  return elapsedSeconds < 120 ? 5 : 15;
}

export async function checkPromotion(
  state: WorkflowState,
  deps: DrDeps,
): Promise<CheckPromotionOutcome> {
  const { request } = state;
  const { topology } = deps;
  const previous = state.steps.CheckPromotion;
  const firstPoll = previous ? Date.parse(previous.startedAt) : deps.now().getTime();
  const target = regionOf(topology, request.targetRegion);
  const database = deps.ports(request.targetRegion, "critical").database;
  const [global, cluster] = await Promise.all([
    database.describeGlobalCluster(topology.globalClusterIdentifier),
    database.describeCluster(target.clusterIdentifier),
  ]);
  const member = global?.members.find((m) => m.clusterArn === target.clusterArn);
  const clusterStatus = cluster?.status ?? "missing";
  const inProgress = global?.failover !== undefined;
  // Writer: the global cluster's writer member with no role change pending, or (after a
  // detach-and-promote) a standalone cluster no longer in the global cluster.
  const isWriter =
    clusterStatus === "available" &&
    (member ? member.isWriter && !inProgress : cluster?.globalClusterIdentifier === undefined);
  const polls = (previous?.polls ?? 0) + 1;
  const elapsedSeconds = Math.round((deps.now().getTime() - firstPoll) / 1000);
  deps.log.info("promotion polled", { polls, elapsedSeconds, isWriter, clusterStatus });
  return {
    // The step's start is the first poll's start, carried from poll to poll.
    ...(previous ? { startedAt: previous.startedAt } : {}),
    isWriter,
    polls,
    elapsedSeconds,
    nextPollSeconds: nextPollSeconds(elapsedSeconds),
    clusterStatus,
    globalClusterStatus: global?.status ?? "missing",
    failoverStatus: global?.failover?.status ?? null,
  };
}

/** The CheckPromotion task (functions/dr/tasks.ts). */
export const CHECK_PROMOTION_TASK = stateTask({
  step: "CheckPromotion",
  description: "Polls the promotion once",
  workflows: ["failover", "switchover", "failback"],
  permissions: { database: ["describeCluster", "describeGlobalCluster"] },
  run: checkPromotion,
});
