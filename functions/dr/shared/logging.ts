// The DR functions' logger: the common one (functions/common/logger.ts) behind the Log and
// TaskLogger interfaces the cores and the task shell use.
import { asLog, createLogger } from "../../common/logger";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { Log } from "./ports";
import type { TaskLogger } from "./task";

export type DrLogger = Log & TaskLogger;

export function powertoolsLog(logger: Logger = createLogger()): DrLogger {
  return asLog(logger);
}
