// The lab's report: lab-report/<scenario>/report.json (everything measured) and report.html
// (the same, for a person: writes per region over time with the phases, RTO, RPO and the checks;
// self-contained, no script or stylesheet from anywhere).
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { expectedRto } from "./expected";
import type { ExecutionRecord } from "./orchestrator";
import type { ScenarioResult } from "./scenarios";

export interface Phase {
  readonly name: string;
  readonly from: number;
  readonly to: number;
  readonly seconds: number;
}

/**
 * detect, decide, fence, promote, dns: from the completed run's history and the clients. The
 * promote phase runs to the end of Unfence: writes open there (the guard refuses a fenced flag,
 * functions/payments/shared/fencing.ts), so the first payment in the new region comes after it.
 * Each phase is clipped at the recovery (the first payment accepted in the new region), so the
 * serial phases add up to the RTO's span (review 23 L4).
 */
export function phases(result: ScenarioResult): Phase[] {
  const run = result.lab.orchestrator.executions.find((e) => e.status === "SUCCEEDED");
  if (!run) return [];
  const entered = (name: string) => run.states.find((s) => s.name === name)?.enteredAt;
  const exited = (name: string) => run.states.find((s) => s.name === name)?.exitedAt;
  const fence = entered("Fence");
  const promote = entered("Promote") ?? entered("Switchover");
  const opened = exited("Unfence");
  const recovered = result.findings.rto.recoveredAt ?? undefined;
  const clip = (at: number | undefined) =>
    at === undefined || recovered === undefined ? at : Math.min(at, recovered);
  const out: Phase[] = [];
  const add = (name: string, from: number | undefined, to: number | undefined, clipped = true) => {
    const [f, t] = clipped ? [clip(from), clip(to)] : [from, to];
    if (f !== undefined && t !== undefined && t >= f)
      out.push({ name, from: f, to: t, seconds: (t - f) / 1000 });
  };
  add("detect", result.faultAt, run.startedAt);
  add("decide", run.startedAt, fence);
  add("fence", fence, promote);
  add("promote", promote, opened);
  // Clients reach the new region once writes are open and Route 53 sends them there (its
  // /health has answered 200 taking-over since the run's proof): what is left after Unfence.
  add(
    "dns",
    opened,
    recovered === undefined || opened === undefined ? recovered : Math.max(opened, recovered),
  );
  add("workflow", run.startedAt, run.endedAt, false);
  return out;
}

function executionSummary(e: ExecutionRecord, t0: number) {
  return {
    name: e.name,
    workflow: e.workflow,
    region: e.region,
    input: e.input,
    status: e.status,
    endState: e.endState,
    error: e.error,
    cause: e.cause,
    startedAt: (e.startedAt - t0) / 1000,
    endedAt: e.endedAt === undefined ? null : (e.endedAt - t0) / 1000,
    states: e.states.map((s) => ({
      name: s.name,
      enteredAt: +((s.enteredAt - t0) / 1000).toFixed(3),
      exitedAt: s.exitedAt === undefined ? null : +((s.exitedAt - t0) / 1000).toFixed(3),
    })),
    retries: e.retries.map((r) => ({ state: r.state, at: +((r.at - t0) / 1000).toFixed(3) })),
    warnings: e.logs.filter((l) => l.level !== "info").map((l) => l.message),
  };
}

export function buildReport(result: ScenarioResult) {
  const { lab, findings, load } = result;
  const t0 = result.startedAt;
  const rel = (ms: number | null | undefined) =>
    ms === null || ms === undefined ? null : +((ms - t0) / 1000).toFixed(3);
  const config = lab.config;
  const perRegion = (list: { region: string }[]) =>
    Object.fromEntries(
      [...lab.regions.keys()].map((r) => [r, list.filter((x) => x.region === r).length]),
    );
  // Writes per second per region of origin, from both databases (each event once).
  const events = new Map<string, { at: number; region: string }>();
  for (const db of [result.oldPrimary, result.newPrimary]) {
    for (const e of db?.events.values() ?? [])
      events.set(e.eventId, { at: e.committedAt, region: e.originRegion });
  }
  const seconds = Math.ceil((result.endedAt - t0) / 1000) + 1;
  const writes = Object.fromEntries(
    [...lab.regions.keys()].map((r) => {
      const series = new Array<number>(seconds).fill(0);
      for (const e of events.values()) {
        const i = Math.floor((e.at - t0) / 1000);
        if (e.region === r && i >= 0 && i < seconds) series[i]! += 1;
      }
      return [r, series];
    }),
  );
  const failures = new Array<number>(seconds).fill(0);
  for (const a of load.attempts) {
    if (a.status === 0 || a.status >= 500) {
      const i = Math.floor((a.at - t0) / 1000);
      if (i >= 0 && i < seconds) failures[i]! += 1;
    }
  }
  return {
    scenario: config.scenario,
    ok: result.ok,
    generatedAt: new Date().toISOString(),
    settings: {
      fast: config.fast,
      seed: config.seed,
      rate: config.rate,
      captureShare: config.captureShare,
      timings: config.timings,
      regions: { primary: config.primary, secondary: config.secondary },
      note: "All times are lab seconds from the start of the load. At --fast N the modelled AWS timings run N times faster; real durations (a PostgreSQL promotion, an HTTP call) weigh N times more.",
    },
    rto: {
      seconds: findings.rto.seconds,
      expected: expectedRto(config, result.planned),
      firstFailureAt: rel(findings.rto.firstFailureAt),
      firstAcceptedInNewRegionAt: rel(findings.rto.recoveredAt),
      phases: phases(result).map((p) => ({
        name: p.name,
        from: rel(p.from),
        to: rel(p.to),
        seconds: +p.seconds.toFixed(3),
      })),
    },
    rpo: {
      lostPayments: findings.rpo.lostPayments.length,
      lostCaptures: findings.rpo.lostCaptures.length,
      windowSeconds: +findings.rpo.seconds.toFixed(3),
      windowStart: rel(findings.rpo.windowStart),
      windowEnd: rel(findings.rpo.windowEnd),
      commitWindow: findings.rpo.commitWindow && {
        first: rel(findings.rpo.commitWindow.first),
        last: rel(findings.rpo.commitWindow.last),
        seconds: +findings.rpo.commitWindow.seconds.toFixed(3),
      },
      vanished: findings.rpo.vanished.length,
      capturesRefusedForLostPayments: findings.rpo.refusedForLost.length,
      boundSeconds: config.timings.rpoGuardSeconds,
      lost: [...findings.rpo.lostPayments, ...findings.rpo.lostCaptures].map((a) => ({
        op: a.op,
        paymentId: a.paymentId,
        merchantId: a.merchantId,
        amount: a.amount,
        currency: a.currency,
        idempotencyKey: a.key,
        region: a.region,
        acknowledgedAt: rel(a.at),
      })),
    },
    checks: findings.checks,
    // Issue 16: the lost-write reconciliation after an unplanned failover (lab/reconcile.ts).
    reconciliation: result.reconciliation && {
      line: result.reconciliation.line,
      measured: result.reconciliation.measured,
      acknowledgedNotLost: result.reconciliation.acknowledgedNotLost,
      copy: result.reconciliation.copy,
      fork: result.reconciliation.fork,
      dryRun: result.reconciliation.dryRun,
      after: result.reconciliation.after,
      listed: result.reconciliation.listed,
      conflicts: result.reconciliation.conflicts,
      replayedSteps: result.reconciliation.replayedSteps,
      secondReplaySteps: result.reconciliation.secondReplaySteps,
      failures: result.reconciliation.failures,
    },
    singleWriter: {
      oldOnly: findings.forkWrites.oldOnly && {
        ...findings.forkWrites.oldOnly,
        first: rel(findings.forkWrites.oldOnly.first),
        last: rel(findings.forkWrites.oldOnly.last),
      },
      newOnly: findings.forkWrites.newOnly && {
        ...findings.forkWrites.newOnly,
        first: rel(findings.forkWrites.newOnly.first),
        last: rel(findings.forkWrites.newOnly.last),
      },
      conflicts: findings.conflicts,
      forkDuplicates: findings.forkDuplicates,
    },
    faultAt: rel(result.faultAt),
    endedAt: rel(result.endedAt),
    writer: {
      before: config.scenario === "failback" ? config.secondary : config.primary,
      after: result.writerRegion,
      finalFlag: result.finalFlag,
    },
    databases: {
      newPrimary: {
        region: result.newPrimary.region,
        source: result.newPrimary.source,
        payments: result.newPrimary.payments.size,
        events: result.newPrimary.events.size,
      },
      oldPrimary: result.oldPrimary && {
        region: result.oldPrimary.region,
        source: result.oldPrimary.source,
        payments: result.oldPrimary.payments.size,
        events: result.oldPrimary.events.size,
      },
      snapshots: lab.aurora.snapshots.map((s) => ({ region: s.region, at: rel(s.at) })),
    },
    load: {
      attempts: load.attempts.length,
      failedAttempts: load.attempts.filter((a) => a.status === 0 || a.status >= 500).length,
      acknowledged: load.acks.length,
      acknowledgedPerRegion: perRegion(load.acks),
      abandoned: load.abandoned.length,
      // The clients' backlog: queued behind their in-flight limit and never sent.
      unsent: load.unsent.length,
      unexpected: load.unexpected.length,
      failuresByCode: load.attempts.reduce<Record<string, number>>((acc, a) => {
        if (a.status === 0 || a.status >= 500)
          acc[`${a.status} ${a.code ?? ""}`.trim()] =
            (acc[`${a.status} ${a.code ?? ""}`.trim()] ?? 0) + 1;
        return acc;
      }, {}),
    },
    series: { writesPerSecond: writes, failedAttemptsPerSecond: failures },
    surge: result.surge ? surgeSection(result.surge, result.targetRegion, rel) : null,
    executions: lab.orchestrator.executions.map((e) => executionSummary(e, t0)),
    // The payment functions' timeouts as the lab enforced them (real ms) and the invocations that
    // ran into one (each a 500 from API Gateway), per region and function.
    functionTimeouts: lab.functionTimeoutReport(),
    // The write path the settle times were derived from (lab/write-path.ts) and the budgets each
    // region's handlers reported running with: real ms, settles in lab seconds.
    writePath: {
      counted: lab.writeBounds.handlerBudgets,
      deployed: Object.fromEntries(lab.handlerBudgets),
      fenceSettleSeconds: lab.writeBounds.fenceSettleSeconds,
      leaseSettleSeconds: lab.writeBounds.leaseSettleSeconds,
    },
    // The peer lease's term the handlers judged by (lab s, floored in real time in fast mode) and
    // every write refused on it, with the renewal age the guard saw (check lease-held-while-renewed).
    lease: {
      seconds: lab.writeBounds.leaseSeconds,
      lapses: lab.leaseLapses.map((l) => ({ ...l, at: rel(l.at) })),
    },
    aurora: {
      draws: lab.aurora.draws,
      promotions: lab.aurora.promotions.map((p) => ({ ...p, at: rel(p.at) })),
      // The promoted writer's restart: when it refused connections, drawn and measured (lab s).
      writerRestarts: lab.aurora.outages.map((o) => ({
        region: o.region,
        kind: o.kind,
        from: rel(o.from),
        to: o.to === undefined ? null : rel(o.to),
        // The restart is the tail of the drawn operation (lab/world/aurora.ts): the restart's
        // draw (from --restart, cut at the operation), the window left of it when the server
        // stopped (shorter when the promotion ran late), the operation's draw, and the measured
        // window, which a slow real start lengthens in fast mode.
        drawnSeconds: o.drawnMs / 1000,
        drawnFromSeconds: o.drawnFromMs.map((ms) => ms / 1000),
        // --restart's top was above the operation's drawn length: the draw came from a range cut
        // at the operation (the restart is inside it, never longer).
        cutAtOperation: o.drawnFromMs[1] < lab.aurora.options.timings.promotionOutageMs[1],
        windowSeconds: o.windowMs / 1000,
        operationSeconds: o.operationMs / 1000,
        measuredSeconds: o.to === undefined ? null : +((o.to - o.from) / 1000).toFixed(3),
      })),
      events: lab.aurora.events.map((e) => ({ ...e, at: rel(e.at) })),
      rpoGuard: lab.aurora.guardIntervals.map((g) => ({
        region: g.region,
        from: rel(g.from),
        to: rel(g.to),
      })),
    },
    route53: {
      healthChanges: lab.route53.history.map((h) => ({ ...h, at: rel(h.at) })),
      recordChanges: lab.route53.recordChanges.map((h) => ({ ...h, at: rel(h.at) })),
      failedChecks: lab.route53.failedChecks.map((h) => ({ ...h, at: rel(h.at) })),
    },
    alarm: lab.alarm.transitions.map((x) => ({ ...x, at: rel(x.at) })),
    // Every probe the prober published: the evidence behind the alarm's transitions.
    probes: lab.proberResults.map((p) => ({ ...p, at: rel(p.at) })),
    pages: lab.pages.map((p) => ({ region: p.region, at: rel(p.at), subject: p.subject })),
    timeline: lab.timeline.map((e) => ({ at: rel(e.at), kind: e.kind, message: e.message })),
  };
}

/** The surge's figures and its series over time (lab seconds from the start of the load). */
function surgeSection(
  surge: NonNullable<ScenarioResult["surge"]>,
  target: string,
  rel: (ms: number | null) => number | null,
) {
  const f = surge.figures;
  return {
    targetRegion: target,
    budget: {
      maxConnections: f.budget.maxConnections,
      planted: f.budget.planted,
      safe: f.budget.safe,
      worstCase: f.budget.demand,
      sharePercent: f.budget.sharePercent,
      scale: f.budget.scale,
      instanceClass: f.budget.instanceClass,
      production: {
        writerRegion: f.budget.production.writerRegion,
        maxConnections: f.budget.production.maxConnections,
        safe: f.budget.production.safe,
        worstCase: f.budget.production.demand,
      },
      lines: f.budget.lines,
    },
    peakConnections: { ...f.peakConnections, at: rel(f.peakConnections.at) },
    refused: f.refusals.length,
    refusedByCode: f.refusalsByCode,
    refusedByClass: f.refusalsByClass,
    refusedByFunction: f.refusedByFunction,
    tooManyRequests: f.tooManyRequests,
    unanswered: f.unanswered,
    refusals: f.refusals.slice(0, 50).map((r) => ({ ...r, at: rel(r.at) })),
    throttled: f.throttled,
    peakInFlight: f.peakInFlight,
    peakPoolWaiting: f.peakPoolWaiting,
    peakClients: f.peakClients,
    serverErrors: f.serverErrors,
    labLoopDelay: f.labLoopDelay,
    series: {
      // One row per sample of the target's server: connections, the API's requests in flight
      // (peak since the previous sample), callers waiting for a pool slot.
      newWriter: surge.samples
        .filter((x) => x.region === target)
        .map((x) => ({
          at: rel(x.at),
          writer: x.writer,
          connections: x.connections,
          clientBackends: x.clientBackends,
          inFlight: x.api?.peak ?? null,
          poolWaiting: x.api?.pools.waiting ?? null,
        })),
      clients: surge.clients.map((c) => ({
        at: rel(c.at),
        payments: c.payments,
        requests: c.requests,
        queued: c.queued,
        labLoopDelayMs: c.loopDelayMs,
      })),
    },
  };
}

export type Report = ReturnType<typeof buildReport>;

const LAB_ENVIRONMENTS_NOTE = "peaks per function, each against the environments the lab plays";

const escape = (s: unknown) =>
  String(s).replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!,
  );

const COLORS = ["#2563eb", "#16a34a", "#dc2626"];
const PHASE_COLORS: Record<string, string> = {
  detect: "#fde68a",
  decide: "#fbcfe8",
  fence: "#c7d2fe",
  promote: "#bbf7d0",
  dns: "#bae6fd",
};

export function renderHtml(report: Report): string {
  const regions = Object.keys(report.series.writesPerSecond);
  const series = [
    ...regions.map((r, i) => ({
      label: `writes committed by ${r}`,
      color: COLORS[i]!,
      values: report.series.writesPerSecond[r]!,
    })),
    {
      label: "failed client attempts",
      color: COLORS[2]!,
      values: report.series.failedAttemptsPerSecond,
    },
  ];
  const n = Math.max(...series.map((s) => s.values.length), 1);
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const W = 960;
  const H = 300;
  const left = 40;
  const bottom = 30;
  const x = (sec: number) => left + (sec / n) * (W - left - 10);
  const y = (v: number) => H - bottom - (v / max) * (H - bottom - 20);
  const bands = report.rto.phases
    .filter((p) => PHASE_COLORS[p.name] && p.from !== null && p.to !== null)
    .map(
      (p) =>
        `<rect x="${x(p.from!)}" y="10" width="${Math.max(1, x(p.to!) - x(p.from!))}" height="${H - bottom - 10}" fill="${PHASE_COLORS[p.name]}" opacity="0.6"><title>${escape(p.name)} ${p.seconds} s</title></rect><text x="${x(p.from!) + 2}" y="22" font-size="11">${escape(p.name)}</text>`,
    )
    .join("");
  const lines = series
    .map((s) => {
      const points = s.values
        .map((v, i) => `${x(i + 0.5).toFixed(1)},${y(v).toFixed(1)}`)
        .join(" ");
      return `<polyline fill="none" stroke="${s.color}" stroke-width="1.8" points="${points}"/>`;
    })
    .join("");
  const fault =
    report.faultAt === null
      ? ""
      : `<line x1="${x(report.faultAt)}" x2="${x(report.faultAt)}" y1="10" y2="${H - bottom}" stroke="#000" stroke-dasharray="4 3"/><text x="${x(report.faultAt) + 3}" y="${H - bottom - 4}" font-size="11">fault</text>`;
  const ticks = Array.from({ length: Math.floor(n / 10) + 1 }, (_, i) => i * 10)
    .map(
      (s) =>
        `<line x1="${x(s)}" x2="${x(s)}" y1="${H - bottom}" y2="${H - bottom + 4}" stroke="#555"/><text x="${x(s)}" y="${H - 8}" font-size="10" text-anchor="middle">${s}s</text>`,
    )
    .join("");
  const legend = series
    .map((s) => `<span style="color:${s.color}">&#9632;</span> ${escape(s.label)}`)
    .join(" &nbsp; ");
  const row = (cells: unknown[]) =>
    `<tr>${cells.map((c) => `<td>${escape(c)}</td>`).join("")}</tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>payments-dr lab: ${escape(report.scenario)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px;max-width:1000px;color:#111}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}.ok{color:#15803d;font-weight:600}.fail{color:#b91c1c;font-weight:600}code{background:#f3f4f6;padding:1px 4px}</style></head>
<body>
<h1>payments-dr lab: ${escape(report.scenario)} <span class="${report.ok ? "ok" : "fail"}">${report.ok ? "PASSED" : "FAILED"}</span></h1>
<p>Generated ${escape(report.generatedAt)}; seed <code>${report.settings.seed}</code>; ${report.settings.fast === 1 ? "production timings" : `fast factor ${report.settings.fast}`}; ${report.settings.rate} payments/s. ${escape(report.settings.note)}</p>
<h2>RTO ${report.rto.seconds === null ? "not reached" : `${report.rto.seconds.toFixed(1)} s`} &middot; RPO ${report.rpo.lostPayments + report.rpo.lostCaptures} writes lost, window ${report.rpo.windowSeconds.toFixed(1)} s</h2>
<svg width="${W}" height="${H}" role="img" aria-label="writes per second per region">${bands}<line x1="${left}" x2="${W - 10}" y1="${H - bottom}" y2="${H - bottom}" stroke="#555"/><text x="4" y="${y(max)}" font-size="10">${max}/s</text>${ticks}${fault}${lines}</svg>
<p>${legend}</p>
<h3>Phases</h3><table><tr><th>phase</th><th>from (s)</th><th>to (s)</th><th>seconds</th></tr>${report.rto.phases.map((p) => row([p.name, p.from, p.to, p.seconds])).join("")}</table>
${report.surge ? surgeHtml(report.surge) : ""}
<h3>Checks</h3><table><tr><th>check</th><th>result</th><th>detail</th></tr>${report.checks.map((c) => `<tr><td>${escape(c.name)}</td><td class="${c.ok ? "ok" : "fail"}">${c.ok ? "ok" : "FAILED"}</td><td>${escape(c.detail)}</td></tr>`).join("")}</table>
${report.reconciliation ? `<h3>Lost-write reconciliation</h3><p><strong>${escape(report.reconciliation.line)}</strong> (${escape(acknowledgedSplit(report.reconciliation.measured))}; ${escape(report.reconciliation.copy)}); finance's files: <code>lost.csv</code>, <code>lost.json</code> beside this report.</p>${report.reconciliation.conflicts.length === 0 ? "" : `<table><tr><th>conflict</th><th>reason</th></tr>${report.reconciliation.conflicts.map((c) => row([c.paymentId, c.reason])).join("")}</table>`}` : ""}
<h3>Lost acknowledged writes (RPO)</h3>${report.rpo.lost.length === 0 ? "<p>none</p>" : `<table><tr><th>op</th><th>payment</th><th>merchant</th><th>amount</th><th>acknowledged at (s)</th><th>by</th></tr>${report.rpo.lost.map((l) => row([l.op, l.paymentId, l.merchantId, `${l.amount} ${l.currency}`, l.acknowledgedAt, l.region])).join("")}</table>`}
<h3>Workflow runs</h3>${report.executions.map((e) => `<p><b>${escape(e.name)}</b> ${escape(e.workflow)} in ${escape(e.region)}: ${escape(e.status)} at ${escape(e.endState)}${e.error ? ` (${escape(e.error)})` : ""}</p><table><tr><th>state</th><th>entered (s)</th><th>exited (s)</th></tr>${e.states.map((s) => row([s.name, s.enteredAt, s.exitedAt ?? ""])).join("")}</table>`).join("")}
<h3>Load</h3><table>${row(["attempts", report.load.attempts])}${row(["failed attempts", report.load.failedAttempts])}${row(["acknowledged", report.load.acknowledged])}${Object.entries(
    report.load.acknowledgedPerRegion,
  )
    .map(([r, c]) => row([`acknowledged by ${r}`, c]))
    .join(
      "",
    )}${row(["abandoned", report.load.abandoned])}${row(["never sent (the clients' backlog)", report.load.unsent])}${Object.entries(
    report.load.failuresByCode,
  )
    .map(([k, c]) => row([`failures ${k}`, c]))
    .join("")}</table>
<h3>Timeline</h3><table><tr><th>at (s)</th><th>what</th><th></th></tr>${report.timeline.map((e) => row([e.at, e.kind, e.message])).join("")}</table>
</body></html>
`;
}

function surgeHtml(surge: NonNullable<Report["surge"]>): string {
  const rows = surge.series.newWriter;
  const clients = surge.series.clients;
  const W = 960;
  const H = 220;
  const end = Math.max(1, ...rows.map((r) => r.at ?? 0), ...clients.map((c) => c.at ?? 0));
  const top = Math.max(
    surge.budget.safe,
    ...rows.map((r) => r.connections),
    ...clients.map((c) => c.queued),
  );
  const x = (t: number | null) => 40 + ((t ?? 0) / end) * (W - 50);
  const y = (v: number) => H - 20 - (v / top) * (H - 40);
  const line = (points: [number | null, number][], color: string) =>
    `<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}"/>`;
  const limit = (v: number, label: string) =>
    `<line x1="40" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#b91c1c" stroke-dasharray="5 4"/><text x="44" y="${y(v) - 3}" font-size="10">${escape(label)} ${v}</text>`;
  return `<h3>Surge on ${escape(surge.targetRegion)}</h3>
<svg width="${W}" height="${H}" role="img" aria-label="connections and queueing over time">${limit(surge.budget.safe, "safe share")}${surge.budget.maxConnections <= top ? limit(surge.budget.maxConnections, "max_connections") : ""}${line(
    rows.map((r) => [r.at, r.connections]),
    "#2563eb",
  )}${line(
    rows.map((r) => [r.at, r.inFlight ?? 0]),
    "#16a34a",
  )}${line(
    clients.map((c) => [c.at, c.queued]),
    "#9333ea",
  )}</svg>
<p><span style="color:#2563eb">&#9632;</span> payment-function connections (pg_stat_activity) &nbsp; <span style="color:#16a34a">&#9632;</span> requests in flight at the API &nbsp; <span style="color:#9333ea">&#9632;</span> payments queued at the clients</p>
<table><tr><td>max_connections</td><td>${surge.budget.maxConnections}${surge.budget.planted ? " (planted)" : ` = ${surge.budget.production.maxConnections} (${escape(surge.budget.instanceClass)}) x ${surge.budget.scale.lab}/${surge.budget.scale.production}`}</td></tr>
<tr><td>worst case / safe share</td><td>${surge.budget.worstCase} / ${surge.budget.safe}</td></tr>
<tr><td>peak connections</td><td>${surge.peakConnections.value} at ${surge.peakConnections.at ?? "-"} s</td></tr>
<tr><td>refused</td><td>${surge.refused} ${escape(JSON.stringify(surge.refusedByCode))} by class ${escape(JSON.stringify(surge.refusedByClass))} by function ${escape(JSON.stringify(surge.refusedByFunction))}</td></tr>
<tr><td>5xx</td><td>${escape(JSON.stringify(surge.serverErrors))}</td></tr>
<tr><td>unanswered (new region)</td><td>${escape(JSON.stringify(surge.unanswered))}</td></tr>
<tr><td>429 (stage throttle)</td><td>${escape(JSON.stringify(surge.tooManyRequests))}</td></tr>
<tr><td>peak in flight / waiting for a pool slot</td><td>${surge.peakInFlight.requests} / ${surge.peakPoolWaiting}</td></tr>
<tr><td>clients: payments in flight / queued (peak)</td><td>${surge.peakClients.payments} / ${surge.peakClients.queued}</td></tr>
<tr><td>lab process event-loop delay p99 / max</td><td>${surge.labLoopDelay.p99Ms} / ${surge.labLoopDelay.maxMs} ms</td></tr></table>`;
}

export function writeReport(
  result: ScenarioResult,
  outDir: string,
): { json: string; html: string; report: Report } {
  const report = buildReport(result);
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const json = join(dir, "report.json");
  const html = join(dir, "report.html");
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(html, renderHtml(report));
  const finance = result.reconciliation?.finance;
  if (finance) {
    writeFileSync(join(dir, "lost.csv"), finance.csv);
    writeFileSync(join(dir, "lost.json"), `${JSON.stringify(finance.json, null, 2)}\n`);
  }
  return { json, html, report };
}

/** The enforced timeouts and the invocations that ran into them, for the summary. */
function timeoutLine(
  timeouts: Record<string, Record<string, { enforcedMs: number; timedOut: number }>>,
): string {
  const enforced = new Set(
    Object.values(timeouts).flatMap((fns) => Object.values(fns).map((f) => f.enforcedMs)),
  );
  const hits = Object.entries(timeouts).flatMap(([region, fns]) =>
    Object.entries(fns)
      .filter(([, f]) => f.timedOut > 0)
      .map(([name, f]) => `${f.timedOut} ${name} in ${region}`),
  );
  return `enforced ${[...enforced].map((ms) => `${ms} ms`).join(" / ")} real; ${hits.length ? `timed out (500 from API Gateway): ${hits.join(", ")}` : "none timed out"}`;
}

export function summary(report: Report): string {
  const lines = [
    "",
    `${report.scenario}: ${report.ok ? "PASSED" : "FAILED"} (seed ${report.settings.seed}, ${report.settings.fast === 1 ? "production timings" : `fast x${report.settings.fast}`})`,
    `  RTO ${report.rto.seconds === null ? "not reached" : `${report.rto.seconds.toFixed(1)} s`} (first failed payment -> first payment accepted in ${report.writer.after}); expected ${report.rto.expected.seconds.toFixed(0)} s (${report.rto.expected.phases.map((p: { name: string; seconds: number }) => `${p.name} ${p.seconds}`).join(", ")})`,
    ...report.rto.phases.map(
      (p) => `    ${p.name.padEnd(9)} ${p.seconds.toFixed(1).padStart(6)} s`,
    ),
    `  RPO ${report.rpo.lostPayments} payments and ${report.rpo.lostCaptures} captures lost, acknowledged over ${report.rpo.windowSeconds.toFixed(1)} s, committed by the old primary over ${report.rpo.commitWindow ? `${report.rpo.commitWindow.seconds.toFixed(1)} s` : "-"} (bound ${report.rpo.boundSeconds} s rds.global_db_rpo)`,
    `  single writer: ${report.checks.find((c) => c.name === "single-writer")?.detail ?? "-"}`,
    ...report.aurora.writerRestarts.map(
      (r) =>
        `  new writer ${r.region} restarted into its role (${r.kind}): refused connections for ${r.to === null || r.from === null ? "-" : `${(r.to - r.from).toFixed(1)} s`} (drawn ${r.drawnSeconds.toFixed(1)} s from ${r.drawnFromSeconds.map((s) => s.toFixed(1)).join("-")} s${r.cutAtOperation ? ", --restart cut at the operation" : ""}, window ${r.windowSeconds.toFixed(1)} s, the tail of a drawn ${r.operationSeconds.toFixed(1)} s ${r.kind})`,
    ),
    ...(report.surge
      ? [
          `  surge on ${report.surge.targetRegion}: peak ${report.surge.peakConnections.value} connections (worst case ${report.surge.budget.worstCase}, safe ${report.surge.budget.safe}, max_connections ${report.surge.budget.maxConnections}); refused ${report.surge.refused}${report.surge.refused ? ` (${JSON.stringify(report.surge.refusedByCode)}; by class ${JSON.stringify(report.surge.refusedByClass)}; by function ${JSON.stringify(report.surge.refusedByFunction)})` : ""}; 5xx ${JSON.stringify(report.surge.serverErrors)}; unanswered in ${report.surge.targetRegion} ${JSON.stringify(report.surge.unanswered)}; 429 ${JSON.stringify(report.surge.tooManyRequests)}`,
          `    in flight: ${report.surge.peakInFlight.requests} requests at the API (${Object.entries(
            report.surge.peakInFlight.perFunction,
          )
            .map(([k, v]) => `${k} ${v}`)
            .join(
              ", ",
            )}; ${LAB_ENVIRONMENTS_NOTE}), ${report.surge.peakPoolWaiting} waiting for a pool slot; clients: ${report.surge.peakClients.payments} payments, ${report.surge.peakClients.queued} queued at most; lab process event-loop delay p99 ${report.surge.labLoopDelay.p99Ms} ms, max ${report.surge.labLoopDelay.maxMs} ms`,
        ]
      : []),
    `  function timeouts: ${timeoutLine(report.functionTimeouts)}`,
    ...report.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`),
    // Issue 16: the report ends with the reconciliation's counts (unplanned scenarios).
    ...(report.reconciliation
      ? [
          `  reconciliation: ${report.reconciliation.line} (${acknowledgedSplit(report.reconciliation.measured)})`,
        ]
      : []),
  ];
  return lines.join("\n");
}

/**
 * How many of the lost payments clients were told succeeded (issue 16): finance calls those
 * first; the others were committed but never confirmed, yet their events may have gone out.
 */
export function acknowledgedSplit(measured: {
  readonly lost: number;
  readonly acknowledged: number;
  readonly unacknowledged: number;
  readonly plantedConflicts: number;
}): string {
  return `${measured.acknowledged} of the ${measured.lost} lost acknowledged to clients, ${measured.unacknowledged} never acknowledged; ${measured.plantedConflicts} conflict planted`;
}
