// Lambda entry point of the ShiftTraffic state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import type { WorkflowState } from "../shared/types";
import { shiftTraffic } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task(
  { step: "ShiftTraffic", logger, keys: stateKeys },
  (state: WorkflowState) => shiftTraffic(state, deps),
);
