// The drill watch: on a schedule, reads the ledger and publishes, per kind of drill, the days
// since it last passed and whether its newest run failed. The alarms on these page: a drill
// that failed, or no successful drill in DRILL_MAX_AGE_DAYS (40 by default). A 40-day window is
// far beyond what a CloudWatch alarm can evaluate itself, hence a metric that carries the age.
import { METRICS } from "../../common/contract";
import type { Log } from "../../common/logger";
import type { DrillStatus } from "../shared/ledger";
import { drillStatus } from "../shared/ledger";
import type { LedgerStore, Metric, MetricsSink } from "../shared/ports";

/** Runs read per check: years of monthly drills; a success further back counts as none. */
export const LEDGER_WINDOW = 500;

export interface DrillWatchDeps {
  readonly ledger: LedgerStore;
  readonly metrics: MetricsSink;
  readonly now: () => Date;
  readonly maxDrillAgeDays: number;
  readonly log: Log;
}

export function drillMetrics(statuses: readonly DrillStatus[]): Metric[] {
  return statuses.flatMap((s) => [
    {
      name: METRICS.drillOverdueDays,
      value: s.daysSinceSuccess,
      unit: "None" as const,
      dimensions: { Drill: s.kind },
    },
    {
      name: METRICS.drillFailing,
      value: s.lastOutcome === "failed" ? 1 : 0,
      unit: "Count" as const,
      dimensions: { Drill: s.kind },
    },
  ]);
}

export async function watchDrills(deps: DrillWatchDeps): Promise<DrillStatus[]> {
  const [entries, since] = await Promise.all([
    deps.ledger.recent(LEDGER_WINDOW),
    deps.ledger.createdAt(),
  ]);
  const statuses = drillStatus(entries, deps.now(), since);
  await deps.metrics.put(METRICS.namespace, drillMetrics(statuses));
  for (const s of statuses) {
    const overdue = s.daysSinceSuccess > deps.maxDrillAgeDays;
    (overdue || s.lastOutcome === "failed" ? deps.log.warn : deps.log.info)("drill status", {
      ...s,
      overdue,
    });
  }
  return statuses;
}
