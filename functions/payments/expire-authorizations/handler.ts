// Scheduled every 5 minutes in both regions; only the active region expires anything (and
// prunes idempotency records past their retention).
import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import { countMetric, flushMetrics, logger } from "../shared/observability";
import { baseRuntime } from "../shared/runtime";
import { OWN_CLUSTER_IDLE_MS } from "../shared/writer-identity";
import { writeRuntime } from "../shared/write-runtime";
import { expireAuthorizations, pruneIdempotencyRecords } from "./core";
import type { ExpiryReport } from "./core";

const base = baseRuntime({
  functionName: "expire-authorizations",
  apiKeys: false,
  // The writer identity check's reference (write-runtime.ts installWriterCheck), closed when idle.
  ownClusterEndpoint: true,
  ownClusterEndpointIdleMs: OWN_CLUSTER_IDLE_MS,
});
const write = writeRuntime(base);

export const handler = async (_event: unknown, context: Context): Promise<ExpiryReport> => {
  logger.addContext(context);
  try {
    const report = await expireAuthorizations({
      guard: write.guard,
      store: base.store,
      afterCommit: write.deps.afterCommit,
      now: () => new Date(),
      newId: randomUUID,
      region: base.region,
      batchSize: 50,
      maxPayments: 2_000,
    });
    countMetric("AuthorizationsExpired", report.expired);
    const pruned = report.skipped
      ? 0
      : await pruneIdempotencyRecords({
          guard: write.guard,
          store: base.store,
          now: () => new Date(),
          batchSize: 1_000,
          maxRecords: 20_000,
        });
    countMetric("IdempotencyRecordsPruned", pruned);
    logger.info("expiry run", { ...report, pruned });
    return report;
  } finally {
    flushMetrics();
  }
};
