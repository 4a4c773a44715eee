// Lambda entry point of the RequestApproval task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { REQUEST_APPROVAL_TASK } from "./core";

export const handler = awsTaskHandler(REQUEST_APPROVAL_TASK);
