// The RTO of an unplanned failover and the RPO bound, computed from what synth wrote: the prober
// alarm, the health checks, the failover workflow that would run (its task timeouts and bounds)
// and the database's RPO guard. Two figures per phase:
//
// - expected: the failure is a region that stopped, so the old primary's heartbeat stopped with
//   it and the run promotes on the database's proof (rds.global_db_rpo + the heartbeat interval +
//   a margin after the target's prober first saw the last beat); tasks and the Aurora managed failover take their typical,
//   named durations (config.failover.expected), the prober and DNS their documented periods;
//   DNS runs beside the promotion from the run's proof on (the target's /health answers
//   "taking-over" from there) and counts only where it outlasts it. The RTO ends when writes
//   open, at Unfence.
// - bound: the worst case of a run that completes without a retry: every task at its
//   TimeoutSeconds, every Choice bound reached, one more look or poll and its wait, and DNS in
//   full after the promotion.
//
// Pure: JSON in, numbers out.
import type { Config } from "../config";
import { MIN_DB_RPO_SECONDS, MIN_PROOF_MARGIN_SECONDS, otherRole } from "../config";
import { PROFILES } from "../../functions/dr/shared/aws/clients";
import { PLANNED_LOCK_LIFETIME_MS } from "../../functions/dr/acquire-lock/core";
import { DEFAULT_SETTINGS } from "../../functions/dr/shared/settings";
import { PROBER_COMPONENT } from "../naming";
import { ALIAS_TARGET_TTL_SECONDS } from "./aws-timings";
import { pollBoundsOf } from "./asl";
import type { TerraformJson } from "./synthesized";

type Resource = Record<string, unknown>;

export type PhaseName = "detection" | "decision" | "fence" | "old writer" | "promotion" | "dns";

export interface Phase {
  readonly name: PhaseName;
  readonly expected: number;
  readonly bound: number;
  readonly detail: string;
}

export interface Budget {
  readonly stack: string;
  readonly targetRegion: string;
  readonly mode: string;
  readonly phases: readonly Phase[];
  /** Seconds from the failure to the promoted writer taking payments, typical durations. */
  readonly expectedSeconds: number;
  /** The same, every task at its timeout and every bound reached (no retries). */
  readonly boundSeconds: number;
  /**
   * A held alarm that ends in the page (the Lambda-outage class, review 23-18 H1): the hold at
   * typical look durations, on-call's answer (RTO_EXPECTED_APPROVAL_SECONDS), then the console
   * run's expected RTO.
   */
  readonly heldThenPagedSeconds: number;
  readonly rtoTargetSeconds: number;
  readonly rtoGoalSeconds: number;
  /**
   * Why the expected RTO misses the goal, when it does: the expected RTO again with the two
   * knobs of the old-writer wait at their lowest allowed values (DB_RPO_SECONDS 20,
   * DB_PROOF_MARGIN_SECONDS 10), and the terms that stay in series whatever they are. Null when
   * the goal is met.
   */
  readonly goalMiss: {
    readonly floorSeconds: number;
    readonly reason: string;
  } | null;
  /** rds.global_db_rpo: commits block when every secondary lags further than this. */
  readonly rpoBoundSeconds: number;
  readonly lagAlarmSeconds: number;
  readonly rpoTargetSeconds: number;
}

export class RtoInputError extends Error {
  override name = "RtoInputError";
}

function all(json: TerraformJson, type: string): Resource[] {
  return Object.values(json.resource?.[type] ?? {});
}

function one(json: TerraformJson, type: string, what: string, match: (r: Resource) => boolean) {
  const found = all(json, type).filter(match);
  if (found.length !== 1) {
    throw new RtoInputError(
      `expected one ${type} for ${what} in the synthesized stack, found ${found.length}`,
    );
  }
  return found[0]!;
}

interface TaskState {
  readonly Type: string;
  readonly TimeoutSeconds?: number;
  readonly Seconds?: number;
  readonly Choices?: readonly {
    readonly Next: string;
    readonly NumericGreaterThanEquals?: number;
  }[];
  readonly Retry?: readonly {
    readonly ErrorEquals: readonly string[];
    readonly IntervalSeconds?: number;
    readonly MaxAttempts?: number;
    readonly BackoffRate?: number;
    readonly MaxDelaySeconds?: number;
  }[];
}

type RetryRule = NonNullable<TaskState["Retry"]>[number];

/**
 * A Retry rule's whole span with every attempt at the task's timeout: the first attempt, then
 * each retry's interval (IntervalSeconds x BackoffRate^i, capped by MaxDelaySeconds) and attempt.
 * Step Functions' defaults: IntervalSeconds 1, MaxAttempts 3, BackoffRate 2.0
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
 */
function retrySpanSeconds(retry: RetryRule, taskTimeout: number): number {
  const interval = retry.IntervalSeconds ?? 1;
  const rate = retry.BackoffRate ?? 2;
  const cap = retry.MaxDelaySeconds ?? Infinity;
  let span = taskTimeout;
  for (let i = 0; i < (retry.MaxAttempts ?? 3); i++) {
    span += Math.min(interval * rate ** i, cap) + taskTimeout;
  }
  return span;
}

/**
 * Verify's designed retries (s): the ASL retries VerificationFailedError "for minutes while
 * caches and DNS settle", on the path to Unfence where writes open, so the bound counts them
 * beyond the one attempt UNTIL_WRITES_OPEN already has (review 23b-10 M3).
 */
export function verifyRetrySeconds(states: Readonly<Record<string, TaskState>>): number {
  const verify = states.Verify;
  const retry = verify?.Retry?.find((r) => r.ErrorEquals.includes("VerificationFailedError"));
  if (!retry || typeof verify?.TimeoutSeconds !== "number") return 0;
  return retrySpanSeconds(retry, verify.TimeoutSeconds) - verify.TimeoutSeconds;
}

/**
 * The flood veto's bounded hold, as the failover ASL runs it (HoldCount → HoldCounted → HoldWait →
 * Preflight): how many waits at most, each HoldWait's Seconds and one more Preflight look. A
 * designed wait, so the bound counts it (review 24-18 M3): a cascade that takes the API path
 * first and the database later is failed over at the first look after the beat ages out.
 */
export function floodHold(states: Readonly<Record<string, TaskState>>): {
  readonly waits: number;
  readonly intervalSeconds: number;
} {
  if (!states.HoldCounted) return { waits: 0, intervalSeconds: 0 };
  // HoldCounted pages at this many vetoed looks; the waits are one fewer.
  const looks = states.HoldCounted.Choices?.find(
    (c) => c.Next === "HoldExpired",
  )?.NumericGreaterThanEquals;
  const waits = looks === undefined ? undefined : looks - 1;
  const intervalSeconds = states.HoldWait?.Seconds;
  // A hold whose shape this does not read would leave it out of the bound silently (review
  // 24b-18 L2): fail instead.
  if (waits === undefined || intervalSeconds === undefined) {
    throw new Error(
      "failover ASL: HoldCounted exists but its NumericGreaterThanEquals -> HoldExpired or HoldWait's Seconds is missing; update floodHold with the ASL",
    );
  }
  return { waits, intervalSeconds };
}

/** The worst wait of the failover's AcquireLock on a planned run's unconfirmed lock (s). */
export function lockSettlingSeconds(
  states: Readonly<Record<string, TaskState>>,
  acquireLockTimeout: number,
): number {
  const retry = states.AcquireLock?.Retry?.find((r) => r.ErrorEquals.includes("LockSettlingError"));
  if (!retry) return 0;
  // Step Functions' defaults: IntervalSeconds 1, MaxAttempts 3, BackoffRate 2.0
  // (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
  const interval = retry.IntervalSeconds ?? 1;
  const attempts = retry.MaxAttempts ?? 3;
  const rate = retry.BackoffRate ?? 2;
  const lastDelay = Math.min(interval * rate ** (attempts - 1), retry.MaxDelaySeconds ?? Infinity);
  // Every retry runs its full course, or the planned lock's lifetime runs out first and one
  // more retry (after the longest delay) finds it released.
  const byRetry = retrySpanSeconds(retry, acquireLockTimeout) - acquireLockTimeout;
  const byLifetime = PLANNED_LOCK_LIFETIME_MS / 1000 + lastDelay + acquireLockTimeout;
  return Math.min(byRetry, byLifetime);
}

// ---- The phase formulas: one place, used by computeBudget and by the lab (lab/expected.ts) ----

/** Seconds from the failure to the prober alarm: expected, and the worst case. */
export function detectionSeconds(alarm: {
  readonly datapoints: number;
  readonly periodSeconds: number;
  readonly probeTimeoutSeconds: number;
}): { readonly expected: number; readonly bound: number } {
  const { datapoints, periodSeconds, probeTimeoutSeconds } = alarm;
  // M failing probes, the last one waiting out its timeout, then the alarm's evaluation: half a
  // period on average, a whole one at worst.
  return {
    expected: datapoints * periodSeconds + probeTimeoutSeconds + periodSeconds / 2,
    bound: datapoints * periodSeconds + probeTimeoutSeconds + periodSeconds,
  };
}

/**
 * Seconds from the failure until CheckOldWriter's database proof holds: rds.global_db_rpo + the
 * heartbeat interval + the margin, counted from when the prober in the target region first saw
 * the last heartbeat (review H2), not from its value. The last beat before the failure was
 * committed half a heartbeat before it on average, and the prober looks once per probe interval.
 */
export function databaseProofSeconds(p: {
  readonly probeIntervalSeconds: number;
  readonly rpoSeconds: number;
  readonly heartbeatSeconds: number;
  readonly writerStopMarginSeconds: number;
}): { readonly afterFailure: number; readonly sighting: number } {
  const sighting = p.probeIntervalSeconds / 2 - p.heartbeatSeconds / 2;
  return {
    sighting,
    afterFailure: sighting + p.rpoSeconds + p.heartbeatSeconds + p.writerStopMarginSeconds,
  };
}

/**
 * The tasks between the promotion and the first payment in the new region: writes open at
 * Unfence (the payment guard refuses a fenced flag, functions/payments/shared/fencing.ts), after
 * UpdateParameters, ShiftTraffic and Verify.
 */
export const UNTIL_WRITES_OPEN = ["UpdateParameters", "ShiftTraffic", "Verify", "Unfence"] as const;

/**
 * Promote + the Aurora promotion + half a 5 s poll to notice it + CheckPromotion, then the tasks
 * until writes open (UNTIL_WRITES_OPEN).
 */
export function promotionExpectedSeconds(taskSeconds: number, auroraSeconds: number): number {
  return (
    taskSeconds +
    auroraSeconds +
    HALF_POLL_SECONDS +
    taskSeconds +
    UNTIL_WRITES_OPEN.length * taskSeconds
  );
}

/** Route 53 declares the failed endpoint unhealthy after `threshold` failed checks. */
export function healthCheckSeconds(intervalSeconds: number, threshold: number): number {
  return intervalSeconds * threshold;
}

/**
 * What DNS adds in series, seconds, when it runs beside the workflow: clients reach the target
 * `dnsSeconds` after the run's proof (its /health answers 200 "taking-over" once Promote has
 * stamped `promotingAt`, functions/common/taking-over.ts), while the workflow still needs
 * `workflowSeconds` after the proof (the promotion and the tasks until Unfence) before it takes
 * payments; only the excess is serial. The expected figure only: the bound counts DNS in full
 * after the promotion (the promoted writer's restart can turn the target unhealthy again).
 */
export function dnsBesidePromotion(dnsSeconds: number, workflowSeconds: number): number {
  return Math.max(0, dnsSeconds - workflowSeconds);
}

/** Half of the 5 s promotion poll (check-promotion/core.ts). */
const HALF_POLL_SECONDS = 2.5;

/** Seconds a poll waits once a promotion is older than two minutes (check-promotion/core.ts). */
const LATE_POLL_SECONDS = 15;
/** The longest wait between two looks at the old writer (check-old-writer/core.ts). */
const LOOK_SECONDS = 5;

export function computeBudget(json: TerraformJson, stack: string, config: Config): Budget {
  const suffix = config.environmentSuffix;
  // A failover goes from the writer's slot to the standby's, where detection lives.
  const standby = otherRole(config.writer);
  const target = config[standby].region;
  const typical = config.failover.expected;

  // Detection: the prober alarm in the standby region.
  const alarm = one(json, "aws_cloudwatch_metric_alarm", "the prober alarm", (a) =>
    String(a.alarm_name).startsWith("payments-primary-unhealthy-"),
  );
  const period = Number(alarm.period);
  const datapoints = Number(alarm.datapoints_to_alarm ?? alarm.evaluation_periods);
  const prober = one(
    json,
    "aws_lambda_function",
    "the prober",
    (f) => f.function_name === `payments-${PROBER_COMPONENT}-${suffix}`,
  );
  const env = (prober.environment as { variables: Record<string, string> }).variables;
  const probeTimeout = Number(env.PROBE_TIMEOUT_MS) / 1000;
  const detection = detectionSeconds({
    datapoints,
    periodSeconds: period,
    probeTimeoutSeconds: probeTimeout,
  });

  // The failover workflow of the region failed over to.
  const machine = one(
    json,
    "aws_sfn_state_machine",
    "the failover workflow",
    (m) => m.name === `payments-failover-${suffix}` && m.provider === `aws.${standby}`,
  );
  const definition = String(machine.definition);
  const states = (JSON.parse(definition) as { States: Record<string, TaskState> }).States;
  const timeout = (name: string) => {
    const state = states[name];
    if (state?.Type !== "Task" || typeof state.TimeoutSeconds !== "number") {
      throw new RtoInputError(`failover workflow: ${name} must be a Task with TimeoutSeconds`);
    }
    return state.TimeoutSeconds;
  };
  const trigger = one(
    json,
    "aws_cloudwatch_event_target",
    "the failover trigger",
    (t) => t.target_id === "failover-workflow",
  );
  const template = String((trigger.input_transformer as { input_template: string }).input_template);
  const mode = /"mode":"(\w+)"/.exec(template)?.[1] ?? "automatic";
  const bounds = pollBoundsOf(definition, "failover");

  const decisionStates = ["ValidateInput", "Preflight", "AcquireLock"];
  // AcquireLock's claim of the failed region's copy of the lock (acquire-lock/core.ts): one
  // best-effort attempt that, with the region down, ends at its connection and request timeouts
  // (review L2). The bound already has it inside AcquireLock's TimeoutSeconds.
  const claim = PROFILES.bestEffort;
  const lockClaimSeconds =
    (claim.maxAttempts * (claim.connectionTimeout + claim.requestTimeout)) / 1000;
  // A failover that meets a switchover's or failback's lock still being confirmed waits for it
  // (LockSettlingError, its own Retry in the ASL) and takes it over once the planned run's
  // AcquireLock lifetime is past: a designed wait, not a fault's retry, so the bound counts it
  // (review 22b-12 M2). At most the lifetime, then one more interval and attempt; never more than
  // the Retry's own intervals with every attempt at its timeout. Expected: no planned run is
  // confirming its lock when the region fails.
  const settling = lockSettlingSeconds(states, timeout("AcquireLock"));
  const hold = floodHold(states);
  const holdBound = hold.waits * (hold.intervalSeconds + timeout("Preflight"));
  const holdExpected = hold.waits * (hold.intervalSeconds + typical.taskSeconds);
  const decision = {
    expected: decisionStates.length * typical.taskSeconds + lockClaimSeconds,
    bound: decisionStates.reduce((sum, s) => sum + timeout(s), 0) + settling + holdBound,
  };
  if (mode === "approval") {
    decision.expected += typical.taskSeconds + typical.approvalSeconds;
    decision.bound += timeout("RequestApproval");
  }
  const fence = { expected: typical.taskSeconds, bound: timeout("Fence") };

  // The database's proof that the old primary stopped, counted from the failure.
  const group = one(
    json,
    "aws_rds_cluster_parameter_group",
    "the writer's parameter group",
    // The live cluster's group (payments-db-<slot>-...), not the reconciliation's scratch group.
    (g) => g.provider === `aws.${config.writer}` && String(g.name).startsWith("payments-db-"),
  );
  const rpoParameter = (group.parameter as Array<{ name: string; value: string }>).find(
    (p) => p.name === "rds.global_db_rpo",
  );
  if (!rpoParameter)
    throw new RtoInputError("the writer's parameter group does not set rds.global_db_rpo");
  const rpo = Number(rpoParameter.value);
  const { heartbeatSeconds } = DEFAULT_SETTINGS;
  // The target region's CheckOldWriter, as deployed: the proof's margin and the lease's wait.
  const checkOldWriter = one(
    json,
    "aws_lambda_function",
    "the CheckOldWriter function",
    (f) =>
      f.function_name === `payments-dr-check-old-writer-${suffix}` &&
      f.provider === `aws.${standby}`,
  );
  const checkEnv = (checkOldWriter.environment as { variables: Record<string, string> }).variables;
  const writerStopMarginSeconds = Number(checkEnv.DR_WRITER_STOP_MARGIN_SECONDS);
  const leaseSettle = Number(checkEnv.DR_LEASE_SETTLE_SECONDS);
  if (!Number.isFinite(writerStopMarginSeconds) || !Number.isFinite(leaseSettle))
    throw new RtoInputError(
      "CheckOldWriter needs DR_WRITER_STOP_MARGIN_SECONDS and DR_LEASE_SETTLE_SECONDS",
    );
  const { sighting, afterFailure: proofAfterFailure } = databaseProofSeconds({
    probeIntervalSeconds: Number(env.PROBE_INTERVAL_SECONDS),
    rpoSeconds: rpo,
    heartbeatSeconds,
    writerStopMarginSeconds,
  });
  const reached = detection.expected + decision.expected + fence.expected;
  // The database proof also waits for the peer lease (review M3): DR_LEASE_SETTLE_SECONDS after
  // the fence. The later of the two counts.
  const oldWriter = {
    expected: Math.max(0, proofAfterFailure - reached, leaseSettle) + typical.taskSeconds,
    bound: bounds.writerStopBoundSeconds + timeout("CheckOldWriter") + LOOK_SECONDS,
  };

  const verifyRetries = verifyRetrySeconds(states);
  const promotion = {
    expected: promotionExpectedSeconds(typical.taskSeconds, typical.auroraFailoverSeconds),
    bound:
      timeout("Promote") +
      bounds.promotionTimeoutSeconds +
      timeout("CheckPromotion") +
      LATE_POLL_SECONDS +
      UNTIL_WRITES_OPEN.reduce((sum, state) => sum + timeout(state), 0) +
      verifyRetries,
  };

  // DNS. Expected: beside the promotion, from the proof on. The target's /health answers 200
  // "taking-over" once Promote has stamped `promotingAt` on its flag and its own cluster answers
  // (functions/common/taking-over.ts), so its check passes `threshold` times during the
  // promotion, and resolvers drop the old answer within the TTL after that; only what outlasts
  // the promotion and the tasks until Unfence is serial. Bound: in full after the promotion
  // (review 23 M1): the promoted writer's restart, or any 503 during the promotion longer than
  // threshold x interval, turns the target unhealthy again, and with both records unhealthy
  // Route 53 answers the PRIMARY until `threshold` checks pass again
  // (dns-failover-determining-health-of-endpoints).
  const checks = all(json, "aws_route53_health_check");
  if (checks.length === 0)
    throw new RtoInputError("no Route 53 health checks in the synthesized stack");
  const interval = Math.max(...checks.map((c) => Number(c.request_interval)));
  const threshold = Math.max(...checks.map((c) => Number(c.failure_threshold)));
  const records = all(json, "aws_route53_record").some((r) => r.failover_routing_policy);
  const ttl = records ? ALIAS_TARGET_TTL_SECONDS : 0;
  const dns = healthCheckSeconds(interval, threshold) + ttl;
  const dnsBeyond = (k: "expected" | "bound") =>
    k === "bound" ? dns : dnsBesidePromotion(dns, promotion.expected);

  const serial = (k: "expected" | "bound") =>
    detection[k] + decision[k] + fence[k] + oldWriter[k] + promotion[k] + dnsBeyond(k);
  const round = (n: number) => Math.round(n);
  const expectedSeconds = round(serial("expected"));
  const boundSeconds = round(serial("bound"));

  // The goal: what the knobs can buy, and what they cannot. The old-writer wait is the later of
  // the database proof (rds.global_db_rpo + heartbeat + margin after the last beat) and the peer
  // lease's settle after the fence; the second does not move with either knob, and the Aurora
  // managed failover (a documented typical duration, RTO_EXPECTED_AURORA_FAILOVER_SECONDS)
  // follows it in series: the promotion may not start before the old writer is proven stopped.
  const lowestProof = databaseProofSeconds({
    probeIntervalSeconds: Number(env.PROBE_INTERVAL_SECONDS),
    rpoSeconds: MIN_DB_RPO_SECONDS,
    heartbeatSeconds,
    writerStopMarginSeconds: MIN_PROOF_MARGIN_SECONDS,
  }).afterFailure;
  const lowestOldWriter = Math.max(0, lowestProof - reached, leaseSettle) + typical.taskSeconds;
  const floorSeconds = round(
    reached + lowestOldWriter + promotion.expected + dnsBesidePromotion(dns, promotion.expected),
  );
  const goalMiss =
    expectedSeconds <= config.failover.rtoGoalSeconds
      ? null
      : {
          floorSeconds,
          reason:
            `detection, decision and fence (${round(reached)} s), then the old writer proven stopped ` +
            `(${round(oldWriter.expected)} s: the later of the database proof and the peer lease's ` +
            `${leaseSettle} s after the fence), then Aurora's managed failover ` +
            `(${typical.auroraFailoverSeconds} s typical) and the tasks around it ` +
            `(${round(promotion.expected)} s), in series. At DB_RPO_SECONDS ${MIN_DB_RPO_SECONDS} and ` +
            `DB_PROOF_MARGIN_SECONDS ${MIN_PROOF_MARGIN_SECONDS} (their lowest) it would be ` +
            `${floorSeconds} s: the peer lease's ${leaseSettle} s and the Aurora failover stay`,
        };

  const lagAlarm = one(
    json,
    "aws_cloudwatch_metric_alarm",
    "the replication lag alarm",
    (a) =>
      String(a.alarm_name).startsWith("payments-replication-lag-") &&
      a.provider === `aws.${standby}`,
  );
  const tasks = (names: string[]) => names.join(", ");
  return {
    stack,
    targetRegion: target,
    mode,
    phases: [
      {
        name: "detection",
        expected: round(detection.expected),
        bound: round(detection.bound),
        detail: `prober alarm ${datapoints} x ${period} s + ${probeTimeout} s probe timeout + evaluation (half a period | a period)`,
      },
      {
        name: "decision",
        expected: round(decision.expected),
        bound: round(decision.bound),
        detail:
          `${tasks(decisionStates)} (${typical.taskSeconds} s each | at TimeoutSeconds) + the lock claim in the failed region (${lockClaimSeconds} s timeout)` +
          (settling > 0
            ? ` | + ${round(settling)} s waiting on a switchover's or failback's lock still being confirmed`
            : "") +
          (holdBound > 0
            ? ` + ${round(holdBound)} s a held alarm's hold (${hold.waits} x (HoldWait ${hold.intervalSeconds} s + Preflight ${timeout("Preflight")} s))`
            : "") +
          (mode === "approval"
            ? ` + RequestApproval (on-call ${typical.approvalSeconds} s | ${timeout("RequestApproval")} s)`
            : ""),
      },
      {
        name: "fence",
        expected: round(fence.expected),
        bound: round(fence.bound),
        detail: "Fence",
      },
      {
        name: "old writer",
        expected: round(oldWriter.expected),
        bound: round(oldWriter.bound),
        detail: `database proof ${rpo} s rds.global_db_rpo + ${heartbeatSeconds} s heartbeat + ${writerStopMarginSeconds} s margin after the prober's first sighting of the last beat (${sighting} s after the failure on average), and the peer lease ${leaseSettle} s after the fence: the later | bound ${bounds.writerStopBoundSeconds} s + a look`,
      },
      {
        name: "promotion",
        expected: round(promotion.expected),
        bound: round(promotion.bound),
        detail: `Promote + Aurora managed failover ${typical.auroraFailoverSeconds} s + half a poll + ${UNTIL_WRITES_OPEN.join(", ")} (writes open at Unfence) | bound ${bounds.promotionTimeoutSeconds} s + a poll + Verify's designed retries ${round(verifyRetries)} s`,
      },
      {
        name: "dns",
        expected: round(dnsBeyond("expected")),
        bound: round(dnsBeyond("bound")),
        detail:
          (records
            ? `health check ${threshold} x ${interval} s + alias TTL ${ttl} s = ${dns} s from the proof`
            : `health check ${threshold} x ${interval} s = ${dns} s from the proof`) +
          ` (the target's /health answers 200 "taking-over" once Promote stamps promotingAt), beside the promotion (${round(promotion.expected)} s): only what outlasts it counts | bound: in full after the promotion (its restart can turn the target unhealthy again)` +
          (records ? "" : "; no DNS records: no domain configured"),
      },
    ],
    expectedSeconds,
    boundSeconds,
    heldThenPagedSeconds: round(expectedSeconds + holdExpected + typical.approvalSeconds),
    rtoTargetSeconds: config.failover.rtoTargetSeconds,
    rtoGoalSeconds: config.failover.rtoGoalSeconds,
    goalMiss,
    rpoBoundSeconds: rpo,
    lagAlarmSeconds: Number(lagAlarm.threshold) / 1000,
    rpoTargetSeconds: config.failover.rpoTargetSeconds,
  };
}

/** The expected RTO within its target and the RPO bound within its target. */
export function withinTargets(budget: Budget): boolean {
  return (
    budget.expectedSeconds <= budget.rtoTargetSeconds &&
    budget.rpoBoundSeconds <= budget.rpoTargetSeconds
  );
}

export function formatBudget(budget: Budget): string {
  const verdict = (value: number, limit: number) => (value <= limit ? "met" : "EXCEEDED");
  const pad = (s: string) => s.padEnd(11);
  const num = (n: number) => `${String(n).padStart(6)} s`;
  return [
    `RTO of ${budget.stack}: unplanned failover to ${budget.targetRegion}, ${budget.mode} mode`,
    `  ${pad("")}${"expected".padStart(8)} ${"bound".padStart(8)}`,
    ...budget.phases.map((p) => `  ${pad(p.name)}${num(p.expected)} ${num(p.bound)}  ${p.detail}`),
    `  ${pad("total")}${num(budget.expectedSeconds)} ${num(budget.boundSeconds)}  the phases in turn; expected: DNS beside the promotion from the proof; bound: DNS after it`,
    `  expected ${budget.expectedSeconds} s, target ${budget.rtoTargetSeconds} s: ${verdict(budget.expectedSeconds, budget.rtoTargetSeconds)}; goal ${budget.rtoGoalSeconds} s: ${budget.expectedSeconds <= budget.rtoGoalSeconds ? "met" : "missed"}; bound ${budget.boundSeconds} s (every task at its timeout, every bound and designed wait reached, no retries of faults)`,
    ...(budget.goalMiss ? [`  goal missed because: ${budget.goalMiss.reason}`] : []),
    `  held, then paged (a flood veto that outlasts its hold): about ${budget.heldThenPagedSeconds} s expected (the hold, on-call's answer, then the console run's expected)`,
    `RPO bound: ${budget.rpoBoundSeconds} s (rds.global_db_rpo: commits block beyond it), lag alarm at ${budget.lagAlarmSeconds} s; target ${budget.rpoTargetSeconds} s: ${verdict(budget.rpoBoundSeconds, budget.rpoTargetSeconds)}`,
  ].join("\n");
}
