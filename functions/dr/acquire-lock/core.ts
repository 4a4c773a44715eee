// Takes the failover lock in the target region's copy of the control table (conditional put),
// so a second run is rejected instead of doubled, and enforces the cooldown after a run.
// Re-entrant: the run that holds the lock (same failoverId) gets the same lock back.
import type { DrDeps } from "../shared/deps";
import { epochSeconds, isoFromEpoch } from "../shared/deps";
import { CooldownActiveError, LockHeldError } from "../shared/errors";
import type { LockItem } from "../shared/ports";
import { LOCK_LEASE_MINUTES } from "../shared/settings";
import type { LockResult, StepTimes, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type AcquireLockOutcome = Omit<LockResult, keyof StepTimes>;

export async function acquireLock(state: WorkflowState, deps: DrDeps): Promise<AcquireLockOutcome> {
  const { request } = state;
  const control = deps.ports(request.targetRegion, "critical").control;
  const now = deps.now();
  const nowEpoch = epochSeconds(now);

  const existing = await control.getLock();
  if (existing?.owner === request.failoverId) {
    deps.log.info("lock already held by this run", { acquiredAt: existing.acquiredAt });
    return toOutcome(existing);
  }
  if (existing && existing.expiresAt > nowEpoch) throw heldBy(existing, request.workflow);

  if (!request.ignoreCooldown) {
    const cooldown = await control.getCooldown();
    // A drill moves the active region twice in one cooldown. Only its own way back is exempt: a
    // failback carrying the id of the drill whose move wrote this cooldown, from that move's
    // target. The id can be read from the cooldown item and the execution input, so any other
    // run carrying it (a switchover, a failover) is refused like any run; and the failback
    // writes its own cooldown without the id (release-lock), so the exemption is spent once used.
    const drillFailback =
      request.workflow === "failback" &&
      request.drillId !== undefined &&
      cooldown?.drillId === request.drillId &&
      cooldown.targetRegion === request.sourceRegion;
    if (
      cooldown &&
      cooldown.lastExecution !== request.failoverId &&
      cooldown.cooldownUntil > nowEpoch &&
      !drillFailback
    ) {
      throw new CooldownActiveError(
        `the last run (${cooldown.lastExecution}) completed at ${cooldown.lastCompletedAt}; new runs are refused until ${isoFromEpoch(cooldown.cooldownUntil)} unless the input sets ignoreCooldown: true`,
      );
    }
  }

  // The lock remembers the RPO estimate so a resumed run reports the lag of the first attempt.
  const lag = state.steps.Preflight;
  const facts: Record<string, string | number> = {};
  if (lag?.replicationLagMs !== null && lag?.replicationLagMs !== undefined) {
    facts.replicationLagMs = lag.replicationLagMs;
    if (lag.replicationLagAt) facts.replicationLagAt = lag.replicationLagAt;
  }
  // A re-protect's lock is a lease from the start, the one its polls renew (shared/lock.ts):
  // with the 6 h DR_LOCK_TTL_MINUTES here, a re-protect halted before its first renewal (a
  // ConfigurationError at its first Rebuild poll) would block every failover for 6 h though it
  // changed nothing. It moves no active region and never fences, so nothing it leaves half-done
  // needs the lock kept longer: a failover after the lease is checked by its own Preflight.
  const minutes =
    request.workflow === "reprotect"
      ? Math.min(LOCK_LEASE_MINUTES, deps.settings.lockTtlMinutes)
      : deps.settings.lockTtlMinutes;
  const lock: LockItem = {
    owner: request.failoverId,
    operation: request.workflow,
    acquiredAt: now.toISOString(),
    expiresAt: nowEpoch + minutes * 60,
    targetRegion: request.targetRegion,
    sourceRegion: request.sourceRegion,
    facts,
  };
  if (!(await control.putLock(lock, nowEpoch))) {
    const winner = await control.getLock();
    if (winner?.owner === request.failoverId) return toOutcome(winner);
    if (winner) throw heldBy(winner, request.workflow);
    throw new LockHeldError("another run took the failover lock at the same moment");
  }
  deps.log.info("lock acquired", { expiresAt: lock.expiresAt });
  return toOutcome(lock);
}

function heldBy(lock: LockItem, workflow: string): LockHeldError {
  if (lock.operation === "reprotect" && workflow !== "reprotect") {
    // Refused, not queued or forced: while a re-protect runs, the region it rebuilds holds no
    // caught-up copy of the database (the detached old primary misses every write since the
    // failover; a new secondary is still copying its volume; after a managed failover Aurora is
    // rebuilding the old primary's storage). A failover there would fence the only writer the
    // account has and then promote stale data or nothing. The re-protect renews the lock on
    // every poll (shared/lock.ts), so this holds for as long as it runs, and lapses
    // LOCK_LEASE_MINUTES after its last poll when its region (the active one) goes down.
    return new LockHeldError(
      `a re-protect (run ${lock.owner}) holds the failover lock since ${lock.acquiredAt}: it is rebuilding the secondary in ${lock.sourceRegion} around the writer in ${lock.targetRegion}, and until it completes ${lock.sourceRegion} holds no caught-up copy of the database, so a ${workflow} would fence the only writer and promote stale or partial data; refused, nothing was touched. Start the ${workflow} once the re-protect has completed (steps.Rebuild.message and steps.CheckRejoin.message say what it waits for). The re-protect renews this lock on every poll; it lapses at ${isoFromEpoch(lock.expiresAt)} if the re-protect stops polling (its region, ${lock.targetRegion}, down), and a ${workflow} started then is checked by its own Preflight. Only if ${lock.targetRegion}'s payments are down while its control plane still runs the re-protect, and steps.CheckRejoin.message shows ${lock.sourceRegion} a connected secondary: stop the re-protect execution, delete the lock item, and start the ${workflow}`,
    );
  }
  return new LockHeldError(
    `a ${lock.operation} to ${lock.targetRegion} (run ${lock.owner}) holds the failover lock since ${lock.acquiredAt}, until ${isoFromEpoch(lock.expiresAt)}; wait for it, resume it with resumeFailoverId: "${lock.owner}", or delete the lock item if that run is abandoned`,
  );
}

function toOutcome(lock: LockItem): AcquireLockOutcome {
  return {
    owner: lock.owner,
    operation: lock.operation as AcquireLockOutcome["operation"],
    acquiredAt: lock.acquiredAt,
    expiresAt: lock.expiresAt,
    facts: lock.facts,
  };
}

/** The AcquireLock task (functions/dr/tasks.ts). */
export const ACQUIRE_LOCK_TASK = stateTask({
  step: "AcquireLock",
  description: "Takes the failover lock and enforces the cooldown",
  workflows: ["failover", "switchover", "failback", "reprotect"],
  permissions: { control: ["getCooldown", "getLock", "putLock"] },
  run: acquireLock,
});
