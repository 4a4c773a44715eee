// Lambda entry point of the Unfence task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { UNFENCE_TASK } from "./core";

export const handler = awsTaskHandler(UNFENCE_TASK);
