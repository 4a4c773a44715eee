// Lambda entry point of the AcquireLock task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { ACQUIRE_LOCK_TASK } from "./core";

export const handler = awsTaskHandler(ACQUIRE_LOCK_TASK);
