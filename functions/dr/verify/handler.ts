// Lambda entry point of the Verify task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { VERIFY_TASK } from "./core";

export const handler = awsTaskHandler(VERIFY_TASK);
