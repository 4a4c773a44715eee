// Powertools' Logger behind the small Log/TaskLogger interfaces the cores and the task shell use.
import { Logger } from "@aws-lambda-powertools/logger";
import type { LogAttributes } from "@aws-lambda-powertools/logger/types";
import type { Log } from "./ports";
import type { TaskLogger } from "./task";

export type DrLogger = Log & TaskLogger;

export function powertoolsLog(
  logger: Logger = new Logger({ serviceName: "payments-dr" }),
): DrLogger {
  const write =
    (level: "info" | "warn" | "error") => (message: string, extra?: Record<string, unknown>) =>
      extra ? logger[level](message, extra as LogAttributes) : logger[level](message);
  return {
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    resetKeys: () => logger.resetKeys(),
    appendKeys: (keys) => logger.appendKeys(keys),
  };
}
