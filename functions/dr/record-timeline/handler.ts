// Lambda entry point of the RecordTimeline state: wiring only; the logic is in core.ts.
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import type { WorkflowState } from "../shared/types";
import { recordTimeline } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task(
  { step: "RecordTimeline", logger, keys: stateKeys },
  (state: WorkflowState) => recordTimeline(state, deps),
);
