// Scheduled every minute: publish what the writes left in the outbox.
//
// The one function with the Powertools tracer: it runs off any request path, so the tracer's
// ~125 KB and tens of milliseconds of load cost nobody latency, and a trace of a run (PutEvents
// and flag reads as subsegments) is what you want when events lag. The API functions leave it
// out: it would add that cold start to every scale-out and async-hook overhead to every
// request; Lambda active tracing still records their invocations. The tracer and the clients it
// wraps are built on the first run (functions/common/lazy.ts), not at init.
import type * as TracerModule from "@aws-lambda-powertools/tracer";
import type { Context } from "aws-lambda";
import { controlFlagReader, createDynamoDbClient } from "../shared/aws/dynamodb";
import { createEventBridgeClient, eventBridgePublisher } from "../shared/aws/eventbridge";
import { PAYMENTS_ENV } from "../../common/contract";
import { requireEnv } from "../../common/env";
import { lazy } from "../../common/lazy";
import { countMetric, flushMetrics, logger } from "../shared/observability";
import { baseRuntime } from "../shared/runtime";
import { guardFromEnvironment } from "../shared/write-runtime";
import { relayOutbox } from "./core";
import type { RelayReport } from "./core";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on the first run, see above
const loadTracer = () => require("@aws-lambda-powertools/tracer") as typeof TracerModule;
const tracer = lazy(() => new (loadTracer().Tracer)());
const base = baseRuntime({ functionName: "outbox-relay", apiKeys: false });
const guard = guardFromEnvironment(
  controlFlagReader(
    lazy(() => tracer.captureAWSv3Client(createDynamoDbClient())),
    requireEnv(PAYMENTS_ENV.controlTable),
  ),
  base.region,
);
const publish = eventBridgePublisher(
  lazy(() => tracer.captureAWSv3Client(createEventBridgeClient())),
  requireEnv(PAYMENTS_ENV.eventBusName),
);

export const handler = async (_event: unknown, context: Context): Promise<RelayReport> => {
  logger.addContext(context);
  const segment = tracer.getSegment();
  const subsegment = segment?.addNewSubsegment("## relay");
  if (subsegment) tracer.setSegment(subsegment);
  tracer.annotateColdStart();
  try {
    const report = await relayOutbox({
      guard,
      outbox: base.store,
      publish,
      batchSize: 50,
      maxEvents: 1_000,
    });
    tracer.putAnnotation("published", report.published);
    tracer.putAnnotation("failed", report.failed);
    countMetric("EventsRelayed", report.published);
    countMetric("EventsRelayFailed", report.failed);
    if (report.failed > 0) logger.warn("outbox events not published", { ...report });
    else logger.info("outbox relayed", { ...report });
    return report;
  } catch (error) {
    tracer.addErrorAsMetadata(error as Error);
    throw error;
  } finally {
    subsegment?.close();
    if (segment) tracer.setSegment(segment);
    flushMetrics();
  }
};
