// Logger and metrics, one of each per process. Service name and log level come from the
// POWERTOOLS_* variables every function gets; the namespace is the project's.
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { METRICS } from "../../common/contract";
import { createLogger } from "../../common/logger";

export const logger = createLogger();
export const metrics = new Metrics({ namespace: METRICS.namespace });

export function countMetric(name: string, value = 1): void {
  metrics.addMetric(name, MetricUnit.Count, value);
}

/** Emits this invocation's metrics, if any (no warning on invocations that recorded none). */
export function flushMetrics(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}

/**
 * A metric with exactly the dimensions given (no `service`), for the shared dashboards and
 * alarms that query by `Region` alone.
 */
export function publishSingleMetric(
  name: string,
  value: number,
  dimensions: Record<string, string>,
): void {
  const single = metrics.singleMetric();
  single.clearDefaultDimensions();
  single.addDimensions(dimensions);
  single.addMetric(name, MetricUnit.Count, value);
}
