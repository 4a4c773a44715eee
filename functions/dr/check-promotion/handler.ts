// Lambda entry point of the CheckPromotion task: wiring only; the logic is in core.ts.
import { awsTaskHandler } from "../shared/aws/runtime";
import { CHECK_PROMOTION_TASK } from "./core";

export const handler = awsTaskHandler(CHECK_PROMOTION_TASK);
