// Lambda entry point of the ledger widget on the overview dashboard.
import { REPORTS_ENV } from "../../common/contract";
import { intEnv } from "../../common/env";
import { clientSettings } from "../../dr/shared/aws/clients";
import { lazyLedger } from "../shared/aws/lazy";
import { readReportsEnvironment } from "../shared/settings";
import type { WidgetEvent } from "./core";
import { renderWidget } from "./core";

const env = readReportsEnvironment();
const deps = {
  // With its SDK package on first use (shared/aws/lazy.ts).
  ledger: lazyLedger(
    clientSettings(env.region, "critical"),
    env.ledgerTable,
    env.retentionDays * 86_400,
  ),
  now: () => new Date(),
  environment: env.environment,
  maxDrillAgeDays: intEnv(REPORTS_ENV.maxDrillAgeDays, 40, { min: 1, max: 365 }),
};

export const handler = async (event: WidgetEvent) => renderWidget(event, deps);
