// One look for proof that the old region can no longer commit a payment, between Fence and the
// promotion. The state machine looks again (WaitForOldWriter) until this says `stopped`, and
// stops in the safe state after its bound. Two proofs, argued in state-machines/README.md:
//
// - confirmed: the old region's own replica of the flag names the target. Its payment path then
//   refuses writes once the flag it may have cached expires and a write that passed the check
//   before has committed or died: DR_FENCE_SETTLE_SECONDS after the confirmation.
// - database (failover only, the old region being the deployed primary with rds.global_db_rpo):
//   the active cluster commits a heartbeat every few seconds, and the primary "blocks the
//   transaction if all secondary DB clusters have RPO lag times that are larger than the RPO"
//   (aurora-global-database-disaster-recovery, "Managing RPOs"). Once rpo + the heartbeat
//   interval + a margin have passed since the target's cluster was first seen holding its newest
//   heartbeat (never before that beat committed: the value itself is the start of a transaction
//   the guard may have paused), the beat due after it has been unreplicated for longer than the
//   RPO, so the old primary commits nothing at all. Only counted while the heartbeat is known to
//   be alive: the prober in the target region saw it advance and never saw it stand still while
//   the writer answered healthy (functions/dr/shared/heartbeat-watch.ts). A frozen heartbeat
//   (pg_cron not loaded, its job dead) proves nothing.
//
// Nothing here calls the old region except the best-effort read of its flag (1 attempt, capped),
// so a dead old region costs a couple of seconds per look and never blocks the database proof.
import { FENCE_PHASE } from "../../common/contract";
import { regionCode } from "../../../infra/naming";
import { bestEffort } from "../shared/best-effort";
import { heartbeatLiveness } from "../shared/heartbeat-watch";
import type { DrDeps } from "../shared/deps";
import type { HeartbeatWatch } from "../shared/ports";
import { NotFencedError } from "../shared/errors";
import { regionOf } from "../shared/topology";
import type {
  CheckOldWriterResult,
  StepTimes,
  WorkflowState,
  WriterStopEvidence,
} from "../shared/types";
import { stateTask } from "../shared/task";

export type CheckOldWriterOutcome = Omit<CheckOldWriterResult, keyof StepTimes> &
  Partial<Pick<StepTimes, "startedAt">>;

/** Seconds between two looks while no proof is in sight. */
export const LOOK_INTERVAL_SECONDS = 5;
/** Lock fact: when the old region's replica was first seen naming the target. */
export const CONFIRMED_FACT = "fenceConfirmedAt";
const PROMOTION_FACT = "promotionMethod";

/** rds.global_db_rpo of the old region's cluster, when the database proof applies at all. */
export function databaseGuard(state: WorkflowState, deps: DrDeps): number | null {
  const { request } = state;
  // The guard is set on the deployed primary's cluster only: after a failover the new primary has
  // no caught-up secondary, and with the guard set it would block every commit.
  if (request.workflow !== "failover") return null;
  if (regionOf(deps.topology, request.sourceRegion).role !== "primary") return null;
  return deps.settings.dbRpoSeconds;
}

/**
 * When a heartbeat the target was first seen holding at `firstSeenAt` (and nothing newer since)
 * proves the old primary stopped, in ms.
 */
export function databaseStopMs(firstSeenAt: string, rpoSeconds: number, deps: DrDeps): number {
  const { heartbeatSeconds, writerStopMarginSeconds } = deps.settings;
  return Date.parse(firstSeenAt) + (rpoSeconds + heartbeatSeconds + writerStopMarginSeconds) * 1000;
}

/**
 * When the old region's payment path can no longer commit on the peer lease alone, its replica
 * confirming nothing: DR_LEASE_SETTLE_SECONDS after the fence was written in the target (every
 * renewal the old region can hold was stamped before that; infra/lib/fence-bound.ts).
 */
export function leaseStopMs(fencedAt: string, deps: DrDeps): number {
  return Date.parse(fencedAt) + deps.settings.leaseSettleSeconds * 1000;
}

/** Allowance for the DB server's clock (a beat's value) against this Lambda's (the settle). */
export const CLOCK_SKEW_ALLOWANCE_MS = 1000;

/**
 * Whether a heartbeat may be the old primary's: written by an instance of the source region (the
 * job stamps aurora_db_instance_identifier(), migration 013, and instance names carry the region
 * code: payments-db-<n>-<code>-<suffix>, infra/naming.ts). A beat without a name (the /health
 * path, or from before 013) is counted, as Preflight's veto counts it. A beat a target instance
 * wrote (the target made writable out of band, or by an earlier request) says nothing about the
 * old primary's paused COMMITs (review 24-10k M2).
 */
export function writtenBySource(writer: string | null | undefined, sourceRegion: string): boolean {
  if (writer == null) return true;
  return new RegExp(`-db-\\d+-${regionCode(sourceRegion)}-`).test(writer);
}

/**
 * Since when COMMITs the RPO guard may have paused on the old primary have been resumed: the
 * sighting of the second of two heartbeats from the old primary's instance, both begun after the
 * settle plus a clock-skew allowance and at least one heartbeat interval apart (kept across
 * looks), or null.
 *
 * The settle after the confirmation bounds when the old region's payment path admits and sends
 * its last statement, not when a COMMIT paused by rds.global_db_rpo ends: statement_timeout does
 * not end a commit wait, and "Paused transactions are resumed and committed as soon as the lag
 * time of at least one secondary DB cluster becomes less than the RPO"
 * (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html#aurora-global-database-manage-recovery),
 * however long after. One that lands after FailoverGlobalCluster ("Managed failover doesn't wait
 * for data to synchronize"; write fencing is best effort: "writes might be momentarily accepted
 * in the old primary Region", same page) is a second writer: chaos schedule 994 of seed
 * 20261130, payments paused since before the fence committed up to 0.2 s into the failover.
 * A heartbeat whose transaction began after the settle committed after every admitted
 * transaction had sent its COMMIT, and the guard blocks the whole cluster or none of it, so the
 * guard was open when that beat committed. One beat shows it open at one instant only: the lag
 * is computed periodically (last_lag_calculation_time, aurora_global_db_status.html) and can dip
 * under the RPO and rise again before every paused backend was let through. Two beats one
 * interval apart both committed show it open across that interval (review 24-10k M3). The beat's
 * value is the DB server's now(), the settle this Lambda's clock: both on Amazon Time Sync,
 * allowed CLOCK_SKEW_ALLOWANCE_MS. The proof counts from the second sighting plus one heartbeat
 * interval for the resumed ones to finish (AWS says "as soon as" and gives no figure). Without
 * such beats (the lag still above the RPO) the database proof is the one that can hold: the
 * primary stays blocked, and the target stops acknowledging it at the failover.
 */
function resumedSince(
  sighting: HeartbeatSighting,
  settledAt: number,
  firstBeatAt: string | null,
  sourceRegion: string,
  intervalMs: number,
): { firstBeatAt: string | null; resumedSeenAt: string | null } {
  const none = { firstBeatAt, resumedSeenAt: null };
  if (sighting.beatAt === null || sighting.seenAt === null) return none;
  if (!writtenBySource(sighting.writer, sourceRegion)) return none;
  const beat = Date.parse(sighting.beatAt);
  if (beat < settledAt + CLOCK_SKEW_ALLOWANCE_MS) return none;
  if (firstBeatAt === null) return { firstBeatAt: sighting.beatAt, resumedSeenAt: null };
  return beat - Date.parse(firstBeatAt) >= intervalMs
    ? { firstBeatAt, resumedSeenAt: sighting.seenAt }
    : none;
}

interface HeartbeatSighting {
  /** The newest heartbeat the target's cluster holds (its value). */
  readonly beatAt: string | null;
  /** The instance that wrote it, when the reader says (migration 013). */
  readonly writer?: string | null;
  /** When it was first seen there (the prober's record, or this run's own looks). */
  readonly seenAt: string | null;
  /** Why it cannot count as proof; null when it can. */
  readonly notLive: string | null;
}

/** What the target holds of the heartbeat, when it was first seen and whether it is alive. */
async function sightHeartbeat(
  state: WorkflowState,
  deps: DrDeps,
  ports: ReturnType<DrDeps["ports"]>,
): Promise<HeartbeatSighting> {
  const previous = state.steps.CheckOldWriter;
  let beatAt: string | null;
  let writer: string | null;
  let watch: HeartbeatWatch | null;
  try {
    let held: Awaited<ReturnType<typeof ports.replica.writerHeartbeat>>;
    [held, watch] = await Promise.all([
      ports.replica.writerHeartbeat(),
      ports.control.getHeartbeatWatch(),
    ]);
    beatAt = held?.beatAt ?? null;
    writer = held?.writer ?? null;
  } catch (error) {
    deps.log.warn("writer heartbeat unreadable in the target region", {
      error: error instanceof Error ? error.message : String(error),
    });
    return { beatAt: null, seenAt: null, notLive: "the writer heartbeat could not be read" };
  }
  if (beatAt === null) return { beatAt, seenAt: null, notLive: "no writer heartbeat" };
  const now = deps.now();
  const newer = watch !== null && Date.parse(beatAt) > Date.parse(watch.beatAt);
  if (watch !== null && !newer) {
    // The prober saw this value (or a newer one, from another reader) first: count from then.
    // The prober stops looking once the flag names the target (it probes the active region
    // only), so its record must have been fresh when this run fenced, not now.
    const fencedAt = state.steps.Fence ? new Date(state.steps.Fence.fencedAt) : now;
    const liveness = heartbeatLiveness(watch, fencedAt, deps.settings.heartbeatWatchMaxAgeSeconds);
    return {
      beatAt,
      writer,
      seenAt: watch.firstSeenAt,
      notLive: liveness.alive ? null : liveness.why,
    };
  }
  // A value the prober has not seen yet: this run saw it first, now or at an earlier look.
  const seenAt =
    previous?.heartbeatAt === beatAt && previous.heartbeatSeenAt
      ? previous.heartbeatSeenAt
      : now.toISOString();
  return {
    beatAt,
    writer,
    seenAt,
    // Newer than what the prober recorded: it advanced, so the job beats.
    notLive: newer ? null : "the prober has no record of the writer heartbeat",
  };
}

export async function checkOldWriter(
  state: WorkflowState,
  deps: DrDeps,
): Promise<CheckOldWriterOutcome> {
  const { request } = state;
  const fence = state.steps.Fence;
  if (!fence) throw new NotFencedError("CheckOldWriter ran without a Fence result");
  const previous = state.steps.CheckOldWriter;
  const firstLook = previous ? Date.parse(previous.startedAt) : deps.now().getTime();
  const ports = deps.ports(request.targetRegion, "critical");
  const lock = await ports.control.getLock();
  const facts = lock?.owner === request.failoverId ? lock.facts : {};

  // The old region's own replica of the flag. A planned move needs it (the old region is up);
  // a failover only hopes for it.
  const planned = request.workflow !== "failover";
  const remote = await bestEffort(
    `GetItem active-region in ${request.sourceRegion}`,
    () =>
      deps
        .ports(request.sourceRegion, planned ? "critical" : "bestEffort")
        .control.getActiveRegion(),
    deps,
  );
  const readAt = deps.now();
  const oldRegionFlag = !remote.ok
    ? "unreachable"
    : remote.value?.activeRegion === request.targetRegion &&
        remote.value.fencingToken >= fence.fencingToken
      ? "confirmed"
      : "replicating";
  let confirmedAt =
    previous?.confirmedAt ??
    (typeof facts[CONFIRMED_FACT] === "string" ? (facts[CONFIRMED_FACT] as string) : null);
  if (confirmedAt === null && oldRegionFlag === "confirmed") {
    // The read returned the new flag at readAt, so it had arrived by then: counting from readAt
    // is never early. Recorded on the lock, so a resumed run does not need the old region again.
    const stored = await ports.control.recordFact(
      request.failoverId,
      CONFIRMED_FACT,
      readAt.toISOString(),
    );
    confirmedAt = typeof stored === "string" ? stored : readAt.toISOString();
  }

  const rpo = databaseGuard(state, deps);
  const sighting: HeartbeatSighting =
    rpo === null
      ? { beatAt: null, seenAt: null, notLive: null }
      : await sightHeartbeat(state, deps, ports);
  const heartbeatAt = sighting.beatAt;

  const now = deps.now().getTime();
  const candidates: [WriterStopEvidence, number][] = [];
  let resumedSeenAt: string | null = null;
  let firstBeatAt: string | null = previous?.pausedCommitsFirstBeatAt ?? null;
  if (facts[PROMOTION_FACT] !== undefined) candidates.push(["promotion-requested", firstLook]);
  // A resume of a run whose execution died after Unfence: the lock that held the promotion fact
  // may be gone (ReleaseLock), and the promoted cluster commits its own heartbeat, so neither
  // proof above can hold again; the flag this run left open says it got through this check.
  if (fence.phase === FENCE_PHASE.open) candidates.push(["completed", firstLook]);
  if (confirmedAt !== null) {
    const settledAt = Date.parse(confirmedAt) + deps.settings.fenceSettleSeconds * 1000;
    if (rpo === null) candidates.push(["confirmed", settledAt]);
    else {
      resumedSeenAt = previous?.pausedCommitsResumedSeenAt ?? null;
      if (resumedSeenAt === null) {
        ({ firstBeatAt, resumedSeenAt } = resumedSince(
          sighting,
          settledAt,
          firstBeatAt,
          request.sourceRegion,
          deps.settings.heartbeatSeconds * 1000,
        ));
      }
      if (resumedSeenAt !== null) {
        const drainedAt = Date.parse(resumedSeenAt) + deps.settings.heartbeatSeconds * 1000;
        candidates.push(["confirmed", Math.max(settledAt, drainedAt)]);
      }
    }
  }
  if (rpo !== null && sighting.seenAt !== null && sighting.notLive === null) {
    // Aurora's fence of a reachable old primary is best-effort, and an old primary that had
    // nothing unreplicated is not blocked by the guard when its region comes back: the peer
    // lease (PEER_LEASE) is what stops its payment functions then, once
    // DR_LEASE_SETTLE_SECONDS have passed since this run's fence (review M3). The two waits
    // overlap: the later one counts.
    candidates.push([
      "database",
      Math.max(databaseStopMs(sighting.seenAt, rpo, deps), leaseStopMs(fence.fencedAt, deps)),
    ]);
  }
  if (request.assumeOldWriterStopped) candidates.push(["operator", firstLook]);
  const holding = candidates.filter(([, at]) => at <= now);
  const soonest = candidates.map(([, at]) => at).sort((a, b) => a - b)[0];
  const [evidence, stoppedAt] = holding[0] ?? ["none", soonest ?? null];
  const stopped = holding.length > 0;
  const nextCheckSeconds = stopped
    ? 0
    : Math.max(
        1,
        Math.min(
          LOOK_INTERVAL_SECONDS,
          soonest === undefined ? LOOK_INTERVAL_SECONDS : Math.ceil((soonest - now) / 1000),
        ),
      );
  const looks = (previous?.looks ?? 0) + 1;
  const waitingFor = stopped
    ? ""
    : [
        confirmedAt === null
          ? `the old region's replica of the flag has not confirmed the fence (read: ${oldRegionFlag})`
          : rpo !== null && resumedSeenAt === null
            ? `the old region's replica confirmed the fence at ${confirmedAt}, but the target has not held two writer heartbeats from the old primary begun after the settle, one heartbeat interval apart (newest held: ${heartbeatAt ?? "none"}${sighting.writer ? `, written by ${sighting.writer}` : ""}), so COMMITs the RPO guard may have paused there are not known to have resumed: check that no session on the old writer waits on a COMMIT and that its heartbeat job (pg_cron payments-writer-heartbeat) runs`
            : `the old region's replica confirmed the fence at ${confirmedAt}; the settle has not passed`,
        ...(rpo === null
          ? []
          : [
              sighting.notLive !== null
                ? `the database proof cannot count: ${sighting.notLive}`
                : `the database proof needs the heartbeat it holds (${heartbeatAt ?? "none"}) to stay the newest until ${new Date(Math.max(databaseStopMs(sighting.seenAt ?? new Date(now).toISOString(), rpo, deps), leaseStopMs(fence.fencedAt, deps))).toISOString()}`,
            ]),
      ].join("; ");
  const outcome: CheckOldWriterOutcome = {
    ...(previous ? { startedAt: previous.startedAt } : {}),
    stopped,
    evidence,
    oldRegionFlag,
    confirmedAt,
    heartbeatAt,
    heartbeatSeenAt: sighting.seenAt,
    ...(rpo !== null && sighting.notLive !== null ? { heartbeatNotProof: sighting.notLive } : {}),
    ...(rpo !== null && sighting.writer != null ? { heartbeatWriter: sighting.writer } : {}),
    ...(rpo !== null && confirmedAt !== null
      ? { pausedCommitsResumedSeenAt: resumedSeenAt, pausedCommitsFirstBeatAt: firstBeatAt }
      : {}),
    stoppedAt: stoppedAt === null ? null : new Date(stoppedAt).toISOString(),
    ...(stopped ? {} : { waitingFor }),
    nextCheckSeconds,
    elapsedSeconds: Math.round((now - firstLook) / 1000),
    looks,
  };
  deps.log.info(stopped ? "old writer provably stopped" : "old writer not yet provably stopped", {
    ...outcome,
  });
  return outcome;
}

/** The CheckOldWriter task (functions/dr/tasks.ts). */
export const CHECK_OLD_WRITER_TASK = stateTask({
  step: "CheckOldWriter",
  description: "Looks for proof that the old region can no longer commit a payment",
  workflows: ["failover", "switchover", "failback"],
  permissions: {
    control: ["getLock", "getActiveRegion", "recordFact", "getHeartbeatWatch"],
    replica: ["writerHeartbeat"],
  },
  run: checkOldWriter,
});
