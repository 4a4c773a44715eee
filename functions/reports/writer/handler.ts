// Lambda entry point of the report writer: invoked by the workflow tasks (asynchronously), the
// drill runbooks (synchronously) and EventBridge (workflow executions that ended).
import { REPORTS_ENV } from "../../common/contract";
import { requireEnv } from "../../common/env";
import { asLog, createLogger } from "../../common/logger";
import { clientSettings } from "../../dr/shared/aws/clients";
import { lazyExecutions, lazyLedger, lazyReportStore } from "../shared/aws/lazy";
import { parseTargets, readReportsEnvironment } from "../shared/settings";
import type { WriterEvent } from "./core";
import { handleWriterEvent } from "./core";

const env = readReportsEnvironment();
const bucket = requireEnv(REPORTS_ENV.bucket);
const targets = parseTargets(requireEnv(REPORTS_ENV.targets));
const settings = clientSettings(env.region, "critical");
const logger = asLog(createLogger());
const deps = {
  settings: { environment: env.environment, region: env.region, bucket, targets },
  // Each with its SDK package on first use (shared/aws/lazy.ts).
  store: lazyReportStore(settings, bucket),
  ledger: lazyLedger(settings, env.ledgerTable, env.retentionDays * 86_400),
  executions: lazyExecutions(settings),
  now: () => new Date(),
  log: logger,
};

export const handler = async (event: WriterEvent) => {
  logger.resetKeys();
  return handleWriterEvent(event, deps);
};
