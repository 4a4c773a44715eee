// Lambda entry point of the ValidateInput state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { keysFrom, task } from "../shared/task";
import { validateInput } from "./core";
import type { ValidateInputEvent } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task(
  {
    step: "ValidateInput",
    logger,
    keys: (event: ValidateInputEvent) =>
      keysFrom(
        event?.context?.executionId,
        (event?.input as { targetRegion?: unknown } | undefined)?.targetRegion,
      ),
  },
  (event: ValidateInputEvent) => validateInput(event, deps),
);
