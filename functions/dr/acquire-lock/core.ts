// Takes the failover lock in the target region's copy of the control table (conditional put),
// then claims it in the other region's copy too (acrossRegions below), so a second run is
// rejected instead of doubled, also when it starts in the other region; and enforces the
// cooldown after a run.
// Re-entrant: the run that holds the lock (same failoverId) gets the same lock back.
import type { DrDeps } from "../shared/deps";
import { epochSeconds, isoFromEpoch } from "../shared/deps";
import { bestEffort } from "../shared/best-effort";
import { DEADLINE_MARGIN_MS, DeadlineError, isDeadlineError } from "../shared/deadline";
import {
  AccessDeniedError,
  CooldownActiveError,
  LockHeldError,
  LockSettlingError,
  LockUnconfirmedError,
} from "../shared/errors";
import { LOCK_SCOPE_FACT } from "../shared/ports";
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
  // When this invocation's AWS calls stop (review H2, review 23 M1): the Lambda's own clock when
  // it has one, counted from before the first local call, less DEADLINE_MARGIN_MS: the SDK
  // deadline every DR client enforces (shared/aws/deadline.ts, set by the task runtime from the
  // same clock), so a release budgeted here is never refused there.
  const deadline = now.getTime() + (deps.remainingMs?.() ?? LAMBDA_TIMEOUT_MS) - DEADLINE_MARGIN_MS;

  const existing = await control.getLock();
  if (existing?.owner === request.failoverId) {
    deps.log.info("lock already held by this run", { acquiredAt: existing.acquiredAt });
    // An attempt that died between the local put and the other copy's claim finishes it.
    return toOutcome(await acrossRegions(existing, state, deps, deadline));
  }
  let overtaken: string | undefined;
  if (existing && existing.expiresAt > nowEpoch) {
    if (!settlingPlannedLock(existing, request.workflow))
      throw heldBy(existing, request.workflow, now);
    const ageMs = now.getTime() - Date.parse(existing.acquiredAt);
    if (ageMs < PLANNED_LOCK_LIFETIME_MS) {
      // Review H1: a planned run's lock with no scope is a claim in progress that either goes
      // ahead (it records its scope; this failover is then refused as before) or gives up and
      // releases. Its claim fails when the other region's DynamoDB does, which is when the alarm
      // starts this failover: refusing it here would leave nobody failing over. Retried by the
      // failover's ASL (its own Retry entry) until the planned run's AcquireLock can no longer
      // be running.
      throw new LockSettlingError(
        `a ${existing.operation} to ${existing.targetRegion} (run ${existing.owner}) took the failover lock at ${existing.acquiredAt} and is still confirming it in the other region; this failover waits for it to go ahead or give up (at most ${PLANNED_LOCK_LIFETIME_MS / 1000} s after its start)`,
      );
    }
    // Past the planned run's AcquireLock lifetime (every ASL attempt ended or was killed): the
    // run stopped without releasing. Taken over with the claim's condition that the holder has
    // not recorded its scope, so a planned run that did (and goes ahead) is never overtaken.
    overtaken = existing.owner;
    deps.log.warn("taking over a stopped planned run's unconfirmed lock", {
      other: existing.owner,
      acquiredAt: existing.acquiredAt,
    });
  }

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
  const put =
    overtaken === undefined
      ? await control.putLock(lock, nowEpoch)
      : await control.claimLock(lock, nowEpoch, overtaken);
  if (!put) {
    const winner = await control.getLock();
    if (winner?.owner === request.failoverId)
      return toOutcome(await acrossRegions(winner, state, deps, deadline));
    if (winner) throw heldBy(winner, request.workflow, deps.now());
    throw new LockHeldError("another run took the failover lock at the same moment");
  }
  const held = await acrossRegions(lock, state, deps, deadline, overtaken);
  deps.log.info("lock acquired", { expiresAt: held.expiresAt, scope: held.facts[LOCK_SCOPE_FACT] });
  return toOutcome(held);
}

export { LOCK_SCOPE_FACT };

/**
 * How a planned run (switchover, failback) retries its claim of the other region's copy. Both
 * regions are up in a planned run, so a failed claim is a throttle, a 5xx or a lost answer, and
 * a retry is the documented answer: "If you receive a ... 5xx ... or a throttling error, retry
 * the request using exponential backoff" (DynamoDB, Error handling: Error retries and
 * exponential backoff, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.RetryAndBackoff),
 * with the SDKs' capped exponential backoff and jitter (AWS SDKs and Tools reference, Retry
 * behavior, https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html). A
 * retried claim is idempotent (free, expired, or already this run's). Equal jitter rather than
 * full: each wait is at least half its step, so the retries spread over the budget instead of
 * bunching at its start. No attempt starts later than budgetMs after the first: one attempt
 * that hangs costs at most the bestEffort profile's ~3 s, and the release below still fits the
 * task's 8 s Lambda timeout (a timeout is retried by the ASL and resumes here: the lock is this
 * run's, so the claim is simply made again).
 */
export const PLANNED_CLAIM = { attempts: 5, baseMs: 300, capMs: 2000 } as const;

/**
 * AcquireLock's Lambda timeout: the state's TimeoutSeconds (10) minus 2 s
 * (infra/constructs/orchestration.ts). Used only where no Lambda context gives the real deadline.
 */
export const LAMBDA_TIMEOUT_MS = 8000;
/**
 * What a planned run keeps back from its deadline before it starts a claim, the first included
 * (review H2, review 23 M1): the attempt's worst case (the bestEffort profile: 1 s to connect +
 * 2 s for the answer, shared/aws/clients.ts), then the release (both copies' deletes at once,
 * each capped at RELEASE_CAP_MS). The deadline is the SDK's (DEADLINE_MARGIN_MS before the
 * Lambda timeout), whose margin is the one for the event loop and the response.
 */
export const RELEASE_CAP_MS = 1500;
export const CLAIM_RESERVE_MS = 3000 + RELEASE_CAP_MS;
/**
 * The longest a planned run's AcquireLock can run, every ASL attempt counted: 5 attempts of at
 * most TimeoutSeconds 10 s, and the Retry's waits (IntervalSeconds 2, BackoffRate 2, FULL jitter:
 * at most 2 + 4 + 8 + 16 s; switchover.asl.json, failback.asl.json), 80 s, plus 10 s for the
 * clocks of two Lambdas and Step Functions' own scheduling. A planned lock with no scope older
 * than this belongs to a run that is no longer claiming (review H1).
 */
export const PLANNED_LOCK_LIFETIME_MS = 90_000;

/**
 * Two runs whose locks were each put before the other's replicated started at the same moment:
 * within the replication delay, "typically within a second or less" (V2globaltables_HowItWorks).
 */
const SAME_MOMENT_MS = 1000;
/** How long a run waits for another's ReleaseLock to finish its second delete (two calls). */
const RELEASE_SETTLE_MS = 1500;

/** The runs whose lock must stand in both copies before they go ahead. */
const PLANNED: ReadonlySet<string> = new Set(["switchover", "failback"]);

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
 * writes replicate in. The winner's write over the loser is conditional on the loser not having
 * recorded its scope: a run that recorded it goes ahead and is never overtaken.
 * When the other region does not answer:
 * - a failover (and a re-protect) claims once (the bestEffort profile: that region is down, or
 *   cut off), and the lock stands in this region's copy only, the fact saying so: DynamoDB
 *   (MREC) cannot order writes across a partition, and a run started on the far side meets this
 *   run at Fence (its conditional write on the flag) and CheckOldWriter;
 * - a switchover or failback retries (PLANNED_CLAIM), then releases its lock and stops with a
 *   page (LockUnconfirmedError): it never goes ahead on one copy.
 * A resumed run that confirmed before does not claim again: a fenced run's lock is never handed
 * over.
 */
async function acrossRegions(
  lock: LockItem,
  state: WorkflowState,
  deps: DrDeps,
  deadline: number,
  overtaken?: string,
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
    // stops, having touched nothing. Or this copy is empty: another run's release, whose delete
    // in the other copy landed after this run's put here, replicated that delete here (last
    // writer wins, by timestamp: review item 5). This run holds the other copy, claimed after
    // that delete, so it puts its lock here again (conditional: still free) and records once more.
    let recorded = await local.control.recordFact(lock.owner, LOCK_SCOPE_FACT, scope);
    if (
      recorded === null &&
      (await local.control.getLock()) === null &&
      (await local.control.claimLock(lock, nowEpoch))
    ) {
      deps.log.warn("this copy's lock was deleted by another run's release; put again", {});
      recorded = await local.control.recordFact(lock.owner, LOCK_SCOPE_FACT, scope);
    }
    if (recorded === null) {
      const holder = await local.control.getLock();
      throw holder && holder.owner !== lock.owner
        ? heldBy(holder, request.workflow, deps.now())
        : new LockHeldError(
            `run ${lock.owner} no longer holds the failover lock in ${request.targetRegion}'s copy (it expired or another run took it while this one claimed ${other}'s); nothing was touched: look at both copies (payments-dr status) and start again`,
          );
    }
    return { ...lock, facts: { ...lock.facts, [LOCK_SCOPE_FACT]: scope } };
  };
  const planned = PLANNED.has(request.workflow);
  /** An unplanned run's lock when the other copy did not answer: this copy's alone. */
  const localOnly = (what: "claimed" | "read", message: string) => {
    deps.log.warn(
      `the other region's copy of the lock could not be ${what}; the lock stands in this region's copy only`,
      { region: other, error: message },
    );
    return scoped(
      `${request.targetRegion} only: ${other} did not answer (${message}); a run started there during the same replication window is stopped by Fence, not by the lock`,
    );
  };
  let claimed: boolean;
  try {
    claimed = planned
      ? await claimWithRetries(lock, other, nowEpoch, deps, deadline)
      : await remote.control.claimLock(lock, nowEpoch, overtaken);
  } catch (error) {
    // This invocation's own time ran out (review 23 M1): not the other region failing, and its
    // release deletes would be refused by the same deadline. The state retries the task with a
    // fresh invocation, which finds this run's lock (re-entrant, above) and claims again.
    if (isDeadlineError(error)) throw error;
    const message = (error as Error).message;
    // A refusal by IAM is a deployment error and stops a planned run (and a re-protect); an
    // unplanned failover's other region is the failed one, whose auth layer may be what is
    // failing (a 403, an expired-token answer), and recovery must not depend on it (readiness's
    // IAM simulation finds a real deployment error before it matters).
    if (error instanceof AccessDeniedError && request.workflow !== "failover") {
      // The release's outcome goes into the Cause: the page says what may still be held.
      const released = await releaseOwn(lock, state, deps);
      throw new AccessDeniedError(`${message}; ${released}`);
    }
    if (planned) {
      // Never local-only: a switchover or failback that goes ahead on one copy can meet a run
      // started in the other region that also went ahead (review H1). Both regions are meant
      // to be up; one that keeps failing is a reason to stop and look, not to guess. And it
      // must not keep its lock: a lock held until DR_LOCK_TTL_MINUTES by a run that stopped
      // here would refuse a real failover for hours.
      const released = await releaseOwn(lock, state, deps);
      throw new LockUnconfirmedError(
        `this ${request.workflow} could not claim the failover lock in ${other}'s copy of the control table (${PLANNED_CLAIM.attempts} attempts at most, within its Lambda's time; last: ${message}), and a planned run never goes ahead on one copy of the lock; ${released}; nothing else was touched. If ${other} is failing, start a failover to ${request.targetRegion} now: it needs nothing from ${other}, and a failover started while this run claimed waited for it and goes ahead by itself (check for one first: payments-dr status). Otherwise check ${other}'s DynamoDB and start the ${request.workflow} again`,
      );
    }
    // Whatever the far region's failure looks like (a timeout, a reset, an SDK wrapper around
    // either, a 5xx), this copy's lock stands: recover without the failed region. A re-protect
    // also claims once: the region it rebuilds may be lost for good (it waits for it to return).
    return localOnly("claimed", message);
  }
  const both = `${request.targetRegion} and ${other}`;
  if (claimed) return scoped(both);
  try {
    return await settle(lock, state, deps, deadline, scoped, overtaken);
  } catch (error) {
    if (!(error instanceof RemoteReadError)) throw error;
    if (isDeadlineError(error.cause)) throw error.cause;
    const message = (error.cause as Error).message;
    // Review L4/H2: a read of the other copy that failed after its claim answered is that
    // region failing as the claim's own failure would be: the same outcome, not an exception
    // that leaves this run's lock to the ASL's retries (and, for a planned run, to its TTL).
    if (planned) {
      const released = await releaseOwn(lock, state, deps);
      throw new LockUnconfirmedError(
        `this ${request.workflow} could not read the failover lock in ${other}'s copy of the control table after its claim there was refused (${message}), and a planned run never goes ahead on one copy of the lock; ${released}; nothing else was touched. If ${other} is failing, start a failover to ${request.targetRegion} now: it needs nothing from ${other}. Otherwise check ${other}'s DynamoDB (payments-dr status) and start the ${request.workflow} again`,
      );
    }
    return localOnly("read", message);
  }
}

/** A read of the other region's copy that failed after its claim answered (settle below). */
class RemoteReadError extends Error {}

/**
 * After the claim of the other copy was refused: who holds it, and who of the two goes ahead.
 */
async function settle(
  lock: LockItem,
  state: WorkflowState,
  deps: DrDeps,
  deadline: number,
  scoped: (scope: string) => Promise<LockItem>,
  overtaken?: string,
): Promise<LockItem> {
  const { request } = state;
  const local = deps.ports(request.targetRegion, "critical");
  const other = otherRegion(deps.topology, request.targetRegion);
  const remote = deps.ports(other, "bestEffort");
  const nowEpoch = epochSeconds(deps.now());
  const both = `${request.targetRegion} and ${other}`;
  const readTheirs = async () => {
    try {
      return await remote.control.getLock();
    } catch (error) {
      throw new RemoteReadError("the other copy could not be read", { cause: error });
    }
  };
  let theirs = await readTheirs();
  if (
    theirs !== null &&
    theirs.owner !== lock.owner &&
    theirs.owner !== overtaken &&
    theirs.expiresAt >= nowEpoch &&
    Date.parse(lock.acquiredAt) - Date.parse(theirs.acquiredAt) > SAME_MOMENT_MS &&
    // Only when the wait and the read after it (bestEffort: 3 s at worst) end before the
    // Lambda's deadline (review L4): a claim that answered slowly settles on what it read.
    deps.now().getTime() + RELEASE_SETTLE_MS + 3000 + 500 <= deadline
  ) {
    // Not a run started at the same moment: this copy was free though that run's lock is older
    // than replication usually takes, so it was most likely deleted here by its ReleaseLock,
    // which deletes this copy first and its own a few hundred milliseconds later. Settled now,
    // this run would be refused for nothing, and would write a lock being released back into
    // this copy. So look again once the release has had time to finish (review item 5); a lock
    // still there is a live one (replication slower than usual) and is settled as before.
    deps.log.warn("the other copy holds an older run's lock this copy does not: looking again", {
      other: theirs.owner,
      acquiredAt: theirs.acquiredAt,
    });
    await new Promise<void>((resolve) => setTimeout(resolve, RELEASE_SETTLE_MS));
    theirs = await readTheirs();
  }
  if (theirs === null || theirs.owner === lock.owner || theirs.expiresAt < nowEpoch) {
    // Gone or expired between the claim and the read: claim once more.
    if (await remote.control.claimLock(lock, nowEpoch)) return scoped(both);
    const released = await stepAside(lock, state, deps);
    throw new LockHeldError(
      `another run took the failover lock in ${other}'s copy at the same moment as run ${lock.owner} took ${request.targetRegion}'s; ${released}; nothing was touched: look at both copies (payments-dr status) and start again`,
    );
  }
  if (wins(lock, theirs) || theirs.owner === overtaken) {
    // Conditional on the other run not having recorded its scope (the adapter): once it has, it
    // goes ahead, and writing over it would let both runs through (review H1). In that copy its
    // recordFact and this write are ordered, so exactly one of them succeeds.
    const there = await remote.control.claimLock(lock, nowEpoch, theirs.owner);
    const here = there && (await local.control.claimLock(lock, nowEpoch, theirs.owner));
    if (here) {
      deps.log.warn("a run started in the other region at the same moment; this one won the lock", {
        other: theirs.owner,
      });
      return scoped(`${both} (won over run ${theirs.owner}, started at the same moment)`);
    }
    const released = await stepAside(lock, state, deps);
    throw new LockHeldError(
      `run ${lock.owner} and a ${theirs.operation} (run ${theirs.owner}) took the failover lock in different regions at the same moment, and run ${theirs.owner} had already confirmed it (it goes ahead) or a third write changed it while this run settled it; ${released}; nothing was touched: look at both copies (payments-dr status) and start again`,
    );
  }
  // The other run wins: its lock in this copy too, over this run's own.
  await local.control.claimLock(theirs, nowEpoch, lock.owner);
  throw new LockHeldError(
    `a ${theirs.operation} to ${theirs.targetRegion} (run ${theirs.owner}) took the failover lock in ${other} at the same moment (${theirs.acquiredAt}) as this ${request.workflow} (${lock.acquiredAt}) took it in ${request.targetRegion}, and the earlier one goes ahead; this run touched nothing. ${heldBy(theirs, request.workflow, deps.now()).message}`,
  );
}

/**
 * The claim of the other copy for a planned run: bounded retries with capped exponential backoff
 * (PLANNED_CLAIM). IAM's refusal is not retried. Throws the last error when none answered.
 */
async function claimWithRetries(
  lock: LockItem,
  other: string,
  nowEpoch: number,
  deps: DrDeps,
  deadline: number,
): Promise<boolean> {
  const remote = deps.ports(other, "bestEffort");
  // The first claim too (review 23 M1): started too late, the SDK deadline would cut it and then
  // refuse the release. Not started, the state retries the task with a fresh invocation.
  if (deps.now().getTime() + CLAIM_RESERVE_MS > deadline) {
    throw new DeadlineError(
      `no time left in this invocation to claim the failover lock in ${other}'s copy and release it if that fails (${CLAIM_RESERVE_MS} ms needed, ${deadline - deps.now().getTime()} ms left before the task's deadline); retried by the state with a fresh invocation, which finds this run's lock`,
    );
  }
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await remote.control.claimLock(lock, nowEpoch);
    } catch (error) {
      if (error instanceof AccessDeniedError) throw error;
      const step = Math.min(PLANNED_CLAIM.capMs, PLANNED_CLAIM.baseMs * 2 ** attempt);
      const delay = step / 2 + Math.random() * (step / 2);
      // Bounded by when the next attempt ENDS at worst, its release included (review H2): one
      // that cannot end before the Lambda's deadline is not started.
      const endsBy = deps.now().getTime() + delay + CLAIM_RESERVE_MS;
      if (attempt + 1 >= PLANNED_CLAIM.attempts || endsBy > deadline) throw error;
      deps.log.warn("the claim of the other region's copy of the lock failed; retrying", {
        region: other,
        attempt: attempt + 1,
        delayMs: Math.round(delay),
        error: (error as Error).message,
      });
      await new Promise<void>((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Deletes this run's lock where it still stands, before a run that took it stops at AcquireLock,
 * so the lock does not refuse the next run (a real failover) until it expires. Conditional on the
 * owner in each copy (deleteLock): another run's lock is never touched. This region's copy first
 * (it is up: this code runs there), then the other copy, which may hold it if a claim landed
 * whose answer was lost; best-effort and short, since this copy's delete also replicates there
 * (last writer wins, and the delete is the later write). Returns what it did, for the message.
 */
async function releaseOwn(lock: LockItem, state: WorkflowState, deps: DrDeps): Promise<string> {
  const { request } = state;
  const other = otherRegion(deps.topology, request.targetRegion);
  // Both deletes at once, each capped (RELEASE_CAP_MS), so the release fits the reserve the claim
  // kept for it (review H2). Both are deletes conditional on the owner: their order changes nothing.
  const [mine, there] = await Promise.all([
    bestEffort(
      `the failover lock in ${request.targetRegion}'s copy of the control table`,
      () => deps.ports(request.targetRegion, "critical").control.deleteLock(lock.owner),
      deps,
      Math.min(RELEASE_CAP_MS, deps.settings.bestEffortTimeoutMs),
    ),
    bestEffort(
      `the failover lock in ${other}'s copy of the control table`,
      () => deps.ports(other, "bestEffort").control.deleteLock(lock.owner),
      deps,
      Math.min(RELEASE_CAP_MS, deps.settings.bestEffortTimeoutMs),
    ),
  ]);
  const here = mine.ok
    ? `its lock was released in ${request.targetRegion}'s copy`
    : `its lock could not be released in ${request.targetRegion}'s copy (${mine.error}): it lapses at ${isoFromEpoch(lock.expiresAt)}, or delete it (payments-dr status shows it)`;
  return there.ok
    ? `${here} and in ${other}'s`
    : `${here}; ${other}'s copy was left to replication (${there.error})`;
}

/**
 * What a run refused after its own put leaves behind. Global tables replicate whole items, last
 * writer wins, and ignore conditions: whatever this run writes in its own copy now also lands in
 * the other copy. A delete there would remove the lock of the run that went ahead (its writes
 * are older), so when the other copy holds another live run's lock, this run writes that lock,
 * read fresh (with its recorded scope), over its own instead; every copy then names the run
 * that goes ahead. With no such lock to carry, it releases its own (releaseOwn).
 */
async function stepAside(lock: LockItem, state: WorkflowState, deps: DrDeps): Promise<string> {
  const { request } = state;
  const other = otherRegion(deps.topology, request.targetRegion);
  const nowEpoch = epochSeconds(deps.now());
  const theirs = await bestEffort(
    `the failover lock in ${other}'s copy of the control table`,
    () => deps.ports(other, "bestEffort").control.getLock(),
    deps,
  );
  const holder = theirs.ok ? theirs.value : null;
  if (holder && holder.owner !== lock.owner && holder.expiresAt >= nowEpoch) {
    const local = deps.ports(request.targetRegion, "critical").control;
    if (await local.claimLock(holder, nowEpoch, lock.owner))
      return `its lock in ${request.targetRegion}'s copy was replaced by run ${holder.owner}'s`;
  }
  return releaseOwn(lock, state, deps);
}

/** The same answer in both runs: the earlier acquiredAt, then the smaller run id. */
function wins(mine: LockItem, theirs: LockItem): boolean {
  return (
    mine.acquiredAt < theirs.acquiredAt ||
    (mine.acquiredAt === theirs.acquiredAt && mine.owner < theirs.owner)
  );
}

/** A planned run's lock not yet confirmed (no scope), met by an unplanned failover. */
function settlingPlannedLock(lock: LockItem, workflow: string): boolean {
  return (
    workflow === "failover" &&
    PLANNED.has(lock.operation) &&
    lock.facts?.[LOCK_SCOPE_FACT] === undefined
  );
}

function heldBy(lock: LockItem, workflow: string, now: Date): LockHeldError {
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
  if (
    PLANNED.has(lock.operation) &&
    lock.facts?.[LOCK_SCOPE_FACT] === undefined &&
    now.getTime() - Date.parse(lock.acquiredAt) >= PLANNED_LOCK_LIFETIME_MS
  ) {
    // A planned run that never confirmed its lock (no scope) and whose AcquireLock can no longer
    // be running: it stopped before touching anything, and was killed before its release. A
    // resume would claim again while a failover may take this lock over (review 22b-12 M1): the
    // safe step is to delete the item.
    return new LockHeldError(
      `a ${lock.operation} to ${lock.targetRegion} (run ${lock.owner}) took the failover lock at ${lock.acquiredAt} but never confirmed it in both regions, and its AcquireLock stopped more than ${PLANNED_LOCK_LIFETIME_MS / 1000} s ago: it changed nothing. Do not resume it; delete the lock item in both regions' copies (payments-dr status shows it) and start the ${workflow} again. A failover takes such a lock over by itself`,
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
  // claimLock, getLock and deleteLock (a stopped run's release) also in the other region's
  // copy; recordFact keeps the lock's scope.
  permissions: {
    control: ["getCooldown", "getLock", "putLock", "claimLock", "recordFact", "deleteLock"],
  },
  run: acquireLock,
});
