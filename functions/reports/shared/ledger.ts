// What the ledger says across runs: the trend of measured RTO and RPO against the targets, and
// how long ago each kind of drill last passed. Pure: the dashboard widget, the drill watch, the
// CLI and `npm run ledger` all read it the same way.
import type { LedgerEntry, RunKind, Targets } from "./model";
import { DRILL_KINDS } from "./model";

export type Trend = "improving" | "worsening" | "steady" | "not enough runs";

export interface KindSummary {
  readonly kind: RunKind;
  readonly runs: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly rejected: number;
  /** Newest first. */
  readonly last: LedgerEntry | undefined;
  /** Median RTO of the newest `window` successful runs with an RTO. */
  readonly medianRtoSeconds: number | null;
  readonly medianRpoSeconds: number | null;
  /** Successful runs whose RTO exceeded the target in force when they ran. */
  readonly overRtoTarget: number;
  readonly overRpoTarget: number;
  /** Newest `window` against the `window` before them, by median RTO. */
  readonly rtoTrend: Trend;
}

export interface DrillStatus {
  readonly kind: RunKind;
  readonly lastSuccessAt: string | null;
  /** Days since the last successful drill, or since `since` when there never was one. */
  readonly daysSinceSuccess: number;
  readonly lastOutcome: LedgerEntry["outcome"] | null;
  readonly lastRunAt: string | null;
}

const DAY_MS = 86_400_000;

/** Newest first by endedAt, then by id, so equal times still sort the same way everywhere. */
export function newestFirst(entries: readonly LedgerEntry[]): LedgerEntry[] {
  return [...entries].sort(
    (a, b) => Date.parse(b.endedAt) - Date.parse(a.endedAt) || (a.id < b.id ? 1 : -1),
  );
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Compares the median RTO of the newest `window` successful runs with the `window` before
 * them. A change under 10% (or under 5 s) is noise: drills vary that much from run to run.
 */
export function rtoTrend(entries: readonly LedgerEntry[], window = 3): Trend {
  const rtos = newestFirst(entries)
    .filter((e) => e.outcome === "succeeded" && e.rtoSeconds !== null)
    .map((e) => e.rtoSeconds as number);
  if (rtos.length < window * 2) return "not enough runs";
  const recent = median(rtos.slice(0, window))!;
  const before = median(rtos.slice(window, window * 2))!;
  const change = recent - before;
  if (Math.abs(change) < Math.max(5, before * 0.1)) return "steady";
  return change < 0 ? "improving" : "worsening";
}

/** Per kind of run, newest first within each kind. */
export function summarize(entries: readonly LedgerEntry[], window = 3): KindSummary[] {
  const byKind = new Map<RunKind, LedgerEntry[]>();
  for (const entry of newestFirst(entries)) {
    byKind.set(entry.kind, [...(byKind.get(entry.kind) ?? []), entry]);
  }
  return [...byKind.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([kind, runs]) => {
      const ok = runs.filter((e) => e.outcome === "succeeded");
      const rtos = ok.filter((e) => e.rtoSeconds !== null).slice(0, window);
      const rpos = ok.filter((e) => e.rpoSeconds !== null).slice(0, window);
      return {
        kind,
        runs: runs.length,
        succeeded: ok.length,
        failed: runs.filter((e) => e.outcome === "failed").length,
        rejected: runs.filter((e) => e.outcome === "rejected").length,
        last: runs[0],
        medianRtoSeconds: median(rtos.map((e) => e.rtoSeconds as number)),
        medianRpoSeconds: median(rpos.map((e) => e.rpoSeconds as number)),
        overRtoTarget: ok.filter(
          (e) => e.rtoSeconds !== null && e.rtoSeconds > e.targets.rtoTargetSeconds,
        ).length,
        overRpoTarget: ok.filter(
          (e) => e.rpoSeconds !== null && e.rpoSeconds > e.targets.rpoTargetSeconds,
        ).length,
        rtoTrend: rtoTrend(runs, window),
      };
    });
}

/**
 * How long ago each kind of drill last passed. With no successful drill in the ledger, the
 * clock runs from `since` (when the ledger began, i.e. the deployment), so a new environment is
 * not overdue on day one but is 40 days later.
 */
export function drillStatus(
  entries: readonly LedgerEntry[],
  now: Date,
  since: Date,
  kinds: readonly RunKind[] = DRILL_KINDS,
): DrillStatus[] {
  const sorted = newestFirst(entries);
  return kinds.map((kind) => {
    const ofKind = sorted.filter((e) => e.kind === kind && e.outcome !== "rejected");
    const success = ofKind.find((e) => e.outcome === "succeeded");
    const from = success ? Date.parse(success.endedAt) : since.getTime();
    return {
      kind,
      lastSuccessAt: success?.endedAt ?? null,
      daysSinceSuccess: Math.max(0, Math.floor(((now.getTime() - from) / DAY_MS) * 100) / 100),
      lastOutcome: ofKind[0]?.outcome ?? null,
      lastRunAt: ofKind[0]?.endedAt ?? null,
    };
  });
}

/** "within target", "above goal", ... for an RTO against the targets it ran under. */
export function rtoVerdict(rtoSeconds: number | null, targets: Targets): string {
  if (rtoSeconds === null) return "not measured";
  if (rtoSeconds > targets.rtoTargetSeconds) return "over target";
  if (rtoSeconds > targets.rtoGoalSeconds) return "within target, over goal";
  return "within goal";
}

export function rpoVerdict(rpoSeconds: number | null, targets: Targets): string {
  if (rpoSeconds === null) return "not measured";
  return rpoSeconds > targets.rpoTargetSeconds ? "over target" : "within target";
}
