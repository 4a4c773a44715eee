// The one logger of every function, payment or DR: Powertools' Logger writing JSON lines, its
// service name and level from the POWERTOOLS_SERVICE_NAME and POWERTOOLS_LOG_LEVEL variables the
// infrastructure sets on each function. Cores log through the small `Log` interface, so they
// stay free of Powertools and tests can pass a silent one.
import { Logger } from "@aws-lambda-powertools/logger";
import type { LogAttributes } from "@aws-lambda-powertools/logger/types";

/** What a core may log: a message and structured fields. */
export interface Log {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** A Log whose persistent keys (execution id, step, ...) are set per invocation. */
export interface KeyedLog extends Log {
  resetKeys(): void;
  appendKeys(keys: Record<string, string>): void;
}

/** The process's logger; call once at module scope. */
export function createLogger(): Logger {
  return new Logger();
}

/** Powertools' Logger behind the Log interface. */
export function asLog(logger: Logger): KeyedLog {
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
