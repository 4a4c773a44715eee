// The RTO the lab should measure, by the phase formulas of `npm run rto` (infra/lib/rto.ts, reused
// here, not copied) with the lab's own timings in place of the deployed stack's: the prober alarm
// and Route 53 periods of LabTimings, the DR settings the lab's tasks run with, the middle of the
// lab's drawn Aurora durations, 1 s per task. One departure, argued at the DNS phase: DNS comes
// after the promotion here (the unplanned path after the target's health check, the planned one
// after ShiftTraffic's record swap). It is the figure to hold the measurement against, not a check: the
// measured RTO is what the clients saw.
import {
  databaseProofSeconds,
  detectionSeconds,
  healthCheckSeconds,
  promotionExpectedSeconds,
} from "../infra/lib/rto";
import { DEFAULT_SETTINGS } from "../functions/dr/shared/settings";
import type { LabConfig } from "./config";
import { writeTimeoutSeconds } from "../infra/constructs/payments-api";
import { labWriteBounds } from "./write-path";

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

export function expectedRto(config: LabConfig, planned: boolean): ExpectedRto {
  const t = config.timings;
  const mid = (r: readonly [number, number]) => (r[0] + r[1]) / 2000;
  // The settle time the lab's DR tasks run with: derived from the lab's write path (write-path.ts).
  const s = {
    ...DEFAULT_SETTINGS,
    ...labWriteBounds(config.fast, t.flagCacheMs, writeTimeoutSeconds(), t.probeIntervalSeconds),
  };
  const phases: ExpectedPhase[] = [];
  let elapsed = 0;
  const add = (name: string, seconds: number, detail: string) => {
    phases.push({ name, seconds: +seconds.toFixed(1), detail });
    elapsed += seconds;
  };
  if (!planned) {
    add(
      "detect",
      detectionSeconds({
        datapoints: t.alarmDatapoints,
        periodSeconds: t.probeIntervalSeconds,
        probeTimeoutSeconds: t.probeTimeoutMs / 1000,
      }).expected,
      `alarm ${t.alarmDatapoints} x ${t.probeIntervalSeconds} s + ${t.probeTimeoutMs / 1000} s probe timeout + half a period`,
    );
  }
  add("decide", 3 * TASK_SECONDS, "ValidateInput, Preflight, AcquireLock, 1 s each");
  const fenceAt = elapsed + TASK_SECONDS;
  const proof = databaseProofSeconds({
    probeIntervalSeconds: t.probeIntervalSeconds,
    rpoSeconds: t.rpoGuardSeconds,
    heartbeatSeconds: s.heartbeatSeconds,
    writerStopMarginSeconds: s.writerStopMarginSeconds,
  });
  const proofAt = planned
    ? fenceAt + mid(t.ddbReplicationMs) + s.fenceSettleSeconds
    : proof.afterFailure;
  add(
    "fence",
    TASK_SECONDS + Math.max(0, proofAt - fenceAt),
    planned
      ? `Fence, the flag's replication (${mid(t.ddbReplicationMs).toFixed(1)} s) and the ${s.fenceSettleSeconds} s settle time`
      : `Fence, then the database proof: the prober's sighting of the last beat (${proof.sighting} s) + ${t.rpoGuardSeconds} s rds.global_db_rpo + ${s.heartbeatSeconds} s heartbeat + ${s.writerStopMarginSeconds} s margin after the failure`,
  );
  // The operation completes once the promoted writer has restarted into its role; the restart
  // is the tail of the drawn duration (lab/world/aurora.ts), so it is not counted again here.
  const aurora = planned ? mid(t.switchoverMs) : mid(t.failoverMs);
  add(
    "promote",
    promotionExpectedSeconds(TASK_SECONDS, aurora),
    `${planned ? "switchover" : "managed failover"} ${aurora} s, the new writer's restart its tail (the middle of the drawn range) + half a poll + Promote, CheckPromotion, UpdateParameters`,
  );
  if (planned) {
    const dns = plannedDns(t);
    add("dns", dns.seconds, dns.detail);
  } else {
    // After the promotion, not beside it: the target's /health answers 503 while it is passive,
    // so Route 53 answers with it only once its check has passed `threshold` times in a row (and
    // the control plane in us-east-1, which ShiftTraffic needs, is the failed region here), then
    // a client's cached answer lives out what is left of its TTL (half of it, typically). This is
    // where the lab departs from `npm run rto`, which runs DNS beside the workflow.
    add(
      "dns",
      healthCheckSeconds(t.healthCheckIntervalSeconds, t.healthCheckFailureThreshold) +
        t.dnsTtlSeconds / 2,
      `after the promotion: the target's health check ${t.healthCheckFailureThreshold} x ${t.healthCheckIntervalSeconds} s, then half the ${t.dnsTtlSeconds} s TTL`,
    );
  }
  return { seconds: +elapsed.toFixed(1), phases };
}

/**
 * The planned path's DNS phase (switchover, failback; review 23 M3): Route 53's control plane in
 * us-east-1 is up, so ShiftTraffic swaps the failover records right after UpdateParameters
 * (lab/world/route53.ts makePrimary), without waiting for the target's health check. By then the
 * old writer's /health has answered 503 since the Fence, so its check is unhealthy, and with the
 * target's check not yet through its passes both are unhealthy: Route 53 then answers the record
 * marked primary, the target ("When the secondary resource record set is unhealthy, Route 53
 * responds to DNS queries with the applicable value from the primary resource record set
 * regardless of the health of the primary resource record set",
 * https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html). What
 * is left is a client's cached answer living out its TTL: half of it, typically (the lab's load
 * clients resolve together at their start, so their caches expire close together).
 */
function plannedDns(t: LabConfig["timings"]): { seconds: number; detail: string } {
  return {
    seconds: TASK_SECONDS + t.dnsTtlSeconds / 2,
    detail: `ShiftTraffic swaps the records (${TASK_SECONDS} s), then half the ${t.dnsTtlSeconds} s TTL`,
  };
}
