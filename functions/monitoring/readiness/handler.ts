// Lambda entry point of the readiness evaluator (EventBridge schedule in each region, or on
// demand: `aws lambda invoke` / `payments-dr readiness --now`). Evaluates, publishes a metric per
// check and the overall status, stores the evaluation in the control table and returns it.
// An event `{ "checks": ["kms-keys", ...] }` runs only those checks (nothing stored then).
import { DR_ENV, METRICS, REPORTS_ENV } from "../../common/contract";
import { requireEnv } from "../../common/env";
import { once } from "../../common/lazy";
import { asLog, createLogger } from "../../common/logger";
import { parseTopology } from "../../dr/shared/topology";
import type * as WiringModule from "./wiring";
import { evaluateAndPublish, parseReadinessEvent } from "./run";
import { parseReadinessSettings } from "./settings";

const topology = parseTopology(requireEnv(DR_ENV.topology));
const region = requireEnv("AWS_REGION");
const settings = parseReadinessSettings(
  requireEnv(DR_ENV.readinessSettings),
  Object.keys(topology.regions),
);
const logger = asLog(createLogger());
// The AWS wiring (eleven SDK packages) loads on the first run, not at init
// (functions/common/lazy.ts): at module scope it costs ~250 ms CPU of every cold start
// (npm run bench:cold-init). Environment and settings are still read and checked at load.
const wiring = once(() =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberate lazy loading
  (require("./wiring") as typeof WiringModule).readinessWiring(region, topology.controlTable, {
    // The report store, when the stack has one: a change of the overall status is written there.
    writerFunction: process.env[REPORTS_ENV.writerFunction],
    bucket: process.env[REPORTS_ENV.bucket],
  }),
);

export const handler = async (event: unknown) => {
  const { metrics, control, newSource, reports } = wiring();
  logger.resetKeys();
  logger.appendKeys({ step: "Readiness", targetRegion: region, executionId: "readiness" });
  return evaluateAndPublish(parseReadinessEvent(event), {
    topology,
    settings,
    source: newSource(),
    region,
    now: () => new Date(),
    log: logger,
    checkTimeoutMs: 60_000,
    metrics,
    control,
    namespace: METRICS.namespace,
    ...(reports ? { reports } : {}),
  });
};
