// Lambda entry point of the Fence state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import type { WorkflowState } from "../shared/types";
import { fence } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task({ step: "Fence", logger, keys: stateKeys }, (state: WorkflowState) =>
  fence(state, deps),
);
