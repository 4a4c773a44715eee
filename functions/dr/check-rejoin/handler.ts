// Lambda entry point of the CheckRejoin task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { CHECK_REJOIN_TASK } from "./core";

export const handler = awsTaskHandler(CHECK_REJOIN_TASK);
