// The RTO the lab should measure, by the phase model of `npm run rto` (infra/lib/rto.ts: the
// phases in turn, DNS beside them) with the lab's own timings in place of the deployed stack's:
// the prober alarm and Route 53 periods of LabTimings, the DR settings the lab's tasks run with,
// the middle of the lab's drawn Aurora durations, 1 s per task. It is the figure to hold the
// measurement against, not a check: the measured RTO is what the clients saw.
import { DEFAULT_SETTINGS } from "../functions/dr/shared/settings";
import type { LabConfig } from "./config";

export interface ExpectedPhase {
  readonly name: string;
  readonly seconds: number;
  readonly detail: string;
}

export interface ExpectedRto {
  readonly seconds: number;
  readonly phases: readonly ExpectedPhase[];
}

const TASK_SECONDS = 1;
/** Half of the 5 s promotion poll (check-promotion/core.ts). */
const HALF_POLL_SECONDS = 2.5;

export function expectedRto(config: LabConfig, planned: boolean): ExpectedRto {
  const t = config.timings;
  const mid = (r: readonly [number, number]) => (r[0] + r[1]) / 2000;
  const s = DEFAULT_SETTINGS;
  const phases: ExpectedPhase[] = [];
  let elapsed = 0;
  const add = (name: string, seconds: number, detail: string) => {
    phases.push({ name, seconds: +seconds.toFixed(1), detail });
    elapsed += seconds;
  };
  if (!planned) {
    add(
      "detect",
      t.alarmDatapoints * t.probeIntervalSeconds +
        t.probeTimeoutMs / 1000 +
        t.probeIntervalSeconds / 2,
      `alarm ${t.alarmDatapoints} x ${t.probeIntervalSeconds} s + ${t.probeTimeoutMs / 1000} s probe timeout + half a period`,
    );
  }
  add("decide", 3 * TASK_SECONDS, "ValidateInput, Preflight, AcquireLock, 1 s each");
  const fenceAt = elapsed + TASK_SECONDS;
  const proofAt = planned
    ? fenceAt + mid(t.ddbReplicationMs) + s.fenceSettleSeconds
    : t.rpoGuardSeconds + s.heartbeatSeconds + s.writerStopMarginSeconds;
  add(
    "fence",
    TASK_SECONDS + Math.max(0, proofAt - fenceAt),
    planned
      ? `Fence, the flag's replication (${mid(t.ddbReplicationMs).toFixed(1)} s) and the ${s.fenceSettleSeconds} s settle time`
      : `Fence, then the database proof ${t.rpoGuardSeconds} s rds.global_db_rpo + ${s.heartbeatSeconds} s heartbeat + ${s.writerStopMarginSeconds} s margin after the failure`,
  );
  add(
    "promote",
    (planned ? mid(t.switchoverMs) : mid(t.failoverMs)) + HALF_POLL_SECONDS + TASK_SECONDS,
    `${planned ? "switchover" : "managed failover"} ${planned ? mid(t.switchoverMs) : mid(t.failoverMs)} s (middle of the drawn range) + half a poll + UpdateParameters`,
  );
  // Beside the rest from the failure on: the health checks of the failed (or passive) region
  // fail, then a client's cached answer lives out the TTL.
  const dns = t.healthCheckFailureThreshold * t.healthCheckIntervalSeconds + t.dnsTtlSeconds;
  phases.push({
    name: "dns",
    seconds: dns,
    detail: `beside the rest: health checks ${t.healthCheckFailureThreshold} x ${t.healthCheckIntervalSeconds} s + the ${t.dnsTtlSeconds} s TTL`,
  });
  return { seconds: +Math.max(elapsed, dns).toFixed(1), phases };
}
