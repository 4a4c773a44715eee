// Ends the role change: sets the flag's `phase` to "open" (FENCE_PHASE) once the new region's
// writer is verified. The flag already names the new region since Fence, and the fencing token is
// not bumped: the token counts changes of the active region, not phases. Conditional on the flag
// still being the one this run's Fence wrote. At the end of a planned move to the deployed
// primary it also arms the peer lease (PEER_LEASE, fence/core.ts armsLease): only now, because
// the standby renews only while no move is in progress (a renewal from a replica that has not
// yet seen "open" would undo it: global tables resolve concurrent writes last writer wins).
import { FENCE_PHASE } from "../../common/contract";
import type { DrDeps } from "../shared/deps";
import { FencingConflictError, NotFencedError } from "../shared/errors";
import type { StepTimes, UnfenceResult, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";
import { armsLease } from "../fence/core";

export type UnfenceOutcome = Omit<UnfenceResult, keyof StepTimes>;

export async function unfence(state: WorkflowState, deps: DrDeps): Promise<UnfenceOutcome> {
  const { request } = state;
  const fenced = state.steps.Fence;
  if (!fenced) throw new NotFencedError("Unfence ran without a Fence result");
  const control = deps.ports(request.targetRegion, "critical").control;
  const opened = await control.setPhase(
    request.targetRegion,
    fenced.fencingToken,
    FENCE_PHASE.open,
    deps.now().toISOString(),
    armsLease(state, deps),
  );
  if (!opened) {
    const flag = await control.getActiveRegion();
    const alreadyOpen =
      flag?.activeRegion === request.targetRegion &&
      flag.fencingToken === fenced.fencingToken &&
      flag.phase === FENCE_PHASE.open;
    if (!alreadyOpen) {
      throw new FencingConflictError(
        `the active-region flag changed since Fence (expected ${request.targetRegion} token ${fenced.fencingToken}, found ${flag ? `${flag.activeRegion} token ${flag.fencingToken}` : "none"})`,
      );
    }
  }
  deps.log.info("writes open in the new active region", { fencingToken: fenced.fencingToken });
  return {
    activeRegion: request.targetRegion,
    fencingToken: fenced.fencingToken,
    phase: FENCE_PHASE.open,
  };
}

/** The Unfence task (functions/dr/tasks.ts). */
export const UNFENCE_TASK = stateTask({
  step: "Unfence",
  description: "Opens the new active region for writes",
  workflows: ["failover", "switchover", "failback"],
  permissions: { control: ["getActiveRegion", "setPhase"] },
  run: unfence,
});
