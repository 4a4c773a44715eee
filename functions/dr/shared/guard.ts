// The invariant "no promotion without a successful fence", checked in code as well as by the
// shape of the state machines: before asking RDS to promote, re-read the flag and require that
// this run wrote it.
import type { DrDeps } from "./deps";
import { NotFencedError, OldWriterActiveError, TransientError } from "./errors";
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

/**
 * CheckOldWriter's proof, still true right before the promotion is requested. A confirmation
 * cannot be taken back (the old region's replica has the flag, and this run holds the lock); a
 * database proof can, if the old primary's heartbeats reach the target again (it replicates, so
 * its commits are no longer blocked): then OldWriterActiveError sends the run back to looking.
 */
export async function requireOldWriterStopped(state: WorkflowState, deps: DrDeps): Promise<void> {
  const proof = state.steps.CheckOldWriter;
  if (!proof?.stopped) {
    throw new NotFencedError(
      "refusing to promote: CheckOldWriter has not shown that the old region can no longer commit",
    );
  }
  if (proof.evidence !== "database") return;
  let beatAt: string | null;
  try {
    const replica = deps.ports(state.request.targetRegion, "critical").replica;
    beatAt = (await replica.writerHeartbeat())?.beatAt ?? null;
  } catch (error) {
    throw new TransientError(
      `cannot re-read the writer heartbeat before promoting: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (
    beatAt !== null &&
    proof.heartbeatAt !== null &&
    Date.parse(beatAt) > Date.parse(proof.heartbeatAt)
  ) {
    throw new OldWriterActiveError(
      `a writer heartbeat of ${beatAt} reached ${state.request.targetRegion} after the proof (the last one was ${proof.heartbeatAt}): the old primary replicates again and may commit, so this run looks again before promoting`,
    );
  }
}
