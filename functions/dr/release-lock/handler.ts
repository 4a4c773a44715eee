// Lambda entry point of the ReleaseLock task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { RELEASE_LOCK_TASK } from "./core";

export const handler = awsTaskHandler(RELEASE_LOCK_TASK);
