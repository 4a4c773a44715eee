// Lambda entry point of the Promote task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { PROMOTE_TASK } from "./core";

export const handler = awsTaskHandler(PROMOTE_TASK);
