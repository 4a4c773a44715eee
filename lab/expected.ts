// The RTO the lab should measure, by the phase formulas of `npm run rto` (infra/lib/rto.ts, reused
// here, not copied) with the lab's own timings in place of the deployed stack's: the prober alarm
// and Route 53 periods of LabTimings, the DR settings the lab's tasks run with, the middle of the
// lab's drawn Aurora durations, 1 s per task, and, for DNS, the typical half of the TTL where
// `npm run rto` takes all of it (planned runs: after ShiftTraffic's record swap). It is the
// figure to hold the measurement against, not a check: the measured RTO is what the clients saw.
import {
  databaseProofSeconds,
  detectionSeconds,
  dnsBesidePromotion,
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
    ...labWriteBounds(
      config.fast,
      t.flagCacheMs,
      writeTimeoutSeconds(),
      t.probeIntervalSeconds,
      config.handlerBudgets,
    ),
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
  // Unplanned: the database proof, and no sooner than the peer lease's settle after the fence
  // (check-old-writer/core.ts: the later of the two), as `npm run rto` counts it.
  const leaseAt = fenceAt + s.leaseSettleSeconds;
  const proofAt = planned
    ? fenceAt + mid(t.ddbReplicationMs) + s.fenceSettleSeconds
    : Math.max(proof.afterFailure, leaseAt);
  add(
    "fence",
    TASK_SECONDS + Math.max(0, proofAt - fenceAt),
    planned
      ? `Fence, the flag's replication (${mid(t.ddbReplicationMs).toFixed(1)} s) and the ${s.fenceSettleSeconds} s settle time`
      : `Fence, then the later of the database proof (the prober's sighting of the last beat (${proof.sighting} s) + ${t.rpoGuardSeconds} s rds.global_db_rpo + ${s.heartbeatSeconds} s heartbeat + ${s.writerStopMarginSeconds} s margin after the failure) and the peer lease's ${s.leaseSettleSeconds} s settle after the fence`,
  );
  // The operation completes once the promoted writer has restarted into its role; the restart
  // is the tail of the drawn duration (lab/world/aurora.ts), so it is not counted again here.
  // Writes open at Unfence.
  const aurora = planned ? mid(t.switchoverMs) : mid(t.failoverMs);
  const promotion = promotionExpectedSeconds(TASK_SECONDS, aurora);
  add(
    "promote",
    promotion,
    `${planned ? "switchover" : "managed failover"} ${aurora} s, the new writer's restart its tail (the middle of the drawn range) + half a poll + Promote, CheckPromotion, UpdateParameters, ShiftTraffic, Verify, Unfence (writes open there)`,
  );
  if (planned) {
    const dns = plannedDns(t);
    add("dns", dns.seconds, dns.detail);
  } else {
    // Beside the promotion from the proof on, as `npm run rto` counts it: the target's /health
    // answers 200 "taking-over" once Promote has stamped `promotingAt` (functions/common/
    // taking-over.ts), so Route 53's check of it passes `threshold` times in a row during the
    // promotion, and a client's cached answer lives out what is left of its TTL (half of it,
    // typically); ShiftTraffic is not needed (its control plane in us-east-1 is the failed region
    // here). Only what outlasts the promotion and the tasks until Unfence adds to the RTO.
    const dnsSpan =
      healthCheckSeconds(t.healthCheckIntervalSeconds, t.healthCheckFailureThreshold) +
      t.dnsTtlSeconds / 2;
    add(
      "dns",
      dnsBesidePromotion(dnsSpan, promotion),
      `from the proof, beside the promotion: the target's health check ${t.healthCheckFailureThreshold} x ${t.healthCheckIntervalSeconds} s, then half the ${t.dnsTtlSeconds} s TTL (${dnsSpan} s), only what outlasts the ${promotion.toFixed(1)} s from the proof to Unfence`,
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
