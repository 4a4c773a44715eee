// CloudWatch in the region of the given client: DR metrics out, Aurora replication lag in.
import { GetMetricDataCommand, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import type { CloudWatchClient, Metric } from "@aws-sdk/client-cloudwatch";
import { METRICS } from "../../../common/contract";
import type { MetricDatum, MetricsPort } from "../ports";
import { toPortError } from "./errors";

export const REPLICATION_LAG = {
  namespace: "AWS/RDS",
  metricName: "AuroraGlobalDBReplicationLag",
  dimension: "DBClusterIdentifier",
} as const;

export class CloudWatchMetrics implements MetricsPort {
  constructor(
    private readonly cloudwatch: CloudWatchClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async put(namespace: string, data: readonly MetricDatum[]): Promise<void> {
    for (let i = 0; i < data.length; i += 1000) {
      try {
        await this.cloudwatch.send(
          new PutMetricDataCommand({
            Namespace: namespace,
            MetricData: data.slice(i, i + 1000).map((d) => ({
              MetricName: d.name,
              Value: d.value,
              Unit: d.unit,
              Dimensions: Object.entries(d.dimensions).map(([Name, Value]) => ({ Name, Value })),
              ...(d.timestamp ? { Timestamp: d.timestamp } : {}),
              ...(d.storageResolution ? { StorageResolution: d.storageResolution } : {}),
            })),
          }),
        );
      } catch (error) {
        throw toPortError(`cloudwatch:PutMetricData ${namespace}`, error);
      }
    }
  }

  async replicationLag(clusterIdentifier: string, since: Date) {
    const latest = (await this.replicationLagHistory(clusterIdentifier, since))[0];
    return latest ?? null;
  }

  async replicationLagHistory(clusterIdentifier: string, since: Date) {
    const points = await this.series(
      {
        Namespace: REPLICATION_LAG.namespace,
        MetricName: REPLICATION_LAG.metricName,
        Dimensions: [{ Name: REPLICATION_LAG.dimension, Value: clusterIdentifier }],
      },
      { period: 60, stat: "Maximum", since },
    );
    return points.map((p) => ({ lagMs: p.value, at: p.at }));
  }

  async probeResults(probedRegion: string, since: Date) {
    const points = await this.series(
      {
        Namespace: METRICS.namespace,
        MetricName: METRICS.probeHealthy,
        Dimensions: [{ Name: "Region", Value: probedRegion }],
      },
      { period: 10, stat: "Minimum", since },
    );
    return points.map((p) => ({ at: p.at, healthy: p.value >= 1 }));
  }

  /** One metric's datapoints since `since`, newest first. */
  private async series(
    metric: Metric,
    options: { period: number; stat: string; since: Date },
  ): Promise<{ at: string; value: number }[]> {
    try {
      const out = await this.cloudwatch.send(
        new GetMetricDataCommand({
          StartTime: options.since,
          EndTime: this.now(),
          ScanBy: "TimestampDescending",
          MetricDataQueries: [
            {
              Id: "series",
              ReturnData: true,
              MetricStat: { Metric: metric, Period: options.period, Stat: options.stat },
            },
          ],
        }),
      );
      const series = out.MetricDataResults?.find((r) => r.Id === "series");
      const values = series?.Values ?? [];
      return (series?.Timestamps ?? []).flatMap((at, i) =>
        values[i] === undefined ? [] : [{ at: at.toISOString(), value: values[i]! }],
      );
    } catch (error) {
      throw toPortError(`cloudwatch:GetMetricData ${metric.MetricName}`, error);
    }
  }
}
