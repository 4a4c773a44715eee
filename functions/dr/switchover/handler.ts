// Lambda entry point of the Switchover state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import type { WorkflowState } from "../shared/types";
import { switchover } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task(
  { step: "Switchover", logger, keys: stateKeys },
  (state: WorkflowState) => switchover(state, deps),
);
