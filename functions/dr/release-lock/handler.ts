// Lambda entry point of the ReleaseLock state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import type { WorkflowState } from "../shared/types";
import { releaseLock } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task(
  { step: "ReleaseLock", logger, keys: stateKeys },
  (state: WorkflowState) => releaseLock(state, deps),
);
