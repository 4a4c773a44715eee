// Lambda entry point of the Rebuild task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { REBUILD_TASK } from "./core";

export const handler = awsTaskHandler(REBUILD_TASK);
