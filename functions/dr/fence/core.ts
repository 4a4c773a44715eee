// Fences the old primary: flips the active-region flag to the target region, written in the
// target region's copy of the control table, conditional on the flag still naming the source
// region with the token just read. The payment functions of the old region read the flag from
// their own replica and reject writes once it arrives; global tables replicate with no upper
// bound, so whether and when it arrived is CheckOldWriter's question, not this step's.
// Idempotent: the flag this run wrote is recognised by updatedBy = failoverId and never bumped
// twice.
//
// The peer lease (PEER_LEASE; state-machines/README.md, "Never two writers"): the new flag has
// it off (leaseRequired false). Unfence arms it at the end of a planned move (switchover,
// failback) to the deployed primary, the one writer whose peer runs the renewer (the prober
// lives in the deployed standby region) and the only one a failover can leave on an unconfirmed
// proof. An unplanned failover never arms it: the new writer's peer may be dead, and a dead
// peer's missing renewals must not stop the survivor.
import { FENCE_PHASE } from "../../common/contract";
import type { DrDeps } from "../shared/deps";
import { FencingConflictError } from "../shared/errors";
import type { ActiveRegionFlag } from "../shared/ports";
import { deployedPrimary } from "../shared/topology";
import type { FenceResult, StepTimes, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type FenceOutcome = Omit<FenceResult, keyof StepTimes>;

export async function fence(state: WorkflowState, deps: DrDeps): Promise<FenceOutcome> {
  const { request } = state;
  const control = deps.ports(request.targetRegion, "critical").control;
  let flag = await control.getActiveRegion();

  if (!isOurs(flag, state)) {
    const current = flag?.activeRegion ?? deployedPrimary(deps.topology);
    if (current !== request.sourceRegion) throw conflict(flag, state);
    const now = deps.now().toISOString();
    const next: ActiveRegionFlag = {
      activeRegion: request.targetRegion,
      fencingToken: (flag?.fencingToken ?? 0) + 1,
      updatedAt: now,
      updatedBy: request.failoverId,
      reason: `${request.workflow}: ${request.reason}`,
      phase: FENCE_PHASE.fenced,
      previousRegion: request.sourceRegion,
      // Re-protect's lower bound for this failover's point-of-failure snapshot (rebuild).
      ...(flag?.updatedAt ? { previousUpdatedAt: flag.updatedAt } : {}),
      leaseRequired: false,
    };
    if (await control.putActiveRegion(flag, next)) {
      deps.log.info("active-region flag flipped", {
        fencingToken: next.fencingToken,
        previousRegion: request.sourceRegion,
      });
      flag = next;
    } else {
      // Lost a race, or a retry of a write that did land: read again and decide.
      flag = await control.getActiveRegion();
      if (!isOurs(flag, state)) throw conflict(flag, state);
    }
  } else {
    deps.log.info("flag already fenced by this run", { fencingToken: flag?.fencingToken });
  }
  const ours = flag as ActiveRegionFlag;
  return {
    activeRegion: ours.activeRegion,
    previousRegion: ours.previousRegion ?? request.sourceRegion,
    fencingToken: ours.fencingToken,
    fencedAt: ours.updatedAt,
    phase: ours.phase ?? FENCE_PHASE.fenced,
  };
}

/**
 * Whether this run's Unfence arms the peer lease: a planned move to the deployed primary, whose
 * peer (the deployed standby) runs the renewer and is up (both regions are, for a planned move).
 */
export function armsLease(state: WorkflowState, deps: DrDeps): boolean {
  return (
    state.request.workflow !== "failover" &&
    state.request.targetRegion === deployedPrimary(deps.topology)
  );
}

function isOurs(flag: ActiveRegionFlag | null, state: WorkflowState): boolean {
  return (
    flag !== null &&
    flag.activeRegion === state.request.targetRegion &&
    flag.updatedBy === state.request.failoverId
  );
}

function conflict(flag: ActiveRegionFlag | null, state: WorkflowState): FencingConflictError {
  return new FencingConflictError(
    `expected the active-region flag to name ${state.request.sourceRegion} (or this run, ${state.request.failoverId}), found ${flag ? `${flag.activeRegion} token ${flag.fencingToken} set by ${flag.updatedBy} at ${flag.updatedAt}` : "no flag"}; someone else changed it, so this run stops without promoting`,
  );
}

/** The Fence task (functions/dr/tasks.ts). */
export const FENCE_TASK = stateTask({
  step: "Fence",
  description: "Flips the active-region flag to the target region",
  workflows: ["failover", "switchover", "failback"],
  permissions: { control: ["getActiveRegion", "putActiveRegion"] },
  run: fence,
});
