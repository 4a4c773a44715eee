// Scheduled every 5 minutes in both regions; only the active region expires anything.
import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import { countMetric, flushMetrics, logger } from "../shared/observability";
import { baseRuntime } from "../shared/runtime";
import { writeRuntime } from "../shared/write-runtime";
import { expireAuthorizations } from "./core";
import type { ExpiryReport } from "./core";

const base = baseRuntime({ functionName: "expire-authorizations", apiKeys: false });
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
    logger.info("expiry run", { ...report });
    return report;
  } finally {
    flushMetrics();
  }
};
