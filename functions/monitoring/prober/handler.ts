// Lambda entry point of the prober (EventBridge schedule, every minute, in the secondary region).
import type { Context } from "aws-lambda";
import { DR_ENV, WRITER_HEARTBEAT } from "../../common/contract";
import { staleAfterSeconds } from "../../dr/shared/heartbeat-watch";
import { intEnv, requireEnv } from "../../common/env";
import { awsPorts } from "../../dr/shared/aws/ports";
import { ConfigurationError } from "../../dr/shared/errors";
import { fetchHttp } from "../../dr/shared/http-client";
import { asLog, createLogger } from "../../common/logger";
import { apiBase, parseTopology } from "../../dr/shared/topology";
import { probe } from "./core";

/** The schedule's period. */
const WINDOW_MS = 60_000;

const topology = parseTopology(requireEnv(DR_ENV.topology));
const region = requireEnv("AWS_REGION");
const intervalMs = intEnv(DR_ENV.probeIntervalSeconds, 10, { min: 1, max: 60 }) * 1000;
const timeoutMs = intEnv(DR_ENV.probeTimeoutMs, 3000, { min: 100, max: 30_000 });
if (timeoutMs >= intervalMs) {
  throw new ConfigurationError(
    `${DR_ENV.probeTimeoutMs} (${timeoutMs}) must be below ${DR_ENV.probeIntervalSeconds} in milliseconds (${intervalMs})`,
  );
}
// Every region but this one: deployed in the secondary, this probes the primary.
const targets = Object.values(topology.regions)
  .filter((r) => r.region !== region)
  .map((r) => ({ region: r.region, url: `${apiBase(topology, r.region)}/health` }));
// The DR tasks' adapters, built on first use (functions/dr/shared/aws/ports.ts): its SDK clients
// load when the first probe runs, not at init.
const ports = awsPorts(topology);
const { metrics, control, replica } = ports(region, "critical");
// The writer heartbeat's stale threshold follows the deployed primary's rds.global_db_rpo.
const rpoSeconds = process.env[DR_ENV.dbRpoSeconds]
  ? intEnv(DR_ENV.dbRpoSeconds, 60, { min: 20, max: 86_400 })
  : null;
const heartbeatStaleAfterSeconds = staleAfterSeconds(rpoSeconds, WRITER_HEARTBEAT.intervalSeconds);
const logger = asLog(createLogger());

export const handler = async (_event: unknown, context: Context) => {
  logger.resetKeys();
  logger.appendKeys({
    executionId: context.awsRequestId,
    step: "Probe",
    targetRegion: targets.map((t) => t.region).join(","),
  });
  // Never run into the next invocation or the function's timeout.
  const windowMs = Math.min(WINDOW_MS, context.getRemainingTimeInMillis() - timeoutMs - 1000);
  const results = await probe(
    {
      targets,
      intervalMs,
      timeoutMs,
      windowMs,
      heartbeatRegion: region,
      heartbeatStaleAfterSeconds,
    },
    {
      activeRegion: async () => (await control.getActiveRegion())?.activeRegion ?? null,
      replica,
      control,
      // The peer lease (PEER_LEASE): renewed here, read back in the active region best-effort.
      lease: { control, remote: (r) => ports(r, "bestEffort").control },
      http: fetchHttp,
      metrics,
      now: () => new Date(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      log: logger,
    },
  );
  return { probes: results.length, healthy: results.filter((r) => r.healthy).length };
};
