// Re-protect, one step per poll: rebuilds the global database around the promoted cluster (the
// writer, in the region this workflow runs in) with a new secondary in the other region, under
// the identifiers Terraform already has in its state, so `terraform plan` afterwards replaces
// nothing. Each poll looks at the world, performs the first action not yet done and returns; the
// state machine waits and polls again. A crash at any point, a retry or a resumed run therefore
// converges: nothing is done twice because everything is looked at first.
//
// After a managed failover there is nothing to rebuild: "As soon as that old primary Region is
// healthy and available again, Aurora automatically adds it back to the global cluster as a
// secondary Region" (aurora-global-database-disaster-recovery.html); CheckRejoin waits for it.
// What is lost there is the old primary's volume: "Before creating the new storage volume ...
// Aurora attempts to take a snapshot of the old storage volume at the point of failure", named
// rds:unplanned-global-failover-<old primary>-<timestamp>, "a system snapshot that's subject to
// the backup retention period of the old primary DB cluster" (same page). The writes the old
// primary took that never reached the promoted cluster live only there, so re-protect copies it
// to a manual snapshot ("After you copy a snapshot, the copy is a manual snapshot",
// aurora-copy-snapshot.html; "Aurora DB cluster snapshots don't expire") and completes only once
// the copy is available. The source is never deleted by this kit; "If you delete a source
// snapshot before the target snapshot becomes available, the snapshot copy might fail".
//
// After a detach ("Removing a secondary DB cluster ... promotes it to a standalone provisioned
// Aurora DB cluster", a one-way step), once the old region answers:
// 1. snapshot the old primary, still under its name (it may hold writes that never reached the
//    promoted cluster: lost-write reconciliation needs them);
// 2. remove it from the stale global cluster, which still lists it as its writer (a primary can
//    be removed once it has no secondaries: aurora-global-database-detaching.html);
// 3. rename it and its instances (ModifyDBCluster / ModifyDBInstance NewDB...Identifier) with
//    the run's tag, and keep it: its names are free for the new secondary, its data stays;
// 4. delete the stale global cluster once it has no members (identifiers are unique per
//    account; "The Aurora global database might remain in the Databases list, with zero Regions");
// 5. CreateGlobalCluster with the same identifier and the promoted cluster as its primary
//    (SourceDBClusterIdentifier: engine, version, database name and encryption come from it);
// 6. CreateDBCluster in the other region with GlobalClusterIdentifier, the same engine version,
//    that region's multi-Region key ("set KmsKeyId to a KMS key identifier that is valid in the
//    destination Amazon Web Services Region", API_CreateDBCluster), Terraform's subnet and
//    parameter groups, and no master user (AWS rejects one on a cross-Region secondary);
// 7. CreateDBInstance for each reader instance Terraform has for that region, and wait until
//    they are available (a secondary without instances is headless and cannot be failed over
//    to: "you must add a DB instance to it", aurora-global-database-disaster-recovery.html).
import type { DrClusterSpec, DrDatabaseSpec } from "../../common/contract";
import { parameterGroupFamily } from "../../common/contract";
import type { DrDeps } from "../shared/deps";
import {
  ConfigurationError,
  DependencyError,
  RebuildConflictError,
  TargetClusterUnhealthyError,
} from "../shared/errors";
import { UNPLANNED_FAILOVER_SNAPSHOT_PREFIX } from "../promote/core";
import type { ClusterView, GlobalClusterView, RegionPorts, SnapshotView } from "../shared/ports";
import { regionOf } from "../shared/topology";
import type { RebuildResult, StepTimes, WorkflowState } from "../shared/types";
import { holdLock } from "../shared/lock";
import { RemovalPendingError, removeFromGlobalClusterOnce } from "../shared/membership";
import { stateTask } from "../shared/task";

export type RebuildOutcome = Omit<RebuildResult, keyof StepTimes> &
  Partial<Pick<StepTimes, "startedAt">>;

/**
 * How long Rebuild waits for the old primary to leave the stale global cluster once RDS answers a
 * repeat of RemoveFromGlobalCluster with a state fault while still listing it. AWS documents no
 * duration for the removal (aurora.md, open question 8; the chaos world draws 20-300 s); 30
 * minutes is many times that, and short enough that a refusal reaches on-call the same hour.
 */
export const REMOVAL_WAIT_MINUTES = 30;

/** The lock fact that keeps the path chosen at the first look for the rest of the run. */
export const PATH_FACT = "rebuildPath";

/** A short tag of the run, in the names of what it keeps (FNV-1a of the run id, 8 hex digits). */
export function runTag(failoverId: string): string {
  let hash = 0x811c9dc5;
  for (const char of failoverId) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** Where the old primary and its instances go, and its snapshot, for run `failoverId`. */
export function retainedNames(clusterIdentifier: string, failoverId: string) {
  const tag = runTag(failoverId);
  return {
    cluster: `${clusterIdentifier}-detached-${tag}`,
    instance: (identifier: string) => `${identifier}-detached-${tag}`,
    snapshot: `${clusterIdentifier}-at-reprotect-${tag}`,
    /** The manual copy of Aurora's point-of-failure snapshot (managed path). */
    pointOfFailure: `${clusterIdentifier}-at-failover-${tag}`,
    suffix: `-detached-${tag}`,
  };
}

/**
 * A rename whose answer was lost converges without a resume. ModifyDBCluster/ModifyDBInstance
 * with a new identifier are not idempotent: when the first request landed and its answer did not
 * come back, the SDK's own retry (or the state machine's) meets DBClusterNotFoundFault,
 * InvalidDBClusterStateFault ("renaming") or an AlreadyExists fault, which would stop the run. The
 * new name carries this run's tag, so nothing but this run creates it: if it exists, or the old
 * name is `renaming` (RDS shows the change under way before the new name answers), the rename
 * happened, and the next poll waits for it to be available.
 */
async function converging(rename: () => Promise<void>, done: () => Promise<boolean>) {
  try {
    await rename();
  } catch (error) {
    if ((error as Error | undefined)?.name !== "DependencyError" || !(await done())) throw error;
  }
}

function unreachable(error: unknown): boolean {
  return (error as Error | undefined)?.name === "TransientError";
}

export async function rebuild(state: WorkflowState, deps: DrDeps): Promise<RebuildOutcome> {
  const { request } = state;
  const { topology } = deps;
  const spec = deps.database;
  if (!spec) throw new ConfigurationError("DR_DATABASE is not set: re-protect needs it");
  // Hours of polls: each one renews the lock first and acts only while this run holds it.
  await holdLock(state, deps);
  const previous = state.steps.Rebuild;
  const polls = (previous?.polls ?? 0) + 1;
  const gid = topology.globalClusterIdentifier;
  const writerRegion = request.targetRegion;
  const region = request.sourceRegion;
  const ours = regionOf(topology, writerRegion);
  const theirs = regionOf(topology, region);
  const target = spec.regions[region];
  if (!target) throw new ConfigurationError(`DR_DATABASE has no cluster for ${region}`);
  const names = retainedNames(theirs.clusterIdentifier, request.failoverId);
  const wp = deps.ports(writerRegion, "critical");

  const global = await wp.database.describeGlobalCluster(gid);
  const oursMember = global?.members.find((m) => m.clusterArn === ours.clusterArn);
  if (oursMember && !oursMember.isWriter) {
    throw new TargetClusterUnhealthyError(
      `${ours.clusterIdentifier} is a reader of ${gid} while the active-region flag names ${writerRegion}: finish the failover (or fail back) before re-protecting`,
    );
  }
  // Decided at the first look and kept on the lock: a resumed run must not take the global
  // cluster it rebuilt itself for one that survived a managed failover.
  const observed = oursMember ? "managed" : "detach";
  const recorded = await wp.control.recordFact(request.failoverId, PATH_FACT, observed);
  const path = recorded === "managed" || recorded === "detach" ? recorded : observed;

  const result = (
    done: boolean,
    action: string,
    message: string,
    kept: { cluster?: boolean; snapshot?: boolean; pointOfFailure?: string } = {},
    removalPendingSince?: string,
  ): RebuildOutcome => {
    deps.log.info("rebuild polled", { path, action, done, polls });
    return {
      ...(previous ? { startedAt: previous.startedAt } : {}),
      done,
      path,
      action,
      message,
      polls,
      ...(kept.cluster || previous?.retainedCluster ? { retainedCluster: names.cluster } : {}),
      ...(kept.snapshot || previous?.retainedSnapshot ? { retainedSnapshot: names.snapshot } : {}),
      ...(kept.pointOfFailure ? { pointOfFailureSnapshot: kept.pointOfFailure } : {}),
      ...(removalPendingSince ? { removalPendingSince } : {}),
    };
  };

  if (path === "managed") {
    const survived = `${gid} survived the managed failover with ${ours.clusterIdentifier} as its writer; Aurora adds ${theirs.clusterIdentifier} back by itself once ${region} is healthy`;
    const flag = await wp.control.getActiveRegion();
    const keep = await keepPointOfFailure({
      ports: deps.ports(region, "critical"),
      clusterIdentifier: theirs.clusterIdentifier,
      copy: names.pointOfFailure,
      // The failover's own time, the flag it moved: only a tie-breaker (pointOfFailureSnapshot).
      failoverAt: flag?.updatedAt ?? "",
      // When the flag moved before it (Fence records it): the old primary became the writer no
      // later than that, so its point of failure cannot be older.
      previousMoveAt: flag?.previousUpdatedAt ?? "",
      member: global?.members.find((m) => m.clusterArn === theirs.clusterArn),
    });
    if (keep.done) {
      return result(true, "none", `${keep.message}. ${survived}`, {
        ...(keep.copy ? { pointOfFailure: keep.copy } : {}),
      });
    }
    return result(false, keep.action, keep.message);
  }

  const oursCluster = await wp.database.describeCluster(ours.clusterIdentifier);
  if (oursCluster?.status !== "available") {
    return result(
      false,
      "wait",
      `waiting for the promoted cluster ${ours.clusterIdentifier} to be available (${oursCluster?.status ?? "missing"})`,
    );
  }
  // Before anything changes: the secondary is built on the promoted cluster's engine version,
  // and a version Terraform's parameter groups cannot serve is refused here.
  const engine = promotedEngine(oursCluster, spec, ours.clusterIdentifier, target, region);
  const tp = deps.ports(region, "critical");
  let old: ClusterView | null;
  let retained: ClusterView | null;
  try {
    old = await tp.database.describeCluster(theirs.clusterIdentifier);
    retained = await tp.database.describeCluster(names.cluster);
  } catch (error) {
    if (!unreachable(error)) throw error;
    return result(
      false,
      "wait",
      `waiting for ${region} to answer (${(error as Error).message}): the secondary is rebuilt there once it is back`,
    );
  }
  const oursIsWriter = oursMember?.isWriter === true;
  const rebuilt =
    old !== null && oursIsWriter && global!.members.some((m) => m.clusterArn === old!.arn);

  // 1-3: the old primary, still under its name.
  if (old && !rebuilt) {
    if (old.status !== "available") {
      return result(
        false,
        "wait",
        `waiting for the old primary ${theirs.clusterIdentifier} to be available (${old.status})`,
      );
    }
    if (retained) {
      throw new RebuildConflictError(
        `both ${theirs.clusterIdentifier} and ${names.cluster} exist in ${region}, and ${theirs.clusterIdentifier} is not a secondary of ${gid}: reconcile by hand`,
      );
    }
    const snapshot = await tp.database.describeClusterSnapshot(names.snapshot);
    if (!snapshot) {
      await tp.database.createClusterSnapshot(theirs.clusterIdentifier, names.snapshot);
      return result(
        false,
        "snapshot-old-primary",
        `creating snapshot ${names.snapshot} of the old primary ${theirs.clusterIdentifier}: it may hold writes the promoted cluster never got`,
        { snapshot: true },
      );
    }
    if (snapshot.status !== "available") {
      return result(false, "wait", `waiting for snapshot ${names.snapshot} (${snapshot.status})`, {
        snapshot: true,
      });
    }
    if (old.globalClusterIdentifier) {
      // Described first (above); a repeat whose first request landed converges (membership.ts).
      let removal: Awaited<ReturnType<typeof removeFromGlobalClusterOnce>>;
      try {
        removal = await removeFromGlobalClusterOnce(
          tp.database,
          old.globalClusterIdentifier,
          old.arn,
          // A repeat when an earlier poll requested it or was already waiting on it (review L3).
          previous?.action === "detach-old-primary" || previous?.removalPendingSince !== undefined,
        );
      } catch (error) {
        if (!(error instanceof RemovalPendingError)) throw error;
        // Review L1: still listed mid-removal is a wait, not a failure, within a bound: past it,
        // a removal RDS keeps refusing is a fault for on-call. The wait's start is kept across
        // polls (removalPendingSince); a resumed run starts a new wait and converges the same way.
        const since = previous?.removalPendingSince ?? deps.now().toISOString();
        const waited = deps.now().getTime() - Date.parse(since);
        if (waited > REMOVAL_WAIT_MINUTES * 60_000) {
          throw new DependencyError(
            `${theirs.clusterIdentifier} is still listed in ${old.globalClusterIdentifier} ${REMOVAL_WAIT_MINUTES} minutes after this re-protect first found it so (since ${since}), and RemoveFromGlobalCluster answers ${error.code}: RDS is refusing the removal, not finishing it. Look at the global cluster's status and events (aws rds describe-global-clusters, describe-events), remove ${theirs.clusterIdentifier} by hand if it is safe, then resume the re-protect`,
            { code: error.code },
          );
        }
        return result(
          false,
          "wait",
          `waiting for ${theirs.clusterIdentifier} to leave ${old.globalClusterIdentifier}: ${error.message}; RemoveFromGlobalCluster is asynchronous and the cluster is listed until it is done (waiting since ${since}, at most ${REMOVAL_WAIT_MINUTES} minutes)`,
          { snapshot: true },
          since,
        );
      }
      return result(
        false,
        "detach-old-primary",
        removal === "removed"
          ? `removing the old primary ${theirs.clusterIdentifier} from the stale ${old.globalClusterIdentifier}`
          : `the old primary ${theirs.clusterIdentifier} is no longer a member of ${old.globalClusterIdentifier} (an earlier request landed); waiting for it to show as standalone`,
        { snapshot: true },
      );
    }
    await converging(
      () => tp.database.renameCluster(theirs.clusterIdentifier, names.cluster),
      async () =>
        (await tp.database.describeCluster(names.cluster)) !== null ||
        (await tp.database.describeCluster(theirs.clusterIdentifier))?.status === "renaming",
    );
    return result(
      false,
      "rename-old-primary",
      `renaming the old primary ${theirs.clusterIdentifier} to ${names.cluster}, kept for reconciling lost writes`,
      { cluster: true, snapshot: true },
    );
  }

  // 3: its instances, out of the way of Terraform's instance names.
  if (retained) {
    if (retained.status !== "available") {
      return result(
        false,
        "wait",
        `waiting for ${names.cluster} to be available (${retained.status})`,
        { cluster: true, snapshot: true },
      );
    }
    for (const instance of retained.instances ?? []) {
      if (instance.endsWith(names.suffix)) continue;
      const view = await tp.database.describeInstance(instance);
      if (view?.status !== "available") {
        return result(
          false,
          "wait",
          `waiting for instance ${instance} of ${names.cluster} (${view?.status ?? "missing"})`,
          { cluster: true, snapshot: true },
        );
      }
      await converging(
        () => tp.database.renameInstance(instance, names.instance(instance)),
        async () =>
          (await tp.database.describeInstance(names.instance(instance))) !== null ||
          (await tp.database.describeInstance(instance))?.status === "renaming",
      );
      return result(
        false,
        "rename-old-instance",
        `renaming ${instance} to ${names.instance(instance)}`,
        { cluster: true, snapshot: true },
      );
    }
  }
  const kept = { cluster: retained !== null, snapshot: retained !== null };

  // 4-5: the global cluster, with the promoted cluster as its writer.
  if (global && !oursIsWriter) {
    if (global.members.length > 0) {
      return result(
        false,
        "wait",
        `waiting for ${gid} to lose its last member (${global.members.map((m) => m.clusterArn).join(", ")}) before it is deleted`,
        kept,
      );
    }
    if (global.deletionProtection === true) {
      // Terraform creates it with deletionProtection from the config; AWS refuses to delete it
      // while that is on. Read first (above), so a repeated poll does not modify it again.
      await wp.database.unprotectGlobalCluster(gid);
      return result(
        false,
        "unprotect-stale-global-cluster",
        `turning off deletion protection on the empty stale global cluster ${gid} so it can be deleted (the new one is created with deletion protection ${spec.deletionProtection ? "on" : "off"}, as Terraform builds it)`,
        kept,
      );
    }
    await wp.database.deleteGlobalCluster(gid);
    return result(
      false,
      "delete-stale-global-cluster",
      `deleting the empty stale global cluster ${gid} so its identifier can be reused`,
      kept,
    );
  }
  if (!global) {
    await wp.database.createGlobalCluster(gid, ours.clusterArn, spec.deletionProtection);
    return result(
      false,
      "create-global-cluster",
      `creating ${gid} with ${ours.clusterIdentifier} as its writer`,
      kept,
    );
  }
  if (global.status !== "available") {
    return result(false, "wait", `waiting for ${gid} to be available (${global.status})`, kept);
  }

  // 6-7: the secondary, under the names Terraform has.
  if (!old) {
    await tp.database.createSecondaryCluster(
      secondaryRequest(spec, target, gid, engine.engineVersion),
    );
    return result(
      false,
      "create-secondary",
      `creating ${theirs.clusterIdentifier} in ${region} as a secondary of ${gid} on ${spec.engine} ${engine.engineVersion} (the promoted cluster's), encrypted with ${target.kmsKeyId}${engine.note}`,
      kept,
    );
  }
  if (old.status !== "available") {
    return result(
      false,
      "wait",
      `waiting for the new secondary ${theirs.clusterIdentifier} (${old.status})`,
      kept,
    );
  }
  for (const [tier, identifier] of target.readerInstanceIdentifiers.entries()) {
    const instance = await tp.database.describeInstance(identifier);
    if (!instance) {
      await tp.database.createInstance({
        identifier,
        clusterIdentifier: theirs.clusterIdentifier,
        engine: spec.engine,
        instanceClass: spec.instanceClass,
        dbSubnetGroupName: target.dbSubnetGroupName,
        promotionTier: tier,
        monitoringRoleArn: spec.monitoringRoleArn,
        monitoringInterval: spec.monitoringInterval,
        performanceInsightsKmsKeyId: target.performanceInsightsKmsKeyId,
        caCertificateIdentifier: spec.caCertificateIdentifier,
      });
      return result(
        false,
        "create-instance",
        `creating instance ${identifier} of ${theirs.clusterIdentifier}`,
        kept,
      );
    }
    if (instance.clusterIdentifier !== theirs.clusterIdentifier) {
      throw new RebuildConflictError(
        `instance ${identifier} in ${region} belongs to ${instance.clusterIdentifier ?? "no cluster"}, not ${theirs.clusterIdentifier}: reconcile by hand`,
      );
    }
    // A secondary without an available instance is headless: it cannot be failed over to.
    if (instance.status !== "available") {
      return result(
        false,
        "wait",
        `waiting for instance ${identifier} of ${theirs.clusterIdentifier} (${instance.status})`,
        kept,
      );
    }
  }
  return result(
    true,
    "none",
    `${theirs.clusterIdentifier} is a secondary of ${gid} with its instances; waiting for it to catch up. ${TERRAFORM_APPLY_BEFORE_FAILBACK}`,
    kept,
  );
}

interface PointOfFailure {
  readonly ports: RegionPorts;
  readonly clusterIdentifier: string;
  readonly copy: string;
  readonly failoverAt: string;
  /** The flag's previous move ("" when the flag does not say): the oldest a candidate may be. */
  readonly previousMoveAt: string;
  /** The old primary's membership of the surviving global cluster, if it is back in it. */
  readonly member: GlobalClusterView["members"][number] | undefined;
}

/**
 * One step towards a manual copy of Aurora's point-of-failure snapshot of the old primary:
 * wait for the region, find the snapshot (pointOfFailureCandidates), copy it, wait for the copy.
 * Done without a copy only when Aurora took none: the old primary is a connected secondary again
 * (its new volume exists, so the attempt that precedes it is over) and no such snapshot that no
 * earlier re-protect kept exists.
 */
async function keepPointOfFailure(p: PointOfFailure): Promise<{
  done: boolean;
  action: string;
  message: string;
  copy?: string;
}> {
  const prefix = `${UNPLANNED_FAILOVER_SNAPSHOT_PREFIX}${p.clusterIdentifier}-`;
  let copy: SnapshotView | null;
  let sources: SnapshotView[] = [];
  try {
    copy = await p.ports.database.describeClusterSnapshot(p.copy);
    if (!copy) {
      sources = pointOfFailureCandidates(
        await p.ports.database.listClusterSnapshots(p.clusterIdentifier),
        p.clusterIdentifier,
      );
    }
  } catch (error) {
    if (!unreachable(error)) throw error;
    return {
      done: false,
      action: "wait",
      message: `waiting for ${p.ports.region} to answer (${(error as Error).message}): Aurora's point-of-failure snapshot of ${p.clusterIdentifier} is copied there first`,
    };
  }
  if (copy) {
    return copy.status === "available"
      ? {
          done: true,
          action: "none",
          message: `Aurora's point-of-failure snapshot of ${p.clusterIdentifier} is kept as the manual snapshot ${p.copy}`,
          copy: p.copy,
        }
      : {
          done: false,
          action: "wait",
          message: `waiting for ${p.copy}, the manual copy of Aurora's point-of-failure snapshot of ${p.clusterIdentifier} (${copy.status})`,
        };
  }
  // Review M2: a candidate dated before the flag's previous move is an earlier failover's (the
  // old primary became the writer again at that move or later, so this failover's point of
  // failure is newer); such a snapshot is never kept as this one, however long the wait.
  const refused = sources.filter(
    (s) => p.previousMoveAt !== "" && s.createdAt !== undefined && s.createdAt < p.previousMoveAt,
  );
  sources = sources.filter((s) => !refused.includes(s));
  const refusal =
    refused.length === 0
      ? ""
      : ` (refused ${refused.map((s) => `${s.identifier}, taken ${s.createdAt}`).join("; ")}: older than the flag's previous move at ${p.previousMoveAt}, so it belongs to an earlier failover, not this one)`;
  const source = sources[0];
  const returned = p.member !== undefined && !p.member.isWriter;
  if (source && p.failoverAt !== "" && (source.createdAt ?? "") < p.failoverAt && !returned) {
    // Named for this cluster and kept by no earlier run, but dated before the flag moved: it is
    // this failover's unless Aurora is still to take this failover's. Aurora takes it before it
    // builds the old primary's new volume, so once the old primary is listed in the global
    // cluster again no newer one comes.
    return {
      done: false,
      action: "wait",
      message: `waiting for ${p.clusterIdentifier} to be re-added to the global cluster before keeping ${source.identifier} (taken ${source.createdAt ?? "at an unknown time"}, before the failover moved the flag at ${p.failoverAt}): Aurora takes its point-of-failure snapshot before it rebuilds the old primary's volume, so a newer one may still come`,
    };
  }
  if (!source) {
    if (p.member?.synchronizationStatus === "connected" && !p.member.isWriter) {
      return {
        done: true,
        action: "none",
        message: `WARNING: Aurora took no point-of-failure snapshot (${prefix}*) of ${p.clusterIdentifier} for this failover that no earlier re-protect kept${refusal}, and its volume has been rebuilt: the writes it took after the last replicated one are gone`,
      };
    }
    return {
      done: false,
      action: "wait",
      message: `waiting for Aurora's point-of-failure snapshot ${prefix}<timestamp> (it takes it when ${p.ports.region} recovers, before it rebuilds ${p.clusterIdentifier}'s volume)${refusal}; it is copied to ${p.copy} before re-protect completes`,
    };
  }
  if (source.status !== "available") {
    return {
      done: false,
      action: "wait",
      message: `waiting for Aurora's point-of-failure snapshot ${source.identifier} (${source.status}) before copying it to ${p.copy}`,
    };
  }
  await p.ports.database.copyClusterSnapshot(source.identifier, p.copy);
  return {
    done: false,
    action: "copy-point-of-failure-snapshot",
    message: `copying Aurora's point-of-failure snapshot ${source.identifier} to the manual snapshot ${p.copy}: a system snapshot expires with the cluster's backup retention, the copy does not`,
  };
}

/**
 * Aurora's point-of-failure snapshots of `clusterIdentifier`, newest first, matched on what AWS
 * documents: "Aurora creates a snapshot named rds:unplanned-global-failover-name-of-old-primary-
 * DB-cluster-timestamp", "listed in the information returned by the DescribeDBClusterSnapshots
 * API operation", "a system snapshot" (aurora-global-database-disaster-recovery.html). So: that
 * name for this cluster, DBClusterIdentifier this cluster, not a manual snapshot (a manual
 * identifier cannot start with "rds:" anyway), and not already kept: a snapshot that another
 * snapshot names as its SourceDBClusterSnapshotArn (API_DBClusterSnapshot) was copied by an
 * earlier re-protect, so it belongs to an earlier failover. AWS does not document which moment
 * SnapshotCreateTime carries for it (the point of failure, or when the region came back), so the
 * time only orders the candidates; keepPointOfFailure waits before taking one dated before the
 * failover.
 */
export function pointOfFailureCandidates(
  listed: readonly SnapshotView[],
  clusterIdentifier: string,
): SnapshotView[] {
  const prefix = `${UNPLANNED_FAILOVER_SNAPSHOT_PREFIX}${clusterIdentifier}-`;
  const kept = new Set(listed.flatMap((s) => (s.sourceArn ? [s.sourceArn] : [])));
  return listed
    .filter(
      (s) =>
        s.identifier.startsWith(prefix) &&
        s.clusterIdentifier === clusterIdentifier &&
        s.snapshotType !== "manual" &&
        !(s.arn !== undefined && kept.has(s.arn)),
    )
    .sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? ""));
}

/**
 * The engine version the new secondary is created with: the promoted cluster's, as
 * DescribeDBClusters reports it, not the config's. A global database's clusters run one engine
 * version ("only if the primary and secondary DB clusters have the same major and minor engine
 * versions", aurora-global-database-disaster-recovery.html, managed failover and switchover), and
 * the writer may have been upgraded since the config was written. What the config still decides
 * is the cluster parameter group Terraform built for the other region, of the family of the
 * config's major version (infra/constructs/database.ts); "A DB cluster parameter group can be
 * associated with one and only one DB cluster parameter group family, and can be applied only to
 * a DB cluster running a database engine and engine version compatible with that DB cluster
 * parameter group family" (API_CreateDBClusterParameterGroup, DBParameterGroupFamily), so a
 * different major version, or another engine, is refused before anything changes. A different minor version is used as found, and said in the message.
 */
export function promotedEngine(
  cluster: ClusterView,
  spec: DrDatabaseSpec,
  clusterIdentifier: string,
  target: DrClusterSpec,
  region: string,
): { engineVersion: string; note: string } {
  const fix = `Nothing was changed. Set DB_ENGINE_VERSION (and DB_SECONDARY_ENGINE_VERSION) in the deployment's config to what ${clusterIdentifier} runs, run terraform apply (it builds that version's parameter groups), and resume this run`;
  if (cluster.engine !== undefined && cluster.engine !== spec.engine) {
    throw new ConfigurationError(
      `the promoted cluster ${clusterIdentifier} runs engine ${cluster.engine}, but DR_DATABASE.engine is ${spec.engine}: re-protect builds only ${spec.engine} secondaries. ${fix}`,
    );
  }
  const actual = cluster.engineVersion;
  if (actual === undefined || actual === "") {
    throw new ConfigurationError(
      `DescribeDBClusters reported no EngineVersion for the promoted cluster ${clusterIdentifier}: the secondary must run its version, so re-protect does not guess it from DR_DATABASE.engineVersion (${spec.engineVersion}). Nothing was changed`,
    );
  }
  const actualFamily = parameterGroupFamily(actual);
  const configFamily = parameterGroupFamily(spec.engineVersion);
  if (actualFamily !== configFamily) {
    throw new ConfigurationError(
      `the promoted cluster ${clusterIdentifier} runs ${spec.engine} ${actual} (parameter group family ${actualFamily}), but the config says ${spec.engineVersion} (family ${configFamily}): the cluster parameter group ${target.dbClusterParameterGroupName} Terraform built for ${region} is of family ${configFamily}, which a ${actualFamily} secondary cannot use. ${fix}`,
    );
  }
  return {
    engineVersion: actual,
    note:
      actual === spec.engineVersion
        ? ""
        : `. NOTE: the config says ${spec.engineVersion}; ${clusterIdentifier} runs ${actual}, so the secondary does too: set DB_ENGINE_VERSION to ${actual} before the next terraform apply`,
  };
}

function secondaryRequest(
  spec: DrDatabaseSpec,
  target: DrClusterSpec,
  globalClusterIdentifier: string,
  engineVersion: string,
) {
  return {
    clusterIdentifier: target.clusterIdentifier,
    globalClusterIdentifier,
    engine: spec.engine,
    engineVersion,
    kmsKeyId: target.kmsKeyId,
    dbSubnetGroupName: target.dbSubnetGroupName,
    vpcSecurityGroupIds: target.vpcSecurityGroupIds,
    dbClusterParameterGroupName: target.dbClusterParameterGroupName,
    backupRetentionPeriod: spec.backupRetentionPeriod,
    preferredBackupWindow: spec.preferredBackupWindow,
    preferredMaintenanceWindow: spec.preferredMaintenanceWindow,
    deletionProtection: spec.deletionProtection,
    enableIamDatabaseAuthentication: spec.iamDatabaseAuthentication,
  };
}

/**
 * The detach path's duty for the on-call: the rebuilt secondary has a new DbClusterResourceId and
 * the payment functions' rds-db:connect policy names `dbuser:<resource id>/payments_app` from
 * Terraform state (infra/constructs/payments-api.ts), so IAM refuses their tokens there until
 * `terraform apply` rewrites it.
 */
export const TERRAFORM_APPLY_BEFORE_FAILBACK =
  "Run `terraform apply` before any failback to it: the rebuilt cluster has a new DbClusterResourceId, and until apply updates the payment functions' rds-db:connect policy (dbuser:<cluster resource id>/payments_app) they cannot connect to it as payments_app";

/** The Rebuild task (functions/dr/tasks.ts). */
export const REBUILD_TASK = stateTask({
  step: "Rebuild",
  description: "Rebuilds the global database around the promoted cluster, one step per poll",
  workflows: ["reprotect"],
  needsDatabaseSpec: true,
  permissions: {
    database: [
      "describeGlobalCluster",
      "describeCluster",
      "describeInstance",
      "describeClusterSnapshot",
      "createClusterSnapshot",
      // Aurora's point-of-failure snapshot, copied to a manual one (managed path).
      "listClusterSnapshots",
      "copyClusterSnapshot",
      "removeFromGlobalCluster",
      "renameCluster",
      "renameInstance",
      "unprotectGlobalCluster",
      "deleteGlobalCluster",
      "createGlobalCluster",
      "createSecondaryCluster",
      "createInstance",
    ],
    // The path chosen at the first look (PATH_FACT), kept for the rest of the run; the lock's
    // renewal on every poll (shared/lock.ts), and who holds it when that fails.
    control: ["recordFact", "renewLock", "getLock", "getActiveRegion"],
  },
  run: rebuild,
});
