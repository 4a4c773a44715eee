// Environment of a deployed report function in us-west-2, set before the handlers are imported
// (they read it at module load). Import this first.
import { REPORTS_ENV } from "../../../functions/common/contract";
import { TARGETS } from "./samples";

process.env.AWS_REGION = "us-west-2";
process.env.AWS_ACCESS_KEY_ID = "test";
process.env.AWS_SECRET_ACCESS_KEY = "test";
process.env.POWERTOOLS_SERVICE_NAME = "reports-test";
process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
process.env[REPORTS_ENV.environmentSuffix] = "dev";
process.env[REPORTS_ENV.bucket] = "payments-dr-reports-usw2-dev-abc";
process.env[REPORTS_ENV.ledgerTable] = "payments-dr-ledger-dev";
process.env[REPORTS_ENV.targets] = JSON.stringify({ default: TARGETS });
process.env[REPORTS_ENV.retentionDays] = "400";
process.env[REPORTS_ENV.maxDrillAgeDays] = "40";

export {};
