// Lambda entry point of the Switchover task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { SWITCHOVER_TASK } from "./core";

export const handler = awsTaskHandler(SWITCHOVER_TASK);
