// `payments-dr status`: both regions at a glance. Every read is made in each region separately
// and in parallel; a region that does not answer is reported as such and the other is shown.
// Reads the same items and metrics the workflows act on, through the DR functions' own adapters
// (control table, CloudWatch), so the CLI and the orchestrator read the world the same way.
import { DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { GetParameterCommand } from "@aws-sdk/client-ssm";
import { PARAMETERS } from "../../functions/common/contract";
import { answersTakingOver } from "../../functions/common/taking-over";
import { CloudWatchMetrics } from "../../functions/dr/shared/aws/cloudwatch";
import { DynamoControlTable } from "../../functions/dr/shared/aws/control-table";
import type { ActiveRegionFlag, CooldownItem, LockItem } from "../../functions/dr/shared/ports";
import type { CommandContext } from "../context";
import { explainAwsError, RegionUnreachableError } from "../errors";
import type { ExecutionSummary } from "../executions";
import type { RunRow } from "./history";
import { runRows } from "./history";
import type { RegionReadiness } from "./readiness";
import { readinessReport, staleAfterMinutes } from "./readiness";
import { recentRuns } from "./watch";

/** A value, or why it could not be read. */
export type Read<T> = { ok: true; value: T } | { ok: false; error: string; unreachable: boolean };

async function read<T>(
  ctx: CommandContext,
  region: string,
  doing: string,
  fn: () => Promise<T>,
): Promise<Read<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    const explained = explainAwsError(error, { region, doing, profile: ctx.deployment.profile });
    return {
      ok: false,
      error: explained.problem,
      unreachable: explained instanceof RegionUnreachableError,
    };
  }
}

export interface RegionStatus {
  readonly region: string;
  readonly role: "primary" | "secondary";
  /** False when no read in this region succeeded and at least one timed out or failed to connect. */
  readonly answered: boolean;
  readonly flag: Read<ActiveRegionFlag | null>;
  readonly lock: Read<LockItem | null>;
  readonly cooldown: Read<CooldownItem | null>;
  readonly health: Read<{ status: number; body: string; url: string }>;
  readonly replicationLag: Read<{ lagMs: number; at: string } | null>;
  readonly alarmsInAlarm: Read<string[]>;
}

export interface StatusReport {
  readonly environment: string;
  readonly at: string;
  /** From the first region that answered, the active region's copy preferred. */
  readonly activeRegion: ActiveRegionFlag | null;
  readonly flagCopiesAgree: boolean | null;
  readonly regions: readonly RegionStatus[];
  readonly prober: Read<{ probedRegion: string; results: { at: string; healthy: boolean }[] }>;
  readonly lock: LockItem | null;
  readonly cooldown: (CooldownItem & { active: boolean }) | null;
  readonly running: readonly ExecutionSummary[];
  readonly lastRuns: readonly RunRow[];
  /** Each region's latest stored readiness evaluation (`payments-dr readiness` shows it all). */
  readonly readiness: readonly RegionReadiness[];
  readonly warnings: readonly string[];
}

async function regionStatus(ctx: CommandContext, region: string): Promise<RegionStatus> {
  const { deployment, clients, io } = ctx;
  const control = new DynamoControlTable(clients.dynamo(region), deployment.names.controlTable);
  const metrics = new CloudWatchMetrics(clients.cloudwatch(region), () => io.now());
  const since = new Date(io.now().getTime() - 10 * 60_000);
  const table = deployment.names.controlTable;
  const [flag, lock, cooldown, health, replicationLag, alarmsInAlarm] = await Promise.all([
    read(ctx, region, `read the active-region flag from ${table}`, () => control.getActiveRegion()),
    read(ctx, region, `read the failover lock from ${table}`, () => control.getLock()),
    read(ctx, region, `read the cooldown from ${table}`, () => control.getCooldown()),
    read(ctx, region, "check /health", async () => {
      const name = deployment.names.parameter(PARAMETERS.apiUrl);
      const out = await clients.ssm(region).send(new GetParameterCommand({ Name: name }));
      const url = `${(out.Parameter?.Value ?? "").replace(/\/+$/, "")}/health`;
      return { ...(await io.fetch(url, 3_000)), url };
    }),
    read(ctx, region, "read the replication lag", () =>
      metrics.replicationLag(deployment.names.cluster(region), since),
    ),
    read(ctx, region, "read the alarms", async () => {
      const out = await clients.cloudwatch(region).send(
        new DescribeAlarmsCommand({
          AlarmNamePrefix: "payments-",
          StateValue: "ALARM",
          MaxRecords: 100,
        }),
      );
      return (out.MetricAlarms ?? [])
        .map((a) => a.AlarmName ?? "")
        .filter((name) => name.endsWith(`-${deployment.suffix}`));
    }),
  ]);
  const reads = [flag, lock, cooldown, health, replicationLag, alarmsInAlarm];
  const answered = reads.some((r) => r.ok) || !reads.some((r) => !r.ok && r.unreachable);
  return {
    region,
    role: region === deployment.primary ? "primary" : "secondary",
    answered,
    flag,
    lock,
    cooldown,
    health,
    replicationLag,
    alarmsInAlarm,
  };
}

export async function collectStatus(ctx: CommandContext): Promise<StatusReport> {
  const { deployment, io } = ctx;
  const now = io.now();
  const warnings: string[] = [];
  const regions = await Promise.all(deployment.regions.map((r) => regionStatus(ctx, r)));
  const flags = regions.flatMap((r) =>
    r.flag.ok && r.flag.value ? [{ region: r.region, flag: r.flag.value }] : [],
  );
  const first = flags[0]?.flag ?? null;
  const own = flags.find((f) => f.flag.activeRegion === f.region)?.flag;
  const activeRegion = own ?? first;
  let flagCopiesAgree: boolean | null = null;
  if (flags.length === 2) {
    const [a, b] = [flags[0]!.flag, flags[1]!.flag];
    flagCopiesAgree = a.activeRegion === b.activeRegion && a.fencingToken === b.fencingToken;
    if (!flagCopiesAgree) {
      warnings.push(
        `the two copies of the active-region flag differ (${flags.map((f) => `${f.region}: ${f.flag.activeRegion} token ${f.flag.fencingToken}`).join("; ")}): replication is behind or the regions cannot see each other`,
      );
    }
  }
  if (regions.every((r) => r.flag.ok && r.flag.value === null)) {
    warnings.push(
      `the flag was never written: the deployed primary ${deployment.primary} is active`,
    );
  }
  for (const r of regions)
    if (!r.answered)
      warnings.push(`${r.region} did not answer: showing what the other region says`);

  // The global table's items: the active region's copy, else any.
  const pick = <T>(get: (r: RegionStatus) => Read<T | null>): T | null => {
    const ordered = [...regions].sort((a) => (a.region === activeRegion?.activeRegion ? -1 : 1));
    for (const r of ordered) {
      const v = get(r);
      if (v.ok) return v.value;
    }
    return null;
  };
  const lock = pick((r) => r.lock);
  const cooldownItem = pick((r) => r.cooldown);
  const cooldown = cooldownItem
    ? { ...cooldownItem, active: cooldownItem.cooldownUntil * 1000 > now.getTime() }
    : null;

  // The prober runs in the secondary region and probes the region the flag names as active.
  const probedRegion = activeRegion?.activeRegion ?? deployment.primary;
  const prober = await read(ctx, deployment.secondary, "read the prober's results", async () => ({
    probedRegion,
    results: await new CloudWatchMetrics(
      ctx.clients.cloudwatch(deployment.secondary),
      () => now,
    ).probeResults(probedRegion, new Date(now.getTime() - 2 * 60_000)),
  }));

  // The stored evaluations only: status reads, it never runs the evaluators.
  const readiness = await readinessReport(ctx, { run: false });

  let running: ExecutionSummary[] = [];
  let lastRuns: RunRow[] = [];
  try {
    running = (await recentRuns(ctx, { running: true, limit: 10 })).runs;
    lastRuns = (await runRows(ctx, 3)).rows;
  } catch (error) {
    warnings.push(`could not list the workflow runs: ${(error as Error).message.split("\n")[0]}`);
  }
  return {
    environment: deployment.suffix,
    at: now.toISOString(),
    activeRegion,
    flagCopiesAgree,
    regions,
    prober,
    lock,
    cooldown,
    running,
    lastRuns,
    readiness,
    warnings,
  };
}

const show = <T>(r: Read<T>, format: (v: T) => string): string =>
  r.ok ? format(r.value) : `? (${r.error})`;

export function formatStatus(report: StatusReport): string[] {
  const lines: string[] = [];
  const a = report.activeRegion;
  lines.push(`payments-dr ${report.environment}  ${report.at.slice(0, 19).replace("T", " ")} UTC`);
  lines.push(
    a
      ? `active region: ${a.activeRegion}  (fencing token ${a.fencingToken}, phase ${a.phase || "-"}, set by ${a.updatedBy || "-"} at ${a.updatedAt || "-"}${a.reason ? `: ${a.reason}` : ""})`
      : "active region: unknown (no region answered with the flag)",
  );
  for (const r of report.regions) {
    lines.push("");
    lines.push(`${r.region} (deployed ${r.role})${r.answered ? "" : "  DID NOT ANSWER"}`);
    lines.push(
      `  flag copy        ${show(r.flag, (f) => (f ? `${f.activeRegion}, token ${f.fencingToken}, phase ${f.phase || "-"}` : "never written"))}`,
    );
    lines.push(
      `  /health          ${show(r.health, (h) => `${h.status} ${h.status === 200 && !answersTakingOver(h) ? "ok" : h.body.slice(0, 80).replace(/\s+/g, " ")}`)}`,
    );
    lines.push(
      `  replication lag  ${show(r.replicationLag, (l) => (l ? `${l.lagMs} ms at ${l.at.slice(11, 19)}` : "no datapoint in 10 min (writer, or no replication)"))}`,
    );
    lines.push(
      `  alarms in ALARM  ${show(r.alarmsInAlarm, (names) => (names.length ? names.join(", ") : "none"))}`,
    );
  }
  lines.push("");
  lines.push(
    `prober: ${show(report.prober, (p) => {
      const healthy = p.results.filter((x) => x.healthy).length;
      return p.results.length === 0
        ? `no probe of ${p.probedRegion} in the last 2 min (is the prober running?)`
        : `${healthy}/${p.results.length} probes of ${p.probedRegion} healthy in the last 2 min, newest ${p.results[0]!.at.slice(11, 19)} ${p.results[0]!.healthy ? "healthy" : "UNHEALTHY"}`;
    })}`,
  );
  const l = report.lock;
  lines.push(
    l
      ? `lock: held by run ${l.owner} (${l.operation} ${l.sourceRegion} -> ${l.targetRegion}, since ${l.acquiredAt}, expires ${new Date(l.expiresAt * 1000).toISOString()})`
      : "lock: free",
  );
  const c = report.cooldown;
  lines.push(
    c
      ? `cooldown: ${c.active ? `until ${new Date(c.cooldownUntil * 1000).toISOString()}` : "over"} (last run ${c.lastExecution}, ended ${c.lastCompletedAt})`
      : "cooldown: none",
  );
  lines.push("readiness:");
  for (const r of report.readiness) {
    const e = r.evaluation;
    if (!e) {
      lines.push(`  ${r.region}  ? (${r.problems.join("; ") || "no evaluation"})`);
      continue;
    }
    const from = r.source === "replica" ? ", from the other region's replica" : "";
    lines.push(
      `  ${r.region}  ${e.overall.toUpperCase()}  evaluated ${Math.round((Date.parse(report.at) - Date.parse(e.at)) / 60_000)} min ago${from}${r.stale ? `, STALE: over ${staleAfterMinutes(e)} min old` : ""}`,
    );
    // What is not ok, worst first; `payments-dr readiness` has every check and its fix.
    const order = { fail: 0, unknown: 1, warn: 2, ok: 3 } as Record<string, number>;
    for (const c of [...e.checks]
      .filter((x) => x.status !== "ok")
      .sort((a, b) => (order[a.status] ?? 9) - (order[b.status] ?? 9))) {
      lines.push(`    ${c.status.padEnd(7)} ${c.id}: ${c.reason}`);
    }
  }
  lines.push(
    `running: ${report.running.length === 0 ? "nothing" : report.running.map((r) => `${r.workflow} in ${r.region} ${r.name} since ${r.startDate}`).join("; ")}`,
  );
  lines.push("last runs:");
  if (report.lastRuns.length === 0) lines.push("  none");
  for (const r of report.lastRuns) {
    lines.push(
      `  ${r.startDate.slice(0, 19).replace("T", " ")}  ${r.workflow} -> ${r.region}  ${r.outcome}  RTO ${r.rtoSeconds === null ? "-" : `${r.rtoSeconds} s`}  RPO ${r.rpoEstimateMs === null ? "-" : `${r.rpoEstimateMs} ms`}  ${r.name}`,
    );
  }
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  return lines;
}

export async function statusCommand(ctx: CommandContext): Promise<number> {
  // Credentials first: "no credentials" is one clear error, not a dozen failed reads.
  try {
    await ctx.identity();
  } catch (error) {
    if (!(error instanceof RegionUnreachableError)) throw error;
  }
  const report = await collectStatus(ctx);
  if (ctx.json) ctx.io.out(JSON.stringify(report, null, 2));
  else for (const line of formatStatus(report)) ctx.io.out(line);
  // Non-zero when neither region answered: a script must not read "all fine" from silence.
  return report.regions.some((r) => r.answered) ? 0 : 1;
}
