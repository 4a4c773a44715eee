// Metrics of the drill watch.
import { PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { toPortError } from "../../../dr/shared/aws/errors";
import type { Metric, MetricsSink } from "../ports";

export class CloudWatchSink implements MetricsSink {
  constructor(private readonly cloudwatch: CloudWatchClient) {}

  async put(namespace: string, metrics: readonly Metric[]): Promise<void> {
    try {
      await this.cloudwatch.send(
        new PutMetricDataCommand({
          Namespace: namespace,
          MetricData: metrics.map((m) => ({
            MetricName: m.name,
            Value: m.value,
            Unit: m.unit,
            Dimensions: Object.entries(m.dimensions).map(([Name, Value]) => ({ Name, Value })),
          })),
        }),
      );
    } catch (error) {
      throw toPortError(`cloudwatch:PutMetricData ${namespace}`, error);
    }
  }
}
