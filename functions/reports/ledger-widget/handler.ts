// Lambda entry point of the ledger widget on the overview dashboard.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { REPORTS_ENV } from "../../common/contract";
import { intEnv } from "../../common/env";
import { clientSettings } from "../../dr/shared/aws/clients";
import { DynamoLedger } from "../shared/aws/ledger";
import { readReportsEnvironment } from "../shared/settings";
import type { WidgetEvent } from "./core";
import { renderWidget } from "./core";

const env = readReportsEnvironment();
const deps = {
  ledger: new DynamoLedger(
    new DynamoDBClient(clientSettings(env.region, "critical")),
    env.ledgerTable,
    env.retentionDays * 86_400,
  ),
  now: () => new Date(),
  environment: env.environment,
  maxDrillAgeDays: intEnv(REPORTS_ENV.maxDrillAgeDays, 40, { min: 1, max: 365 }),
};

export const handler = async (event: WidgetEvent) => renderWidget(event, deps);
