// Promotes the target cluster during an unplanned failover, calling RDS in the target region
// only: FailoverGlobalCluster with AllowDataLoss (target named by ARN). Detach-and-promote
// (RemoveFromGlobalCluster) cannot be undone, so it runs only when the input says forceDetach,
// or when RDS refuses the managed failover and the old primary is confirmed unreachable (its
// RDS API does not answer from here and the prober sees its /health down). Any other refusal
// pages on-call. InvalidDBClusterStateFault and InvalidGlobalClusterStateFault are listed for
// every global-cluster operation and AWS does not say which conditions raise them
// (API_FailoverGlobalCluster), so they alone never justify the one-way step.
//
// Before it asks RDS for anything it re-checks CheckOldWriter's proof: a database proof is
// re-read (a newer heartbeat means the old primary replicates again, so it may commit).
// Idempotent: it looks first, and never asks RDS twice (a promotion already under way or done is
// recognised; the method used is recorded on the lock).
import { bestEffort } from "../shared/best-effort";
import type { DrDeps } from "../shared/deps";
import type { GlobalClusterView } from "../shared/ports";
import {
  ForeignFailoverError,
  ManagedFailoverRefusedError,
  ManagedFailoverUnavailableError,
  OldWriterActiveError,
  TransientError,
} from "../shared/errors";
import { markPromoting, requireFenced, requireOldWriterStopped } from "../shared/guard";
import { removeFromGlobalClusterOnce } from "../shared/membership";
import { regionOf } from "../shared/topology";
import type {
  ForkRecord,
  PromoteResult,
  PromotionMethod,
  StepTimes,
  WorkflowState,
} from "../shared/types";
import { stateTask } from "../shared/task";

export type PromoteOutcome = Omit<PromoteResult, keyof StepTimes>;

const METHOD_FACT = "promotionMethod";
const DETACH_REASON_FACT = "detachReason";
/** Recorded before this run's first RemoveFromGlobalCluster: a later call is a repeat (review L3). */
const REMOVAL_REQUESTED_FACT = "removalRequestedAt";
/**
 * Also this run's intent to promote (review 24-10k M1): captureFork records it (if_not_exists) on
 * the lock after the re-check of the proof and before any promotion call, so a failover found
 * later may be this run's own only if its lock holds it. Like detach's REMOVAL_REQUESTED_FACT,
 * written before the call; reusing it adds no call to the happy path.
 */
const FORK_FAILOVER_AT_FACT = "forkFailoverAt";
const FORK_REPLICATED_FACT = "forkLastReplicatedAt";
/** The snapshot AWS names after the old primary (aurora-global-database-disaster-recovery.html). */
export const UNPLANNED_FAILOVER_SNAPSHOT_PREFIX = "rds:unplanned-global-failover-";

/**
 * Records where the data forks, before anything is promoted: the newest old-primary heartbeat
 * the target holds (read now, best effort, and at CheckOldWriter's last look: the newer one; the
 * target still replicates until it is promoted) and the time of the request. recordFact keeps
 * the first value, so a retry after the promotion started (when the target beats for itself)
 * cannot move the fork later and shrink the reconciliation's window.
 */
async function captureFork(state: WorkflowState, deps: DrDeps): Promise<ForkRecord> {
  const { request } = state;
  const ports = deps.ports(request.targetRegion, "critical");
  const source = regionOf(deps.topology, request.sourceRegion);
  const target = regionOf(deps.topology, request.targetRegion);
  const read = await bestEffort(
    `writer heartbeat of ${request.targetRegion}`,
    () => ports.replica.writerHeartbeat(),
    deps,
  );
  const seen = [
    read.ok ? (read.value?.beatAt ?? null) : null,
    state.steps.CheckOldWriter?.heartbeatAt ?? null,
  ]
    .filter((t): t is string => t !== null)
    .sort((a, b) => Date.parse(a) - Date.parse(b));
  const newest = seen[seen.length - 1] ?? "";
  const proposedAt = deps.now().toISOString();
  // The stored value wins (an earlier attempt's); null only when the store does not say.
  const failoverAt =
    (await ports.control.recordFact(request.failoverId, FORK_FAILOVER_AT_FACT, proposedAt)) ??
    proposedAt;
  const replicated =
    (await ports.control.recordFact(request.failoverId, FORK_REPLICATED_FACT, newest)) ?? newest;
  return {
    oldRegion: request.sourceRegion,
    oldCluster: source.clusterIdentifier,
    oldClusterArn: source.clusterArn,
    promotedCluster: target.clusterIdentifier,
    lastReplicatedAt: typeof replicated === "string" && replicated !== "" ? replicated : null,
    replicationLagMs: state.steps.Preflight?.replicationLagMs ?? null,
    failoverAt: String(failoverAt),
    snapshotPrefix: `${UNPLANNED_FAILOVER_SNAPSHOT_PREFIX}${source.clusterIdentifier}-`,
  };
}
/**
 * Who is moving the global cluster toward the target. FailoverState "is empty unless a switchover
 * or failover operation is scheduled or is in progress"; its Status is pending (the request is
 * being verified), failing-over, switching-over or cancelling ("returning to their previous
 * states"); IsDataLossAllowed is true for a failover, false for a switchover; FromDbClusterArn
 * and ToDbClusterArn name the two clusters
 * (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverState.html).
 * "ours": this run asked for a failover (`requested`) and RDS shows exactly that one, pending or
 * failing over from the source to the target, or its result (the target the writer, no state).
 * "foreign": any other operation, or a target promoted without this run's request.
 */
export function failoverOwner(
  global: GlobalClusterView | null,
  sourceArn: string,
  targetArn: string,
  requested: boolean,
): { kind: "ours" | "foreign" | "none"; seen: string } {
  const f = global?.failover;
  if (f) {
    const seen = `FailoverState ${f.status} from ${f.fromClusterArn ?? "?"} to ${f.toClusterArn ?? "?"}, IsDataLossAllowed ${String(f.isDataLossAllowed)}`;
    const ourShape =
      (f.status === "pending" || f.status === "failing-over") &&
      f.fromClusterArn === sourceArn &&
      f.toClusterArn === targetArn &&
      f.isDataLossAllowed === true;
    return { kind: ourShape && requested ? "ours" : "foreign", seen };
  }
  const writer = global?.members.find((m) => m.isWriter)?.clusterArn;
  if (writer === targetArn) {
    return { kind: requested ? "ours" : "foreign", seen: `the target ${targetArn} is the writer` };
  }
  return { kind: "none", seen: "no failover or switchover" };
}

function foreignFailover(request: WorkflowState["request"], seen: string): ForeignFailoverError {
  return new ForeignFailoverError(
    `someone else is moving the global cluster: ${seen}, and this run did not ask for it (or not for that), so it promotes nothing and stops here (fenced, lock kept). Find out who started it and let it finish or cancel it; then check that ${request.sourceRegion} commits nothing before you resume with resumeFailoverId (assumeOldWriterStopped once you know it is down)`,
  );
}

/** A healthy probe this recent means the old primary's region still answers. */
const UNREACHABLE_PROBE_WINDOW_SECONDS = 60;

export async function promote(state: WorkflowState, deps: DrDeps): Promise<PromoteOutcome> {
  const { request } = state;
  const { topology } = deps;
  const fencingToken = await requireFenced(state, deps);
  const source = regionOf(topology, request.sourceRegion);
  const target = regionOf(topology, request.targetRegion);
  const ports = deps.ports(request.targetRegion, "critical");

  const lock = await ports.control.getLock();
  const ownFacts = lock?.owner === request.failoverId ? lock.facts : {};
  const recorded = ownFacts[METHOD_FACT];
  if (recorded !== undefined) {
    deps.log.info("promotion already requested by this run", { method: recorded });
    await markPromoting(state, deps, fencingToken);
    const detachReason = lock?.facts[DETACH_REASON_FACT];
    return {
      ...withReason(recorded as PromotionMethod, detachReason as string | undefined),
      fork: await captureFork(state, deps),
    };
  }
  try {
    await requireOldWriterStopped(state, deps);
  } catch (error) {
    // A newer heartbeat in the target may be the target's own: an earlier attempt of this run had
    // FailoverGlobalCluster accepted and then failed before it recorded the method (a throttled
    // recordFact). The target stops replicating at once and, once promoted, commits its own
    // heartbeat, so the re-check refused every retry and every resume for ever (chaos schedule
    // 4203 of seed 20261130). Only RDS can tell the two apart, and only this run's own request
    // (FORK_FAILOVER_AT_FACT, written before any call) may be adopted: a failover or switchover
    // someone else started pages instead (review 24-10k M1).
    if (!(error instanceof OldWriterActiveError)) throw error;
    let now: GlobalClusterView | null;
    try {
      now = await ports.database.describeGlobalCluster(topology.globalClusterIdentifier);
    } catch (rdsError) {
      const detail = rdsError instanceof Error ? rdsError.message : String(rdsError);
      // With this run's intent on the lock (FORK_FAILOVER_AT_FACT), the newer heartbeat may be
      // the target's own after this run's accepted FailoverGlobalCluster: CheckOldWriter could
      // never prove again (the target's beats keep advancing), so only RDS can settle it. Retry
      // Promote (its TransientError budget, minutes) rather than halt fenced on one failed look
      // (review 24b-10 H1). Without the intent nothing was asked of RDS: the refusal stands and
      // CheckOldWriter looks again (review 24-10k L1).
      if (ownFacts[FORK_FAILOVER_AT_FACT] !== undefined) {
        throw new TransientError(
          `a newer writer heartbeat in ${request.targetRegion} may be the promoted target's own (this run asked for a failover), and DescribeGlobalClusters, the only way to tell, failed: ${detail}`,
        );
      }
      deps.log.warn("DescribeGlobalClusters failed; the old-writer refusal stands", {
        error: detail,
      });
      throw error;
    }
    const owner = failoverOwner(
      now,
      source.clusterArn,
      target.clusterArn,
      ownFacts[FORK_FAILOVER_AT_FACT] !== undefined,
    );
    if (owner.kind === "foreign") throw foreignFailover(request, owner.seen);
    if (owner.kind === "none") throw error;
    deps.log.info("the newer heartbeat is the target's own: this run's promotion is under way", {
      error: error.message,
      seen: owner.seen,
    });
  }
  await markPromoting(state, deps, fencingToken);
  const fork = await captureFork(state, deps);
  deps.log.info("data fork recorded", { ...fork });

  // Whether an earlier attempt of this run already requested the removal: recordFact keeps the
  // first value (if_not_exists), so another value back means a repeat.
  const removalRequested = async () => {
    const at = deps.now().toISOString();
    const kept = await ports.control.recordFact(request.failoverId, REMOVAL_REQUESTED_FACT, at);
    return kept !== null && kept !== at;
  };
  const global = await ports.database.describeGlobalCluster(topology.globalClusterIdentifier);
  const member = global?.members.find((m) => m.clusterArn === target.clusterArn);
  let outcome: PromoteOutcome;
  if (member?.isWriter) {
    // A retry after a promotion that completed before its result was recorded.
    outcome = { method: "managed-failover" };
  } else if (global?.failover && global.failover.toClusterArn === target.clusterArn) {
    outcome = { method: "managed-failover" };
  } else if (!member) {
    outcome = { method: "detach", detachReason: "already detached from the global cluster" };
  } else if (request.forceDetach) {
    await removeFromGlobalClusterOnce(
      ports.database,
      topology.globalClusterIdentifier,
      target.clusterArn,
      await removalRequested(),
    );
    outcome = { method: "detach", detachReason: "forceDetach in the input" };
  } else {
    try {
      await ports.database.failoverGlobalCluster(
        topology.globalClusterIdentifier,
        target.clusterArn,
      );
      outcome = { method: "managed-failover" };
    } catch (error) {
      if (!(error instanceof ManagedFailoverUnavailableError)) throw error;
      // The refusal may come from a failover already under way (an earlier attempt whose answer
      // was lost): never detach the target in the middle of its own promotion.
      const now = await ports.database.describeGlobalCluster(topology.globalClusterIdentifier);
      // This attempt's captureFork has recorded the intent, so "foreign" here is another
      // operation's shape (a switchover, a cancelling failover, another direction).
      const owner = failoverOwner(now, source.clusterArn, target.clusterArn, true);
      if (owner.kind === "foreign") throw foreignFailover(request, owner.seen);
      if (owner.kind === "ours") {
        deps.log.info("managed failover already under way toward the target", { code: error.code });
        outcome = { method: "managed-failover" };
      } else {
        const unreachable = await detachEvidence.oldPrimaryUnreachable(state, deps);
        if (unreachable === null) {
          throw new ManagedFailoverRefusedError(
            `FailoverGlobalCluster refused with ${error.code} while the old primary in ${request.sourceRegion} still answers; detaching ${target.clusterIdentifier} cannot be undone, so this run stops here. Find out why RDS refuses (the global cluster's status and events), or resume with forceDetach: true to detach and promote it anyway`,
          );
        }
        deps.log.warn("managed failover refused and the old primary is unreachable; detaching", {
          code: error.code,
          unreachable,
        });
        await removeFromGlobalClusterOnce(
          ports.database,
          topology.globalClusterIdentifier,
          target.clusterArn,
          await removalRequested(),
        );
        outcome = {
          method: "detach",
          detachReason: `FailoverGlobalCluster: ${error.code}; ${unreachable}`,
        };
      }
    }
  }
  await ports.control.recordFact(request.failoverId, METHOD_FACT, outcome.method);
  if (outcome.detachReason) {
    await ports.control.recordFact(request.failoverId, DETACH_REASON_FACT, outcome.detachReason);
  }
  deps.log.info("promotion requested", { ...outcome });
  return { ...outcome, fork };
}

/**
 * Why the old primary counts as unreachable, or null when it does not: its region's RDS API did
 * not answer this Lambda, and the prober saw no healthy /health of it in the last minute.
 */
async function oldPrimaryUnreachable(state: WorkflowState, deps: DrDeps): Promise<string | null> {
  const { request } = state;
  const source = regionOf(deps.topology, request.sourceRegion);
  const rds = await bestEffort(
    `DescribeDBClusters ${source.clusterIdentifier} in ${request.sourceRegion}`,
    () =>
      deps
        .ports(request.sourceRegion, "bestEffort")
        .database.describeCluster(source.clusterIdentifier),
    deps,
  );
  if (rds.ok) return null;
  const since = new Date(deps.now().getTime() - UNREACHABLE_PROBE_WINDOW_SECONDS * 1000);
  const probes = await deps
    .ports(request.targetRegion, "critical")
    .metrics.probeResults(request.sourceRegion, since);
  if (probes.length === 0 || probes.some((p) => p.healthy)) return null;
  return `the old primary is unreachable (RDS in ${request.sourceRegion}: ${rds.error}; ${probes.length} failed probes of its /health in the last ${UNREACHABLE_PROBE_WINDOW_SECONDS} s)`;
}

/**
 * The detach decision's evidence, behind an object so the fault injector's mutation test
 * (test/chaos/mutations.test.ts) can weaken it and require the injector to notice.
 */
export const detachEvidence = { oldPrimaryUnreachable };

function withReason(method: PromotionMethod, detachReason: string | undefined): PromoteOutcome {
  return detachReason ? { method, detachReason } : { method };
}

/** The Promote task (functions/dr/tasks.ts). */
export const PROMOTE_TASK = stateTask({
  step: "Promote",
  description: "Promotes the target cluster (managed failover)",
  workflows: ["failover"],
  permissions: {
    control: ["getActiveRegion", "getLock", "recordFact", "markPromoting"],
    database: [
      "describeGlobalCluster",
      "describeCluster",
      "failoverGlobalCluster",
      "removeFromGlobalCluster",
    ],
    // The detach decision reads the prober's results; the old-writer guard re-reads the
    // heartbeat (HTTPS, no IAM).
    metrics: ["probeResults"],
    replica: ["writerHeartbeat"],
  },
  run: promote,
});
