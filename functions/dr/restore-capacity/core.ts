// After the new primary is verified and open: bring its Aurora cluster to the capacity the old
// primary had (DR_CAPACITY: the writer's instance count and class), by adding the missing
// readers with the identifiers and settings Terraform gives the writer region's instances, so a
// later `terraform apply` with the writer moved adopts them instead of creating others. And, on
// a planned move (switchover, failback), take the region it leaves back to the standby's own
// size by deleting the readers this task added there: a monthly drill would otherwise leave one
// more reader in the standby every month, which Terraform does not know and which makes
// `terraform destroy` fail on the cluster ("Cannot delete cluster, it still contains DB
// instances in non-deleting state", knowledge-center/rds-error-delete-aurora-cluster).
//
// One poll per invocation: the ASL calls it in a bounded loop (IsCapacityDone) until the new
// primary has DR_CAPACITY's count of instances available and the readers to delete are deleted.
// Idempotent: it counts what each cluster has, an identifier that already exists counts as asked
// for, one already gone as deleted.
// Non-blocking in the ASL: a failure or the loop's bound is a warning of the run, never a halt.
import type { DrDeps } from "../shared/deps";
import { epochSeconds } from "../shared/deps";
import { CAPACITY_BOUND_SECONDS, FENCE_PHASE } from "../../common/contract";
import {
  CapacitySupersededError,
  DependencyError,
  StandbyNotWorkingError,
  TransientError,
} from "../shared/errors";
import { RESTORED_BY_TAG } from "../shared/permissions";
import type { InstanceRequest } from "../shared/ports";
import { brokenAdvice, kmsKeyCommand } from "../shared/format";
import { regionOf } from "../shared/topology";
import type {
  CapacityPending,
  CapacityRelease,
  RestoreCapacityResult,
  StepTimes,
  WorkflowState,
} from "../shared/types";
import { stateTask } from "../shared/task";

export type RestoreCapacityOutcome = Omit<RestoreCapacityResult, keyof StepTimes> &
  Partial<Pick<StepTimes, "startedAt">>;

const TRANSITIONAL =
  /InvalidDBClusterStateFault|InvalidDBInstanceStateFault|InvalidDBInstanceState\b/;

/** Marks what this task created, for on-call, the readiness evaluator and the release. */
export const CREATED_BY_TAG = RESTORED_BY_TAG;

/**
 * Seconds between two polls. A reader Aurora is still creating cannot be deleted
 * ("InvalidDBInstanceState: The specified DB instance isn't in the available state", API
 * reference, DeleteDBInstance), and creating one takes minutes: AWS documents no duration
 * (aurora-replicas-adding.html), its closest figure is a replacement primary that "typically
 * takes less than 10 minutes" (Concepts.AuroraHighAvailability.html). 30 s keeps a 30-minute
 * loop at 60 polls in the execution history.
 */
export const CAPACITY_POLL_SECONDS = 30;

/**
 * Polls (the first included) the loop keeps going once the standby is found with no working
 * instance but the kept reader while another reader of ours there is still not deleted (failed,
 * held or ambiguous: review 23d), before it pages. An ambiguous DeleteDBInstance (a socket
 * timeout AWS may have accepted) shows as `deleting` at the next poll; throttling passes within
 * a minute or two; a refusal (AccessDenied) or another run's lock does not, and the page then
 * names the reader with its command. 4 polls: the broken standby pages within about 2 minutes.
 */
export const STANDBY_RETRY_POLLS = 4;

/** The loop's bound (functions/common/contract.ts says why 30 minutes). */
export { CAPACITY_BOUND_SECONDS };

/** Instance states in which DeleteDBInstance is accepted (API reference, DeleteDBInstance). */
const DELETABLE = new Set([
  "available",
  "failed",
  "incompatible-network",
  "incompatible-parameters",
  "incompatible-restore",
  "storage-full",
]);
const GONE = new Set(["deleting", "deleted"]);
/**
 * Instance states Aurora does not leave by itself: each needs someone to act (delete and
 * recreate, fix the parameter group, the subnets' free addresses, the KMS key...), per the DB
 * instance status table,
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/accessing-monitoring.html#Overview.DBInstance.Status
 * ("failed: The DB instance has failed and Amazon RDS can't recover it"; "incompatible-network:
 * ... all available IP addresses in a subnet are in use"; "insufficient-capacity: ... delete your
 * DB instance, wait a few hours, and try to create again"). Every other state but deleting is one
 * Aurora moves on from (creating, modifying, backing-up, rebooting, upgrading...): waited for.
 */
const BROKEN = new Set([
  "failed",
  "inaccessible-encryption-credentials",
  "inaccessible-encryption-credentials-recoverable",
  "incompatible-network",
  "incompatible-option-group",
  "incompatible-parameters",
  "incompatible-restore",
  "insufficient-capacity",
  "restore-error",
  "storage-full",
]);

/**
 * The loop runs after ReleaseLock, so no lock keeps another run out while it creates and deletes
 * instances; the cooldown does not either (ignoreCooldown, re-protect and the drill's failback
 * pass it). So at every poll, and again before every create and every delete, it re-reads, in
 * the target region's replica (strongly consistent, the region this run made active), the lock
 * and the active-region flag.
 * - A flag that no longer names this run's target with this run's fencing token and the open
 *   phase: a later move owns the regions now, and this loop must not touch an instance it
 *   planned for the old layout. It stops with a warning (CapacitySupersededError, caught in the
 *   ASL), having done nothing more.
 * - Another run holding the lock while the flag is still this run's (review 23, M2): the
 *   runbook's own re-protect takes the lock in the active region and moves no flag, and can take
 *   hours. Stopping then would leave the reader being created unwatched. So that poll creates and
 *   deletes nothing, says who holds the lock, and keeps judging the instances: done when they are
 *   available, a page on a broken one or at the bound. If that run then fences, the flag moves
 *   and the loop stops at its next poll.
 * Returns the hold's reason (nothing may be created or deleted at this poll), or undefined.
 */
async function guard(
  state: WorkflowState,
  deps: DrDeps,
  before: string,
): Promise<string | undefined> {
  const verdict = ownership(state, deps, await copyOf(deps, state.request.targetRegion), "target");
  if (verdict.kind === "superseded") throw superseded(state, deps, before, verdict.reason);
  if (verdict.kind === "held") {
    deps.log.info("another run holds the lock: nothing created or deleted at this poll", {
      before,
      reason: verdict.reason,
    });
    return verdict.reason;
  }
  return undefined;
}

/** The lock and the flag as one region's replica of the control table holds them. */
async function copyOf(deps: DrDeps, region: string) {
  // Strongly consistent (the adapter's GetItem sets ConsistentRead), which in a global table is
  // only the latest version of what was written in that same region (V2globaltables_HowItWorks).
  const control = deps.ports(region, "critical").control;
  const [lock, flag] = await Promise.all([control.getLock(), control.getActiveRegion()]);
  return { region, lock, flag };
}

/**
 * What `copy` says about this run's ownership of the move:
 * - owned: the flag is this run's and no other run holds the lock;
 * - held: the flag is this run's but another run holds the lock within its lease;
 * - behind: (left copy only) the copy does not show this run's flag yet (a lower token, or
 *   none): replication towards it has not caught up, which proves nothing either way;
 * - superseded: the flag moved (region, token or phase), or is missing: a later move.
 */
type Ownership =
  | { readonly kind: "owned" }
  | { readonly kind: "held" | "behind" | "superseded"; readonly reason: string };

/** This run's fencing token (Unfence's, else Fence's). */
function tokenOf(state: WorkflowState): number | undefined {
  return state.steps.Unfence?.fencingToken ?? state.steps.Fence?.fencingToken;
}

function ownership(
  state: WorkflowState,
  deps: DrDeps,
  copy: Awaited<ReturnType<typeof copyOf>>,
  which: "target" | "left",
): Ownership {
  const { request } = state;
  const { lock, flag, region } = copy;
  const token = tokenOf(state);
  const where = `in ${region}'s copy of the control table`;
  if (token === undefined) {
    return { kind: "superseded", reason: "this run recorded no fencing token" };
  }
  if (which === "left" && (!flag || flag.fencingToken < token)) {
    return {
      kind: "behind",
      reason: `${region}'s copy of the active-region flag does not show this run's token ${token} (replication behind)`,
    };
  }
  if (!flag) return { kind: "superseded", reason: `the active-region flag is missing ${where}` };
  if (
    flag.activeRegion !== request.targetRegion ||
    flag.fencingToken !== token ||
    (flag.phase !== undefined && flag.phase !== FENCE_PHASE.open)
  ) {
    return {
      kind: "superseded",
      reason: `the active-region flag names ${flag.activeRegion} token ${flag.fencingToken}${flag.phase ? ` (${flag.phase})` : ""} set by ${flag.updatedBy} ${where}, not ${request.targetRegion} token ${token} of this run`,
    };
  }
  // Held as AcquireLock counts it: another run's lock within its lease (a run renews it while it
  // runs; an expired one is a stopped run's, e.g. left in a copy whose release failed).
  if (lock && lock.owner !== request.failoverId && lock.expiresAt > epochSeconds(deps.now())) {
    return {
      kind: "held",
      reason: `run ${lock.owner} (${lock.operation}) holds the failover lock ${where}`,
    };
  }
  return { kind: "owned" };
}

function superseded(
  state: WorkflowState,
  deps: DrDeps,
  before: string,
  reason: string,
): CapacitySupersededError {
  deps.log.warn("capacity loop superseded: stopping", { before, reason });
  return new CapacitySupersededError(
    `capacity restoration of run ${state.request.failoverId} stopped before ${before}: ${reason}; a later move owns the regions now, so nothing more was created or deleted. Check both clusters' instances against DR_CAPACITY (README, Capacity after a failover)`,
  );
}

/**
 * Before a delete in the region the run left, that region's own copy too (review 22b, M1'). A
 * later run that makes it active again takes its lock and writes its fence there first
 * (acquire-lock, fence: the target's copy) and reaches the other copy only through global-table
 * replication, which has no upper bound ("typically within a second or less", no SLA:
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html),
 * and is slowest in the regional trouble that starts such a run. Reading only the target's copy,
 * the loop could delete a reader of the cluster the later run is promoting. Returns why the
 * delete waits for the next poll (the copy is behind, or could not be read: then nothing proves
 * the region is not being taken over, so no delete); throws when the copy shows a later run.
 */
async function leftCopyAllowsDelete(
  state: WorkflowState,
  deps: DrDeps,
  left: string,
  identifier: string,
): Promise<string | undefined> {
  let copy: Awaited<ReturnType<typeof copyOf>>;
  try {
    copy = await copyOf(deps, left);
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    deps.log.warn("not deleting: the left region's copy of the control table is unreachable", {
      identifier,
      region: left,
      error: message,
    });
    return `not deleted: ${left}'s copy of the control table could not be read (${message}), so nothing shows that no later run is taking ${left} over`;
  }
  const verdict = ownership(state, deps, copy, "left");
  if (verdict.kind === "owned") return undefined;
  if (verdict.kind === "superseded") {
    throw superseded(state, deps, `deleting ${identifier} in ${left}`, verdict.reason);
  }
  // Behind (replication) or another run's lock there: no delete at this poll, said why.
  deps.log.warn("not deleting yet: the left region's copy does not allow it", {
    identifier,
    region: left,
    flag: copy.flag,
    reason: verdict.reason,
  });
  return `not deleted yet: ${verdict.reason}`;
}

interface Part {
  readonly waiting: string[];
}

export async function restoreCapacity(
  state: WorkflowState,
  deps: DrDeps,
): Promise<RestoreCapacityOutcome> {
  const previous = state.steps.RestoreCapacity;
  const firstPoll = previous ? Date.parse(previous.startedAt) : deps.now().getTime();
  const polls = (previous?.polls ?? 0) + 1;
  // Every poll, not only before a create or a delete (review 22b, L2'): a loop that only waits
  // for instances would otherwise outlive a later move unnoticed and, at its bound, page advice
  // (add readers in targetRegion) meant for a layout that no longer holds.
  const hold = deps.settings.capacity ? await guard(state, deps, `poll ${polls}`) : undefined;
  // The release runs even when asking for readers failed: a refused create (quota, permission)
  // must not leave the region it left with a reader nobody removes.
  let added: Awaited<ReturnType<typeof addReaders>> | undefined;
  let addError: unknown;
  try {
    added = await addReaders(state, deps, hold);
  } catch (error) {
    if (error instanceof CapacitySupersededError) throw error;
    addError = error;
  }
  let released: Awaited<ReturnType<typeof releaseReaders>>;
  try {
    released = await releaseReaders(state, deps, hold);
  } catch (releaseError) {
    if (addError !== undefined) {
      // Both failed (review 23, L1): one error, so the one page names both. A later run's
      // ownership decides the page's headline; otherwise the new primary's failure does.
      throw both(addError, releaseError);
    }
    if (releaseError instanceof CapacitySupersededError) throw releaseError;
    // Review 23b, M2: any other failure in the region left (its RDS API down or throttled past
    // the Retries, a refused delete) must not end the loop: the new primary's reader may still
    // be creating, and only the loop pages if it fails. Recorded as pending, tried again at the
    // next poll; the bound pages with what is left.
    released = releaseFailed(state, releaseError);
  }
  if (addError !== undefined) {
    // The new primary's failure is for good (a refused create, a broken instance): the loop ends
    // in this poll and pages now. Review 24, M1: that page names every reader of ours in the
    // region left that this poll did not delete (failed, held, transitional: all but the floor
    // entry), each with its command, and what this poll deleted and kept (the Catch drops this
    // poll's output). Named rather than retried as the standby path does: the new primary short
    // of capacity is the urgent news, and a reader left over only costs money until someone
    // runs the command the page gives.
    // Review 23c, L3: a standby found with no working instance but the kept reader goes on the
    // same page, or the page about the new primary would hide it.
    const left = state.request.sourceRegion ?? "the region left";
    const standby = released.standbyBroken ?? [];
    const region = [
      ...(released.note ? [released.note] : []),
      ...standby,
      ...released.release.filter((r) => r.kind !== "floor").map((r) => notDeletedAdvice(r, left)),
    ].join("; ");
    if (standby.length > 0) throw both(addError, new StandbyNotWorkingError(region));
    if (region !== "") throw both(addError, new Error(region));
    throw addError;
  }
  const result = added!;
  // A standby left with no working instance but the kept reader (review 23, M1) pages once the
  // new primary needs no more watching; until then it is one more thing the loop waits for, so
  // the bound's page names it too.
  // Review 23d: another reader of ours there whose delete failed, was held or is ambiguous (an
  // accepted delete can time out) is retried first, for up to STANDBY_RETRY_POLLS polls: the next
  // poll sees it deleting, deletes it, or still cannot; then the page names it with its command.
  const unfinished = released.release.filter((r) => r.kind !== "floor");
  const brokenSince =
    released.standbyBroken && result.waiting.length === 0
      ? (previous?.standbyBrokenSince ?? polls)
      : undefined;
  if (
    brokenSince !== undefined &&
    (unfinished.length === 0 || polls - brokenSince + 1 >= STANDBY_RETRY_POLLS)
  ) {
    deps.log.warn("the standby has no working instance but the reader kept", {
      standby: released.standbyBroken,
      notDeleted: unfinished.map((r) => r.identifier),
    });
    const left = state.request.sourceRegion ?? "the region left";
    throw new StandbyNotWorkingError(
      // released.note: what this poll deleted and kept, since the Catch drops this poll's output.
      `${[result.note, ...(released.note ? [released.note] : []), ...released.standbyBroken!, ...unfinished.map((r) => notDeletedAdvice(r, left))].join("; ")} (README, Capacity after a failover)`,
    );
  }
  const waiting = [...result.waiting, ...released.waiting, ...(released.standbyBroken ?? [])];
  const elapsedSeconds = Math.round((deps.now().getTime() - firstPoll) / 1000);
  const union = (a: readonly string[] | undefined, b: readonly string[]) => [
    ...new Set([...(a ?? []), ...b]),
  ];
  return {
    // The step's start is the first poll's, carried from poll to poll (the loop's clock).
    ...(previous ? { startedAt: previous.startedAt } : {}),
    desired: result.desired,
    existing: result.existing,
    requested: union(previous?.requested, result.requested),
    ...(released.applies ? { released: union(previous?.released, released.released) } : {}),
    ...(released.applies
      ? { deleteAttempted: union(previous?.deleteAttempted, released.attempted) }
      : {}),
    waiting,
    ...(result.available !== undefined ? { available: result.available } : {}),
    pending: {
      progressing: result.progressing,
      missing: result.missing,
      release: released.release,
      ...(result.held.length > 0 ? { held: result.held } : {}),
    },
    done: waiting.length === 0,
    polls,
    elapsedSeconds,
    nextPollSeconds: CAPACITY_POLL_SECONDS,
    ...(brokenSince !== undefined ? { standbyBrokenSince: brokenSince } : {}),
    note: [result.note, ...(released.note ? [released.note] : [])].join("; "),
  };
}

/**
 * A reader of ours in the region left that the loop could not delete, for the StandbyNotWorking
 * page (review 23d): its name and the command that finishes it. Safe to run: the reader kept for
 * the standby's floor is another one, and this one was already outside the floor.
 */
function notDeletedAdvice(r: CapacityRelease, left: string): string {
  if (r.identifier.startsWith("the readers ")) {
    // The release as a whole failed: which readers are ours is unknown (no instance read).
    return `not deleted: ${r.identifier} (${r.reason}); list them (aws rds describe-db-instances --region ${left}) and delete those beyond the standby's count, never the kept one`;
  }
  const status = r.statuses?.[r.identifier];
  const command = `aws rds delete-db-instance --region ${left} --db-instance-identifier ${r.identifier}`;
  if (r.kind === "transitional" && status !== undefined && BROKEN.has(status)) {
    // Review 24, L5: a state Aurora does not leave by itself and in which DeleteDBInstance is
    // refused (API_DeleteDBInstance.html): "once it is available" never comes without a fix.
    const fix = status.startsWith("inaccessible-encryption-credentials")
      ? `restore access to the cluster's KMS key in ${left} (${kmsKeyCommand(r.identifier, left)}) so it becomes available again`
      : `fix its cause (aws rds describe-events --region ${left} --source-type db-instance --source-identifier ${r.identifier})`;
    return `not deleted: ${r.identifier} in ${left}, another reader this kit added, is ${status}, a state Aurora does not leave by itself and in which it cannot be deleted (RDS DB instance status: accessing-monitoring.html#Overview.DBInstance.Status); ${fix}, then delete it once no run is moving to ${left} (${command})`;
  }
  const once = r.kind === "transitional" ? "it is available and " : "";
  return `not deleted: ${r.identifier} in ${left}, another reader this kit added (${r.reason}); delete it once ${once}no run is moving to ${left} (aws rds delete-db-instance --region ${left} --db-instance-identifier ${r.identifier})`;
}

/** A release that failed as a whole (review 23b, M2): pending, retried at the next poll. */
function releaseFailed(
  state: WorkflowState,
  error: unknown,
): Awaited<ReturnType<typeof releaseReaders>> {
  const left = state.request.sourceRegion ?? "the region left";
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const identifier = `the readers with the created-by tag in ${left}`;
  return {
    applies: true,
    released: [],
    attempted: [],
    waiting: [
      `${identifier}: the release failed at this poll (${message}); tried again at the next`,
    ],
    release: [{ identifier, reason: `the release failed (${message})`, kind: "failed" }],
  };
}

/** One error for two failures of a poll: the first one's class (a later run's, if either). */
function both(first: unknown, second: unknown): Error {
  const text = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  const message = `${text(first)}; and in the region left: ${text(second)}`;
  if (second instanceof CapacitySupersededError) return new CapacitySupersededError(message);
  if (first instanceof TransientError) return new TransientError(message);
  return new DependencyError(message);
}

/** The new primary up to the old primary's count. */
async function addReaders(
  state: WorkflowState,
  deps: DrDeps,
  hold: string | undefined,
): Promise<
  Part &
    Omit<RestoreCapacityOutcome, "waiting" | "pending"> &
    Pick<CapacityPending, "progressing" | "missing"> & {
      held: { identifier: string; reason: string }[];
    }
> {
  const { request } = state;
  const capacity = deps.settings.capacity;
  const target = regionOf(deps.topology, request.targetRegion);
  if (!capacity) {
    return {
      desired: null,
      existing: [],
      requested: [],
      note: "DR_CAPACITY is not set",
      waiting: [],
      progressing: [],
      missing: [],
      held: [],
    };
  }
  const plan = capacity.regions[request.targetRegion];
  if (!plan) {
    return {
      desired: capacity.instances,
      existing: [],
      requested: [],
      note: `DR_CAPACITY has no plan for ${request.targetRegion}`,
      waiting: [],
      progressing: [],
      missing: [],
      held: [],
    };
  }
  const database = deps.ports(request.targetRegion, "critical").database;
  const region = request.targetRegion;
  const existing = await database.instances(target.clusterIdentifier);
  // Done means the configured count *available* (review 22b, M2'), the writer included: asked
  // for is not there, and a reader can fail after Aurora accepted it.
  const live = existing.filter((i) => !GONE.has(i.status));
  const available = live.filter((i) => i.status === "available");
  const broken = live.filter((i) => BROKEN.has(i.status));
  // What carries load or will by itself: every live state but the broken ones.
  const missing = capacity.instances - (live.length - broken.length);
  const names = new Set(existing.map((i) => i.identifier));
  const tiers = plan.identifiers.map((identifier, tier) => ({ identifier, tier }));
  const free = tiers.filter((x) => !names.has(x.identifier)).slice(0, Math.max(0, missing));
  // An identifier still held by an instance being deleted (an earlier release, a hand delete)
  // cannot be asked for until Aurora has removed it: named as what the loop waits for.
  const held = existing
    .filter((i) => GONE.has(i.status) && plan.identifiers.includes(i.identifier))
    .slice(0, Math.max(0, missing - free.length));
  const requested: string[] = [];
  const failed: string[] = [];
  const waiting: string[] = [];
  const progressing: { identifier: string; status: string }[] = [];
  const missingNames: string[] = [];
  const heldNames: { identifier: string; reason: string }[] = [];
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
    const locked = hold ?? (await guard(state, deps, `creating ${identifier} in ${region}`));
    if (locked !== undefined) {
      waiting.push(`${identifier} in ${region}: not asked for at this poll: ${locked}`);
      // Review 23b, L6: not "add by hand" at the bound: the loop refused on that very lock.
      heldNames.push({ identifier, reason: locked });
      continue;
    }
    try {
      await database.createInstance(spec);
      requested.push(identifier);
      waiting.push(`${identifier} in ${region} is creating (asked for now)`);
      progressing.push({ identifier, status: "creating" });
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      // Aurora refuses a new reader while the cluster or its writer is in a transitional state
      // (aurora-replicas-adding.html: they must be Available), and a freshly promoted cluster can
      // be "modifying" for minutes: AWS gives no figure, the nearest is "15 minutes or more" for
      // an instance change (AuroraPostgreSQL.Managing.html). Not a failure: the ASL's loop polls
      // again in CAPACITY_POLL_SECONDS, for up to CAPACITY_BOUND_SECONDS, where the Retry's
      // backoff spent about 30 s.
      if (TRANSITIONAL.test(message)) {
        deps.log.info("the cluster cannot take a reader yet", { identifier, error: message });
        waiting.push(`${identifier} in ${region}: ${message}`);
        missingNames.push(identifier);
        continue;
      }
      deps.log.warn("could not add a reader", { identifier, error: message });
      failed.push(`${identifier}: ${message}`);
      transient ||= error instanceof TransientError;
    }
  }
  if (failed.length > 0) {
    // A transient failure (throttling) is retried by the ASL, and the retry finds the ones
    // already asked for; anything else becomes the run's warning (the Catch), with what to do.
    const message = `asked for ${requested.length} of ${free.length} reader(s) in ${region}; failed: ${failed.join("; ")}; add them by hand (README, Capacity after a failover)`;
    throw transient ? new TransientError(message) : new DependencyError(message);
  }
  const short = available.length < capacity.instances;
  if (short && broken.length > 0) {
    // Nothing to wait for: the page names each instance and its state, and the way out.
    const states = broken.map((i) => `${i.identifier} is ${i.status}`).join("; ");
    deps.log.warn("an instance of the new primary cannot become available", { states });
    throw new DependencyError(
      `${region} has ${available.length} of ${capacity.instances} instances available: ${states}, a state Aurora does not leave by itself (RDS DB instance status: accessing-monitoring.html#Overview.DBInstance.Status)${requested.length > 0 ? `; asked for ${requested.join(", ")}` : ""}; fix its cause (for failed or insufficient-capacity: delete it, aws rds delete-db-instance --region ${region} --db-instance-identifier <it>), then add the reader by hand (README, Capacity after a failover)`,
    );
  }
  if (short) {
    for (const i of live) {
      if (i.status === "available") continue;
      waiting.push(`${i.identifier} in ${region} is ${i.status}`);
      progressing.push({ identifier: i.identifier, status: i.status });
    }
    for (const i of held) {
      missingNames.push(i.identifier);
      waiting.push(
        `${i.identifier} in ${region}: the name is held by an instance being deleted; asked for once it is gone`,
      );
    }
    if (waiting.length === 0) {
      // Never done while short, whatever the reason (e.g. a plan identifier taken elsewhere).
      waiting.push(
        `${region} has ${available.length} of ${capacity.instances} instances available and no identifier of DR_CAPACITY left to ask for`,
      );
    }
  }
  return {
    desired: capacity.instances,
    existing: existing.map((i) => `${i.identifier} (${i.instanceClass}, ${i.status})`),
    requested,
    note: !short
      ? `${region} already has ${available.length} of ${capacity.instances} instances available`
      : requested.length > 0
        ? `asked for ${requested.length} reader(s) of ${capacity.instanceClass}; waiting for ${capacity.instances} available (they take minutes)`
        : `${region} has ${available.length} of ${capacity.instances} instances available; waiting`,
    // Short: what it waits for. Not short: nothing, whatever else the cluster is doing.
    waiting: short ? waiting : [],
    available: available.length,
    progressing: short ? progressing : [],
    missing: short ? missingNames : [],
    held: short ? heldNames : [],
  };
}

/**
 * The region a planned move left back to the standby's own size: deletes the readers this task
 * added there (its created-by tag, which Terraform removes when it adopts one), never one of
 * Terraform's standby identifiers, never the cluster's writer, never below the standby's count.
 * Not on a failover: the unplanned path calls no API in the region it left.
 */
async function releaseReaders(
  state: WorkflowState,
  deps: DrDeps,
  hold: string | undefined,
): Promise<
  Part & {
    applies: boolean;
    released: string[];
    release: CapacityRelease[];
    note?: string;
    standbyBroken?: string[];
    attempted: string[];
  }
> {
  const { request } = state;
  const capacity = deps.settings.capacity;
  const left = request.sourceRegion;
  const none = { applies: false, released: [], waiting: [], release: [], attempted: [] };
  if (request.workflow === "failover" || !capacity || !left || left === request.targetRegion) {
    return none;
  }
  const plan = capacity.regions[left];
  if (!plan) return { ...none, note: `DR_CAPACITY has no plan for ${left}` };
  const cluster = regionOf(deps.topology, left);
  const database = deps.ports(left, "critical").database;
  const [instances, view] = await Promise.all([
    database.instances(cluster.clusterIdentifier),
    database.describeCluster(cluster.clusterIdentifier),
  ]);
  const terraforms = new Set(plan.identifiers.slice(0, capacity.standbyInstances));
  const restorable = new Set(plan.identifiers.slice(capacity.standbyInstances));
  // Review 24, L1: in identifier order, so every poll judges the readers in the same order and
  // keeps the same one for the floor: DescribeDBInstances documents no order
  // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html).
  const live = instances
    .filter((i) => !GONE.has(i.status))
    .sort((a, b) => (a.identifier < b.identifier ? -1 : a.identifier > b.identifier ? 1 : 0));
  const ours = (i: { tags?: Record<string, string> }) =>
    i.tags?.[CREATED_BY_TAG.Key] === CREATED_BY_TAG.Value;
  // Review 23b, L2: a reader of ours already deleting is one a poll deleted, possibly an attempt
  // whose create then failed transiently: the ASL's Retry keeps only the retry's output, so it
  // is recorded here, as "deleted or being deleted", or the evidence of that delete is lost.
  const released: string[] = instances
    .filter(
      (i) =>
        GONE.has(i.status) &&
        ours(i) &&
        restorable.has(i.identifier) &&
        !terraforms.has(i.identifier),
    )
    .map((i) => i.identifier);
  const waiting: string[] = [];
  const release: CapacityRelease[] = [];
  /** One reader of the region left not deleted at this poll: prose, and by kind for the page. */
  const wait = (
    identifier: string,
    reason: string,
    kind: CapacityRelease["kind"],
    extra: Partial<CapacityRelease> = {},
  ) => {
    waiting.push(`${identifier} in ${left}${reason.startsWith("is ") ? " " : ": "}${reason}`);
    release.push({ identifier, reason, kind, ...extra });
  };
  const kept: string[] = [];
  const standbyBroken: string[] = [];
  /** Review 23c, M1: this poll's deletion set (deleted, advised for deletion, or attempted). */
  // Review 24, L1: and every reader whose delete an earlier poll attempted. DeleteDBInstance
  // "can't be canceled or reverted once submitted" (API_DeleteDBInstance.html), and one accepted
  // behind a timeout can still read `available` at the next poll: it never carries the standby.
  const attempted: string[] = [];
  const leaving = new Set([...released, ...(state.steps.RestoreCapacity?.deleteAttempted ?? [])]);
  for (const instance of live) {
    if (
      !ours(instance) ||
      terraforms.has(instance.identifier) ||
      !restorable.has(instance.identifier)
    ) {
      continue;
    }
    if (instance.identifier === view?.writer) {
      kept.push(`${instance.identifier} (the writer)`);
      continue;
    }
    // Review 23, M1: only the *other* instances that are available carry the standby. One that
    // is failed or incompatible-* is one "Amazon RDS can't recover" (DB instance status table,
    // accessing-monitoring.html#Overview.DBInstance.Status), one rebooting or modifying serves
    // nothing meanwhile, and Aurora cannot fail over to a secondary without a working instance
    // ("Before you can perform a switchover or failover to a headless secondary ... you must add
    // a DB instance", aurora-global-database-instances). Deleting this reader then would leave the
    // next move with no target, so it is kept.
    // Review 23c, M1: judged over the whole poll. A reader of ours deleted, given delete advice
    // (held, transitional, failed) or whose delete was attempted (any outcome: an ambiguous error
    // may have been accepted) is in `leaving` and no longer carries the standby for the next.
    const working = live.filter(
      (i) => i !== instance && i.status === "available" && !leaving.has(i.identifier),
    );
    if (working.length < capacity.standbyInstances) {
      const others = live.filter((i) => i !== instance && !leaving.has(i.identifier));
      if (others.length < capacity.standbyInstances) {
        // Nothing else there at all (e.g. Terraform's instance deleted by hand): this reader is
        // the standby now; keeping it leaves the standby at its count.
        kept.push(
          `${instance.identifier} (the standby would have fewer than ${capacity.standbyInstances})`,
        );
        continue;
      }
      const states = others
        .filter((i) => i.status !== "available")
        .map((i) => `${i.identifier} is ${i.status}`)
        .join(", ");
      kept.push(
        `${instance.identifier} (the standby has ${working.length} working instance(s): ${states})`,
      );
      const why = `kept: the standby has ${working.length} of ${capacity.standbyInstances} instance(s) available besides it (${states})`;
      // Review 23b, M1: a floor entry; the page prints no delete command for it.
      // Review 23c, M2: broken ones need someone (until, with their states for the advice);
      // changing ones (rebooting, modifying...) come back by themselves (changing): no command.
      const until = others.filter((i) => BROKEN.has(i.status)).map((i) => i.identifier);
      const changing = others
        .filter((i) => i.status !== "available" && !BROKEN.has(i.status))
        .map((i) => i.identifier);
      if (until.length > 0) {
        // Aurora will not bring it back by itself: a page, not a wait.
        const text = `${instance.identifier} in ${left} ${why}, a state Aurora does not leave by itself (RDS DB instance status: accessing-monitoring.html#Overview.DBInstance.Status); ${until.map((id) => brokenAdvice(id, others.find((i) => i.identifier === id)?.status, left)).join("; ")}; delete ${instance.identifier} only once ${left} has ${capacity.standbyInstances} other instance(s) available`;
        standbyBroken.push(text);
        release.push({
          identifier: instance.identifier,
          reason: why,
          kind: "floor",
          until,
          ...(changing.length > 0 ? { changing } : {}),
          statuses: Object.fromEntries(
            others.filter((i) => i.status !== "available").map((i) => [i.identifier, i.status]),
          ),
          broken: true,
        });
      } else {
        wait(instance.identifier, `${why}; deleted once they are available again`, "floor", {
          until: changing,
        });
      }
      continue;
    }
    leaving.add(instance.identifier);
    if (!DELETABLE.has(instance.status)) {
      wait(instance.identifier, `is ${instance.status}`, "transitional", {
        statuses: { [instance.identifier]: instance.status },
      });
      continue;
    }
    const locked = hold ?? (await guard(state, deps, `deleting ${instance.identifier} in ${left}`));
    if (locked !== undefined) {
      wait(instance.identifier, `not deleted at this poll: ${locked}`, "held");
      continue;
    }
    const held = await leftCopyAllowsDelete(state, deps, left, instance.identifier);
    if (held !== undefined) {
      wait(instance.identifier, held, "held");
      continue;
    }
    try {
      attempted.push(instance.identifier);
      await database.deleteInstance(instance.identifier);
      released.push(instance.identifier);
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (error instanceof CapacitySupersededError) throw error;
      if (TRANSITIONAL.test(message)) {
        wait(instance.identifier, message, "transitional");
        continue;
      }
      // Review 23b, M2: refused or failing (AccessDenied, throttled past the Retries): pending,
      // asked again at the next poll; the loop keeps watching the new primary.
      deps.log.warn("could not delete a reader in the region left", {
        identifier: instance.identifier,
        error: message,
      });
      wait(instance.identifier, `the delete failed (${message})`, "failed");
    }
  }
  const parts = [
    ...(released.length > 0 ? [`deleted ${released.join(", ")} in ${left}`] : []),
    ...(kept.length > 0 ? [`kept ${kept.join(", ")} in ${left}`] : []),
  ];
  return {
    applies: true,
    released,
    waiting,
    release,
    attempted,
    ...(standbyBroken.length > 0 ? { standbyBroken } : {}),
    ...(parts.length > 0 ? { note: parts.join("; ") } : {}),
  };
}

/** The RestoreCapacity task (functions/dr/tasks.ts). */
export const RESTORE_CAPACITY_TASK = stateTask({
  step: "RestoreCapacity",
  description:
    "Adds readers to the promoted cluster up to the old primary's instance count; on a planned move removes those it added to the region left",
  workflows: ["failover", "switchover", "failback"],
  // Counting, asking and (planned moves) deleting its own readers; dr-iam.ts limits
  // CreateDBInstance to the identifiers Terraform gives a writer cluster's instances, adds the
  // PassRole/tagging/key use AWS checks with it, and allows DeleteDBInstance only on the
  // identifiers beyond the standby's count carrying the created-by tag.
  // It reads the lock and the flag at every poll and before each create and delete (guard).
  permissions: {
    database: ["instances", "createInstance", "describeCluster", "deleteInstance"],
    control: ["getLock", "getActiveRegion"],
  },
  run: restoreCapacity,
});
