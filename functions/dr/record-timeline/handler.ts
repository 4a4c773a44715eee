// Lambda entry point of the RecordTimeline task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { RECORD_TIMELINE_TASK } from "./core";

export const handler = awsTaskHandler(RECORD_TIMELINE_TASK);
