// Lambda entry point of the ShiftTraffic task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { SHIFT_TRAFFIC_TASK } from "./core";

export const handler = awsTaskHandler(SHIFT_TRAFFIC_TASK);
