// The peer lease on the lab clock (review M4). The lease is a modelled AWS timing (PEER_LEASE:
// writes refused once the standby's renewal is 30 s old), so in fast mode it runs N times faster
// like every other: the prober stamps its renewals (and the Fence arms the lease) in lab time
// (lab/lab.ts), and the payment handlers, which run in real time in lab/region-api.ts, judge the
// renewal's age on the lab clock. On wall-clock time an old region cut off from the renewals
// kept writing for 30 s of real time, 600 lab s at --fast 20, while the DR tasks' lease settle
// counts 30. Only the lease moves: the handlers' flag cache stays in real ms (it is passed
// scaled, ACTIVE_REGION_CACHE_MS), so the guard's own clock is left alone.
import { peerLeaseState } from "../functions/payments/shared/fencing";
import type { ActiveRegionFlag, ActiveRegionGuard } from "../functions/payments/shared/fencing";

/** Lab epoch ms at real epoch ms `realMs`, for a lab clock started at `startedAt` (LabClock.toLab). */
export function labTime(startedAt: number, fast: number, realMs: number): number {
  return startedAt + (realMs - startedAt) * fast;
}

interface LeaseHolder {
  leaseHolds(flag: ActiveRegionFlag): boolean;
  options: { leaseMs?: number };
  labLeaseClock?: true;
}

/**
 * Makes every ActiveRegionGuard of this process (the handlers' one copy of fencing.ts) judge the
 * peer lease against `labNow` (lab epoch ms) instead of its own clock. Idempotent.
 */
export function leaseOnLabClock(guard: typeof ActiveRegionGuard, labNow: () => number): void {
  const proto = guard.prototype as unknown as LeaseHolder;
  if (proto.labLeaseClock) return;
  proto.leaseHolds = function (this: LeaseHolder, flag: ActiveRegionFlag): boolean {
    return !peerLeaseState(flag, labNow(), this.options.leaseMs).lapsed;
  };
  proto.labLeaseClock = true;
}
