// Ends a run: after a completed run, writes the cooldown item (so alarm re-triggers are refused
// for DR_COOLDOWN_MINUTES) and deletes the lock; after a run that changed nothing (approval not
// granted) only deletes the lock. Conditional on this run owning the lock; re-running finds the
// lock gone and the cooldown written, and returns the same result.
import type { DrDeps } from "../shared/deps";
import { epochSeconds } from "../shared/deps";
import { LockNotOwnedError, RunNotCompleteError } from "../shared/errors";
import type { ReleaseLockResult, StepTimes, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type ReleaseLockOutcome = Omit<ReleaseLockResult, keyof StepTimes>;

export async function releaseLock(state: WorkflowState, deps: DrDeps): Promise<ReleaseLockOutcome> {
  const { request, steps } = state;
  const control = deps.ports(request.targetRegion, "critical").control;
  // A re-protect moves no active region: it completes with its parameters and writes no cooldown.
  const reprotect = request.workflow === "reprotect";
  const completed = reprotect ? steps.UpdateParameters !== undefined : steps.Unfence !== undefined;

  let cooldownUntil: number | null = null;
  if (completed && !reprotect) {
    const existing = await control.getCooldown();
    if (existing?.lastExecution === request.failoverId) {
      cooldownUntil = existing.cooldownUntil;
    } else {
      const now = deps.now();
      cooldownUntil = epochSeconds(now) + deps.settings.cooldownMinutes * 60;
      await control.putCooldown({
        lastCompletedAt: now.toISOString(),
        lastExecution: request.failoverId,
        cooldownUntil,
      });
    }
  } else if (!completed && steps.Fence) {
    // Never reached by the state machines; a fenced run keeps its lock until it completes.
    throw new RunNotCompleteError(
      "refusing to release the lock of a run that fenced but did not complete",
    );
  }

  if (!(await control.deleteLock(request.failoverId))) {
    const holder = await control.getLock();
    throw new LockNotOwnedError(
      `the failover lock is held by run ${holder?.owner ?? "unknown"}, not by this run (${request.failoverId}); left in place`,
    );
  }
  deps.log.info("lock released", { cooldownUntil });
  return { released: true, cooldownUntil };
}

/** The ReleaseLock task (functions/dr/tasks.ts). */
export const RELEASE_LOCK_TASK = stateTask({
  step: "ReleaseLock",
  description: "Writes the cooldown and releases the lock",
  workflows: ["failover", "switchover", "failback", "reprotect"],
  run: releaseLock,
});
