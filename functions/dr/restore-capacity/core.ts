// After the new primary is verified and open: bring its Aurora cluster to the capacity the old
// primary had (DR_CAPACITY: the writer's instance count and class), by adding the missing
// readers with the identifiers and settings Terraform gives the writer region's instances, so a
// later `terraform apply` with the writer moved adopts them instead of creating others. It only
// asks: an instance takes minutes to become available (Aurora documents no duration,
// aurora-replicas-adding.html), and a run never waits for it. Idempotent: it counts what the
// cluster already has, and an identifier that already exists counts as done. Non-blocking in
// the ASL: a failure here is a warning of the run, never a halt.
import type { DrDeps } from "../shared/deps";
import { DependencyError, TransientError } from "../shared/errors";
import type { InstanceRequest } from "../shared/ports";
import { regionOf } from "../shared/topology";
import type { RestoreCapacityResult, StepTimes, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type RestoreCapacityOutcome = Omit<RestoreCapacityResult, keyof StepTimes>;

const TRANSITIONAL = /InvalidDBClusterStateFault|InvalidDBInstanceStateFault/;

/** Marks what this task created, for on-call and for the readiness evaluator's reasons. */
export const CREATED_BY_TAG = { Key: "created-by", Value: "payments-dr-restore-capacity" };

export async function restoreCapacity(
  state: WorkflowState,
  deps: DrDeps,
): Promise<RestoreCapacityOutcome> {
  const { request } = state;
  const capacity = deps.settings.capacity;
  const target = regionOf(deps.topology, request.targetRegion);
  if (!capacity) {
    return { desired: null, existing: [], requested: [], note: "DR_CAPACITY is not set" };
  }
  const plan = capacity.regions[request.targetRegion];
  if (!plan) {
    return {
      desired: capacity.instances,
      existing: [],
      requested: [],
      note: `DR_CAPACITY has no plan for ${request.targetRegion}`,
    };
  }
  const database = deps.ports(request.targetRegion, "critical").database;
  const existing = await database.instances(target.clusterIdentifier);
  // Instances being deleted do not carry load; every other state will (creating, modifying...).
  const counted = existing.filter((i) => i.status !== "deleting" && i.status !== "deleted");
  const missing = capacity.instances - counted.length;
  const names = new Set(existing.map((i) => i.identifier));
  const free = plan.identifiers
    .map((identifier, tier) => ({ identifier, tier }))
    .filter((x) => !names.has(x.identifier))
    .slice(0, Math.max(0, missing));
  const requested: string[] = [];
  const failed: string[] = [];
  let transient = false;
  for (const { identifier, tier } of free) {
    const spec: InstanceRequest = {
      identifier,
      clusterIdentifier: target.clusterIdentifier,
      instanceClass: capacity.instanceClass,
      engine: capacity.engine,
      promotionTier: tier,
      dbSubnetGroupName: plan.dbSubnetGroupName,
      monitoringRoleArn: capacity.monitoringRoleArn,
      monitoringInterval: capacity.monitoringInterval,
      performanceInsightsKmsKeyId: plan.performanceInsightsKmsKeyId,
      caCertificateIdentifier: capacity.caCertificateIdentifier,
      // The tags Terraform gives the instance (infra/constructs/database.ts), and ours.
      tags: {
        Name: `${target.clusterIdentifier}-${tier + 1}`,
        "region-code": plan.regionCode,
        [CREATED_BY_TAG.Key]: CREATED_BY_TAG.Value,
      },
    };
    try {
      await database.createInstance(spec);
      requested.push(identifier);
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      deps.log.warn("could not add a reader", { identifier, error: message });
      failed.push(`${identifier}: ${message}`);
      // Aurora refuses a new reader while the cluster or its writer is in a transitional state
      // ("modifying" just after a promotion; aurora-replicas-adding.html): worth the ASL's retries.
      transient ||= error instanceof TransientError || TRANSITIONAL.test(message);
    }
  }
  if (failed.length > 0) {
    // A transient failure is retried by the ASL, and the retry finds the ones already asked
    // for; anything else becomes the run's warning (the Catch), with what to do.
    const message = `asked for ${requested.length} of ${free.length} reader(s) in ${request.targetRegion}; failed: ${failed.join("; ")}; add them by hand (README, Capacity after a failover)`;
    throw transient ? new TransientError(message) : new DependencyError(message);
  }
  return {
    desired: capacity.instances,
    existing: existing.map((i) => `${i.identifier} (${i.instanceClass}, ${i.status})`),
    requested,
    note:
      missing <= 0
        ? `${request.targetRegion} already has ${counted.length} of ${capacity.instances} instances`
        : `asked for ${requested.length} reader(s) of ${capacity.instanceClass}; they take minutes to become available`,
  };
}

/** The RestoreCapacity task (functions/dr/tasks.ts). */
export const RESTORE_CAPACITY_TASK = stateTask({
  step: "RestoreCapacity",
  description: "Adds readers to the promoted cluster up to the old primary's instance count",
  workflows: ["failover", "switchover", "failback"],
  // Counting and asking only; dr-iam.ts limits CreateDBInstance to the identifiers Terraform
  // gives a writer cluster's instances and adds the PassRole/tagging/key use AWS checks with it.
  permissions: { database: ["instances", "createInstance"] },
  run: restoreCapacity,
});
