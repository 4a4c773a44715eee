// Lambda entry point of the UpdateParameters state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import type { WorkflowState } from "../shared/types";
import { updateParameters } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task(
  { step: "UpdateParameters", logger, keys: stateKeys },
  (state: WorkflowState) => updateParameters(state, deps),
);
