// Lambda entry point of the Notify task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { NOTIFY_TASK } from "./core";

export const handler = awsTaskHandler(NOTIFY_TASK);
