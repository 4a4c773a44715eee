// Lambda entry point of the RequestApproval state (lambda:invoke.waitForTaskToken).
import { awsRuntime } from "../shared/aws/runtime";
import { stateKeys, task } from "../shared/task";
import { requestApproval } from "./core";
import type { RequestApprovalEvent } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task(
  {
    step: "RequestApproval",
    logger,
    keys: (event: RequestApprovalEvent) => stateKeys(event?.state),
  },
  (event: RequestApprovalEvent) => requestApproval(event, deps),
);
