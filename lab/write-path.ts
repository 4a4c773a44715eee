// The payment write path as the lab runs it, and the DR settle times that follow from it. The
// payment handlers run in real time (lab/region-api.ts), so in fast mode every real duration of
// theirs is `fast` times longer in lab time, where the DR workflow waits. The settle times are
// derived here from the lab's own write path with the same functions the synth derives the
// deployed ones with (infra/lib/fence-bound.ts); at production timings they are the deployed
// defaults (DR_FENCE_SETTLE_SECONDS 25, DR_LEASE_SETTLE_SECONDS 49). Not scaled: the peer
// lease's own term (see leaseSettleSeconds below).
import { PEER_LEASE } from "../functions/common/contract";
import { connectJitterCapMs } from "../functions/payments/shared/connect-jitter";
import { API_TIMEOUTS } from "../functions/payments/shared/database";
import { FLAG_READ } from "../functions/payments/shared/fencing";
import { fenceSettleSeconds, leaseSettleSeconds } from "../infra/lib/fence-bound";

/**
 * The least real time a payment function gets, whatever its timeout scales to: its own database
 * connect timeout (API_TIMEOUTS.connectMs, real time in the handler). Below it a slow connect on
 * a loaded box would end as a Lambda timeout (a 500 from API Gateway) instead of the handler's
 * own 503, a failure the lab would have made up.
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

export interface LabWriteBounds {
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
): LabWriteBounds {
  const timeoutMs = labFunctionTimeoutMs(deployedTimeoutSeconds, fast);
  const writeTimeoutSeconds = (timeoutMs * fast) / 1000;
  const statementMs = API_TIMEOUTS.statementMs * fast;
  return {
    writeTimeoutSeconds,
    fenceSettleSeconds: fenceSettleSeconds({
      flagCacheMs,
      flagReadMs: (FLAG_READ.connectionTimeoutMs + FLAG_READ.requestTimeoutMs) * fast,
      writeTimeoutSeconds,
      statementMs,
    }),
    // The lease's own term stays PEER_LEASE in lab seconds, as the DR tasks count it: the lab
    // renews and checks it on wall-clock time (lab/lab.ts, runProber), so at --fast N an old
    // region cut off from the renewals could write for N times longer than this counts. Scaling
    // it (600 lab s at --fast 20) outlasted the failover's writer-stop bound and halted every
    // region-down; the lease is not what fast mode tests. What does scale is the write window.
    leaseSettleSeconds: leaseSettleSeconds({ writeTimeoutSeconds, statementMs }, PEER_LEASE),
    // What the deployed function's timeout leaves after one connect and one statement
    // (connect-jitter.ts), from the lab function's actual timeout: none at --fast 20.
    connectJitterMs: connectJitterCapMs(timeoutMs, API_TIMEOUTS),
  };
}
