// CloudWatch in the region of the given client: DR metrics out, Aurora replication lag in.
import { GetMetricDataCommand, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { METRICS } from "../../../shared/contract";
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
    try {
      const out = await this.cloudwatch.send(
        new GetMetricDataCommand({
          StartTime: since,
          EndTime: this.now(),
          ScanBy: "TimestampDescending",
          MetricDataQueries: [
            {
              Id: "lag",
              ReturnData: true,
              MetricStat: {
                Metric: {
                  Namespace: REPLICATION_LAG.namespace,
                  MetricName: REPLICATION_LAG.metricName,
                  Dimensions: [{ Name: REPLICATION_LAG.dimension, Value: clusterIdentifier }],
                },
                Period: 60,
                Stat: "Maximum",
              },
            },
          ],
        }),
      );
      const series = out.MetricDataResults?.find((r) => r.Id === "lag");
      const value = series?.Values?.[0];
      const at = series?.Timestamps?.[0];
      if (value === undefined || at === undefined) return null;
      return { lagMs: value, at: at.toISOString() };
    } catch (error) {
      throw toPortError("cloudwatch:GetMetricData AuroraGlobalDBReplicationLag", error);
    }
  }

  async probeResults(probedRegion: string, since: Date) {
    try {
      const out = await this.cloudwatch.send(
        new GetMetricDataCommand({
          StartTime: since,
          EndTime: this.now(),
          ScanBy: "TimestampDescending",
          MetricDataQueries: [
            {
              Id: "probes",
              ReturnData: true,
              MetricStat: {
                Metric: {
                  Namespace: METRICS.namespace,
                  MetricName: METRICS.probeHealthy,
                  Dimensions: [{ Name: "Region", Value: probedRegion }],
                },
                Period: 10,
                Stat: "Minimum",
              },
            },
          ],
        }),
      );
      const series = out.MetricDataResults?.find((r) => r.Id === "probes");
      const values = series?.Values ?? [];
      return (series?.Timestamps ?? []).map((at, i) => ({
        at: at.toISOString(),
        healthy: (values[i] ?? 0) >= 1,
      }));
    } catch (error) {
      throw toPortError(`cloudwatch:GetMetricData ${METRICS.probeHealthy}`, error);
    }
  }
}
