// Tells on-call what happened, through the alert topic of the region the state machine runs in
// (the target region). Two kinds: "completed" (once per run: remembered on the lock) and
// "halted" (a page saying which step failed, what has changed so far, and the exact commands to
// resume or abandon the run). Also returns the error and cause the Halted state reports. And
// "capacity": the capacity loop, which runs after the completion page and the lock's release,
// ended in a warning or at its bound: a page and a CapacityNotRestored metric, since nothing else
// tells anyone the new primary runs short of instances (review 22, M1).
import { CONTROL, METRICS } from "../../common/contract";
import { LOCK_LEASE_MINUTES } from "../shared/settings";
import { bestEffort } from "../shared/best-effort";
import type { BestEffort } from "../shared/best-effort";
import { isoFromEpoch } from "../shared/deps";
import type { LockItem } from "../shared/ports";
import type { DrDeps } from "../shared/deps";
import { brokenAdvice, executionUrl, shellQuote, snsSubject } from "../shared/format";
import { requestReport } from "../shared/run-report";
import type {
  CapacityRelease,
  DrRequest,
  ExecutionContext,
  NotifyResult,
  ReportLink,
  StepTimes,
  Workflow,
  WorkflowState,
} from "../shared/types";
import { TransientError } from "../shared/errors";
import { keysFrom } from "../shared/task";
import type { DrTaskDefinition } from "../shared/task";

export interface NotifyEvent {
  readonly workflow: Workflow;
  /**
   * "slow": the promotion takes longer than expected; the run goes on. "capacity": the capacity
   * loop (after the lock's release) ended in a warning or at its bound.
   */
  readonly outcome: "completed" | "halted" | "slow" | "capacity";
  /** The workflow state; before ValidateInput succeeded, the raw input plus `failures`. */
  readonly state: Partial<WorkflowState>;
  readonly context: ExecutionContext;
}

export type NotifyOutcome = Omit<NotifyResult, keyof StepTimes>;

const NOTIFIED_FACT = "completionNotifiedAt";

export async function notify(event: NotifyEvent, deps: DrDeps): Promise<NotifyOutcome> {
  const region = deps.executionRegion;
  const ports = deps.ports(region, "critical");
  const request = event.state.request;
  // A halted run's report is requested before the page, so the page can link it. A run that
  // stopped before its input was validated gets one from its execution history instead.
  const report =
    event.outcome === "halted" && request
      ? await requestReport(
          event.state as WorkflowState,
          { rtoSeconds: null, rpoEstimateMs: lagOf(event.state) },
          deps,
          "halted",
        )
      : undefined;
  const composed =
    event.outcome === "completed" && request
      ? completedMessage(event, request as DrRequest, deps)
      : event.outcome === "slow" && request
        ? slowMessage(event, request as DrRequest, deps)
        : event.outcome === "capacity" && request
          ? capacityMessage(event, request as DrRequest, deps)
          : haltedMessage(event, deps, await lockAfterHalt(event, deps));
  const { subject, error, cause } = composed;
  const message = withReport(composed.message, report ?? event.state.steps?.RecordTimeline?.report);

  if (event.outcome === "completed" && request) {
    const lock = await ports.control.getLock();
    if (lock?.owner === request.failoverId && lock.facts[NOTIFIED_FACT] !== undefined) {
      deps.log.info("completion already notified by this run");
      return { subject, published: true };
    }
  }
  try {
    await ports.notifier.publish(subject, message);
  } catch (error) {
    // Review 23, L3: a page refused for good (the topic's KMS key or policy) goes to the ASL's
    // Catch with no retry, so the metric is the one signal left: sent before rethrowing. Not on
    // a transient failure, which the Retry repeats (the retry that publishes sends it once).
    if (event.outcome === "capacity" && request && !(error instanceof TransientError)) {
      const metric = await capacityMetric(request, deps);
      deps.log.error("capacity page not published; metric attempted", { metric });
    }
    throw error;
  }
  if (event.outcome === "completed" && request) {
    await ports.control.recordFact(request.failoverId, NOTIFIED_FACT, deps.now().toISOString());
  }
  deps.log.info("notification published", { subject, outcome: event.outcome });
  const metric =
    event.outcome === "capacity" && request ? await capacityMetric(request, deps) : undefined;
  const result = {
    subject,
    published: true,
    ...(report ? { report } : {}),
    ...(metric ? { metric } : {}),
  };
  return error ? { ...result, error, cause } : result;
}

/**
 * After the page (review 22b, L1'): the page is the one signal that must go out, so a refused or
 * failing PutMetricData (an SCP, the role's namespace condition, throttling past the SDK's
 * retries) never stops it. Not thrown either: the ASL's Retry would page again for a metric.
 * Recorded in the execution output ($.capacityPage.metric) and the log instead.
 */
async function capacityMetric(request: DrRequest, deps: DrDeps): Promise<string> {
  try {
    // Twice: by workflow (the dashboard's detail), and by Region alone for the alarm, which
    // then watches one metric. CloudWatch treats each combination of dimensions as a separate
    // metric and does not add them up for custom metrics
    // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Dimension),
    // and a sum over the workflows' metrics in metric math has no value where one has no data.
    await deps.ports(deps.executionRegion, "critical").metrics.put(METRICS.namespace, [
      {
        name: METRICS.capacityNotRestored,
        value: 1,
        unit: "Count",
        dimensions: { Workflow: request.workflow, Region: request.targetRegion },
      },
      {
        name: METRICS.capacityNotRestored,
        value: 1,
        unit: "Count",
        dimensions: { Region: request.targetRegion },
      },
    ]);
    return "published";
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    deps.log.warn("capacity page sent, its metric not published", { error: message });
    return `not published: ${message}`;
  }
}

/**
 * Review M1: a run that halted at AcquireLock has no steps.AcquireLock, whatever it left behind
 * (a release that failed, a Lambda killed before its release, an exception after its put). The
 * page reads the lock of this region's copy instead of guessing; best-effort and short, so a
 * slow table never delays the page.
 */
async function lockAfterHalt(
  event: NotifyEvent,
  deps: DrDeps,
): Promise<BestEffort<LockItem | null> | undefined> {
  if (event.outcome !== "halted" || !event.state.request || event.state.steps?.AcquireLock)
    return undefined;
  if (!event.state.failures?.AcquireLock) return undefined;
  return bestEffort(
    "the failover lock, for the page",
    () => deps.ports(deps.executionRegion, "bestEffort").control.getLock(),
    deps,
    Math.min(1500, deps.settings.bestEffortTimeoutMs),
  );
}

function lagOf(state: Partial<WorkflowState>): number | null {
  const lag =
    state.steps?.AcquireLock?.facts?.replicationLagMs ?? state.steps?.Preflight?.replicationLagMs;
  return typeof lag === "number" ? lag : null;
}

/** The report's link (or why there is none) as the page's last line. */
function withReport(message: string, report: ReportLink | undefined): string {
  if (!report) return message;
  return report.consoleUrl
    ? `${message}\nReport: ${report.consoleUrl}`
    : `${message}\nReport: not requested (${report.error ?? "unknown error"}); the writer builds one from the execution history when the run ends.`;
}

interface Composed {
  readonly subject: string;
  readonly message: string;
  readonly error?: string;
  readonly cause?: string;
}

function prefix(deps: DrDeps): string {
  return `[payments-dr ${deps.topology.environmentSuffix}]`;
}

/** A completed re-protect: what was rebuilt, what was kept, what to do next. */
function reprotectedMessage(event: NotifyEvent, request: DrRequest, deps: DrDeps): Composed {
  const steps = event.state.steps ?? {};
  const rebuild = steps.Rebuild;
  const rejoin = steps.CheckRejoin;
  const lines = [
    `payments-dr (${deps.topology.environmentSuffix}) is protected again: ${request.sourceRegion} holds a secondary of ${request.targetRegion}'s cluster, ${rejoin?.lagMs ?? "?"} ms behind.`,
    "",
    `Reason: ${request.reason}   Run: ${request.failoverId}`,
    rebuild?.path === "detach"
      ? `The global database was rebuilt after a detach. Kept for reconciling lost writes: cluster ${rebuild.retainedCluster ?? "?"} and snapshot ${rebuild.retainedSnapshot ?? "?"} in ${request.sourceRegion}; delete the cluster once reconciled (runbooks/reprotect.md, step 6).`
      : `The global database survived the managed failover; Aurora re-added ${request.sourceRegion}'s cluster. ${rebuild?.pointOfFailureSnapshot ? `Kept for reconciling lost writes: ${rebuild.pointOfFailureSnapshot} in ${request.sourceRegion}, the manual copy of Aurora's point-of-failure snapshot (runbooks/reconcile.md).` : `No copy of a point-of-failure snapshot was kept: ${rebuild?.message ?? "see steps.Rebuild.message"}.`}`,
    `DNS failover records: ${steps.ShiftTraffic?.records ?? "not checked"}   SSM parameters in ${request.sourceRegion}: ${steps.UpdateParameters?.otherRegion ?? "not updated"}`,
    "",
    rebuild?.path === "detach"
      ? `Next: run \`terraform apply\` before any failback: the rebuilt cluster in ${request.sourceRegion} has a new DbClusterResourceId, and until apply updates the payment functions' rds-db:connect policy (dbuser:<cluster resource id>/payments_app) they cannot connect to it as payments_app. Then fail back (payments-failback in ${request.sourceRegion}) or stay and set WRITER_REGION=${request.targetRegion} (npm run writer-check, then plan and apply).`
      : `Next: fail back (payments-failback in ${request.sourceRegion}) or stay and set WRITER_REGION=${request.targetRegion} (npm run writer-check, then plan and apply).`,
    `Execution: ${executionUrl(deps.executionRegion, request.executionId)}`,
  ];
  if (rejoin?.leaseUnarmed) {
    // Review 22 M3: completed unarmed rather than hold the failover lock; say so first.
    lines.unshift(`WARNING: ${rejoin.leaseUnarmed}.`, "");
  }
  return {
    subject: snsSubject(
      `${prefix(deps)} re-protect of ${request.sourceRegion} completed${rejoin?.leaseUnarmed ? ", peer lease NOT armed" : ""}`,
    ),
    message: lines.join("\n"),
  };
}

function completedMessage(event: NotifyEvent, request: DrRequest, deps: DrDeps): Composed {
  if (request.workflow === "reprotect") return reprotectedMessage(event, request, deps);
  const steps = event.state.steps ?? {};
  const warnings = event.state.warnings ?? {};
  const timeline = steps.RecordTimeline;
  const method = steps.Promote?.method ?? steps.Switchover?.method ?? "unknown";
  const lag = steps.AcquireLock?.facts.replicationLagMs ?? steps.Preflight?.replicationLagMs;
  const lines = [
    `The ${request.workflow} of payments-dr (${deps.topology.environmentSuffix}) from ${request.sourceRegion} to ${request.targetRegion} completed: ${request.targetRegion} is the active region and its synthetic payment went through.`,
    "",
    `Reason: ${request.reason}`,
    `Trigger: ${request.trigger}   Run: ${request.failoverId}`,
    `Promotion: ${method}   Fencing token: ${steps.Fence?.fencingToken ?? "?"}`,
    `RPO estimate (replication lag when the run began): ${typeof lag === "number" ? `${lag} ms` : "unknown"}`,
    `RTO: ${timeline ? `${timeline.rtoSeconds} s` : "not recorded"}`,
    `DNS failover records: ${steps.ShiftTraffic?.records ?? "not checked"}${steps.ShiftTraffic?.note ? ` (${steps.ShiftTraffic.note})` : ""}`,
    `SSM parameters in ${request.sourceRegion}: ${steps.UpdateParameters?.otherRegion ?? "not updated"}`,
  ];
  const rpo = deps.settings.dbRpoSeconds;
  if (request.workflow === "failover" && rpo !== null) {
    // Review L3: the estimate is the last once-a-minute datapoint, which may be from before the
    // lag grew, or missing while replication was cut (AWS does not say which); the guard's bound
    // is what holds.
    const lagAt = steps.Preflight?.replicationLagAt;
    lines.push(
      `RPO bound: up to ${rpo} s of payments acknowledged in ${request.sourceRegion} may be missing from ${request.targetRegion} (rds.global_db_rpo). The estimate above is the last lag datapoint${lagAt ? ` (${lagAt})` : ""}, published once a minute and possibly not at all while replication was cut, so it can understate the loss: reconcile the old cluster's last ${rpo} s (payments-dr reconcile) before closing the incident.`,
    );
  }
  for (const [step, failure] of Object.entries(warnings)) {
    lines.push(`Warning: ${step} failed (${failure.Error}: ${causeText(failure.Cause)}).`);
  }
  lines.push(
    "",
    `Next: ${request.sourceRegion} stays fenced. Nothing fails back automatically.`,
    method === "detach"
      ? `The target was detached from the global cluster: ${request.sourceRegion}'s cluster is no longer its primary's secondary but still a writer, and AWS does not fence it. Before ${request.sourceRegion} returns, stop its payment write functions (aws lambda put-function-concurrency --region ${request.sourceRegion} --reserved-concurrent-executions 0 --function-name <each write function>); once it is back, run the reprotect workflow in ${request.targetRegion} to rebuild it as a secondary (runbooks/reprotect.md) before any failback.`
      : `When ${request.sourceRegion} is healthy and its replication lag is near 0, run the failback (or switchover) workflow.`,
    `Execution: ${executionUrl(deps.executionRegion, request.executionId)}`,
  );
  return {
    subject: snsSubject(`${prefix(deps)} ${request.workflow} to ${request.targetRegion} completed`),
    message: lines.join("\n"),
  };
}

/**
 * The capacity loop ended short: what is missing, why, and what to do, built from what the loop
 * waited for (review 23, M3), one headline and one piece of advice per case:
 * - superseded: a later run owns the regions;
 * - the standby left with no working instance but the reader kept (StandbyNotWorkingError);
 * - a reader that exists and is still being created (or modifying...): wait, do not add another
 *   (its identifier is taken, so a second one would exceed DR_CAPACITY with an identifier
 *   Terraform does not know and would not adopt);
 * - a reader not asked for (refused, name held, none left): add it by hand;
 * - only the release held (the new primary has its capacity): delete the reader in the region
 *   left once no run is moving there.
 */
function capacityMessage(event: NotifyEvent, request: DrRequest, deps: DrDeps): Composed {
  const step = event.state.steps?.RestoreCapacity;
  const warning = event.state.warnings?.RestoreCapacity;
  const target = request.targetRegion;
  const left = request.sourceRegion;
  const run = `The ${request.workflow} of payments-dr (${deps.topology.environmentSuffix}) to ${target} completed`;
  const timedOut = warning?.Error === "CapacityTimeoutError";
  const pending = timedOut ? step?.pending : undefined;
  const desired = step?.desired ?? "?";
  const full =
    timedOut &&
    typeof step?.desired === "number" &&
    step.available !== undefined &&
    step.available >= step.desired;
  const progressing = pending?.progressing ?? [];
  const missing = pending?.missing ?? [];
  const release = pending?.release ?? [];
  const held = pending?.held ?? [];
  // Review 23b, M1: a standby whose own instance is broken is the headline at the bound too,
  // whatever the new primary still waits for.
  const standbyBroken =
    warning?.Error === "StandbyNotWorkingError" ||
    release.some((r) => r.kind === "floor" && r.broken);
  const cluster = deps.topology.regions[target]?.clusterIdentifier ?? "<cluster>";
  let headline: string;
  const next: string[] = [];
  if (warning?.Error === "CapacitySupersededError") {
    headline = `${run}, but its capacity restoration stopped: a later run owns the regions now.`;
    next.push(
      "Next: compare both clusters' instances with DR_CAPACITY once the later run ends; a reader with the created-by tag in the standby is one this kit added (README, Capacity after a failover).",
    );
  } else if (standbyBroken) {
    // Review 23d: readers of ours the loop could not delete there (failed, held, ambiguous, past
    // its retries) are named in the error's reason as "not deleted: <id> in <region>".
    const notDeleted = warning?.Error === "StandbyNotWorkingError" ? notDeletedIn(warning) : [];
    headline =
      notDeleted.length > 0
        ? `${run}, but the standby in ${left ?? "the region left"} has no working instance of its own: it is in a state Aurora does not leave by itself, so the loop kept one reader this kit added there, and could not delete ${notDeleted.join(", ")}, ${notDeleted.length > 1 ? "other readers" : "another reader"} it added; a move to ${left ?? "it"} would fail until the standby's own instance works.`
        : `${run}, but the standby in ${left ?? "the region left"} has no working instance besides the reader this kit added there, which it therefore kept: its own instance is in a state Aurora does not leave by itself, and a move to ${left ?? "it"} would fail until it has one.${timedOut && !full ? ` ${target} also has ${step?.available ?? "?"} of ${desired} instances available after the loop's 30-minute bound.` : ""}`;
    // At the bound the floor entry's own line names the instances (releaseAdvice): not twice.
    if (!timedOut) {
      next.push(
        `Next: fix the standby's broken instance as the reason above says for its state; delete the kept reader only once the standby's own instance is available (README, Capacity after a failover).`,
        ...notDeleted.map(
          (id) =>
            `Next: delete ${id}, a reader this kit added that the loop could not delete (the reason above says why), once no run is moving to ${left ?? "the region left"}: aws rds delete-db-instance --region ${left ?? "<region>"} --db-instance-identifier ${id}`,
        ),
      );
    }
  } else if (full) {
    headline = `${run}, and ${target} has the old primary's capacity (${step!.available} of ${desired} instances available), but a reader this kit added to ${left} was not deleted.`;
  } else if (timedOut && held.length > 0 && progressing.length === 0 && missing.length === 0) {
    headline = `${run}, but ${target}'s database is not at the old primary's capacity (${step?.available ?? "?"} of ${desired} instances available): the loop did not ask for ${held.map((h) => h.identifier).join(", ")} because another run held the failover lock until its 30-minute bound.`;
  } else if (timedOut && progressing.length > 0 && missing.length === 0) {
    headline = `${run}, but ${target}'s database is not at the old primary's capacity yet (${step?.available ?? "?"} of ${desired} instances available): ${progressing.map((i) => `${i.identifier} is ${i.status}`).join(", ")} after the loop's 30-minute bound.`;
  } else {
    headline = `${run}, but ${target}'s database was not brought to the old primary's capacity (${desired} instances of DR_CAPACITY): it may have no in-region failover target.`;
  }
  if (timedOut) {
    if (progressing.length > 0) {
      const ids = progressing.map((i) => i.identifier);
      next.push(
        `Next: ${ids.join(", ")} exist${ids.length === 1 ? "s" : ""} and Aurora is still working on ${ids.length === 1 ? "it" : "them"}: do not add another reader (the identifier is taken; a second one would exceed DR_CAPACITY with an identifier Terraform does not know). Check: ${ids.map((id) => `aws rds describe-db-instances --region ${target} --db-instance-identifier ${id}`).join("; ")}. If one ends failed, delete it, then add it by hand (README, Capacity after a failover).`,
      );
    }
    if (held.length > 0) {
      // Review 23b, L6: the loop refused to create on that lock; so does the advice, until it ends.
      const ids = held.map((h) => h.identifier);
      next.push(
        `Next: ${ids.join(", ")} ${ids.length === 1 ? "was" : "were"} not asked for because ${held[0]!.reason}; add ${ids.length === 1 ? "it" : "them"} once that run ends (or now, if that run does not touch ${target}) (README, Capacity after a failover): aws rds describe-db-clusters --region ${target} --db-cluster-identifier ${cluster}`,
      );
    }
    if (missing.length > 0 || (!full && progressing.length === 0 && held.length === 0)) {
      next.push(
        `Next: add the missing readers by hand${missing.length > 0 ? ` (${missing.join(", ")})` : ""} (README, Capacity after a failover): aws rds describe-db-clusters --region ${target} --db-cluster-identifier ${cluster}`,
      );
    }
    for (const r of release) next.push(releaseAdvice(r, left));
  } else if (next.length === 0) {
    next.push(
      `Next: add the missing readers by hand (README, Capacity after a failover): aws rds describe-db-clusters --region ${target} --db-cluster-identifier ${cluster}`,
    );
    // Review 23c, L3: the same poll found the standby broken too (restore-capacity's both()).
    if (causeText(warning?.Cause).includes("in the region left: StandbyNotWorkingError:")) {
      next.push(
        `Next: the standby in ${left ?? "the region left"} has no working instance of its own either: fix it as the reason above says for its state, and keep the reader the reason above names as kept until the standby's own instance is available.`,
      );
    }
    // Review 24, M1: readers of ours there that this last poll did not delete, each with its
    // command (the reason above says why and, for one in a transitional state, when).
    for (const id of notDeletedIn(warning)) {
      next.push(
        `Next: delete ${id}, a reader this kit added that the loop did not delete (the reason above says why and when), once no run is moving to ${left ?? "the region left"}: aws rds delete-db-instance --region ${left ?? "<region>"} --db-instance-identifier ${id}`,
      );
    }
  }
  const lines = [
    headline,
    "",
    `Why: ${warning ? `${warning.Error}: ${causeText(warning.Cause)}` : "no warning recorded"}`,
    `Instances found: ${step?.existing?.length ? step.existing.join(", ") : "none read"}`,
    `Asked for: ${step?.requested?.length ? step.requested.join(", ") : "none"}${step?.released?.length ? `   Deleted or being deleted in ${left} (by this run or an earlier one): ${step.released.join(", ")}` : ""}`,
    ...(step?.waiting?.length ? [`Still waiting for: ${step.waiting.join("; ")}`] : []),
    "",
    ...next,
    `Run: ${request.failoverId}   Execution: ${executionUrl(deps.executionRegion, request.executionId)}`,
  ];
  return {
    subject: snsSubject(`${prefix(deps)} ${request.workflow} to ${target}: capacity not restored`),
    message: lines.join("\n"),
  };
}

/**
 * The readers a capacity error names as not deleted (restore-capacity's notDeletedAdvice): a
 * StandbyNotWorkingError's, or the region-left half of a new-primary failure (review 24, M1).
 */
function notDeletedIn(warning: { readonly Cause?: string } | undefined): string[] {
  if (!warning) return [];
  const text = causeText(warning.Cause);
  return [...new Set([...text.matchAll(/not deleted: ([a-z0-9-]+) in /g)].map((m) => m[1]!))];
}

/**
 * What to do about one reader of the region left the loop did not delete, by kind (review 23b,
 * M1): a reader kept for the standby's floor gets no delete command, it is the standby's only
 * working instance until the ones named are available again.
 */
export function releaseAdvice(r: CapacityRelease, left: string | undefined): string {
  const where = left ?? "the region left";
  const until = r.until?.length ? r.until.join(", ") : "the standby's own instance";
  const plural = (r.until?.length ?? 1) > 1;
  switch (r.kind) {
    case "floor":
      return r.broken
        ? [
            `Next: keep ${r.identifier} in ${where}: it is the standby's only working instance (${r.reason}); keep it until ${until} ${plural ? "are" : "is"} available.`,
            ...(r.until ?? []).map((id) => `Next: ${brokenAdvice(id, r.statuses?.[id], where)}.`),
            ...(r.changing?.length
              ? [
                  `Next: ${r.changing.join(", ")} ${r.changing.length > 1 ? "are" : "is"} ${r.changing.map((id) => r.statuses?.[id] ?? "changing").join(", ")}: Aurora brings ${r.changing.length > 1 ? "them" : "it"} back by itself; do not delete ${r.changing.length > 1 ? "them" : "it"}.`,
                ]
              : []),
          ].join("\n")
        : `Next: keep ${r.identifier} in ${where} until ${until} ${plural ? "are" : "is"} available: it is the standby's only working instance meanwhile (${r.reason}).`;
    case "failed":
      // The release as a whole failed (no instance read): which readers to delete is unknown.
      if (r.identifier.startsWith("the readers ")) {
        // Review 23c, L2: the floor holds for a hand delete too, and the failure may be the
        // task's own (a DeadlineError), not RDS's.
        return `Next: ${r.reason} in ${where}; once its instances can be read (aws rds describe-db-instances --region ${where}) and no run is moving to ${where}, delete the readers this kit added there (created-by tag) beyond the standby's count, one at a time, keeping that many other instances available there: never the last available one while the standby's own instance is not available.`;
      }
      return `Next: ${r.identifier} in ${where} was not deleted because ${r.reason}; delete it once no run is moving to ${where} (aws rds delete-db-instance --region ${where} --db-instance-identifier ${r.identifier}).`;
    default:
      return `Next: ${r.identifier} in ${where} was not deleted because ${r.reason}; delete it once no run is moving to ${where} (aws rds delete-db-instance --region ${where} --db-instance-identifier ${r.identifier}).`;
  }
}

function slowMessage(event: NotifyEvent, request: DrRequest, deps: DrDeps): Composed {
  const steps = event.state.steps ?? {};
  const poll = steps.CheckPromotion;
  const method = (steps.Promote ?? steps.Switchover)?.method ?? "unknown";
  const lines = [
    `The promotion of ${request.targetRegion} for the ${request.workflow} of payments-dr (${deps.topology.environmentSuffix}) has taken ${poll?.elapsedSeconds ?? "?"} s so far (${method}); it was expected sooner.`,
    "",
    `The run is still polling and completes by itself when the cluster becomes the writer. Until then ${request.sourceRegion} is fenced and ${request.targetRegion}'s database is read-only: no region accepts payments.`,
    "AWS documents managed failover as typically taking a few minutes, with no upper bound. Look at the global cluster's FailoverState and its RDS events (RDS-EVENT-0238/0239 for a failover, 0181-0187 for a switchover):",
    `  aws rds describe-global-clusters --region ${request.targetRegion} --global-cluster-identifier ${deps.topology.globalClusterIdentifier}`,
    `Reason: ${request.reason}   Trigger: ${request.trigger}   Run: ${request.failoverId}`,
    `Execution: ${executionUrl(deps.executionRegion, request.executionId)}`,
  ];
  return {
    subject: snsSubject(
      `${prefix(deps)} ${request.workflow} to ${request.targetRegion}: promotion slower than expected`,
    ),
    message: lines.join("\n"),
  };
}

function haltedMessage(
  event: NotifyEvent,
  deps: DrDeps,
  lockRead?: BestEffort<LockItem | null>,
): Composed {
  const { state, context, workflow } = event;
  const request = state.request as DrRequest | undefined;
  const steps = state.steps ?? {};
  const [failedStep, failure] = Object.entries(state.failures ?? {})[0] ?? [
    "unknown step",
    { Error: "UnknownError", Cause: "no failure recorded" },
  ];
  const cause = causeText(failure.Cause);
  const region = deps.executionRegion;
  const rawInput = request ? state.input : stripWorkflowFields(state as Record<string, unknown>);
  const target = request?.targetRegion ?? region;
  const source = request?.sourceRegion ?? "the other region";
  const failoverId = request?.failoverId ?? context.executionName;
  const lines = [
    `The ${workflow} of payments-dr (${deps.topology.environmentSuffix}) toward ${target} stopped in a safe state at ${failedStep}.`,
    "",
    `Error: ${failure.Error}`,
    `Cause: ${cause}`,
  ];
  if (request) {
    lines.push(`Reason: ${request.reason}   Trigger: ${request.trigger}   Run: ${failoverId}`);
  }
  lines.push("", "Where things stand:");
  const deleteLock = `  aws dynamodb delete-item --region ${region} --table-name ${deps.topology.controlTable} --key ${shellQuote(JSON.stringify({ [CONTROL.partitionKey]: { S: CONTROL.lockItem } }))} --condition-expression "#o = :o" --expression-attribute-names ${shellQuote('{"#o":"owner"}')} --expression-attribute-values ${shellQuote(JSON.stringify({ ":o": { S: failoverId } }))}`;
  const stillHeld = !lockRead
    ? undefined
    : !lockRead.ok
      ? `- This run may still hold the failover lock: it stopped at AcquireLock, and ${region}'s copy could not be read for this page (${lockRead.error}). Check with payments-dr status; if it names run ${failoverId}, release it (no other failover, switchover or failback starts until then):\n${deleteLock}`
      : lockRead.value?.owner === failoverId
        ? `- The failover lock is still held by this run in ${region}'s copy, until ${isoFromEpoch(lockRead.value.expiresAt)}, though it stopped at AcquireLock: no other failover, switchover or failback starts until it lapses or is released:\n${deleteLock}`
        : `- No lock is held by this run in ${region}'s copy (read for this page${lockRead.value ? `; it names run ${lockRead.value.owner}, a ${lockRead.value.operation}` : ""}); payments-dr status shows both copies.`;
  lines.push(
    stillHeld !== undefined
      ? stillHeld
      : !steps.AcquireLock
        ? "- No lock is held by this run."
        : request?.workflow === "reprotect"
          ? // A lease from AcquireLock on, renewed by its polls (shared/lock.ts): halted, it lapses.
            `- The failover lock is held by run ${failoverId} as a ${LOCK_LEASE_MINUTES}-minute lease its polls renewed: it lapses ${LOCK_LEASE_MINUTES} minutes after the last poll, and a failover started after that is checked by its own Preflight. Resume soon to keep it.`
          : `- The failover lock is held by run ${failoverId}: no other failover, switchover or failback starts until this run is resumed to completion or the lock is deleted.`,
  );
  if (steps.Fence) {
    const look = steps.CheckOldWriter;
    lines.push(
      !look || look.confirmedAt !== null || look.stopped
        ? `- ${source} is fenced: the active-region flag names ${target} (fencing token ${steps.Fence.fencingToken}), so ${source} rejects writes.`
        : `- The active-region flag names ${target} (fencing token ${steps.Fence.fencingToken}), but ${source}'s replica of it ${look.oldRegionFlag === "unreachable" ? "could not be read" : "still names " + source}: ${source} may still take payments until the flag reaches it.`,
    );
    const promoted = steps.CheckPromotion?.isWriter === true;
    if (!promoted) {
      lines.push(
        steps.Promote || steps.Switchover
          ? `- The promotion of ${target} was requested (${(steps.Promote ?? steps.Switchover)?.method}) but is not confirmed; until ${target}'s cluster is the writer, no region accepts payments.`
          : `- ${target} has not been promoted: its database is still read-only, so no region accepts payments until the run is resumed.`,
      );
    } else {
      lines.push(`- ${target}'s cluster is the writer.`);
    }
  } else {
    lines.push(
      `- Nothing was fenced or promoted: the active-region flag still names ${request?.sourceRegion ?? "the current active region"}.`,
    );
  }
  if (request && failure.Error === "PrimaryStillCommittingError" && workflow === "failover") {
    // Review 23-18 H1: the page must not steer on-call away from failing over. The generic 500
    // is a Lambda throttle or a Lambda outage; a resume would only be held again (the check reads
    // the same record), so the one command given is the failover by hand (never held).
    lines.push(
      "",
      `${source} answers API Gateway's generic 500 (a Lambda throttle or a Lambda outage) while its database still commits. If payments are failing, fail over now with:`,
      `  aws stepfunctions start-execution --region ${region} --state-machine-arn ${request.stateMachineArn} --input ${shellQuote(JSON.stringify({ ...(rawInput as Record<string, unknown>), trigger: "console" }))}`,
      `If payments are served (a flood of /health only: its Throttles alarm payments-health-throttles fires and the payment routes answer), there is nothing to fail over. The run re-checked every 15 s for about 2 minutes before this page; the alarm does not start another.`,
    );
  } else if (request) {
    const resumeInput = { ...(rawInput as Record<string, unknown>), resumeFailoverId: failoverId };
    lines.push(
      "",
      "To resume (every step is idempotent; finished steps are recognised and not repeated), fix the cause, then:",
      `  aws stepfunctions start-execution --region ${region} --state-machine-arn ${request.stateMachineArn} --input ${shellQuote(JSON.stringify(resumeInput))}`,
    );
    if (failure.Error === "ManagedFailoverRefusedError") {
      lines.push(
        `To detach ${target}'s cluster from the global database and promote it instead (one-way: rebuild the global database afterwards):`,
        `  aws stepfunctions start-execution --region ${region} --state-machine-arn ${request.stateMachineArn} --input ${shellQuote(JSON.stringify({ ...resumeInput, forceDetach: true }))}`,
      );
    }
    if (failure.Error === "OldWriterNotStoppedError" && workflow === "failover") {
      lines.push(
        `Only once you know ${source} cannot take payments (it is down, or its payment functions are stopped), promote without the proof:`,
        `  aws stepfunctions start-execution --region ${region} --state-machine-arn ${request.stateMachineArn} --input ${shellQuote(JSON.stringify({ ...resumeInput, trigger: "console", assumeOldWriterStopped: true }))}`,
      );
    }
    if (steps.AcquireLock) {
      lines.push(
        "To abandon the run instead (the flag stays as described above), release its lock:",
        deleteLock,
      );
    }
  } else {
    lines.push("", "Nothing was changed. Fix the cause and start the execution again.");
  }
  lines.push(`Execution: ${executionUrl(region, context.executionId)}`);
  return {
    subject: snsSubject(`${prefix(deps)} ${workflow} to ${target} HALTED at ${failedStep}`),
    message: lines.join("\n"),
    error: failure.Error,
    cause: `${failedStep}: ${cause} (see the page for how to resume)`,
  };
}

/** A Lambda task's Cause is JSON with errorMessage; show just the message. */
function causeText(cause: string | undefined): string {
  if (!cause) return "";
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === "string") return parsed.errorMessage;
  } catch {
    // Not JSON: as is.
  }
  return cause;
}

/** Before ValidateInput succeeds, the state is the raw input plus `failures`. */
function stripWorkflowFields(state: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...state };
  delete rest.failures;
  return rest;
}

/** The Notify task (functions/dr/tasks.ts), run by NotifyCompleted and PageOnCall. */
export const NOTIFY_TASK: DrTaskDefinition<NotifyEvent, NotifyOutcome> = {
  step: "Notify",
  description:
    "Tells on-call that a run completed or halted, its promotion is slow, or its capacity was not restored",
  workflows: ["failover", "switchover", "failback", "reprotect"],
  permissions: {
    control: ["getLock", "recordFact"],
    notifier: ["publish"],
    reports: ["submit"],
    // CapacityNotRestored (the "capacity" outcome).
    metrics: ["put"],
  },
  invocation: "task",
  keys: (event, deps) =>
    keysFrom(
      event?.context?.executionId,
      event?.state?.request?.targetRegion ?? deps.executionRegion,
    ),
  run: notify,
};
