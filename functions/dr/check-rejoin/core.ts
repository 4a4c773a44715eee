// One poll of the region that lost the writer, on its way back to a caught-up secondary: its
// region answers, its cluster is a member of the global cluster again, connected and available,
// and its replication lag is within the limit. The failback workflow waits on it before it
// touches anything (AWS: after a managed failover "Aurora automatically adds it back to the
// global cluster as a secondary Region" once the old Region is healthy, and "creates a new
// storage volume for the old primary Region after it recovers", which takes "a few minutes to
// several hours": aurora-global-database-disaster-recovery.html); re-protect waits on it after
// the rebuild. Read-only; the state machine loops with a Wait state and stops after a literal
// number of polls. The message says what is awaited, in the execution history and the page.
// Once re-protect's standby is ready it arms the peer lease (armPeerLease below), its one write
// besides renewing the lock.
import { FENCE_PHASE, PEER_LEASE } from "../../common/contract";
import type { DrDeps } from "../shared/deps";
import { FencingConflictError } from "../shared/errors";
import { deployedPrimary, otherRegion, regionOf } from "../shared/topology";
import type { ActiveRegionFlag } from "../shared/ports";
import type { CheckRejoinResult, RejoinStage, StepTimes, WorkflowState } from "../shared/types";
import { holdLock } from "../shared/lock";
import { stateTask } from "../shared/task";

export type CheckRejoinOutcome = Omit<CheckRejoinResult, keyof StepTimes> &
  Partial<Pick<StepTimes, "startedAt">>;

/**
 * Lag at which a rebuilt secondary counts as protecting the writer: the replication-lag alarm's
 * threshold (infra REPLICATION_LAG_THRESHOLD_MS). A failback needs DR_FAILBACK_MAX_LAG_MS.
 */
export const PROTECTED_MAX_LAG_MS = 60_000;

/** How far back a replication-lag datapoint counts. */
const LAG_LOOKBACK_MINUTES = 5;

function isUnreachable(error: unknown): boolean {
  return (error as Error | undefined)?.name === "TransientError";
}

export async function checkRejoin(state: WorkflowState, deps: DrDeps): Promise<CheckRejoinOutcome> {
  const { request } = state;
  const { topology } = deps;
  const previous = state.steps.CheckRejoin;
  const polls = (previous?.polls ?? 0) + 1;
  const failback = request.workflow === "failback";
  // A re-protect holds the lock while it waits (up to 12 h): renew it on every poll. A failback
  // polls here before it takes its lock, and holds none yet.
  if (request.workflow === "reprotect") await holdLock(state, deps);
  // failback: the target region rejoins, the source holds the writer; reprotect: the reverse.
  const region = failback ? request.targetRegion : otherRegion(topology, request.targetRegion);
  const writerRegion = otherRegion(topology, region);
  const limitMs = failback ? deps.settings.failbackMaxLagMs : PROTECTED_MAX_LAG_MS;
  const rejoining = regionOf(topology, region);
  const next = failback
    ? `the failback continues by itself once it has`
    : `re-protect completes by itself once it has`;

  const report = (
    stage: RejoinStage,
    message: string,
    lagMs: number | null = null,
  ): CheckRejoinOutcome => {
    deps.log.info("rejoin polled", { stage, polls, lagMs });
    return {
      ...(previous ? { startedAt: previous.startedAt } : {}),
      ready: stage === "ready",
      blocked: stage === "detached",
      stage,
      message,
      region,
      lagMs,
      polls,
    };
  };

  const global = await deps
    .ports(writerRegion, "critical")
    .database.describeGlobalCluster(topology.globalClusterIdentifier);
  const ports = deps.ports(region, "critical");
  let cluster;
  try {
    cluster = await ports.database.describeCluster(rejoining.clusterIdentifier);
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    return report(
      "region-unreachable",
      `waiting for ${region} to answer (${(error as Error).message}); ${next}`,
    );
  }
  const member = global?.members.find((m) => m.clusterArn === rejoining.clusterArn);
  // A resumed failback may find its own switchover done or under way: Preflight takes it from
  // there, as it does for a resumed run.
  const switching =
    member?.isWriter === true || global?.failover?.toClusterArn === rejoining.clusterArn;
  if (failback && request.resumed && switching) {
    return report(
      "ready",
      `${rejoining.clusterIdentifier} already is (or is becoming) the writer: this run's switchover got that far`,
    );
  }
  // After a detach-and-promote the global cluster no longer has the writer at all (it may still
  // list the old primary, which kept writing to it, as its writer).
  const writer = regionOf(topology, writerRegion);
  const writerIsMember = global?.members.some(
    (m) => m.clusterArn === writer.clusterArn && m.isWriter,
  );
  if (!writerIsMember) {
    return report(
      "detached",
      `${writer.clusterIdentifier} in ${writerRegion} takes writes outside ${topology.globalClusterIdentifier} (${global ? "which does not list it as its writer" : "which no longer exists"}): the failover detached it, and Aurora never re-adds ${rejoining.clusterIdentifier} after a detach. Start the reprotect workflow in ${writerRegion} to rebuild ${region} as a secondary, then fail back`,
    );
  }
  if (!member) {
    if (cluster && cluster.globalClusterIdentifier === undefined) {
      return report(
        "detached",
        `${rejoining.clusterIdentifier} in ${region} is a standalone cluster (detached and promoted): Aurora re-adds a cluster only after a managed failover. Start the reprotect workflow in ${writerRegion} to rebuild ${region} as a secondary, then fail back`,
      );
    }
    return report(
      "not-a-member",
      `waiting for Aurora to add ${rejoining.clusterIdentifier} back to ${topology.globalClusterIdentifier} as a secondary (it does so once ${region} is healthy; cluster ${cluster ? cluster.status : "not found yet"}); ${next}`,
    );
  }
  if (
    member.isWriter ||
    cluster?.status !== "available" ||
    (member.synchronizationStatus !== undefined && member.synchronizationStatus !== "connected")
  ) {
    return report(
      "resynchronizing",
      `${rejoining.clusterIdentifier} is back in ${topology.globalClusterIdentifier} but not yet a connected secondary (cluster ${cluster?.status ?? "missing"}, synchronization ${member.synchronizationStatus ?? "unreported"}${member.isWriter ? ", still marked writer" : ""}): Aurora is rebuilding its storage, which takes minutes to hours; ${next}`,
    );
  }
  const since = new Date(deps.now().getTime() - LAG_LOOKBACK_MINUTES * 60_000);
  const lag = await ports.metrics.replicationLag(rejoining.clusterIdentifier, since);
  if (!lag || lag.lagMs > limitMs) {
    return report(
      "catching-up",
      lag
        ? `${rejoining.clusterIdentifier} is ${lag.lagMs} ms behind (at ${lag.at}), more than ${limitMs} ms; ${next} caught up`
        : `no replication-lag datapoint for ${rejoining.clusterIdentifier} in ${region} in the last ${LAG_LOOKBACK_MINUTES} minutes yet; ${next} caught up`,
      lag?.lagMs ?? null,
    );
  }
  const caughtUp = `${rejoining.clusterIdentifier} is a connected secondary ${lag.lagMs} ms behind`;
  const armed = failback
    ? { note: "" }
    : await armPeerLease(region, writerRegion, deps, previous?.freshRenewals);
  if ("silent" in armed) {
    // Review 22 M3: the wait is capped. The standby is caught up, so holding the failover lock
    // for a renewer that may never come (IAM, throttling) would refuse every failover meanwhile;
    // past the cap re-protect completes with the lease disarmed and says so in its page.
    const since =
      previous?.leaseWaitSince !== undefined && LEASE_WAIT_STAGES.includes(previous.stage)
        ? previous.leaseWaitSince
        : deps.now().toISOString();
    const waitedMs = deps.now().getTime() - Date.parse(since);
    if (waitedMs >= LEASE_WAIT_CAP_SECONDS * 1000) {
      const unarmed = `the peer lease is NOT armed: ${armed.silent}. Waited ${Math.round(waitedMs / 1000)} s (cap ${LEASE_WAIT_CAP_SECONDS} s) and completed unarmed rather than hold the failover lock. To arm it once fixed: start the reprotect workflow again in ${writerRegion}; it finds the standby in place and arms the lease once the renewals reach ${writerRegion}`;
      deps.log.warn("re-protect completes with the peer lease disarmed", { stage: armed.stage });
      return { ...report("ready", `${caughtUp}; ${unarmed}`, lag.lagMs), leaseUnarmed: unarmed };
    }
    return {
      ...report(
        armed.stage,
        `${caughtUp}, but ${armed.silent}; ${next} (or completes with the lease disarmed after ${LEASE_WAIT_CAP_SECONDS} s)`,
        lag.lagMs,
      ),
      leaseWaitSince: since,
      ...("fresh" in armed && armed.fresh ? { freshRenewals: armed.fresh } : {}),
    };
  }
  return report("ready", `${caughtUp}${armed.note}`, lag.lagMs);
}

/** The stages in which re-protect waits to arm the peer lease, with the standby caught up. */
const LEASE_WAIT_STAGES: readonly RejoinStage[] = [
  "renewer-silent",
  "renewals-not-reaching-writer",
];

/**
 * How long re-protect waits, with the standby caught up, for renewals it can arm on (review 22
 * M3): a few prober rounds (10 s each) and replication well inside its usual second, with room
 * for a Lambda cold start, not the 12 h bound meant for Aurora's storage rebuild.
 */
export const LEASE_WAIT_CAP_SECONDS = 300;

/**
 * Renewals re-protect must see fresh in the writer's replica, at consecutive polls (60 s apart,
 * reprotect.asl.json WaitForRejoin) and each newer than the last, before it arms the lease
 * (review 23 M5). One fresh sample can be a fast write amid slow ones: global tables replicate
 * "typically within a second or less" with no bound (V2globaltables_HowItWorks), and the chaos
 * story reprotect-home armed on such a sample, then refused payments as the later renewals
 * lapsed. Three in a row, two minutes apart at the least, make it a rate rather than a sample;
 * they fit the wait's cap (LEASE_WAIT_CAP_SECONDS) with two polls to spare. A slowdown that
 * starts after arming is still possible: the peer-lease-aging alarm pages, and the lease
 * refuses (safe) rather than lets a second writer in.
 */
export const ARMING_RENEWALS = 3;

/**
 * Re-protect's end: the standby protects the writer again, so a failover to it is possible
 * again, and with it the two-writer race the peer lease closes (PEER_LEASE; state-machines/
 * README.md, "Never two writers"). An unplanned failover leaves the lease disarmed (its new
 * writer's peer may be dead); this is where it is armed again, once that peer is provably back,
 * whether Aurora re-added the old primary by itself (managed failover) or Rebuild made a new
 * secondary (detach). Only when the writer is the deployed primary: the renewer is the deployed
 * standby's prober.
 *
 * Written in the standby's own replica, where every renewal is written: conditional writes to
 * one item in one region are serialized, so no renewal can undo the arming (the whole-item
 * last-writer-wins trap, schedules 65 and 81, is between regions), and re-protect holds the lock,
 * so no Fence or Unfence writes the item in the writer's region meanwhile. Conditional on the
 * flag this replica holds naming the writer, open, with the token read. Returns what to add to
 * the message; throws FencingConflictError (a page) when the flag says otherwise.
 *
 * Armed only once the renewer is seen renewing: the prober renews the disarmed flag too, so the
 * standby's replica shows its last stamp. A lease armed with no renewer behind it would stop the
 * writer's payments PEER_LEASE.seconds later, an outage made by this run; re-protect waits
 * instead (`silent`), polling like any other stage, until the prober renews or its bound ends.
 */
async function armPeerLease(
  standby: string,
  writerRegion: string,
  deps: DrDeps,
  counted?: { readonly count: number; readonly peerSeenAt: string },
): Promise<
  | { readonly note: string }
  | {
      readonly silent: string;
      readonly stage: "renewer-silent" | "renewals-not-reaching-writer";
      readonly fresh?: { readonly count: number; readonly peerSeenAt: string };
    }
> {
  if (writerRegion !== deployedPrimary(deps.topology)) {
    return {
      note: `; the peer lease stays disarmed (${writerRegion} is not the deployed primary, and the renewer runs in the deployed standby's region)`,
    };
  }
  const control = deps.ports(standby, "critical").control;
  const flag = await control.getActiveRegion();
  if (!flag || flag.activeRegion !== writerRegion || flag.phase === FENCE_PHASE.fenced) {
    throw new FencingConflictError(
      `re-protect cannot arm the peer lease: ${standby}'s replica of the active-region flag ${flag ? `names ${flag.activeRegion} token ${flag.fencingToken}${flag.phase ? ` (${flag.phase})` : ""}` : "is missing"}, expected ${writerRegion}, open; someone changed it while this run held the lock`,
    );
  }
  if (flag.leaseRequired === true) return { note: "; the peer lease was already armed" };
  const seenAt = flag.peerSeenAt ? Date.parse(flag.peerSeenAt) : NaN;
  const ageMs = deps.now().getTime() - seenAt;
  if (Number.isNaN(seenAt) || ageMs > PEER_LEASE.warnSeconds * 1000) {
    return {
      stage: "renewer-silent",
      silent: `the prober in ${standby} has not renewed the peer lease ${Number.isNaN(seenAt) ? "yet" : `since ${flag.peerSeenAt} (${Math.round(ageMs / 1000)} s ago)`}: arming it now would stop ${writerRegion}'s payments within ${PEER_LEASE.seconds} s. Check the prober (the prober-silent alarm, its "could not renew the peer lease" log lines: IAM, throttling)`,
    };
  }
  // Review 22 M2: the writer judges the lease in its own replica, by its own clock, and global
  // tables replicate asynchronously with no documented bound ("Item changes in an MREC global
  // table replica are asynchronously replicated to all other replicas, typically within a
  // second or less": https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html).
  // A renewal seen here only proves the prober runs. Arming while renewals reach the writer
  // more than PEER_LEASE.seconds late would make a healthy primary refuse every payment
  // (peer_lease_lapsed), so read the writer's replica too (strongly consistent: the writer is
  // up, re-protect is not the unplanned path) and arm only if a renewal is fresh there as well.
  // The lag can still grow after this read; then the peer-lease-aging alarm pages, as for any
  // later slowdown.
  let there: ActiveRegionFlag | null;
  try {
    there = await deps.ports(writerRegion, "critical").control.getActiveRegion();
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    there = null;
  }
  const seenThere = there?.peerSeenAt ? Date.parse(there.peerSeenAt) : NaN;
  const ageThereMs = deps.now().getTime() - seenThere;
  if (
    !there ||
    there.activeRegion !== writerRegion ||
    (there.fencingToken ?? 0) !== (flag.fencingToken ?? 0) ||
    Number.isNaN(seenThere) ||
    ageThereMs > PEER_LEASE.warnSeconds * 1000
  ) {
    return {
      stage: "renewals-not-reaching-writer",
      silent: `the prober in ${standby} renews (last ${flag.peerSeenAt}), but ${writerRegion}'s replica of the flag, which ${writerRegion}'s payments judge the lease by, ${!there ? "could not be read" : there.activeRegion !== writerRegion || (there.fencingToken ?? 0) !== (flag.fencingToken ?? 0) ? `names ${there.activeRegion} token ${there.fencingToken}` : Number.isNaN(seenThere) ? "shows no renewal" : `shows its last renewal at ${there.peerSeenAt} (${Math.round(ageThereMs / 1000)} s ago)`}: DynamoDB replication towards ${writerRegion} is slow, and arming now would stop ${writerRegion}'s payments once a renewal arrives more than ${PEER_LEASE.seconds} s late. Check the control table's ReplicationLatency towards ${writerRegion}`,
    };
  }
  // Fresh at this poll: one more in a row if it is a newer renewal than the last one counted
  // (the same one seen again, e.g. a retried poll, counts once).
  const seenNow = there.peerSeenAt!;
  const count =
    counted === undefined
      ? 1
      : Date.parse(seenNow) > Date.parse(counted.peerSeenAt)
        ? counted.count + 1
        : counted.count;
  if (count < ARMING_RENEWALS) {
    return {
      stage: "renewals-not-reaching-writer",
      silent: `${writerRegion}'s replica of the flag shows a fresh renewal (${there.peerSeenAt}, ${Math.round(ageThereMs / 1000)} s ago), ${count} of the ${ARMING_RENEWALS} consecutive ones re-protect sees there before it arms the lease (one fast renewal amid slow ones would arm a lease that then lapses)`,
      fresh: { count, peerSeenAt: seenNow },
    };
  }
  const at = deps.now().toISOString();
  if (!(await control.renewPeerLease(writerRegion, flag.fencingToken, at, true))) {
    // A repeat whose first request landed finds it armed; anything else changed the flag.
    const again = await control.getActiveRegion();
    if (again?.leaseRequired !== true || again.activeRegion !== writerRegion) {
      throw new FencingConflictError(
        `re-protect cannot arm the peer lease: the active-region flag changed in ${standby} while it was armed (now ${again ? `${again.activeRegion} token ${again.fencingToken}` : "missing"})`,
      );
    }
  }
  deps.log.info("peer lease armed", {
    activeRegion: writerRegion,
    fencingToken: flag.fencingToken,
  });
  return {
    note: `; the peer lease is armed again (${writerRegion}'s writes need ${standby}'s renewals)`,
  };
}

/** The CheckRejoin task (functions/dr/tasks.ts). */
export const CHECK_REJOIN_TASK = stateTask({
  step: "CheckRejoin",
  description: "Polls the old writer's region on its way back to a caught-up secondary",
  workflows: ["failback", "reprotect"],
  permissions: {
    database: ["describeGlobalCluster", "describeCluster"],
    metrics: ["replicationLag"],
    // Re-protect only: the lock's renewal on every poll (shared/lock.ts), and arming the peer
    // lease once the standby is ready (armPeerLease).
    control: ["renewLock", "getLock", "getActiveRegion", "renewPeerLease"],
  },
  run: checkRejoin,
});
