// Lambda entry point of the Fence task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { FENCE_TASK } from "./core";

export const handler = awsTaskHandler(FENCE_TASK);
