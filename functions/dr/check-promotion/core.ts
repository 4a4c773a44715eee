// One poll of the promotion (DescribeGlobalClusters and DescribeDBClusters in the target region).
// The state machine calls it in a loop with a Wait state in between and stops after a literal
// number of polls; this core only reports and counts.
import type { DrDeps } from "../shared/deps";
import { regionOf } from "../shared/topology";
import type { CheckPromotionResult, StepTimes, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type CheckPromotionOutcome = Omit<CheckPromotionResult, keyof StepTimes> &
  Partial<Pick<StepTimes, "startedAt">>;

export async function checkPromotion(
  state: WorkflowState,
  deps: DrDeps,
): Promise<CheckPromotionOutcome> {
  const { request } = state;
  const { topology } = deps;
  const previous = state.steps.CheckPromotion;
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
  deps.log.info("promotion polled", { polls, isWriter, clusterStatus });
  return {
    // The step's start is the first poll's start, carried from poll to poll.
    ...(previous ? { startedAt: previous.startedAt } : {}),
    isWriter,
    polls,
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
