// Lambda entry point of the drill watch (EventBridge schedule, in the secondary region).
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { REPORTS_ENV } from "../../common/contract";
import { intEnv } from "../../common/env";
import { asLog, createLogger } from "../../common/logger";
import { clientSettings } from "../../dr/shared/aws/clients";
import { CloudWatchSink } from "../shared/aws/cloudwatch";
import { DynamoLedger } from "../shared/aws/ledger";
import { readReportsEnvironment } from "../shared/settings";
import { watchDrills } from "./core";

const env = readReportsEnvironment();
const settings = clientSettings(env.region, "critical");
const logger = asLog(createLogger());
const deps = {
  ledger: new DynamoLedger(
    new DynamoDBClient(settings),
    env.ledgerTable,
    env.retentionDays * 86_400,
  ),
  metrics: new CloudWatchSink(new CloudWatchClient(settings)),
  now: () => new Date(),
  maxDrillAgeDays: intEnv(REPORTS_ENV.maxDrillAgeDays, 40, { min: 1, max: 365 }),
  log: logger,
};

export const handler = async () => {
  logger.resetKeys();
  return { drills: await watchDrills(deps) };
};
