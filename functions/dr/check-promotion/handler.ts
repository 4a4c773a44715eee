// Lambda entry point of the CheckPromotion state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import type { WorkflowState } from "../shared/types";
import { checkPromotion } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task(
  { step: "CheckPromotion", logger, keys: stateKeys },
  (state: WorkflowState) => checkPromotion(state, deps),
);
