// Lambda entry point of the drill watch (EventBridge schedule, in the secondary region).
import { REPORTS_ENV } from "../../common/contract";
import { intEnv } from "../../common/env";
import { asLog, createLogger } from "../../common/logger";
import { clientSettings } from "../../dr/shared/aws/clients";
import { lazyLedger, lazyMetricsSink } from "../shared/aws/lazy";
import { readReportsEnvironment } from "../shared/settings";
import { watchDrills } from "./core";

const env = readReportsEnvironment();
const settings = clientSettings(env.region, "critical");
const logger = asLog(createLogger());
const deps = {
  // Each with its SDK package on first use (shared/aws/lazy.ts).
  ledger: lazyLedger(settings, env.ledgerTable, env.retentionDays * 86_400),
  metrics: lazyMetricsSink(settings),
  now: () => new Date(),
  maxDrillAgeDays: intEnv(REPORTS_ENV.maxDrillAgeDays, 40, { min: 1, max: 365 }),
  log: logger,
};

export const handler = async () => {
  logger.resetKeys();
  return { drills: await watchDrills(deps) };
};
