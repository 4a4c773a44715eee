// Lambda entry point of the Verify state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import type { WorkflowState } from "../shared/types";
import { verify } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task({ step: "Verify", logger, keys: stateKeys }, (state: WorkflowState) =>
  verify(state, deps),
);
