// Lambda entry point of the NotifyCompleted and PageOnCall states: wiring only.
import { awsRuntime } from "../shared/aws/runtime";
import { keysFrom, task } from "../shared/task";
import { notify } from "./core";
import type { NotifyEvent } from "./core";

const { deps, logger } = awsRuntime();

export const handler = task(
  {
    step: "Notify",
    logger,
    keys: (event: NotifyEvent) =>
      keysFrom(
        event?.context?.executionId,
        event?.state?.request?.targetRegion ?? deps.executionRegion,
      ),
  },
  (event: NotifyEvent) => notify(event, deps),
);
