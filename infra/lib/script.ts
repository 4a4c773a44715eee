// How the npm scripts end: an error the user can fix prints one sentence naming the cause and
// the command to run, and exits 1; anything else is a bug and keeps its stack trace.
import { ConfigError } from "../config";

/** Error names whose message is the whole answer (no stack trace). */
const USER_ERRORS = new Set([
  "ConfigError",
  "SynthesizedStackError",
  "RtoInputError",
  "OfflinePlanError",
  "UsageError",
  "CostInputError",
  "ConnectionBudgetError",
]);

/** A wrong command line: the message says what is allowed. */
export class UsageError extends Error {
  override name = "UsageError";
}

export function runScript(
  script: string,
  main: () => number | void | Promise<number | void>,
): void {
  const fail = (error: unknown) => {
    if (error instanceof Error && USER_ERRORS.has(error.name)) {
      console.error(
        `${script}: ${error instanceof ConfigError ? `config error: ${error.message}` : error.message}`,
      );
      process.exitCode = 1;
      return;
    }
    throw error;
  };
  try {
    const result = main();
    if (result instanceof Promise) {
      result.then(
        (code) => {
          if (typeof code === "number") process.exitCode = code;
        },
        (error: unknown) => {
          try {
            fail(error);
          } catch (bug) {
            console.error(bug);
            process.exitCode = 1;
          }
        },
      );
    } else if (typeof result === "number") {
      process.exitCode = result;
    }
  } catch (error) {
    fail(error);
  }
}
