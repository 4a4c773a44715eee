// The peer lease on the lab clock (review M4). The lease is a modelled AWS timing (PEER_LEASE:
// writes refused once the standby's renewal is 30 s old), so in fast mode it runs N times faster
// like every other: the prober stamps its renewals (and the Fence arms the lease) in lab time
// (lab/lab.ts), and the payment handlers, which run in real time in lab/region-api.ts, judge the
// renewal's age on the lab clock. On wall-clock time an old region cut off from the renewals
// kept writing for 30 s of real time, 600 lab s at --fast 20, while the DR tasks' lease settle
// counts 30. Only the lease moves: the handlers' flag cache stays in real ms (it is passed
// scaled, ACTIVE_REGION_CACHE_MS), so the guard's own clock is left alone. The term is the lab's
// (lab/write-path.ts labLeaseSeconds: PEER_LEASE with a real-time floor in fast mode, review 23
// M1), and every refusal is reported with the renewal age it saw, in lab time.
import { PeerLeaseLapsedError } from "../functions/payments/shared/errors";
import { peerLeaseState } from "../functions/payments/shared/fencing";
import type { ActiveRegionFlag, ActiveRegionGuard } from "../functions/payments/shared/fencing";

/** One write the guard refused on a lapsed lease: lab epoch ms, and the renewal it held. */
export interface LeaseLapse {
  readonly at: number;
  readonly peerSeenAt: string | null;
  /** The renewal's age on the lab clock, lab seconds; null when it never was renewed. */
  readonly ageSeconds: number | null;
}

interface LeaseHolder {
  leaseHolds(flag: ActiveRegionFlag): boolean;
  assertActive(...args: unknown[]): Promise<void>;
  labLeaseClock?: true;
}

/**
 * Makes every ActiveRegionGuard of this process (the handlers' one copy of fencing.ts) judge the
 * peer lease against `labNow` (lab epoch ms) and the lab's term `leaseMs` (lab ms) instead of its
 * own clock and PEER_LEASE, and reports each refusal to `onLapse`; the refusal's error gives the
 * age in lab time too (review 23 L5: on the wall clock it was negative in fast mode). Idempotent.
 */
export function leaseOnLabClock(
  guard: typeof ActiveRegionGuard,
  labNow: () => number,
  leaseMs: number,
  onLapse: (lapse: LeaseLapse) => void = () => undefined,
): void {
  const proto = guard.prototype as unknown as LeaseHolder;
  if (proto.labLeaseClock) return;
  proto.leaseHolds = function (this: LeaseHolder, flag: ActiveRegionFlag): boolean {
    return !peerLeaseState(flag, labNow(), leaseMs).lapsed;
  };
  const assertActive = proto.assertActive;
  // The arguments pass through as they are: the caller's merchant decides whether a fenced
  // flag lets the write through (Verify's synthetic payment, fencing.ts).
  proto.assertActive = async function (this: LeaseHolder, ...args: unknown[]): Promise<void> {
    try {
      await assertActive.apply(this, args);
    } catch (error) {
      if (!(error instanceof PeerLeaseLapsedError)) throw error;
      const at = labNow();
      const seen = error.peerSeenAt === null ? NaN : Date.parse(error.peerSeenAt);
      const ageMs = Number.isNaN(seen) ? null : at - seen;
      onLapse({
        at,
        peerSeenAt: error.peerSeenAt,
        ageSeconds: ageMs === null ? null : Math.round(ageMs / 100) / 10,
      });
      throw new PeerLeaseLapsedError(error.region, error.peerSeenAt, ageMs);
    }
  };
  proto.labLeaseClock = true;
}

/**
 * /health's `lease` body judged again on the lab clock (review 23 L5). The health handler
 * computes it with its own clock (functions/payments/health/core.ts, `deps.now`, Date.now when
 * deployed), which in fast mode runs far behind the lab's stamps: every armed lease read
 * "lapsed" with a negative age, in the report's failed checks and the prober's details. The
 * region API passes each /health answer through this, with the lab's clock and term, as
 * leaseOnLabClock does for the payment guard. A body without a lease (no flag) is left as it is.
 */
export function healthBodyOnLabClock(body: string, labNow: number, leaseMs: number): string {
  let parsed: { lease?: { armed?: unknown; peerSeenAt?: unknown } | null };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return body;
  }
  const lease = parsed?.lease;
  if (!lease || typeof lease !== "object") return body;
  const flag = {
    leaseRequired: lease.armed === true,
    peerSeenAt: typeof lease.peerSeenAt === "string" ? lease.peerSeenAt : undefined,
  } as unknown as ActiveRegionFlag;
  return JSON.stringify({ ...parsed, lease: peerLeaseState(flag, labNow, leaseMs) });
}
