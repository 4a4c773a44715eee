// Takes the failover lock in the target region's copy of the control table (conditional put),
// then claims it in the other region's copy too (acrossRegions below), so a second run is
// rejected instead of doubled, also when it starts in the other region; and enforces the
// cooldown after a run.
// Re-entrant: the run that holds the lock (same failoverId) gets the same lock back.
import type { DrDeps } from "../shared/deps";
import { epochSeconds, isoFromEpoch } from "../shared/deps";
import { AccessDeniedError, CooldownActiveError, LockHeldError } from "../shared/errors";
import type { LockItem } from "../shared/ports";
import { LOCK_LEASE_MINUTES } from "../shared/settings";
import type { LockResult, StepTimes, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";
import { otherRegion } from "../shared/topology";

export type AcquireLockOutcome = Omit<LockResult, keyof StepTimes>;

export async function acquireLock(state: WorkflowState, deps: DrDeps): Promise<AcquireLockOutcome> {
  const { request } = state;
  const control = deps.ports(request.targetRegion, "critical").control;
  const now = deps.now();
  const nowEpoch = epochSeconds(now);

  const existing = await control.getLock();
  if (existing?.owner === request.failoverId) {
    deps.log.info("lock already held by this run", { acquiredAt: existing.acquiredAt });
    // An attempt that died between the local put and the other copy's claim finishes it.
    return toOutcome(await acrossRegions(existing, state, deps));
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
    if (winner?.owner === request.failoverId)
      return toOutcome(await acrossRegions(winner, state, deps));
    if (winner) throw heldBy(winner, request.workflow);
    throw new LockHeldError("another run took the failover lock at the same moment");
  }
  const held = await acrossRegions(lock, state, deps);
  deps.log.info("lock acquired", { expiresAt: held.expiresAt, scope: held.facts[LOCK_SCOPE_FACT] });
  return toOutcome(held);
}

/** The lock fact that says in which copies of the control table the lock was confirmed. */
export const LOCK_SCOPE_FACT = "lockScope";

/**
 * The lock across the two copies of the control table. A conditional put is evaluated against
 * the local replica only, and replication is asynchronous: "Conditional writes evaluate the
 * condition expression against the version of the item in the Region"; items are "replicated
 * ... typically within a second or less"; concurrent writes end with "last writer wins"
 * (V2globaltables_HowItWorks.html, MREC). So a run started in us-east-1 and one started in
 * us-west-2 within the replication delay could both win their own copy. The local put above is
 * therefore followed by a claim of the other region's copy (conditional: free, or already this
 * run's): once the lock is in both copies, any later put in either fails. When the other copy
 * holds another live run's lock, the two runs started at the same moment and each sees the
 * other's: both pick the same winner (earlier acquiredAt, then the smaller run id), the winner
 * writes its lock into both copies, the loser writes the winner's lock into its own copy and is
 * refused. No one deletes: a delete is replicated too, with a later timestamp, and would remove
 * the winner's lock everywhere. Every copy then holds the winner's lock, whatever order the
 * writes replicate in. When the other region does not answer (one attempt, the bestEffort
 * profile: it is down, or cut off), the lock stands in this region's copy only, and the fact
 * says so: DynamoDB (MREC) cannot order writes across a partition, and a run started on the far
 * side meets this run at Fence (its conditional write on the flag) and Preflight. A resumed run
 * that confirmed before does not claim again: a fenced run's lock is never handed over.
 */
async function acrossRegions(
  lock: LockItem,
  state: WorkflowState,
  deps: DrDeps,
): Promise<LockItem> {
  const { request } = state;
  if (lock.facts[LOCK_SCOPE_FACT] !== undefined) return lock;
  // Ports, not their control tables, so the permission test finds each control.<method> call.
  const local = deps.ports(request.targetRegion, "critical");
  const other = otherRegion(deps.topology, request.targetRegion);
  const remote = deps.ports(other, "bestEffort");
  const nowEpoch = epochSeconds(deps.now());
  const scoped = async (scope: string): Promise<LockItem> => {
    // recordFact writes only while this run holds this copy: null means a run settled in the
    // other region has written its lock over this one here (it won the tie-break), so this run
    // stops, having touched nothing.
    if ((await local.control.recordFact(lock.owner, LOCK_SCOPE_FACT, scope)) === null) {
      const holder = await local.control.getLock();
      throw holder && holder.owner !== lock.owner
        ? heldBy(holder, request.workflow)
        : new LockHeldError(
            `run ${lock.owner} no longer holds the failover lock in ${request.targetRegion}'s copy (it expired or another run took it while this one claimed ${other}'s); nothing was touched: look at both copies (payments-dr status) and start again`,
          );
    }
    return { ...lock, facts: { ...lock.facts, [LOCK_SCOPE_FACT]: scope } };
  };
  let claimed: boolean;
  try {
    claimed = await remote.control.claimLock(lock, nowEpoch);
  } catch (error) {
    // Whatever the far region's failure looks like (a timeout, a reset, an SDK wrapper around
    // either, a 5xx), this copy's lock stands. A refusal by IAM is a deployment error and stops a
    // planned run; an unplanned failover's other region is the failed one, whose auth layer may
    // be what is failing (a 403, an expired-token answer), and recovery must not depend on it
    // (readiness's IAM simulation finds a real deployment error before it matters).
    if (error instanceof AccessDeniedError && request.workflow !== "failover") throw error;
    deps.log.warn(
      "the other region's copy of the lock could not be claimed; the lock stands in this region's copy only",
      {
        region: other,
        error: (error as Error).message,
      },
    );
    return scoped(
      `${request.targetRegion} only: ${other} did not answer (${(error as Error).message}); a run started there during the same replication window is stopped by Fence, not by the lock`,
    );
  }
  const both = `${request.targetRegion} and ${other}`;
  if (claimed) return scoped(both);
  const theirs = await remote.control.getLock();
  if (theirs === null || theirs.owner === lock.owner || theirs.expiresAt < nowEpoch) {
    // Gone or expired between the claim and the read: claim once more.
    if (await remote.control.claimLock(lock, nowEpoch)) return scoped(both);
    throw new LockHeldError(
      `another run took the failover lock in ${other}'s copy at the same moment as run ${lock.owner} took ${request.targetRegion}'s; nothing was touched: look at both copies (payments-dr status) and start again`,
    );
  }
  if (wins(lock, theirs)) {
    const there = await remote.control.claimLock(lock, nowEpoch, theirs.owner);
    const here = there && (await local.control.claimLock(lock, nowEpoch, theirs.owner));
    if (here) {
      deps.log.warn("a run started in the other region at the same moment; this one won the lock", {
        other: theirs.owner,
      });
      return scoped(`${both} (won over run ${theirs.owner}, started at the same moment)`);
    }
    throw new LockHeldError(
      `run ${lock.owner} and a ${theirs.operation} (run ${theirs.owner}) took the failover lock in different regions at the same moment, and a third write changed it while this run settled it; nothing was touched: look at both copies (payments-dr status) and start again`,
    );
  }
  // The other run wins: its lock in this copy too, over this run's own.
  await local.control.claimLock(theirs, nowEpoch, lock.owner);
  throw new LockHeldError(
    `a ${theirs.operation} to ${theirs.targetRegion} (run ${theirs.owner}) took the failover lock in ${other} at the same moment (${theirs.acquiredAt}) as this ${request.workflow} (${lock.acquiredAt}) took it in ${request.targetRegion}, and the earlier one goes ahead; this run touched nothing. ${heldBy(theirs, request.workflow).message}`,
  );
}

/** The same answer in both runs: the earlier acquiredAt, then the smaller run id. */
function wins(mine: LockItem, theirs: LockItem): boolean {
  return (
    mine.acquiredAt < theirs.acquiredAt ||
    (mine.acquiredAt === theirs.acquiredAt && mine.owner < theirs.owner)
  );
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
  // claimLock and getLock also in the other region's copy; recordFact keeps the lock's scope.
  permissions: { control: ["getCooldown", "getLock", "putLock", "claimLock", "recordFact"] },
  run: acquireLock,
});
