// The scenarios: what breaks, when, and who starts which workflow. Each runs the same way: the
// lab up, payment load through Route 53, a warm-up, the fault (or the planned move), the
// workflows to their end, load in the new region for a while, then the data of both databases
// against what the clients were told (checks.ts) and the report (report.ts).
import { join } from "node:path";
import { Client } from "pg";
import type { WorkflowName } from "../infra/lib/asl";
import { CONTROL, METRICS } from "../functions/common/contract";
import { DEFAULT_SETTINGS } from "../functions/dr/shared/settings";
import { evaluate, leaseLapseCheck, quietAfterSettleCheck } from "./checks";
import type { DatabaseContents, EventRow, Findings, PaymentRow } from "./checks";
import { DEFAULT_CLIENTS, LAB_ROUTE_P99_MS, SURGE_CLIENTS } from "./config";
import type { LabConfig, LabScenario } from "./config";
import { freePort, Lab, LAB, LOCAL_CALL_FLOOR_MS } from "./lab";
import { LoadGenerator } from "./load";
import { SurgeMonitor, surgeChecks, surgeFigures } from "./surge";
import type { SurgeFigures, SurgeSample } from "./surge";
import type { LoadSample } from "./load";
import type { ExecutionRecord } from "./orchestrator";
import { AuroraGlobalDatabase } from "./world/aurora";
import type { PromotionOutage } from "./world/aurora";
import type { LabWriteBounds } from "./write-path";
import { PgNode } from "./world/postgres";
import { reconcileInLab } from "./reconcile";
import type { LabReconciliation } from "./reconcile";

export interface ScenarioResult {
  readonly lab: Lab;
  readonly load: LoadGenerator;
  readonly findings: Findings;
  readonly faultAt: number;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly newPrimary: DatabaseContents;
  readonly oldPrimary: DatabaseContents | null;
  readonly writerRegion: string;
  readonly targetRegion: string;
  readonly finalFlag: { activeRegion?: string; fencingToken?: number } | null;
  /** A planned move (switchover, failback) rather than a fault. */
  readonly planned: boolean;
  /** Issue 16: the lost-write reconciliation after an unplanned failover (reconcile.ts). */
  readonly reconciliation: LabReconciliation | null;
  readonly ok: boolean;
  /** The surge scenario's measurements (connections, refusals, queueing over time). */
  readonly surge?: {
    readonly figures: SurgeFigures;
    readonly samples: readonly SurgeSample[];
    readonly clients: readonly (LoadSample & { at: number; loopDelayMs: number })[];
  };
}

/** The scenarios that end with the lost-write reconciliation (issue 16). */
export const RECONCILED_SCENARIOS: readonly LabScenario[] = ["region-down", "partition"];

interface Plan {
  /** Region the Aurora primary and the flag start in. */
  readonly initialWriter: "primary" | "secondary";
  readonly planned: boolean;
  readonly target: "primary" | "secondary";
}

const PLANS: Record<LabScenario, Plan> = {
  "region-down": { initialWriter: "primary", planned: false, target: "secondary" },
  partition: { initialWriter: "primary", planned: false, target: "secondary" },
  switchover: { initialWriter: "primary", planned: true, target: "secondary" },
  failback: { initialWriter: "secondary", planned: true, target: "primary" },
  "double-trigger": { initialWriter: "primary", planned: false, target: "secondary" },
  "manual-failover": { initialWriter: "primary", planned: false, target: "secondary" },
  // A region-down under a load that keeps many clients in flight, measured at the new writer.
  surge: { initialWriter: "primary", planned: false, target: "secondary" },
};

/**
 * When the scenario stops waiting for its workflows (lab epoch ms). The production bound grows by
 * what fast mode adds to the settle times (the handlers' real-time windows, lab/write-path.ts)
 * and by what the promoted writers' real restarts took beyond their drawn windows (a real
 * PostgreSQL start weighs `fast` times more in lab time: 50 lab s measured against 15 drawn at
 * --fast 20); a restart still running keeps it open (review L3). The drawn windows themselves
 * are inside the drawn operations (lab/world/aurora.ts), which the production bound covers.
 */
export function workflowDeadline(
  faultAt: number,
  workflowDeadlineMs: number,
  bounds: Pick<LabWriteBounds, "fenceSettleSeconds" | "leaseSettleSeconds">,
  outages: readonly Pick<PromotionOutage, "from" | "to" | "windowMs">[],
  now: number,
): number {
  const settles =
    Math.max(0, bounds.fenceSettleSeconds - DEFAULT_SETTINGS.fenceSettleSeconds) +
    Math.max(0, bounds.leaseSettleSeconds - DEFAULT_SETTINGS.leaseSettleSeconds);
  const overruns = outages.reduce(
    (sum, o) => sum + Math.max(0, (o.to ?? now) - o.from - o.windowMs),
    0,
  );
  return faultAt + workflowDeadlineMs + settles * 1000 + overruns;
}

export async function runScenario(
  config: LabConfig,
  lab = new Lab(config),
): Promise<ScenarioResult> {
  const plan = PLANS[config.scenario];
  const t = config.timings;
  const region = (which: "primary" | "secondary") =>
    which === "primary" ? config.primary : config.secondary;
  const target = region(plan.target);
  const source = lab.other(target);
  await lab.start(region(plan.initialWriter));
  if (config.skipFence) plantSecondWriter(lab, source);

  let runs = 0;
  const started: Promise<ExecutionRecord>[] = [];
  const startWorkflow = (
    workflow: WorkflowName,
    where: string,
    input: Record<string, unknown>,
    name: string,
  ) => {
    runs += 1;
    started.push(lab.orchestrator.start(workflow, where, input, name));
  };
  // EventBridge: the prober's alarm entering ALARM starts the failover toward the secondary.
  lab.onAlarm = (name, at) => {
    startWorkflow(
      "failover",
      config.secondary,
      {
        targetRegion: config.secondary,
        reason: `alarm ${name} entered ALARM at ${at}`,
        trigger: "alarm",
        mode: "automatic",
      },
      `alarm-${runs + 1}`,
    );
    if (config.scenario === "double-trigger" && runs === 1) {
      // On-call starts one by hand at the same moment.
      startWorkflow(
        "failover",
        config.secondary,
        {
          targetRegion: config.secondary,
          reason: "on-call: us-east-1 payments failing",
          trigger: "console",
        },
        "oncall-1",
      );
    }
  };

  const load = new LoadGenerator({
    clock: lab.clock,
    random: lab.random.get("load"),
    rate: config.rate,
    captureShare: config.captureShare,
    apiKeys: LAB.apiKeys,
    resolve: () => lab.route53.resolve(),
    dnsTtlMs: t.dnsTtlSeconds * 1000,
    apiUrl: (r) => lab.apiUrl(r),
    backoffMs: t.clientBackoffMs,
    deadlineMs: t.clientDeadlineMs,
    maxInFlight: config.clients ?? (config.scenario === "surge" ? SURGE_CLIENTS : DEFAULT_CLIENTS),
    routes: config.routes,
  });
  const monitor = config.scenario === "surge" ? new SurgeMonitor(lab, load) : undefined;
  monitor?.start();
  const startedAt = lab.clock.nowMs();
  load.start();
  lab.event("load", `payment load started: ${config.rate}/s through ${LAB.domain}`);
  await lab.clock.sleep(t.warmupMs);
  await steadyState(lab, plan, t.warmupMs);

  const spike =
    config.scenario === "region-down" && t.lagBeforeFaultMs[1] > 0
      ? await lagSpike(lab, load, t.lagBeforeFaultMs)
      : undefined;
  const faultAt = lab.clock.nowMs();
  switch (config.scenario) {
    case "region-down":
    case "double-trigger":
    case "surge":
      // The WAL still in flight dies with the region (the replication link goes first).
      spike?.cut();
      await lab.killRegion(config.primary);
      break;
    case "partition":
      lab.partition(config.primary, config.secondary);
      break;
    case "switchover":
      startWorkflow(
        "switchover",
        target,
        { targetRegion: target, reason: "lab: planned switchover drill", trigger: "drill" },
        "switchover-1",
      );
      break;
    case "failback":
      startWorkflow(
        "failback",
        target,
        {
          targetRegion: target,
          reason: "lab: failback after an earlier failover",
          trigger: "drill",
        },
        "failback-1",
      );
      break;
    case "manual-failover":
      startWorkflow(
        "failover",
        target,
        {
          targetRegion: target,
          reason: "lab: on-call fails over a healthy primary",
          trigger: "console",
          allowUnknownLag: true,
          // The planted fault's on-call vouches for a stop that never happened (issue 10's
          // operator evidence), so the run promotes while the old primary still commits.
          ...(config.skipFence ? { assumeOldWriterStopped: true } : {}),
        },
        "oncall-1",
      );
      break;
  }

  // Wait for the workflows (an alarm may start one later), then run on in the new region.
  const deadline = () =>
    workflowDeadline(
      faultAt,
      t.workflowDeadlineMs,
      lab.writeBounds,
      lab.aurora.outages,
      lab.clock.nowMs(),
    );
  let refusals = 0;
  for (;;) {
    await lab.clock.sleep(1000);
    const done =
      started.length > 0 && lab.orchestrator.executions.every((e) => e.status !== "RUNNING");
    const last = lab.orchestrator.executions.at(-1);
    if (
      config.scenario === "failback" &&
      done &&
      last?.error === "FailbackNotReadyError" &&
      refusals < FAILBACK_ATTEMPTS - 1
    ) {
      // The refusal says to wait until the secondary has caught up, and on-call does: a minute
      // later (the lag metric's period), once more. The standby's lag on a loaded box is real
      // (fast mode multiplies it into lab time), and the readiness rule is the product's.
      refusals += 1;
      lab.event("lab", `failback refused (${last.cause?.slice(0, 120)}); on-call retries in 60 s`);
      await lab.clock.sleep(60_000);
      startWorkflow(
        "failback",
        target,
        {
          targetRegion: target,
          reason: "lab: failback after an earlier failover, retried once caught up",
          trigger: "drill",
        },
        `failback-${refusals + 1}`,
      );
      continue;
    }
    if (done && lab.orchestrator.executions.some((e) => e.status === "SUCCEEDED")) break;
    if (done && config.scenario !== "partition" && lab.clock.nowMs() > faultAt + t.warmupMs * 3)
      break;
    if (lab.clock.nowMs() > deadline()) {
      lab.event("lab", "deadline reached while waiting for the workflows");
      break;
    }
  }
  if (config.scenario === "partition") {
    await lab.clock.sleep(t.partitionAfterFailoverMs);
    lab.heal(config.primary, config.secondary);
  }
  // Clients come to the new region as health checks and DNS caches let them (bounded): 3 TTLs of
  // lab time, and at least 30 s of real time. The clients, Route 53's checkers and the emulated
  // AWS endpoints share the lab's one process; at --fast 20 three TTLs are 9 s real, which a
  // starved process on a loaded box ran out before any client got there (partition, seed
  // 819155413, issue 13b). The RTO counts to the first acceptance, so waiting longer hides nothing.
  const waitUntil = lab.clock.nowMs() + 3 * t.dnsTtlSeconds * 1000;
  const realFloor = Date.now() + 30_000;
  while (
    (lab.clock.nowMs() < waitUntil || Date.now() < realFloor) &&
    !load.acks.some((a) => a.region === target && a.at > faultAt)
  ) {
    await lab.clock.sleep(1000);
  }
  // Load in the new region after the workflow, before the checks. In a partition the hold after
  // the failover (partitionAfterFailoverMs) already was that: clients moved to the new region
  // while the old one was still cut off, and after the heal DNS sends none back to it, so only
  // what is left of steadyMs runs after the heal. It kept the partition at production timings
  // 20 s over the issue's 4 minutes of real time (session 24: 272 s) and added no coverage.
  const steadyAfter =
    config.scenario === "partition"
      ? Math.max(0, t.steadyMs - t.partitionAfterFailoverMs)
      : t.steadyMs;
  await lab.clock.sleep(steadyAfter);
  await lab.orchestrator.idle();
  // Payments in flight finish: a client keeps its cached DNS answer for up to the TTL.
  await load.stop(t.dnsTtlSeconds * 1000 + 10_000);
  lab.event(
    "load",
    `load stopped: ${load.acks.length} acknowledged, ${load.abandoned.length} abandoned, ${load.unsent.length} never sent (the clients' backlog)`,
  );
  lab.proberStop();
  await monitor?.stop();

  const writerRegion = lab.aurora.writerRegion ?? target;
  if (!plan.planned && !config.skipFence) await oldWriterFenced(lab, lab.other(writerRegion));
  const newPrimary = await readDatabase(lab, writerRegion, false);
  const oldPrimary = await readWithRetries(lab, lab.other(writerRegion)).catch((error: unknown) => {
    lab.event("lab", `could not read ${lab.other(writerRegion)}: ${(error as Error).message}`);
    return null;
  });
  const finalFlag = lab.tables
    .table(writerRegion, LAB.tables.control)
    .get({ [CONTROL.partitionKey]: { S: CONTROL.activeRegionItem } });
  const completed = lab.orchestrator.executions.filter((e) => e.status === "SUCCEEDED");
  const measured = evaluate({
    acks: load.acks,
    attempts: load.attempts,
    unexpected: load.unexpected,
    abandoned: load.abandoned,
    newPrimary,
    oldPrimary,
    faultAt,
    targetRegion: target,
    planned: plan.planned,
    rpoBoundSeconds: t.rpoGuardSeconds,
    // Two of the model's lag samples (the guard's reaction), in lab time.
    guardDelayMs: 2 * AuroraGlobalDatabase.SAMPLE_MS * config.fast,
    workflowCompleted: completed.length === 1 && writerRegion === target,
    workflowDetail: describeRuns(lab.orchestrator.executions, writerRegion, target),
  });
  const figures =
    monitor &&
    surgeFigures(monitor, lab.budget, load.attempts, target, {
      faultAt,
      outages: lab.aurora.outages,
      throttledLoadAllowed: config.allowThrottled,
      routeDurationMs: LAB_ROUTE_P99_MS,
    });
  const fenceStates = lab.orchestrator.executions.flatMap((e) =>
    e.states.filter((st) => st.name === "Fence"),
  );
  const earliest = (times: number[]) => (times.length ? Math.min(...times) : null);
  const leaseCheck = leaseLapseCheck(lab.leaseLapses, {
    fenceAt: earliest(fenceStates.map((st) => st.enteredAt)),
    renewer: lab.renewer,
    faultAt,
  });
  // The Fence written (its task done): the settles count from there.
  const { fenceSettleSeconds, leaseSettleSeconds } = lab.writeBounds;
  const quietCheck = quietAfterSettleCheck(oldPrimary, {
    fencedAt: earliest(fenceStates.flatMap((st) => (st.exitedAt ? [st.exitedAt] : []))),
    settleMs: Math.max(
      t.ddbReplicationMs[1] + fenceSettleSeconds * 1000,
      leaseSettleSeconds * 1000,
    ),
    faultAt,
  });
  const withSurge = {
    ...measured,
    checks: [...measured.checks, leaseCheck, quietCheck, ...(figures ? surgeChecks(figures) : [])],
  };
  // Issue 16: after the failover and the old region's return, reconcile against a copy of the
  // old primary's data and hold the result to what the lab measured.
  const reconciliation =
    RECONCILED_SCENARIOS.includes(config.scenario) && !config.skipFence
      ? await reconcileInLab(lab, {
          findings: measured,
          oldPrimary,
          newPrimary,
          writerRegion,
        })
      : null;
  const findings = reconciliation
    ? { ...withSurge, checks: [...withSurge.checks, ...reconciliation.checks] }
    : withSurge;
  const ok = findings.checks.every((c) => c.ok);
  return {
    lab,
    load,
    findings,
    faultAt,
    startedAt,
    endedAt: lab.clock.nowMs(),
    newPrimary,
    oldPrimary,
    writerRegion,
    targetRegion: target,
    finalFlag: finalFlag
      ? {
          activeRegion: "S" in finalFlag.activeRegion! ? finalFlag.activeRegion.S : undefined,
          fencingToken:
            finalFlag.fencingToken && "N" in finalFlag.fencingToken
              ? Number(finalFlag.fencingToken.N)
              : undefined,
        }
      : null,
    planned: plan.planned,
    reconciliation,
    ok,
    surge: monitor && figures && { figures, samples: monitor.samples, clients: monitor.clients },
  };
}

/**
 * A replication lag spike just before the region fails (issue 16: a region-down that loses
 * nothing proves nothing about the reconciliation). Aurora's lag is "typically under a second"
 * but has no bound short of rds.global_db_rpo, which blocks commits only beyond it; a storage or
 * network degradation that precedes an outage is when it grows. The lab delays the replication
 * link by a drawn lag (within the RPO) for less than the minute the automatic failover's
 * lag-history check looks back over (functions/dr/preflight/core.ts, laggedFirst), waits until the
 * old primary has acknowledged payments the standby cannot have yet, and returns the cut that
 * drops the WAL still in flight when the region dies.
 */
async function lagSpike(
  lab: Lab,
  load: LoadGenerator,
  range: readonly [number, number],
): Promise<{ cut: () => void }> {
  const { config } = lab;
  const link = lab.network.links.find(
    (l) => l.name === "pg-replication" && l.to === config.primary,
  );
  if (!link) throw new Error(`no replication link into ${config.primary}`);
  const lagMs = Math.round(lab.random.get("lag-spike").between(range[0], range[1]));
  link.delayMs = lab.clock.real(lagMs);
  lab.event(
    "fault",
    `replication lag spike: ${(lagMs / 1000).toFixed(1)} s on ${link.from} <- ${link.to}`,
  );
  await lab.clock.sleep(lagMs);
  // Acknowledged inside the last half of the lag: their WAL cannot have reached the standby.
  const until = lab.clock.nowMs() + 30_000;
  for (;;) {
    const since = lab.clock.nowMs() - lagMs / 2;
    const recent = load.acks.filter((a) => a.region === config.primary && a.at >= since);
    if (recent.length >= 3 || lab.clock.nowMs() > until) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { cut: () => link.cut() };
}

/**
 * After an unplanned failover the old region's return ends with Aurora fencing its writer ("as
 * soon as it can", lab/world/aurora.ts): a partition's old primary is still a live, unfenced
 * writer at the heal. The checks and the reconciliation read it once it is stopped (its folder
 * started aside, as the point-of-failure snapshot would be), not while it might still commit.
 * Bounded in real time: on a loaded box the lab's own event loop can run seconds late.
 */
async function oldWriterFenced(lab: Lab, region: string): Promise<void> {
  const old = lab.region(region);
  const deadline = Date.now() + 60_000;
  while (old.alive && old.node.running && !lab.aurora.snapshots.some((s) => s.region === region)) {
    if (Date.now() > deadline) {
      lab.event("lab", `${region}'s old primary was not fenced within 60 s (real) of the end`);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The old primary's rows, retried: a connection that times out on a loaded box (it did, under
 * load 15-20, and the checks then ran without the old primary) is not a finding about it.
 */
async function readWithRetries(lab: Lab, region: string): Promise<DatabaseContents> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readDatabase(lab, region, true);
    } catch (error) {
      if (attempt >= 3) throw error;
      lab.event("lab", `reading ${region} failed (${(error as Error).message}); retrying`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

/** Failback runs on-call starts before giving up on a secondary that keeps lagging. */
const FAILBACK_ATTEMPTS = 3;

/**
 * What a deployment that has run for days has before any fault, and the warm-up alone does not
 * guarantee on a loaded box: the prober has just seen the writer answer healthy, its alarm is
 * OK, and (for an outage) it has seen the writer heartbeat advance, so CheckOldWriter's database
 * proof is available (functions/dr/shared/heartbeat-watch.ts). A fixed warm-up left that to luck:
 * a prober that had looked once when the fault struck never saw the heartbeat advance, and the
 * run halted in OldWriterNotStopped. Bounded: a lab that cannot get there fails, saying why.
 */
async function steadyState(lab: Lab, plan: Plan, warmupMs: number): Promise<void> {
  const { config } = lab;
  // Before a failback the flag names the prober's own region: it probes nothing (by design).
  if (plan.initialWriter === "secondary") return;
  const watchKey = { [CONTROL.partitionKey]: { S: CONTROL.heartbeatWatchItem } };
  const missing = (): string[] => {
    const out: string[] = [];
    // The datapoints the prober publishes as it probes (its results come back only at the end
    // of its 60 s invocation).
    const last = lab.metrics.points
      .filter(
        (p) =>
          p.region === config.secondary &&
          p.name === METRICS.probeHealthy &&
          p.dimensions.Region === config.primary,
      )
      .at(-1);
    if (last?.value !== 1)
      out.push(
        `the prober's last probe of ${config.primary} was ${last ? "not healthy" : "not published yet"}`,
      );
    if (lab.alarm.state !== "OK") out.push(`the alarm is ${lab.alarm.state}`);
    if (!plan.planned) {
      const watch = lab.tables.table(config.secondary, LAB.tables.control).get(watchKey);
      if (!(watch?.advanced && "BOOL" in watch.advanced && watch.advanced.BOOL))
        out.push("the prober has not yet seen the writer heartbeat advance");
    }
    return out;
  };
  // A few probe rounds, each allowed the real-time floor twice (the probe, the heartbeat read):
  // on a loaded box a round costs real time, which the fast factor turns into lab time.
  const t = config.timings;
  const roundMs = t.probeIntervalSeconds * 1000 + 2 * LOCAL_CALL_FLOOR_MS * config.fast;
  const boundMs = Math.max(10 * warmupMs, 5 * roundMs);
  const deadline = lab.clock.nowMs() + boundMs;
  for (;;) {
    const left = missing();
    if (left.length === 0) return;
    if (lab.clock.nowMs() > deadline) {
      throw new Error(
        `the lab did not reach its steady state within ${boundMs / 1000} s of lab time after the warm-up: ${left.join("; ")}`,
      );
    }
    await lab.clock.sleep(1000);
  }
}

function describeRuns(
  executions: readonly ExecutionRecord[],
  writer: string,
  target: string,
): string {
  // A failed run says why (its cause, cut short): a CI log then explains itself.
  const runs = executions.map(
    (e) =>
      `${e.name}: ${e.workflow} ${e.status} at ${e.endState}${e.error ? ` (${e.error}${e.cause ? `: ${e.cause.slice(0, 300)}` : ""})` : ""}`,
  );
  const completed = executions.filter((e) => e.status === "SUCCEEDED").length;
  return `${completed} of ${executions.length} runs completed (writer now ${writer}, expected ${target}); ${runs.join("; ") || "no run started"}`;
}

/**
 * The test hook of issue 13: the old region is never fenced. The flag the Fence step writes never
 * replicates to it, and Aurora's write fencing never reaches its storage, so it keeps taking
 * payments after the new region is promoted: the checks must report two writers. The peer lease
 * (review M3) would stop it by itself once the renewals stop reaching it, so the plant also
 * takes the lease off its replica of the flag: the old region behaves as before the lease.
 */
function plantSecondWriter(lab: Lab, oldRegion: string): void {
  lab.tables.dropReplication = (table, key, to) =>
    table === LAB.tables.control &&
    to === oldRegion &&
    key === JSON.stringify({ S: CONTROL.activeRegionItem });
  const flags = lab.tables.table(oldRegion, LAB.tables.control).items;
  const key = JSON.stringify({ S: CONTROL.activeRegionItem });
  const current = flags.get(key);
  if (current?.item) {
    flags.set(key, { ...current, item: { ...current.item, leaseRequired: { BOOL: false } } });
  }
  lab.aurora.writeFencing = false;
  lab.event("lab", `PLANTED FAULT: ${oldRegion} will never be fenced (second writer)`);
}

/** Rows of one region's database: the live server, or its folder started aside on a free port. */
async function readDatabase(lab: Lab, region: string, old: boolean): Promise<DatabaseContents> {
  const r = lab.region(region);
  const snapshot = old ? lab.aurora.snapshots.filter((s) => s.region === region).at(0) : undefined;
  let node: PgNode = r.node;
  let source = "live";
  let aside: PgNode | undefined;
  if (snapshot || !r.node.running) {
    aside = new PgNode({
      name: `${region}-inspect`,
      dataDir: snapshot?.dataDir ?? r.node.options.dataDir,
      port: await freePort(),
      logFile: join(lab.root, `${region}-inspect.log`),
    });
    // No standby.signal is left behind by a kill, and a snapshot is a stopped writer's folder.
    await aside.start();
    node = aside;
    source = snapshot
      ? "point-of-failure snapshot, started aside"
      : "folder of the dead server, started aside";
  }
  const client = new Client({
    connectionString: node.url(LAB.database),
    // Real time on a shared box: the lab process's event loop can run seconds behind.
    connectionTimeoutMillis: 15_000,
  });
  try {
    await client.connect();
    const payments = new Map<string, PaymentRow>();
    const toLab = (d: Date | null) => (d ? lab.clock.toLab(d.getTime()) : 0);
    for (const row of (
      await client.query<{
        id: string;
        merchant_id: string;
        card_token: string;
        status: string;
        captured_minor: string;
        version: number;
        committed: Date | null;
      }>(
        "SELECT id::text, merchant_id, card_token, status, captured_minor::text, version, pg_xact_commit_timestamp(xmin) AS committed FROM payments",
      )
    ).rows) {
      payments.set(row.id, {
        id: row.id,
        merchantId: row.merchant_id,
        cardToken: row.card_token,
        status: row.status,
        capturedMinor: row.captured_minor,
        version: row.version,
        committedAt: toLab(row.committed),
      });
    }
    const events = new Map<string, EventRow>();
    for (const row of (
      await client.query<{
        event_id: string;
        payment_id: string;
        event_type: string;
        origin_region: string;
        committed: Date | null;
      }>(
        "SELECT event_id::text, payment_id::text, event_type, origin_region, pg_xact_commit_timestamp(xmin) AS committed FROM payment_events",
      )
    ).rows) {
      events.set(row.event_id, {
        eventId: row.event_id,
        paymentId: row.payment_id,
        type: row.event_type,
        originRegion: row.origin_region,
        committedAt: toLab(row.committed),
      });
    }
    return { region, source, payments, events };
  } finally {
    await client.end().catch(() => undefined);
    await aside?.stop();
  }
}
