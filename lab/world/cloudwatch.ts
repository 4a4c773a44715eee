// CloudWatch in the lab: a metric store per region (the prober's PaymentsDR/PrimaryHealthy, the
// heartbeat, the orchestrator's timeline metrics, Aurora's AuroraGlobalDBReplicationLag) read
// back the way the DR adapters read it (GetMetricData periods and statistics), and the prober's
// alarm, evaluated as infra/constructs/observability.ts defines it: Maximum over the probe
// interval, M of N periods below 1, missing data not breaching.
// Pages: "Using Amazon CloudWatch alarms" (evaluation, M out of N, TreatMissingData)
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
// Not modelled: ingestion delay, the 1-minute storage of standard-resolution metrics, percentiles.
import { METRICS } from "../../functions/common/contract";
import type { MetricDatum, MetricsPort } from "../../functions/dr/shared/ports";
import type { LabClock } from "./clock";

export interface Datapoint {
  readonly region: string;
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly value: number;
  /** Lab epoch ms. */
  readonly at: number;
}

export const REPLICATION_LAG = {
  namespace: "AWS/RDS",
  name: "AuroraGlobalDBReplicationLag",
  dimension: "DBClusterIdentifier",
} as const;

export class MetricStore {
  readonly points: Datapoint[] = [];

  constructor(private readonly clock: LabClock) {}

  put(region: string, namespace: string, datum: MetricDatum): void {
    this.points.push({
      region,
      namespace,
      name: datum.name,
      dimensions: datum.dimensions,
      value: datum.value,
      at: datum.timestamp ? datum.timestamp.getTime() : this.clock.nowMs(),
    });
  }

  /** Per-period statistic of one metric in one region since `since`, newest first. */
  series(
    region: string,
    namespace: string,
    name: string,
    dimensions: Readonly<Record<string, string>>,
    periodSeconds: number,
    stat: "Minimum" | "Maximum",
    since: number,
    until = this.clock.nowMs(),
  ): { at: number; value: number }[] {
    const period = periodSeconds * 1000;
    const buckets = new Map<number, number>();
    for (const p of this.points) {
      if (p.region !== region || p.namespace !== namespace || p.name !== name) continue;
      if (p.at < since || p.at > until) continue;
      if (!Object.entries(dimensions).every(([k, v]) => p.dimensions[k] === v)) continue;
      const start = Math.floor(p.at / period) * period;
      const current = buckets.get(start);
      const pick = stat === "Minimum" ? Math.min : Math.max;
      buckets.set(start, current === undefined ? p.value : pick(current, p.value));
    }
    return [...buckets.entries()].sort((a, b) => b[0] - a[0]).map(([at, value]) => ({ at, value }));
  }
}

/** The MetricsPort of one region, as the DR tasks and the prober use it. */
export class LabMetrics implements MetricsPort {
  constructor(
    private readonly store: MetricStore,
    private readonly region: string,
    private readonly reach: () => Promise<void>,
  ) {}

  async put(namespace: string, data: readonly MetricDatum[]): Promise<void> {
    await this.reach();
    for (const datum of data) this.store.put(this.region, namespace, datum);
  }

  async probeResults(probedRegion: string, since: Date) {
    await this.reach();
    return this.store
      .series(
        this.region,
        METRICS.namespace,
        METRICS.probeHealthy,
        { Region: probedRegion },
        10,
        "Minimum",
        since.getTime(),
      )
      .map((p) => ({ at: new Date(p.at).toISOString(), healthy: p.value >= 1 }));
  }

  async replicationLag(clusterIdentifier: string, since: Date) {
    await this.reach();
    const latest = this.store.series(
      this.region,
      REPLICATION_LAG.namespace,
      REPLICATION_LAG.name,
      { [REPLICATION_LAG.dimension]: clusterIdentifier },
      60,
      "Maximum",
      since.getTime(),
    )[0];
    return latest ? { lagMs: latest.value, at: new Date(latest.at).toISOString() } : null;
  }

  // GetMetricData with a 60 s period and Maximum, newest first, as the AWS adapter reads it.
  async replicationLagHistory(clusterIdentifier: string, since: Date) {
    await this.reach();
    return this.store
      .series(
        this.region,
        REPLICATION_LAG.namespace,
        REPLICATION_LAG.name,
        { [REPLICATION_LAG.dimension]: clusterIdentifier },
        60,
        "Maximum",
        since.getTime(),
      )
      .map((p) => ({ lagMs: p.value, at: new Date(p.at).toISOString() }));
  }
}

export interface AlarmOptions {
  readonly region: string;
  readonly name: string;
  readonly probedRegion: string;
  readonly periodSeconds: number;
  readonly datapointsToAlarm: number;
  readonly evaluationPeriods: number;
  readonly onAlarm: (name: string, atIso: string) => void;
}

/** The prober's primary-unhealthy alarm: evaluated at the end of every period. */
export class ProbeAlarm {
  state: "OK" | "ALARM" = "OK";
  readonly transitions: { at: number; state: "OK" | "ALARM" }[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: MetricStore,
    private readonly clock: LabClock,
    private readonly options: AlarmOptions,
  ) {}

  start(): void {
    this.timer = setInterval(
      () => this.evaluate(),
      this.clock.real(this.options.periodSeconds * 1000),
    );
  }

  stop(): void {
    clearInterval(this.timer);
  }

  evaluate(): void {
    const period = this.options.periodSeconds * 1000;
    const now = this.clock.nowMs();
    const end = Math.floor(now / period) * period;
    const since = end - this.options.evaluationPeriods * period;
    const series = this.store.series(
      this.options.region,
      METRICS.namespace,
      METRICS.probeHealthy,
      { Region: this.options.probedRegion },
      this.options.periodSeconds,
      "Maximum",
      since,
      end - 1,
    );
    // Missing periods are not breaching; a period breaches when no probe in it answered healthy.
    const breaching = series.filter((p) => p.value < 1).length;
    const next = breaching >= this.options.datapointsToAlarm ? "ALARM" : "OK";
    if (next !== this.state) {
      this.state = next;
      this.transitions.push({ at: now, state: next });
      if (next === "ALARM") this.options.onAlarm(this.options.name, new Date(now).toISOString());
    }
  }
}
