// How long the old region's payment path may still commit once its replica of the active-region
// flag names another region, from the deployed payment functions: the one place the DR
// orchestrator's settle time comes from (DR_FENCE_SETTLE_SECONDS), tested against the
// synthesized stack. Pure.
import { PEER_LEASE } from "../../functions/common/contract";
import { FLAG_READ, MAX_ACTIVE_REGION_CACHE_MS } from "../../functions/payments/shared/fencing";

export interface PaymentWritePath {
  /** ACTIVE_REGION_CACHE_MS of the write functions: how long a read flag is trusted. */
  readonly flagCacheMs: number;
  /** One attempt of the flag read (connection + request timeout). */
  readonly flagReadMs: number;
  /**
   * The longest a payment write may take from its fencing check to its commit: a write function's
   * timeout; for the expiry job, its batch deadline (infra/constructs/payments-api.ts).
   */
  readonly writeTimeoutSeconds: number;
}

/**
 * A COMMIT sent just before the function's timeout still reaches the database, and the DR
 * Lambda's clock and the payment Lambdas' differ by a little (Amazon Time Sync).
 */
export const FENCE_SETTLE_MARGIN_SECONDS = 2;

/**
 * A read that returned the old flag began before the new one arrived, so it returned at most one
 * attempt later; the guard then trusts it for the cache window, counted from when the read
 * returned (functions/payments/shared/fencing.ts); a write that passed the check commits within
 * its function's timeout or not at all. After that, nothing in the old region commits a payment.
 */
export function fenceSettleSeconds(path: PaymentWritePath): number {
  return Math.ceil(
    (path.flagCacheMs + path.flagReadMs) / 1000 +
      path.writeTimeoutSeconds +
      FENCE_SETTLE_MARGIN_SECONDS,
  );
}

/**
 * How long after a Fence was written in the target region the old region's payment path may
 * still commit when its replica never received that fence, on the strength of the peer lease
 * alone (PEER_LEASE, review M3). The standby renews the lease only while its replica names the
 * other region, so every renewal the old region can hold was stamped before the fence (by the
 * renewer's clock, up to one skew off); its guard refuses once the renewal is older than the
 * lease by its own clock (one more skew), checked against the current time at every write, so
 * the flag cache adds nothing; a write that passed commits within its function's timeout. Then
 * the same margin as the settle time (a COMMIT sent at the last moment).
 */
export function leaseSettleSeconds(
  path: Pick<PaymentWritePath, "writeTimeoutSeconds">,
  lease: { readonly seconds: number; readonly clockSkewSeconds: number } = PEER_LEASE,
): number {
  return Math.ceil(
    lease.seconds +
      2 * lease.clockSkewSeconds +
      path.writeTimeoutSeconds +
      FENCE_SETTLE_MARGIN_SECONDS,
  );
}

/** The write path as infra/constructs/payments-api.ts deploys it. */
export function deployedWritePath(writeTimeoutSeconds: number): PaymentWritePath {
  return {
    flagCacheMs: MAX_ACTIVE_REGION_CACHE_MS,
    flagReadMs: FLAG_READ.connectionTimeoutMs + FLAG_READ.requestTimeoutMs,
    writeTimeoutSeconds,
  };
}

/**
 * Seconds the failover looks for proof that the old writer stopped before it stops safely and
 * pages: the database proof needs rpo + the heartbeat interval + a margin after the last
 * heartbeat, and four more minutes let a confirmation through DynamoDB's replication (no upper
 * bound is documented) and detection before it.
 */
export function writerStopBoundSeconds(
  rpoSeconds: number,
  heartbeatSeconds: number,
  marginSeconds: number,
): number {
  return rpoSeconds + heartbeatSeconds + marginSeconds + 240;
}
