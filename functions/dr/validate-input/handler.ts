// Lambda entry point of the ValidateInput task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { VALIDATE_INPUT_TASK } from "./core";

export const handler = awsTaskHandler(VALIDATE_INPUT_TASK);
