// The RTO the lab should measure, by the phase model of `npm run rto` (infra/lib/rto.ts: the
// phases in turn; DNS after them here, see below) with the lab's own timings in place of the deployed stack's:
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
  // After the promotion, not beside it: the target's /health answers 503 while it is passive, so
  // Route 53 answers with it only once its check has passed `threshold` times in a row (and the
  // control plane in us-east-1, which ShiftTraffic needs, is the failed region here), then a
  // client's cached answer lives out what is left of its TTL (half of it, typically). This is
  // where the lab departs from `npm run rto`, which runs DNS beside the workflow.
  add(
    "dns",
    t.healthCheckFailureThreshold * t.healthCheckIntervalSeconds + t.dnsTtlSeconds / 2,
    `after the promotion: the target's health check ${t.healthCheckFailureThreshold} x ${t.healthCheckIntervalSeconds} s, then half the ${t.dnsTtlSeconds} s TTL`,
  );
  return { seconds: +elapsed.toFixed(1), phases };
}
