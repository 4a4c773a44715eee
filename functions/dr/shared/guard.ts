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

/**
 * After the proof, before the promotion is requested: stamps `promotingAt` on this run's flag in
 * the TARGET region's replica (conditional on this run's token and phase `fenced`; the first
 * value is kept, so a retry does not move it). From then on the target's /health may answer
 * "taking-over" (functions/common/taking-over.ts): never before the proof, so a run that halts
 * without it leaves the target 503 (review 23 M2). A failed condition (the flag already open:
 * a resumed run past its Unfence) changes nothing and is logged; a throttled or failed write
 * throws, and the task's retry runs it again.
 */
export async function markPromoting(
  state: WorkflowState,
  deps: DrDeps,
  fencingToken: number,
): Promise<void> {
  const { request } = state;
  const stamped = await deps
    .ports(request.targetRegion, "critical")
    .control.markPromoting(request.targetRegion, fencingToken, deps.now().toISOString());
  if (stamped) deps.log.info("flag stamped promotingAt: the target may answer taking-over");
  else deps.log.info("promotingAt not stamped: the flag is no longer fenced by this run");
}
