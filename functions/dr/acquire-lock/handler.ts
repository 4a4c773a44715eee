// Lambda entry point of the AcquireLock state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import type { WorkflowState } from "../shared/types";
import { acquireLock } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task(
  { step: "AcquireLock", logger, keys: stateKeys },
  (state: WorkflowState) => acquireLock(state, deps),
);
