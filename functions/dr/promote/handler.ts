// Lambda entry point of the Promote state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import type { WorkflowState } from "../shared/types";
import { promote } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task({ step: "Promote", logger, keys: stateKeys }, (state: WorkflowState) =>
  promote(state, deps),
);
