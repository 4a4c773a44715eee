// Lambda entry point of the Unfence state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import type { WorkflowState } from "../shared/types";
import { unfence } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task({ step: "Unfence", logger, keys: stateKeys }, (state: WorkflowState) =>
  unfence(state, deps),
);
