// Lambda entry point of the report writer: invoked by the workflow tasks (asynchronously), the
// drill runbooks (synchronously) and EventBridge (workflow executions that ended).
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { REPORTS_ENV } from "../../common/contract";
import { requireEnv } from "../../common/env";
import { asLog, createLogger } from "../../common/logger";
import { clientSettings } from "../../dr/shared/aws/clients";
import { SfnExecutions } from "../shared/aws/executions";
import { DynamoLedger } from "../shared/aws/ledger";
import { S3ReportStore } from "../shared/aws/s3";
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
  store: new S3ReportStore(new S3Client(settings), bucket),
  ledger: new DynamoLedger(
    new DynamoDBClient(settings),
    env.ledgerTable,
    env.retentionDays * 86_400,
  ),
  executions: new SfnExecutions(new SFNClient(settings)),
  now: () => new Date(),
  log: logger,
};

export const handler = async (event: WriterEvent) => {
  logger.resetKeys();
  return handleWriterEvent(event, deps);
};
