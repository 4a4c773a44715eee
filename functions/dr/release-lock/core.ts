// Ends a run: after a completed run, writes the cooldown item (so alarm re-triggers are refused
// for DR_COOLDOWN_MINUTES) and deletes the lock; after a run that changed nothing (approval not
// granted) only deletes the lock. Conditional on this run owning the lock; re-running finds the
// lock gone (or taken by the next run) and the cooldown written, and returns the same result.
import type { DrDeps } from "../shared/deps";
import { epochSeconds } from "../shared/deps";
import { RunNotCompleteError } from "../shared/errors";
import type { ReleaseLockResult, StepTimes, WorkflowState } from "../shared/types";
import { bestEffort } from "../shared/best-effort";
import { stateTask } from "../shared/task";
import { otherRegion } from "../shared/topology";

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
        targetRegion: request.targetRegion,
        // The drill's failback ends the drill: its cooldown exempts nothing (acquire-lock).
        ...(request.drillId !== undefined && request.workflow !== "failback"
          ? { drillId: request.drillId }
          : {}),
      });
    }
  } else if (!completed) {
    // A fenced run keeps its lock until it completes (a re-protect never fences); an earlier
    // attempt of a resumed run may have fenced, so look at the flag, not only at this
    // execution's steps.
    const flag = steps.Fence ? null : await control.getActiveRegion();
    const fencedByThisRun =
      steps.Fence !== undefined ||
      (flag?.activeRegion === request.targetRegion && flag.updatedBy === request.failoverId);
    if (fencedByThisRun) {
      throw new RunNotCompleteError(
        `refusing to release the lock of run ${request.failoverId}: it fenced (the flag names ${request.targetRegion}) but did not complete; resume it`,
      );
    }
  }

  // The other region's copy first: AcquireLock claims the lock in both copies, and a run that
  // starts in that region right after this release must not meet this lock there (it would
  // take it for a run started at the same moment as its own, acquire-lock.ts). Best-effort: a
  // copy that does not answer gets this copy's delete by replication. Only this run's lock is
  // deleted (conditional on the owner).
  const other = otherRegion(deps.topology, request.targetRegion);
  const remote = await bestEffort(
    `the failover lock in ${other}'s copy of the control table`,
    () => deps.ports(other, "bestEffort").control.deleteLock(request.failoverId),
    deps,
  );
  if (!remote.ok) deps.log.warn("the other copy of the lock was left to replication", { other });
  if (!(await control.deleteLock(request.failoverId))) {
    // Another run holds the lock. Only this run deletes its own lock and another run takes it
    // only once it is gone, so an earlier attempt of this step deleted it (its answer was lost,
    // or the function timed out after the delete), on-call deleted it, or it expired: this run
    // holds no lock either way, which is what this step is for. The other run's lock stays.
    const holder = await control.getLock();
    deps.log.warn("the lock was already released; another run holds it now, left in place", {
      holder: holder?.owner ?? null,
    });
  }
  deps.log.info("lock released", { cooldownUntil });
  return { released: true, cooldownUntil };
}

/** The ReleaseLock task (functions/dr/tasks.ts). */
export const RELEASE_LOCK_TASK = stateTask({
  step: "ReleaseLock",
  description: "Writes the cooldown and releases the lock",
  workflows: ["failover", "switchover", "failback", "reprotect"],
  permissions: {
    control: ["getLock", "deleteLock", "getCooldown", "putCooldown", "getActiveRegion"],
  },
  run: releaseLock,
});
