// Planned role change (switchover and failback): SwitchoverGlobalCluster, called in the current
// primary (source) region, naming the target cluster by ARN, once CheckOldWriter has seen the old
// region confirm the fence. RDS waits for the secondary to catch up before switching, so no
// committed write is lost. Idempotent: a switchover already under way or done is recognised and
// not requested again.
import type { DrDeps } from "../shared/deps";
import { markPromoting, requireFenced, requireOldWriterStopped } from "../shared/guard";
import { regionOf } from "../shared/topology";
import type { PromoteResult, StepTimes, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type SwitchoverOutcome = Omit<PromoteResult, keyof StepTimes>;

export async function switchover(state: WorkflowState, deps: DrDeps): Promise<SwitchoverOutcome> {
  const { request } = state;
  const { topology } = deps;
  const fencingToken = await requireFenced(state, deps);
  await requireOldWriterStopped(state, deps);
  await markPromoting(state, deps, fencingToken);
  const target = regionOf(topology, request.targetRegion);
  const database = deps.ports(request.sourceRegion, "critical").database;

  const global = await database.describeGlobalCluster(topology.globalClusterIdentifier);
  const member = global?.members.find((m) => m.clusterArn === target.clusterArn);
  if (member?.isWriter) {
    deps.log.info("target already is the writer");
  } else if (global?.failover && global.failover.toClusterArn === target.clusterArn) {
    deps.log.info("switchover already under way", { status: global.failover.status });
  } else {
    await database.switchoverGlobalCluster(topology.globalClusterIdentifier, target.clusterArn);
    deps.log.info("switchover requested");
  }
  return { method: "switchover" };
}

/** The Switchover task (functions/dr/tasks.ts). */
export const SWITCHOVER_TASK = stateTask({
  step: "Switchover",
  description: "Requests a planned switchover of the global cluster",
  workflows: ["switchover", "failback"],
  permissions: {
    control: ["getActiveRegion", "markPromoting"],
    database: ["describeGlobalCluster", "switchoverGlobalCluster"],
    replica: ["writerHeartbeat"],
  },
  run: switchover,
});
