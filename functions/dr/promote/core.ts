// Promotes the target cluster during an unplanned failover, calling RDS in the target region
// only: FailoverGlobalCluster with AllowDataLoss (target named by ARN), or detach-and-promote
// (RemoveFromGlobalCluster) when the input says forceDetach or RDS refuses a managed failover
// with InvalidGlobalClusterStateFault / InvalidDBClusterStateFault.
// Idempotent: it looks first, and never asks RDS twice (a promotion already under way or done is
// recognised; the method used is recorded on the lock).
import type { DrDeps } from "../shared/deps";
import { ManagedFailoverUnavailableError } from "../shared/errors";
import { requireFenced } from "../shared/guard";
import { regionOf } from "../shared/topology";
import type { PromoteResult, PromotionMethod, StepTimes, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type PromoteOutcome = Omit<PromoteResult, keyof StepTimes>;

const METHOD_FACT = "promotionMethod";
const DETACH_REASON_FACT = "detachReason";

export async function promote(state: WorkflowState, deps: DrDeps): Promise<PromoteOutcome> {
  const { request } = state;
  const { topology } = deps;
  await requireFenced(state, deps);
  const target = regionOf(topology, request.targetRegion);
  const ports = deps.ports(request.targetRegion, "critical");

  const lock = await ports.control.getLock();
  const recorded = lock?.owner === request.failoverId ? lock.facts[METHOD_FACT] : undefined;
  if (recorded !== undefined) {
    deps.log.info("promotion already requested by this run", { method: recorded });
    const detachReason = lock?.facts[DETACH_REASON_FACT];
    return withReason(recorded as PromotionMethod, detachReason as string | undefined);
  }

  const global = await ports.database.describeGlobalCluster(topology.globalClusterIdentifier);
  const member = global?.members.find((m) => m.clusterArn === target.clusterArn);
  let outcome: PromoteOutcome;
  if (member?.isWriter) {
    // A retry after a promotion that completed before its result was recorded.
    outcome = { method: "managed-failover" };
  } else if (global?.failover && global.failover.toClusterArn === target.clusterArn) {
    outcome = { method: "managed-failover" };
  } else if (!member) {
    outcome = { method: "detach", detachReason: "already detached from the global cluster" };
  } else if (request.forceDetach) {
    await ports.database.removeFromGlobalCluster(
      topology.globalClusterIdentifier,
      target.clusterArn,
    );
    outcome = { method: "detach", detachReason: "forceDetach in the input" };
  } else {
    try {
      await ports.database.failoverGlobalCluster(
        topology.globalClusterIdentifier,
        target.clusterArn,
      );
      outcome = { method: "managed-failover" };
    } catch (error) {
      if (!(error instanceof ManagedFailoverUnavailableError)) throw error;
      // The refusal may come from a failover already under way (an earlier attempt whose answer
      // was lost): never detach the target in the middle of its own promotion.
      const now = await ports.database.describeGlobalCluster(topology.globalClusterIdentifier);
      const promoting =
        now?.failover?.toClusterArn === target.clusterArn ||
        now?.members.some((m) => m.clusterArn === target.clusterArn && m.isWriter) === true;
      if (promoting) {
        deps.log.info("managed failover already under way toward the target", { code: error.code });
        outcome = { method: "managed-failover" };
      } else {
        deps.log.warn("managed failover refused; detaching the target instead", {
          code: error.code,
          error: error.message,
        });
        await ports.database.removeFromGlobalCluster(
          topology.globalClusterIdentifier,
          target.clusterArn,
        );
        outcome = { method: "detach", detachReason: `FailoverGlobalCluster: ${error.code}` };
      }
    }
  }
  await ports.control.recordFact(request.failoverId, METHOD_FACT, outcome.method);
  if (outcome.detachReason) {
    await ports.control.recordFact(request.failoverId, DETACH_REASON_FACT, outcome.detachReason);
  }
  deps.log.info("promotion requested", { ...outcome });
  return outcome;
}

function withReason(method: PromotionMethod, detachReason: string | undefined): PromoteOutcome {
  return detachReason ? { method, detachReason } : { method };
}

/** The Promote task (functions/dr/tasks.ts). */
export const PROMOTE_TASK = stateTask({
  step: "Promote",
  description: "Promotes the target cluster (managed failover)",
  workflows: ["failover"],
  permissions: {
    control: ["getActiveRegion", "getLock", "recordFact"],
    database: ["describeGlobalCluster", "failoverGlobalCluster", "removeFromGlobalCluster"],
  },
  run: promote,
});
