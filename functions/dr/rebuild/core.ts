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
import type { DrDeps } from "../shared/deps";
import {
  ConfigurationError,
  RebuildConflictError,
  TargetClusterUnhealthyError,
} from "../shared/errors";
import type { ClusterView } from "../shared/ports";
import { regionOf } from "../shared/topology";
import type { RebuildResult, StepTimes, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type RebuildOutcome = Omit<RebuildResult, keyof StepTimes> &
  Partial<Pick<StepTimes, "startedAt">>;

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
    suffix: `-detached-${tag}`,
  };
}

function unreachable(error: unknown): boolean {
  return (error as Error | undefined)?.name === "TransientError";
}

export async function rebuild(state: WorkflowState, deps: DrDeps): Promise<RebuildOutcome> {
  const { request } = state;
  const { topology } = deps;
  const spec = deps.database;
  if (!spec) throw new ConfigurationError("DR_DATABASE is not set: re-protect needs it");
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
    kept: { cluster?: boolean; snapshot?: boolean } = {},
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
    };
  };

  if (path === "managed") {
    return result(
      true,
      "none",
      `${gid} survived the managed failover with ${ours.clusterIdentifier} as its writer: Aurora adds ${theirs.clusterIdentifier} back by itself once ${region} is healthy`,
    );
  }

  const oursCluster = await wp.database.describeCluster(ours.clusterIdentifier);
  if (oursCluster?.status !== "available") {
    return result(
      false,
      "wait",
      `waiting for the promoted cluster ${ours.clusterIdentifier} to be available (${oursCluster?.status ?? "missing"})`,
    );
  }
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
      await tp.database.removeFromGlobalCluster(old.globalClusterIdentifier, old.arn);
      return result(
        false,
        "detach-old-primary",
        `removing the old primary ${theirs.clusterIdentifier} from the stale ${old.globalClusterIdentifier}`,
        { snapshot: true },
      );
    }
    await tp.database.renameCluster(theirs.clusterIdentifier, names.cluster);
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
      await tp.database.renameInstance(instance, names.instance(instance));
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
    await tp.database.createSecondaryCluster(secondaryRequest(spec, target, gid));
    return result(
      false,
      "create-secondary",
      `creating ${theirs.clusterIdentifier} in ${region} as a secondary of ${gid}, encrypted with ${target.kmsKeyId}`,
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
    `${theirs.clusterIdentifier} is a secondary of ${gid} with its instances; waiting for it to catch up`,
    kept,
  );
}

function secondaryRequest(
  spec: DrDatabaseSpec,
  target: DrClusterSpec,
  globalClusterIdentifier: string,
) {
  return {
    clusterIdentifier: target.clusterIdentifier,
    globalClusterIdentifier,
    engine: spec.engine,
    engineVersion: spec.engineVersion,
    kmsKeyId: target.kmsKeyId,
    dbSubnetGroupName: target.dbSubnetGroupName,
    vpcSecurityGroupIds: target.vpcSecurityGroupIds,
    dbClusterParameterGroupName: target.dbClusterParameterGroupName,
    backupRetentionPeriod: spec.backupRetentionPeriod,
    preferredBackupWindow: spec.preferredBackupWindow,
    preferredMaintenanceWindow: spec.preferredMaintenanceWindow,
    deletionProtection: spec.deletionProtection,
  };
}

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
      "removeFromGlobalCluster",
      "renameCluster",
      "renameInstance",
      "deleteGlobalCluster",
      "createGlobalCluster",
      "createSecondaryCluster",
      "createInstance",
    ],
    // The path chosen at the first look (PATH_FACT), kept for the rest of the run.
    control: ["recordFact"],
  },
  run: rebuild,
});
