// Lambda entry point of the UpdateParameters task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { UPDATE_PARAMETERS_TASK } from "./core";

export const handler = awsTaskHandler(UPDATE_PARAMETERS_TASK);
