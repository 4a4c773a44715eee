// Lambda entry point of the RestoreCapacity task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { RESTORE_CAPACITY_TASK } from "./core";

export const handler = awsTaskHandler(RESTORE_CAPACITY_TASK);
