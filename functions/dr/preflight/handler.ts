// Lambda entry point of the Preflight task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { PREFLIGHT_TASK } from "./core";

export const handler = awsTaskHandler(PREFLIGHT_TASK);
