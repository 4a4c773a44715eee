// The invariant "no promotion without a successful fence", checked in code as well as by the
// shape of the state machines: before asking RDS to promote, re-read the flag and require that
// this run wrote it.
import type { DrDeps } from "./deps";
import { NotFencedError } from "./errors";
import type { WorkflowState } from "./types";

export async function requireFenced(state: WorkflowState, deps: DrDeps): Promise<number> {
  const { request } = state;
  const fenceStep = state.steps.Fence;
  const flag = await deps.ports(request.targetRegion, "critical").control.getActiveRegion();
  if (
    !fenceStep ||
    !flag ||
    flag.activeRegion !== request.targetRegion ||
    flag.updatedBy !== request.failoverId ||
    flag.fencingToken !== fenceStep.fencingToken
  ) {
    throw new NotFencedError(
      `refusing to promote ${request.targetRegion}: the active-region flag is not the one this run's Fence wrote (flag: ${flag ? `${flag.activeRegion} token ${flag.fencingToken} by ${flag.updatedBy}` : "none"})`,
    );
  }
  return flag.fencingToken;
}
