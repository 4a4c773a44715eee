// Scheduled every minute: drain the outbox to the bus until the invocation is nearly over
// (core.ts). The function's timeout is a little longer than the schedule's period, so the next
// run starts before this one stops: two runs overlap for a few seconds (FOR UPDATE SKIP LOCKED
// keeps their batches apart) and the outbox is never left unpolled.
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
import { intEnv, requireEnv } from "../../common/env";
import { lazy } from "../../common/lazy";
import { countMetric, flushMetrics, logger } from "../shared/observability";
import { baseRuntime } from "../shared/runtime";
import { OWN_CLUSTER_IDLE_MS } from "../shared/writer-identity";
import { guardFromEnvironment, installWriterCheck } from "../shared/write-runtime";
import { relayOutbox, RELAY_STOP_BEFORE_MS } from "./core";
import type { RelayReport } from "./core";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on the first run, see above
const loadTracer = () => require("@aws-lambda-powertools/tracer") as typeof TracerModule;
const tracer = lazy(() => new (loadTracer().Tracer)());
const base = baseRuntime({
  functionName: "outbox-relay",
  apiKeys: false,
  // The writer identity check's reference (write-runtime.ts installWriterCheck), closed when idle.
  ownClusterEndpoint: true,
  ownClusterEndpointIdleMs: OWN_CLUSTER_IDLE_MS,
});
const guard = guardFromEnvironment(
  controlFlagReader(
    lazy(() => tracer.captureAWSv3Client(createDynamoDbClient())),
    requireEnv(PAYMENTS_ENV.controlTable),
  ),
  base.region,
);
// The relay reads and marks rows on the writer like a write does: started by the flag opening
// this region (relay-on-flag), a stale global endpoint would have it publish the old writer's
// unreplicated tail, the writes a failover lost (review 24-10l M2).
installWriterCheck(base, guard);
const pollMs = intEnv(PAYMENTS_ENV.outboxPollMs, 100, { min: 20, max: 5_000 });
const publish = eventBridgePublisher(
  lazy(() => tracer.captureAWSv3Client(createEventBridgeClient())),
  requireEnv(PAYMENTS_ENV.eventBusName),
);

/** Invoked by the control stream's mapping (infra: relay-on-flag), not by the schedule. */
function fromFlagStream(event: unknown): boolean {
  const records = (event as { Records?: { eventSource?: string }[] } | null)?.Records;
  return Array.isArray(records) && records.some((r) => r.eventSource === "aws:dynamodb");
}

export const handler = async (event: unknown, context: Context): Promise<RelayReport> => {
  logger.addContext(context);
  // The flag just opened this region; a warm environment may still hold the passive answer its
  // last scheduled run cached (up to ACTIVE_REGION_CACHE_MS), which would skip this run. An
  // unreadable flag is left to the run's own check, which fails it as usual.
  if (fromFlagStream(event)) {
    logger.info("relay started by the flag opening this region");
    await guard.readFresh().catch(() => undefined);
  }
  const segment = tracer.getSegment();
  const subsegment = segment?.addNewSubsegment("## relay");
  if (subsegment) tracer.setSegment(subsegment);
  tracer.annotateColdStart();
  try {
    let maxDelayMs = 0;
    const report = await relayOutbox(
      {
        guard,
        outbox: base.store,
        publish,
        batchSize: 50,
        maxEvents: 1_000,
        // The five PutEvents of a 50-row batch at once: the drain rate is what bounds event
        // delay under load, and EventBridge guarantees no order across entries anyway.
        publishConcurrency: 5,
        onPublished: (delayMs) => {
          maxDelayMs = Math.max(maxDelayMs, delayMs);
        },
      },
      {
        remainingMs: () => context.getRemainingTimeInMillis(),
        stopBeforeMs: RELAY_STOP_BEFORE_MS,
        pollMs,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      },
    );
    tracer.putAnnotation("maxDelayMs", maxDelayMs);
    tracer.putAnnotation("published", report.published);
    tracer.putAnnotation("failed", report.failed);
    countMetric("EventsRelayed", report.published);
    countMetric("EventsRelayFailed", report.failed);
    // The longest an event of this run waited, created to published (an alarm's input).
    if (report.published > 0) countMetric("EventPublishDelayMaxMs", maxDelayMs);
    if (report.failed > 0) logger.warn("outbox events not published", { ...report });
    else logger.info("outbox relayed", { ...report, maxDelayMs });
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
