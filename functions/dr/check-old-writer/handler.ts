// Lambda entry point of the CheckOldWriter task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { CHECK_OLD_WRITER_TASK } from "./core";

export const handler = awsTaskHandler(CHECK_OLD_WRITER_TASK);
