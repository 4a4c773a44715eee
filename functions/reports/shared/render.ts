// The human side of a report: one self-contained HTML page per run (no script, no external
// resource: it opens from S3, a laptop or an e-mail attachment), and the ledger as a table with
// its trend. Pure: data in, HTML out; every value from a run is escaped.
import type { DrillStatus } from "./ledger";
import { drillStatus, newestFirst, rpoVerdict, rtoVerdict, summarize } from "./ledger";
import type { LedgerEntry, ReportStep, RunReport, Targets } from "./model";

export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const esc = escapeHtml;

/** 0.12 -> "120 ms"; 97.34 -> "97.3 s"; 3725 -> "1 h 2 min 5 s". */
export function formatSeconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${Math.round(value * 10) / 10} s`;
  const total = Math.round(value);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h ? `${h} h` : "", m ? `${m} min` : "", s ? `${s} s` : ""].filter(Boolean).join(" ");
}

const COLORS = {
  succeeded: "#2e7d32",
  failed: "#c62828",
  warning: "#ef8f00",
  skipped: "#9e9e9e",
  target: "#c62828",
  goal: "#1565c0",
  rto: "#37474f",
} as const;

const STYLE = `
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1b1f23;background:#fafafa}
main{max-width:1040px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#57606a;font-size:13px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:13px;vertical-align:middle}
.succeeded{background:${COLORS.succeeded}}.failed{background:${COLORS.failed}}.warning{background:${COLORS.warning}}.rejected{background:#6d4c41}.skipped,.unknown{background:${COLORS.skipped}}
.figures{display:flex;gap:12px;flex-wrap:wrap;margin-top:16px}
.figure{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:180px}
.figure b{display:block;font-size:22px}.figure span{font-size:12px;color:#57606a}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #ddd;padding:5px 8px;text-align:left;vertical-align:top}th{background:#f0f2f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:${COLORS.succeeded};font-weight:600}.fail{color:${COLORS.failed};font-weight:600}
.warn{background:#fff8e1;border:1px solid #ffe082;padding:8px 12px;border-radius:6px;margin:4px 0}
pre{background:#fff;border:1px solid #ddd;padding:10px;overflow:auto;font-size:12px}
svg text{font-family:inherit;font-size:11px}
`;

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>
`;
}

function badge(status: string): string {
  return `<span class="badge ${esc(status)}">${esc(status)}</span>`;
}

function figure(value: string, label: string): string {
  return `<div class="figure"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
}

/** Ticks at round intervals over [0, span] seconds. */
function ticks(span: number): number[] {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
  const step = steps.find((s) => span / s <= 8) ?? Math.ceil(span / 8);
  const out: number[] = [];
  for (let t = 0; t <= span + 1e-9; t += step) out.push(t);
  return out;
}

function tickLabel(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round((seconds / 3600) * 10) / 10} h`;
}

/**
 * The per-step timeline as an SVG Gantt chart: one bar per step from its start to its end,
 * coloured by status, with the measured RTO and the goal and target as vertical lines when
 * they fall inside the chart. Steps that never ran are listed without a bar.
 */
export function timelineSvg(
  steps: readonly ReportStep[],
  startedAt: string,
  endedAt: string,
  marks: { rtoSeconds: number | null; targets?: Targets; rtoStartedAt?: string },
): string {
  const t0 = Date.parse(startedAt);
  // The RTO, goal and target lines count from when the RTO clock started.
  // (Before the chart's start for a resumed run, whose clock started in an earlier execution.)
  const offset = marks.rtoStartedAt ? (Date.parse(marks.rtoStartedAt) - t0) / 1000 : 0;
  const timed = steps.filter((s) => s.startedAt && s.endedAt);
  const lastEnd = Math.max(
    Date.parse(endedAt),
    ...timed.map((s) => Date.parse(s.endedAt as string)),
  );
  const actual = Math.max(1, (lastEnd - t0) / 1000);
  // Widen the axis to show the goal or target when the run came close to them.
  const span = Math.max(
    actual,
    ...[marks.targets?.rtoGoalSeconds, marks.targets?.rtoTargetSeconds]
      .filter((v): v is number => v !== undefined)
      .map((v) => v + offset)
      .filter((v) => v >= 0 && v <= actual * 1.5),
  );
  const label = 190;
  const width = 900;
  const plot = width - label - 70;
  const row = 22;
  // Room above the rows for up to three stacked mark labels (RTO, goal, target).
  const top = 48;
  const height = top + steps.length * row + 24;
  const x = (seconds: number) => label + (Math.max(0, seconds) / span) * plot;
  const parts: string[] = [];
  for (const t of ticks(span)) {
    parts.push(
      `<line x1="${x(t).toFixed(1)}" y1="${top - 6}" x2="${x(t).toFixed(1)}" y2="${height - 20}" stroke="#e0e0e0"/>`,
      `<text x="${x(t).toFixed(1)}" y="${height - 6}" text-anchor="middle" fill="#57606a">${esc(tickLabel(t))}</text>`,
    );
  }
  steps.forEach((step, i) => {
    const y = top + i * row;
    parts.push(
      `<text x="${label - 8}" y="${y + 15}" text-anchor="end">${esc(step.name.length > 28 ? `${step.name.slice(0, 27)}…` : step.name)}</text>`,
    );
    if (step.startedAt && step.endedAt) {
      const start = (Date.parse(step.startedAt) - t0) / 1000;
      const duration = (Date.parse(step.endedAt) - Date.parse(step.startedAt)) / 1000;
      const x1 = x(start);
      const w = Math.max(2, x(start + duration) - x1);
      parts.push(
        `<rect x="${x1.toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="${row - 8}" rx="2" fill="${COLORS[step.status]}"><title>${esc(`${step.name}: ${formatSeconds(duration)} (${step.status})${step.detail ? ` ${step.detail}` : ""}`)}</title></rect>`,
        `<text x="${(x1 + w + 4).toFixed(1)}" y="${y + 15}" fill="#57606a">${esc(formatSeconds(duration))}</text>`,
      );
    } else {
      parts.push(
        `<text x="${label + 4}" y="${y + 15}" fill="${COLORS[step.status]}">${esc(step.status === "skipped" ? "did not run" : `${step.status}: no timing recorded`)}</text>`,
      );
    }
  });
  const marksToDraw: Array<{ seconds: number; color: string; text: string; dash: string }> = [];
  if (marks.targets) {
    const { rtoGoalSeconds: goal, rtoTargetSeconds: target } = marks.targets;
    // A goal equal to the target is one line: the target.
    if (goal !== target) {
      marksToDraw.push({ seconds: offset + goal, color: COLORS.goal, text: "goal", dash: "3,3" });
    }
    marksToDraw.push({
      seconds: offset + target,
      color: COLORS.target,
      text: "target",
      dash: "6,3",
    });
  }
  if (marks.rtoSeconds !== null) {
    marksToDraw.push({
      seconds: offset + marks.rtoSeconds,
      color: COLORS.rto,
      text: "RTO",
      dash: "",
    });
  }
  // Labels closer than 40 px stack upwards instead of overprinting each other.
  let previous = -Infinity;
  let level = 0;
  for (const mark of marksToDraw
    .filter((m) => m.seconds >= 0 && m.seconds <= span * 1.02)
    .sort((a, b) => a.seconds - b.seconds)) {
    const at = x(mark.seconds);
    level = at - previous < 40 ? level + 1 : 0;
    previous = at;
    parts.push(
      `<line x1="${at.toFixed(1)}" y1="${top - 10 - level * 12}" x2="${at.toFixed(1)}" y2="${height - 20}" stroke="${mark.color}" stroke-width="1.5" stroke-dasharray="${mark.dash}"/>`,
      `<text x="${at.toFixed(1)}" y="${top - 13 - level * 12}" text-anchor="middle" fill="${mark.color}">${esc(mark.text)}</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="per-step timeline" width="100%" viewBox="0 0 ${width} ${height}" style="background:#fff;border:1px solid #ddd">${parts.join("")}</svg>`;
}

function stepsTable(report: RunReport): string {
  const t0 = Date.parse(report.startedAt);
  const rows = report.steps.map((s) => {
    const start = s.startedAt ? formatSeconds((Date.parse(s.startedAt) - t0) / 1000) : "—";
    const duration =
      s.startedAt && s.endedAt
        ? formatSeconds((Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000)
        : "—";
    return `<tr><td>${esc(s.name)}</td><td>${badge(s.status)}</td><td class="num">+${esc(start)}</td><td class="num">${esc(duration)}</td><td>${esc(s.detail ?? "")}</td></tr>`;
  });
  return `<table><tr><th>Step</th><th>Status</th><th>Started</th><th>Took</th><th>Detail</th></tr>${rows.join("")}</table>`;
}

/** The report of one run as a self-contained HTML page. */
export function renderReportHtml(report: RunReport): string {
  const { targets } = report;
  const duration = (Date.parse(report.endedAt) - Date.parse(report.startedAt)) / 1000;
  const parts: string[] = [];
  parts.push(
    `<h1>${esc(report.title)} ${badge(report.outcome)}</h1>`,
    `<div class="sub">payments-dr ${esc(report.environment)} · ${esc(report.kind)} · run ${esc(report.runId)}${report.groupId && report.groupId !== report.runId ? ` (part of ${esc(report.groupId)})` : ""} · ${esc(report.region)} · ${esc(report.startedAt)} to ${esc(report.endedAt)}</div>`,
    `<p>${esc(report.summary)}</p>`,
    `<div class="figures">`,
    figure(
      formatSeconds(report.rtoSeconds),
      `measured RTO: ${rtoVerdict(report.rtoSeconds, targets)} (goal ${formatSeconds(targets.rtoGoalSeconds)}, target ${formatSeconds(targets.rtoTargetSeconds)})`,
    ),
    figure(
      formatSeconds(report.rpoSeconds),
      `RPO estimate: ${rpoVerdict(report.rpoSeconds, targets)} (target ${formatSeconds(targets.rpoTargetSeconds)})`,
    ),
    figure(formatSeconds(duration), "whole run, start to end"),
    figure(
      `${report.steps.filter((s) => s.status === "failed").length} / ${report.steps.length}`,
      "steps failed / steps",
    ),
    `</div>`,
  );
  if (report.rpoBasis) parts.push(`<p class="sub">RPO: ${esc(report.rpoBasis)}</p>`);
  const warnings = report.warnings ?? [];
  if (warnings.length > 0) {
    parts.push(
      `<h2>Warnings (${warnings.length})</h2>`,
      ...warnings.map((w) => `<div class="warn">${esc(w)}</div>`),
    );
  }
  parts.push(
    `<h2>Timeline</h2>`,
    timelineSvg(report.steps, report.startedAt, report.endedAt, {
      rtoSeconds: report.rtoSeconds,
      targets,
      ...(report.rtoStartedAt ? { rtoStartedAt: report.rtoStartedAt } : {}),
    }),
    stepsTable(report),
  );
  if (report.checks && report.checks.length > 0) {
    const rows = report.checks.map(
      (c) =>
        `<tr><td>${esc(c.name)}</td><td class="${c.passed ? "pass" : "fail"}">${c.passed ? "passed" : "FAILED"}</td><td>${esc(c.expected)}</td><td>${esc(c.actual)}</td><td>${esc(c.basis ?? "")}</td></tr>`,
    );
    parts.push(
      `<h2>Checks</h2>`,
      `<table><tr><th>Check</th><th>Result</th><th>Expected</th><th>Actual</th><th>Expected value comes from</th></tr>${rows.join("")}</table>`,
    );
  }
  if (report.measurements && report.measurements.length > 0) {
    const rows = report.measurements.map((m) => {
      const over = m.limit !== undefined && m.value > m.limit;
      return `<tr><td>${esc(m.name)}</td><td class="num">${esc(m.unit === "s" ? formatSeconds(m.value) : `${m.value} ${m.unit}`)}</td><td class="num">${m.limit === undefined ? "—" : esc(m.unit === "s" ? formatSeconds(m.limit) : `${m.limit} ${m.unit}`)}</td><td class="${over ? "fail" : "pass"}">${m.limit === undefined ? "" : over ? "over limit" : "within limit"}</td></tr>`;
    });
    parts.push(
      `<h2>Measurements</h2>`,
      `<table><tr><th>Measured</th><th>Value</th><th>Limit</th><th></th></tr>${rows.join("")}</table>`,
    );
  }
  if (report.runs && report.runs.length > 0) {
    const rows = report.runs.map(
      (r) =>
        `<tr><td>${esc(r.kind)}</td><td>${esc(r.runId)}</td><td>${esc(r.region)}</td><td>${badge(r.outcome)}</td><td class="num">${esc(formatSeconds(r.rtoSeconds))}</td><td class="num">${esc(formatSeconds(r.rpoSeconds))}</td><td>${r.reportUrl ? link(r.reportUrl, "report") : ""} ${esc(r.detail ?? "")}</td></tr>`,
    );
    parts.push(
      `<h2>Runs started by this ${esc(report.kind)}</h2>`,
      `<table><tr><th>Kind</th><th>Run</th><th>Region</th><th>Outcome</th><th>RTO</th><th>RPO</th><th></th></tr>${rows.join("")}</table>`,
    );
  }
  parts.push(
    `<h2>Triggered by</h2>`,
    `<table><tr><th>Trigger</th><td>${esc(report.trigger.kind)}</td></tr><tr><th>By</th><td>${esc(report.trigger.by ?? "—")}</td></tr><tr><th>Reason</th><td>${esc(report.trigger.reason ?? "—")}</td></tr></table>`,
    `<h2>Configuration it ran with</h2>`,
    `<table>${Object.entries(report.config)
      .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v === null ? "—" : v)}</td></tr>`)
      .join("")}</table>`,
  );
  const links = [
    ...(report.links ?? []),
    { label: "This report (S3)", url: report.location.htmlUri },
    {
      label: "This report as JSON (S3)",
      url: `s3://${report.location.bucket}/${report.location.jsonKey}`,
    },
  ];
  parts.push(
    `<h2>Links</h2>`,
    `<ul>${links.map((l) => `<li>${link(l.url, l.label)}</li>`).join("")}</ul>`,
    `<details><summary>Report data (JSON)</summary><pre>${esc(JSON.stringify(report, null, 2))}</pre></details>`,
    `<p class="sub">Written ${esc(report.writtenAt)} by payments-dr. Times are UTC.</p>`,
  );
  return page(`${report.title}: ${report.outcome}`, parts.join("\n"));
}

function link(url: string, label: string): string {
  // Only https links are clickable; an s3:// URI is shown as text to copy.
  return /^https:\/\//.test(url)
    ? `<a href="${esc(url)}">${esc(label)}</a>`
    : `${esc(label)}: <code>${esc(url)}</code>`;
}

/** RTO of the newest runs as a small SVG line over time, with the target line. */
function sparkline(entries: readonly LedgerEntry[], targets: Targets | undefined): string {
  const points = newestFirst(entries)
    .filter((e) => e.rtoSeconds !== null)
    .slice(0, 24)
    .reverse();
  if (points.length < 2) return "";
  const w = 240;
  const h = 48;
  const top = Math.max(
    ...points.map((p) => p.rtoSeconds as number),
    targets?.rtoTargetSeconds ?? 0,
  );
  const y = (v: number) => h - 4 - (v / top) * (h - 8);
  const path = points
    .map(
      (p, i) =>
        `${i === 0 ? "M" : "L"}${((i / (points.length - 1)) * (w - 8) + 4).toFixed(1)},${y(p.rtoSeconds as number).toFixed(1)}`,
    )
    .join(" ");
  const target = targets
    ? `<line x1="0" x2="${w}" y1="${y(targets.rtoTargetSeconds).toFixed(1)}" y2="${y(targets.rtoTargetSeconds).toFixed(1)}" stroke="${COLORS.target}" stroke-dasharray="4,3"/>`
    : "";
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="RTO over the last runs">${target}<path d="${path}" fill="none" stroke="${COLORS.rto}" stroke-width="1.5"/></svg>`;
}

export interface LedgerView {
  readonly now: Date;
  /** When the ledger began (the deployment): the clock for "no drill yet". */
  readonly since: Date;
  /** Drills older than this many days count as overdue. */
  readonly maxDrillAgeDays: number;
  /** How many runs the table shows. */
  readonly limit: number;
  readonly environment: string;
}

function drillRows(statuses: readonly DrillStatus[], maxAgeDays: number): string {
  return statuses
    .map((d) => {
      const overdue = d.daysSinceSuccess > maxAgeDays;
      const failing = d.lastOutcome === "failed";
      return `<tr><td>${esc(d.kind)}</td><td>${esc(d.lastSuccessAt ?? "never")}</td><td class="num ${overdue ? "fail" : "pass"}">${d.daysSinceSuccess.toFixed(1)} d${overdue ? ` (over ${maxAgeDays})` : ""}</td><td class="${failing ? "fail" : ""}">${esc(d.lastOutcome ?? "no run yet")}</td></tr>`;
    })
    .join("");
}

/**
 * The ledger as an HTML fragment: when each drill last passed, the trend per kind of run, and
 * the newest runs with their RTO and RPO against the targets they ran under. The dashboard's
 * custom widget shows it as is; `renderLedgerPage` wraps it in a page.
 */
export function renderLedgerFragment(entries: readonly LedgerEntry[], view: LedgerView): string {
  const sorted = newestFirst(entries);
  const statuses = drillStatus(sorted, view.now, view.since);
  const summaries = summarize(sorted);
  const rows = sorted.slice(0, view.limit).map((e) => {
    return `<tr><td>${esc(e.endedAt.replace("T", " ").slice(0, 16))}</td><td>${esc(e.kind)}</td><td>${esc(e.region)}</td><td>${badge(e.outcome)}</td><td class="num">${esc(formatSeconds(e.rtoSeconds))}</td><td>${esc(rtoVerdict(e.rtoSeconds, e.targets))}</td><td class="num">${esc(formatSeconds(e.rpoSeconds))}</td><td>${esc(rpoVerdict(e.rpoSeconds, e.targets))}</td><td>${esc(e.trigger)}</td><td>${link(e.consoleUrl, "report")}</td></tr>`;
  });
  const trend = summaries
    .map(
      (s) =>
        `<tr><td>${esc(s.kind)}</td><td class="num">${s.runs}</td><td class="num">${s.failed}</td><td class="num">${esc(formatSeconds(s.medianRtoSeconds))}</td><td class="num">${esc(formatSeconds(s.medianRpoSeconds))}</td><td class="num">${s.overRtoTarget}</td><td class="num">${s.overRpoTarget}</td><td>${esc(s.rtoTrend)}</td><td>${sparkline(
          sorted.filter((e) => e.kind === s.kind),
          s.last?.targets,
        )}</td></tr>`,
    )
    .join("");
  return [
    `<style>${STYLE}</style>`,
    `<h3>Drills (an alarm pages when one failed or none passed in ${view.maxDrillAgeDays} days)</h3>`,
    `<table><tr><th>Drill</th><th>Last passed</th><th>Days since</th><th>Last outcome</th></tr>${drillRows(statuses, view.maxDrillAgeDays)}</table>`,
    `<h3>Trend against the targets (median of the last 3 successful runs)</h3>`,
    summaries.length === 0
      ? `<p>No runs recorded yet.</p>`
      : `<table><tr><th>Kind</th><th>Runs</th><th>Failed</th><th>Median RTO</th><th>Median RPO</th><th>Over RTO target</th><th>Over RPO target</th><th>RTO trend</th><th>RTO, last runs (dashed: target)</th></tr>${trend}</table>`,
    `<h3>Last ${Math.min(view.limit, sorted.length)} runs</h3>`,
    rows.length === 0
      ? `<p>No runs recorded yet.</p>`
      : `<table><tr><th>Ended (UTC)</th><th>Kind</th><th>Region</th><th>Outcome</th><th>RTO</th><th></th><th>RPO</th><th></th><th>Trigger</th><th></th></tr>${rows.join("")}</table>`,
  ].join("\n");
}

export function renderLedgerPage(entries: readonly LedgerEntry[], view: LedgerView): string {
  return page(
    `payments-dr ${view.environment}: DR ledger`,
    `<h1>payments-dr ${esc(view.environment)}: drills and failovers</h1><div class="sub">as of ${esc(view.now.toISOString())}</div>${renderLedgerFragment(entries, view)}`,
  );
}
