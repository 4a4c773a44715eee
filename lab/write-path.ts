// The payment write path as the lab runs it, and the DR settle times that follow from it. The
// payment handlers run in real time (lab/region-api.ts), so in fast mode every real duration of
// theirs is `fast` times longer in lab time, where the DR workflow waits. The settle times are
// derived here from the lab's own write path with the same functions the synth derives the
// deployed ones with (infra/lib/fence-bound.ts); at production timings they are the deployed
// defaults (DR_FENCE_SETTLE_SECONDS 25, DR_LEASE_SETTLE_SECONDS 49). The peer lease's own term
// runs on the lab clock (lab/lease-clock.ts), with a real-time floor in fast mode (labLeaseSeconds).
import { PEER_LEASE } from "../functions/common/contract";
import { connectJitterCapMs } from "../functions/payments/shared/connect-jitter";
import { API_TIMEOUTS } from "../functions/payments/shared/database";
import { FLAG_READ } from "../functions/payments/shared/fencing";
import {
  FENCE_SETTLE_MARGIN_SECONDS,
  fenceSettleSeconds,
  leaseSettleSeconds,
} from "../infra/lib/fence-bound";

/**
 * The least real time a payment function gets, whatever its timeout scales to: its own database
 * connect timeout (API_TIMEOUTS.connectMs, real time in the handler). Below it a slow connect on
 * a loaded box would end as a Lambda timeout (a 500 from API Gateway) instead of the handler's
 * own 503, a failure the lab would have made up.
 *
 * Not the deployed relation, timeout >= connect + statement + jitter margin (connect-jitter.ts:
 * 10 s for a 3 s connect and a 5 s statement), on purpose (review M5): the handlers' connect and
 * statement timeouts are real time and unscaled, so that floor would be 9 s of real time at any
 * --fast above 1: the function timeout would no longer scale at all, and at --fast 20 every move's
 * fence settle would grow from 165 to 285 lab s (14 s real). The cost of this floor: a slow
 * connect followed by a statement can outlast 3 s real and end as the timeout's 500, and the
 * connect jitter the deployed timeout leaves room for is 0 (connectJitterCapMs). So the lab
 * reports every timeout it enforced, per region and function (Lab.functionTimeoutReport,
 * report.json `functionTimeouts`, the summary's "function timeouts" line): a run full of
 * synthetic 500s shows as such, not as a slow outage.
 */
export const FUNCTION_TIMEOUT_FLOOR_MS = API_TIMEOUTS.connectMs;

/** A payment function's timeout in the lab, real ms: its deployed timeout scaled, at least the floor. */
export function labFunctionTimeoutMs(timeoutSeconds: number, fast: number): number {
  if (!(timeoutSeconds > 0) || !(fast >= 1)) {
    throw new Error(
      `function timeout must be > 0 s and fast >= 1, got ${timeoutSeconds} s and ${fast}`,
    );
  }
  return Math.max(FUNCTION_TIMEOUT_FLOOR_MS, Math.round((timeoutSeconds * 1000) / fast));
}

/**
 * The real time the lab's peer lease leaves, beyond one renewal interval, for what stands between
 * a renewal and the guard: the prober's timer, the control-table calls, the replication timer to
 * the old primary's replica and the flag endpoint, all in the lab process's one event loop, which
 * the load, the workflows and Route 53 share (review 23 M1). PEER_LEASE's margin is sized against
 * a scheduled renewer's jitter in seconds of real time (two rounds, prober/core.ts); scaled down
 * to lab time at --fast 20 the lease left ~1 s of real time, and one stall of the lab process
 * made the healthy primary answer 503 peer_lease_lapsed.
 */
export const LEASE_JITTER_FLOOR_MS = 2000;

/**
 * The peer lease's term in the lab, lab seconds: PEER_LEASE, but never less than one renewal
 * interval plus LEASE_JITTER_FLOOR_MS of real time (as FUNCTION_TIMEOUT_FLOOR_MS floors the
 * function timeout). PEER_LEASE at production timings; 50 lab s at --fast 20.
 */
export function labLeaseSeconds(fast: number, renewalIntervalSeconds: number): number {
  if (!(fast >= 1) || !(renewalIntervalSeconds > 0)) {
    throw new Error(
      `lease floor needs fast >= 1 and a renewal interval > 0 s, got ${fast} and ${renewalIntervalSeconds} s`,
    );
  }
  return Math.max(
    PEER_LEASE.seconds,
    renewalIntervalSeconds + (LEASE_JITTER_FLOOR_MS / 1000) * fast,
  );
}

export interface LabWriteBounds {
  /** The peer lease's term the lab's handlers judge by, lab seconds (labLeaseSeconds). */
  readonly leaseSeconds: number;
  /** The longest write window of a payment function, lab seconds (its enforced timeout). */
  readonly writeTimeoutSeconds: number;
  /** DR_FENCE_SETTLE_SECONDS for the lab's DR tasks, lab seconds. */
  readonly fenceSettleSeconds: number;
  /** DR_LEASE_SETTLE_SECONDS for the lab's DR tasks, lab seconds. */
  readonly leaseSettleSeconds: number;
  /** DATABASE_CONNECT_JITTER_MS of the lab's payment functions, real ms. */
  readonly connectJitterMs: number;
}

/**
 * The bounds of the lab's write path at `fast`: the flag cache runs on the lab clock
 * (ACTIVE_REGION_CACHE_MS is scaled, lab/lab.ts); the flag read's timeouts (FLAG_READ), the
 * enforced function timeout and the statement_timeout of the handlers' connections
 * (API_TIMEOUTS.statementMs: a statement sent before the deadline runs on in the lab's real
 * PostgreSQL, lab/invocation.ts) run in real time, so they count `fast` times over in lab time.
 */
export function labWriteBounds(
  fast: number,
  flagCacheMs: number,
  deployedTimeoutSeconds: number,
  renewalIntervalSeconds: number,
): LabWriteBounds {
  const leaseSeconds = labLeaseSeconds(fast, renewalIntervalSeconds);
  const timeoutMs = labFunctionTimeoutMs(deployedTimeoutSeconds, fast);
  const writeTimeoutSeconds = (timeoutMs * fast) / 1000;
  // The bound's margin (FENCE_SETTLE_MARGIN_SECONDS: a COMMIT sent just before the timeout still
  // reaching the database) is a trip through the handlers' real proxy link, fsync and a loaded
  // box: real time, like the window it follows. The bound adds it once in lab seconds; the rest
  // of its `fast` lab seconds per real one is added to the write window here (review M1: at
  // --fast 20 the 2 s margin was 0.1 s of real time).
  const settleWindowSeconds = writeTimeoutSeconds + FENCE_SETTLE_MARGIN_SECONDS * (fast - 1);
  const statementMs = API_TIMEOUTS.statementMs * fast;
  return {
    leaseSeconds,
    writeTimeoutSeconds,
    fenceSettleSeconds: fenceSettleSeconds({
      flagCacheMs,
      flagReadMs: (FLAG_READ.connectionTimeoutMs + FLAG_READ.requestTimeoutMs) * fast,
      writeTimeoutSeconds: settleWindowSeconds,
      statementMs,
    }),
    // The lease's own term as the handlers judge it (the same floored term, passed to them as
    // LAB_LEASE_MS): the prober stamps its renewals and the handlers judge them on the lab clock
    // (lab/lease-clock.ts), so the settle counts it in lab seconds as it is.
    leaseSettleSeconds: leaseSettleSeconds(
      { writeTimeoutSeconds: settleWindowSeconds, statementMs },
      { seconds: leaseSeconds, clockSkewSeconds: PEER_LEASE.clockSkewSeconds },
    ),
    // What the deployed function's timeout leaves after one connect and one statement
    // (connect-jitter.ts), from the lab function's actual timeout: none at --fast 20.
    connectJitterMs: connectJitterCapMs(timeoutMs, API_TIMEOUTS),
  };
}
