// POST /payments
import { sessionRecorder } from "../shared/aws/dynamodb";
import { PAYMENTS_ENV } from "../../common/contract";
import { intEnv, requireEnv } from "../../common/env";
import { countMetric, logger } from "../shared/observability";
import { baseRuntime } from "../shared/runtime";
import { OWN_CLUSTER_IDLE_MS } from "../shared/writer-identity";
import { writeHandler, writeRuntime } from "../shared/write-runtime";
import {
  DEFAULT_CAPTURE_WINDOW_HOURS,
  MAX_CAPTURE_WINDOW_HOURS,
  authorize,
  parseAuthorize,
} from "./core";

const base = baseRuntime({
  functionName: "authorize",
  apiKeys: true,
  // The writer identity check's reference (write-runtime.ts installWriterCheck), closed when idle.
  ownClusterEndpoint: true,
  ownClusterEndpointIdleMs: OWN_CLUSTER_IDLE_MS,
});
const write = writeRuntime(base);
const touchSession = sessionRecorder(write.dynamodb, requireEnv(PAYMENTS_ENV.sessionsTable));
const captureWindowHours = intEnv(PAYMENTS_ENV.captureWindowHours, DEFAULT_CAPTURE_WINDOW_HOURS, {
  min: 1,
  max: MAX_CAPTURE_WINDOW_HOURS,
});

export const handler = writeHandler(base, write, {
  parse: parseAuthorize,
  successMetric: "PaymentsAuthorized",
  execute: (command) =>
    authorize(command, {
      ...write.deps,
      captureWindowHours,
      recordSession: (touch) =>
        touchSession(touch).catch((error: unknown) => {
          logger.warn("session not recorded", { error, sessionId: touch.sessionId });
          countMetric("SessionWritesFailed");
        }),
    }),
});
