// Lambda entry point of the Preflight state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import type { WorkflowState } from "../shared/types";
import { preflight } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task(
  { step: "Preflight", logger, keys: stateKeys },
  (state: WorkflowState) => preflight(state, deps),
);
