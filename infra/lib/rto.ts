// The worst-case RTO and the RPO bound, computed from what synth wrote: the prober alarm, the
// health checks, the failover workflow that would run (its task timeouts, waits and poll
// bound) and the database's RPO guard. Pure: JSON in, numbers out.
import type { Config } from "../config";
import { otherRole } from "../config";
import { PROBER_COMPONENT } from "../naming";
import { ALIAS_TARGET_TTL_SECONDS } from "./aws-timings";
import { pollBoundsOf } from "./asl";
import type { TerraformJson } from "./synthesized";

type Resource = Record<string, unknown>;

export interface Phase {
  readonly name: "detection" | "decision" | "promotion" | "dns";
  readonly seconds: number;
  readonly detail: string;
}

export interface Budget {
  readonly stack: string;
  readonly targetRegion: string;
  readonly mode: string;
  readonly phases: readonly Phase[];
  /** Seconds from the failure to traffic on the promoted writer (the critical path). */
  readonly rtoSeconds: number;
  readonly rtoTargetSeconds: number;
  readonly rtoGoalSeconds: number;
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
}

/** The critical-path states, in order, and which phase each belongs to. */
const DECISION_STATES = ["ValidateInput", "Preflight", "AcquireLock"];
const PROMOTION_TASKS = ["Fence", "Promote", "UpdateParameters"];

export function computeBudget(json: TerraformJson, stack: string, config: Config): Budget {
  const suffix = config.environmentSuffix;
  // A failover goes from the writer's slot to the standby's, where detection lives.
  const standby = otherRole(config.writer);
  const target = config[standby].region;

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
  // M failing probes, the last one waiting out its timeout, then one evaluation of the alarm.
  const detection = datapoints * period + probeTimeout + period;

  // Decision and promotion: the failover workflow of the region failed over to.
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
  const decisionParts = DECISION_STATES.map((s) => [s, timeout(s)] as const);
  if (mode === "approval") decisionParts.push(["RequestApproval", timeout("RequestApproval")]);
  const decision = decisionParts.reduce((sum, [, s]) => sum + s, 0);
  const polls = bounds.maxPolls * bounds.waitSeconds;
  const [fence, promote, update] = PROMOTION_TASKS.map(timeout) as [number, number, number];
  const promotion = fence + bounds.fenceWaitSeconds + promote + polls + update;

  // DNS: the health checks see the old primary's /health fail once the fence flips the flag.
  const checks = all(json, "aws_route53_health_check");
  if (checks.length === 0)
    throw new RtoInputError("no Route 53 health checks in the synthesized stack");
  const interval = Math.max(...checks.map((c) => Number(c.request_interval)));
  const threshold = Math.max(...checks.map((c) => Number(c.failure_threshold)));
  const records = all(json, "aws_route53_record").some((r) => r.failover_routing_policy);
  const ttl = records ? ALIAS_TARGET_TTL_SECONDS : 0;
  const dns = interval * threshold + ttl;

  // DNS convergence starts at the fence, so it runs beside the promotion.
  const rtoSeconds = detection + decision + Math.max(promotion, fence + dns);

  const group = one(
    json,
    "aws_rds_cluster_parameter_group",
    "the writer's parameter group",
    (g) => g.provider === `aws.${config.writer}`,
  );
  const rpoParameter = (group.parameter as Array<{ name: string; value: string }>).find(
    (p) => p.name === "rds.global_db_rpo",
  );
  if (!rpoParameter)
    throw new RtoInputError("the writer's parameter group does not set rds.global_db_rpo");
  const lagAlarm = one(
    json,
    "aws_cloudwatch_metric_alarm",
    "the replication lag alarm",
    (a) =>
      String(a.alarm_name).startsWith("payments-replication-lag-") &&
      a.provider === `aws.${standby}`,
  );

  return {
    stack,
    targetRegion: target,
    mode,
    phases: [
      {
        name: "detection",
        seconds: detection,
        detail: `prober alarm ${datapoints} x ${period} s + ${probeTimeout} s probe timeout + ${period} s evaluation`,
      },
      {
        name: "decision",
        seconds: decision,
        detail: decisionParts.map(([s, t]) => `${s} ${t} s`).join(" + "),
      },
      {
        name: "promotion",
        seconds: promotion,
        detail: `Fence ${fence} s + wait ${bounds.fenceWaitSeconds} s + Promote ${promote} s + ${bounds.maxPolls} polls x ${bounds.waitSeconds} s + UpdateParameters ${update} s`,
      },
      {
        name: "dns",
        seconds: dns,
        detail: records
          ? `health check ${threshold} x ${interval} s + alias TTL ${ttl} s, from the fence, beside the promotion`
          : `health check ${threshold} x ${interval} s (no DNS records: no domain configured)`,
      },
    ],
    rtoSeconds,
    rtoTargetSeconds: config.failover.rtoTargetSeconds,
    rtoGoalSeconds: config.failover.rtoGoalSeconds,
    rpoBoundSeconds: Number(rpoParameter.value),
    lagAlarmSeconds: Number(lagAlarm.threshold) / 1000,
    rpoTargetSeconds: config.failover.rpoTargetSeconds,
  };
}

export function withinTargets(budget: Budget): boolean {
  return (
    budget.rtoSeconds <= budget.rtoTargetSeconds &&
    budget.rpoBoundSeconds <= budget.rpoTargetSeconds
  );
}

export function formatBudget(budget: Budget): string {
  const verdict = (value: number, limit: number) => (value <= limit ? "met" : "EXCEEDED");
  const pad = (s: string) => s.padEnd(10);
  return [
    `RTO budget of ${budget.stack}: failover to ${budget.targetRegion}, ${budget.mode} mode (worst case, no faults)`,
    ...budget.phases.map((p) => `  ${pad(p.name)}${String(p.seconds).padStart(5)} s  ${p.detail}`),
    `  ${pad("total")}${String(budget.rtoSeconds).padStart(5)} s  detection + decision + max(promotion, fence + dns)`,
    `  target ${budget.rtoTargetSeconds} s: ${verdict(budget.rtoSeconds, budget.rtoTargetSeconds)}; goal ${budget.rtoGoalSeconds} s: ${budget.rtoSeconds <= budget.rtoGoalSeconds ? "met" : "missed"}`,
    `RPO bound: ${budget.rpoBoundSeconds} s (rds.global_db_rpo: commits block beyond it), lag alarm at ${budget.lagAlarmSeconds} s; target ${budget.rpoTargetSeconds} s: ${verdict(budget.rpoBoundSeconds, budget.rpoTargetSeconds)}`,
  ].join("\n");
}
