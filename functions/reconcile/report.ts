// The reconciliation report, per incident: JSON and CSV for finance (one row per lost payment),
// a summary (count, totals by currency, time window), and a run report for the report writer
// and the DR ledger (functions/reports), stored beside the failover's own report. Pure, except
// `storeReconciliation`, which takes the stores as ports.
import type { ReportLocation, RunReportInput } from "../reports/shared/model";
import { reportLocation } from "../reports/shared/model";
import type { ReportStore } from "../reports/shared/ports";
import { exponentOf } from "../payments/shared/payment";
import type { LostPayment, Reconciliation } from "./model";

export interface CurrencyTotals {
  readonly payments: number;
  /** Minor units, as the old primary had them. */
  readonly authorized: number;
  readonly captured: number;
  readonly refunded: number;
}

export interface ReconciliationSummary {
  /** Lost payments (any write the new primary lacks). */
  readonly lost: number;
  /** Accounted for: restored by a replay, or listed for a human with the reason. */
  readonly reconciled: number;
  readonly replayed: number;
  readonly conflicts: number;
  /** Replayable, not replayed yet (a dry run, or replay failures). */
  readonly pending: number;
  /** Idempotency records lost without a payment change (recorded refusals). */
  readonly lostRecords: number;
  readonly byCurrency: Readonly<Record<string, CurrencyTotals>>;
  /** First and last commit of a lost write on the old primary; null when nothing was lost. */
  readonly window: { readonly from: string; readonly to: string } | null;
  /** Seconds of commits lost after the fork: the incident's measured data loss. */
  readonly lossSeconds: number | null;
}

export function summarize(reconciliation: Reconciliation): ReconciliationSummary {
  const { lost } = reconciliation;
  const count = (o: LostPayment["outcome"]) => lost.filter((l) => l.outcome === o).length;
  const byCurrency: Record<string, CurrencyTotals> = {};
  for (const l of lost) {
    const t = byCurrency[l.currency] ?? { payments: 0, authorized: 0, captured: 0, refunded: 0 };
    byCurrency[l.currency] = {
      payments: t.payments + 1,
      authorized: t.authorized + l.amount,
      captured: t.captured + l.capturedAmount,
      refunded: t.refunded + l.refundedAmount,
    };
  }
  const times = lost.flatMap((l) => l.changes.map((c) => c.committedAt)).sort();
  const window = times.length > 0 ? { from: times[0]!, to: times[times.length - 1]! } : null;
  const fork = reconciliation.fork.lastReplicatedAt ?? reconciliation.fork.failoverAt;
  const replayed = count("replayed");
  const conflicts = count("conflict");
  return {
    lost: lost.length,
    reconciled: replayed + conflicts,
    replayed,
    conflicts,
    pending: count("replayable"),
    lostRecords: reconciliation.lostRecords.length,
    byCurrency,
    window,
    lossSeconds: window ? Math.max(0, (Date.parse(window.to) - Date.parse(fork)) / 1000) : null,
  };
}

/** The one line every surface prints (the lab checks it too). */
export function summaryLine(summary: ReconciliationSummary): string {
  return `lost ${summary.lost}, reconciled ${summary.reconciled}, replayed ${summary.replayed}, conflicts ${summary.conflicts}`;
}

/** Minor units as a decimal amount of the currency ("12.34 USD"): finance reads this column. */
export function major(amount: number, currency: string): string {
  const exponent = exponentOf(currency);
  if (exponent === 0) return String(amount);
  const text = String(amount).padStart(exponent + 1, "0");
  return `${text.slice(0, -exponent)}.${text.slice(-exponent)}`;
}

export const CSV_COLUMNS = [
  "payment_id",
  "merchant_id",
  "amount_minor",
  "amount",
  "currency",
  "state",
  "captured_minor",
  "refunded_minor",
  "idempotency_key",
  "committed_at",
  "new_primary_has",
  "outcome",
  "reason",
  "lost_changes",
  "invalidated_event_ids",
] as const;

/**
 * RFC 4180 quoting, and a leading ' on text that a spreadsheet would run as a formula (an
 * idempotency key is the merchant's free text: "=HYPERLINK(...)" must stay text). OWASP, "CSV
 * Injection".
 */
export function csvCell(value: string | number | null): string {
  let text = value === null ? "" : String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function financeCsv(reconciliation: Reconciliation): string {
  const rows = reconciliation.lost.map((l) =>
    [
      l.paymentId,
      l.merchantId,
      l.amount,
      major(l.amount, l.currency),
      l.currency,
      l.status,
      l.capturedAmount,
      l.refundedAmount,
      l.idempotencyKey,
      l.committedAt,
      l.newPrimaryHas,
      l.outcome,
      l.reason ?? null,
      l.changes.map((c) => `${c.type} v${c.version} ${c.amount} (${c.state})`).join("; "),
      l.invalidatedEventIds.join(" "),
    ]
      .map(csvCell)
      .join(","),
  );
  return `${[CSV_COLUMNS.join(","), ...rows].join("\r\n")}\r\n`;
}

/** The JSON document: summary, fork, checks, every lost payment and record. No card tokens. */
export function financeJson(reconciliation: Reconciliation, extra: Record<string, unknown> = {}) {
  return {
    schemaVersion: 1,
    summary: summarize(reconciliation),
    fork: reconciliation.fork,
    checks: reconciliation.checks,
    lost: reconciliation.lost,
    lostRecords: reconciliation.lostRecords,
    ...extra,
  };
}

export interface ReconcileRunContext {
  /** Unique per reconciliation run: `reconcile-<timestamp>`. */
  readonly runId: string;
  /** The new primary's region: where the report is stored. */
  readonly region: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly mode: "dry-run" | "replay";
  /** Who ran it (IAM principal, operator), when known. */
  readonly by: string | null;
  readonly reason: string;
  readonly failures?: number;
  readonly links?: readonly { label: string; url: string }[];
}

/** The run report the writer stores as JSON and HTML and indexes in the ledger (kind "reconcile"). */
export function reconcileRunReport(
  reconciliation: Reconciliation,
  context: ReconcileRunContext,
): RunReportInput {
  const summary = summarize(reconciliation);
  const { fork, checks } = reconciliation;
  const failures = context.failures ?? 0;
  const warnings = [
    ...reconciliation.lost
      .filter((l) => l.outcome === "conflict")
      .slice(0, 50)
      .map(
        (l) =>
          `Conflict, not replayed: payment ${l.paymentId} (${l.merchantId}, ${major(l.amount, l.currency)} ${l.currency}): ${l.reason}`,
      ),
    ...(summary.pending > 0
      ? [`${summary.pending} lost payment(s) can be replayed: payments-dr reconcile --replay`]
      : []),
    ...(failures > 0
      ? [`${failures} replay step(s) failed; run the replay again (it resumes)`]
      : []),
  ];
  const currencies = Object.entries(summary.byCurrency)
    .map(([c, t]) => `${major(t.authorized, c)} ${c}`)
    .join(", ");
  return {
    kind: "reconcile",
    runId: context.runId,
    ...(fork.failoverRunId ? { groupId: fork.failoverRunId } : {}),
    region: context.region,
    title: `Lost-write reconciliation after the failover from ${fork.oldRegion} (${context.mode})`,
    outcome: failures > 0 ? "failed" : "succeeded",
    summary: `${summaryLine(summary)}${summary.pending > 0 ? `, pending ${summary.pending}` : ""}${currencies ? `; lost authorizations: ${currencies}` : ""}.`,
    startedAt: context.startedAt,
    endedAt: context.endedAt,
    trigger: { kind: "operator", by: context.by, reason: context.reason },
    rtoSeconds: null,
    rpoSeconds: summary.lossSeconds,
    rpoBasis:
      "measured: from the fork (the newest old-primary commit the promoted cluster held) to the last lost commit found in the old primary's point-of-failure copy",
    steps: [
      {
        name: "Reconcile",
        startedAt: context.startedAt,
        endedAt: context.endedAt,
        status: failures > 0 ? "failed" : "succeeded",
      },
    ],
    checks: [
      {
        name: "The copy reaches the fork",
        expected: `at or after ${fork.lastReplicatedAt ?? fork.failoverAt}`,
        actual: `${checks.copyEnd ?? "no rows"} (heartbeat ${checks.copyHeartbeatAt ?? "none"})`,
        passed: true,
        basis: "a copy that ends before the fork would hide lost writes; the run refuses it",
      },
      {
        name: "The copy holds what the new primary received from the old one",
        expected: `every ${fork.oldRegion} row of the new primary from ${checks.scanFrom} to the fork`,
        actual: `${checks.overlapRows} row(s), all present`,
        passed: true,
        basis: "a truncated copy fails here instead of reporting nothing lost",
      },
    ],
    measurements: [
      { name: "lost", value: summary.lost, unit: "count" },
      { name: "reconciled", value: summary.reconciled, unit: "count" },
      { name: "replayed", value: summary.replayed, unit: "count" },
      { name: "conflicts", value: summary.conflicts, unit: "count" },
      { name: "pending", value: summary.pending, unit: "count" },
      { name: "lostRecords", value: summary.lostRecords, unit: "count" },
    ],
    warnings,
    config: {
      mode: context.mode,
      oldRegion: fork.oldRegion,
      oldCluster: fork.oldCluster,
      lastReplicatedAt: fork.lastReplicatedAt,
      failoverAt: fork.failoverAt,
      failoverRunId: fork.failoverRunId ?? null,
      snapshot: fork.snapshot ?? null,
      scanFrom: checks.scanFrom,
      commitTimestamps: checks.commitTimestamps,
    },
    ...(context.links && context.links.length > 0 ? { links: context.links } : {}),
  };
}

export interface StoredReconciliation {
  readonly csvUri: string;
  readonly jsonUri: string;
  readonly report: ReportLocation;
}

/**
 * Stores the finance CSV and JSON beside the run report (same bucket, same prefix), then hands
 * the run report to the writer, which stores it and its ledger row. The CSV and JSON are written
 * first: the report links them.
 */
export async function storeReconciliation(
  reconciliation: Reconciliation,
  context: ReconcileRunContext,
  deps: {
    readonly bucket: string;
    readonly store: ReportStore;
    readonly submit: (report: RunReportInput) => Promise<ReportLocation>;
    readonly extra?: Record<string, unknown>;
  },
): Promise<StoredReconciliation> {
  const location = reportLocation(
    deps.bucket,
    context.region,
    "reconcile",
    context.runId,
    context.startedAt,
  );
  const base = location.jsonKey.replace(/\.json$/, "");
  const csvKey = `${base}.lost.csv`;
  const jsonKey = `${base}.lost.json`;
  await deps.store.put(csvKey, financeCsv(reconciliation), "text/csv; charset=utf-8");
  await deps.store.put(
    jsonKey,
    `${JSON.stringify(financeJson(reconciliation, deps.extra), null, 2)}\n`,
    "application/json",
  );
  const csvUri = `s3://${deps.bucket}/${csvKey}`;
  const jsonUri = `s3://${deps.bucket}/${jsonKey}`;
  const report = await deps.submit(
    reconcileRunReport(reconciliation, {
      ...context,
      links: [
        ...(context.links ?? []),
        { label: "Lost payments (CSV, for finance)", url: csvUri },
        { label: "Lost payments (JSON)", url: jsonUri },
      ],
    }),
  );
  return { csvUri, jsonUri, report };
}
