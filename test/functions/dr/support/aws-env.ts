// Environment of a deployed DR function in us-west-2, set before the handlers are imported
// (they read it at module load). Import this first.
import { DR_ENV, REPORTS_ENV } from "../../../../functions/common/contract";
import { TOPOLOGY } from "./fake-world";

process.env[DR_ENV.topology] = JSON.stringify(TOPOLOGY);
process.env.AWS_REGION = "us-west-2";
// Set on every deployed function by infra/lib/nodejs-function.ts (its physical name component).
process.env.POWERTOOLS_SERVICE_NAME = "dr-handler-test";
process.env[DR_ENV.probeIntervalSeconds] = "1";
process.env[DR_ENV.probeTimeoutMs] = "200";
process.env[DR_ENV.fenceSettleSeconds] = "25";
process.env[DR_ENV.dbRpoSeconds] = "60";
process.env[REPORTS_ENV.writerFunction] = "payments-report-writer-test";
process.env[REPORTS_ENV.bucket] = "payments-dr-reports-usw2-test-x";
process.env.AWS_ACCESS_KEY_ID = "test";
process.env.AWS_SECRET_ACCESS_KEY = "test";

export {};
