// Issue 13, review 23 M1: the lab's peer lease in fast mode has a real-time floor, the DR tasks'
// lease settle counts that same term, and a lapse the lab made up fails the run.
import { DR_SYNTHETIC_MERCHANT, FENCE_PHASE, PEER_LEASE } from "../../functions/common/contract";
import { RegionFencedError } from "../../functions/payments/shared/errors";
import { ActiveRegionGuard } from "../../functions/payments/shared/fencing";
import { leaseOnLabClock } from "../../lab/lease-clock";
import { API_TIMEOUTS } from "../../functions/payments/shared/database";
import { leaseSettleSeconds } from "../../infra/lib/fence-bound";
import { leaseLapseCheck } from "../../lab/checks";
import { writeTimeoutSeconds } from "../../infra/constructs/payments-api";
import { LEASE_JITTER_FLOOR_MS, labLeaseSeconds, labWriteBounds } from "../../lab/write-path";

describe("the lab's peer lease", () => {
  it("is PEER_LEASE at production timings", () => {
    expect(labLeaseSeconds(1, 10)).toBe(PEER_LEASE.seconds);
    expect(labWriteBounds(1, 5000, writeTimeoutSeconds(), 10).leaseSettleSeconds).toBe(
      leaseSettleSeconds({
        writeTimeoutSeconds: writeTimeoutSeconds(),
        statementMs: API_TIMEOUTS.statementMs,
      }),
    );
  });

  it.each([5, 20, 50])(
    "leaves one renewal interval plus the jitter floor of real time at --fast %i, and the settle counts that term",
    (fast) => {
      const interval = 10;
      const lease = labLeaseSeconds(fast, interval);
      // Real ms the lease leaves after one renewal interval: never below the floor.
      expect(((lease - interval) * 1000) / fast).toBeGreaterThanOrEqual(LEASE_JITTER_FLOOR_MS);
      const bounds = labWriteBounds(fast, 5000, writeTimeoutSeconds(), interval);
      expect(bounds.leaseSeconds).toBe(lease);
      expect(bounds.leaseSettleSeconds).toBeGreaterThanOrEqual(
        lease +
          2 * PEER_LEASE.clockSkewSeconds +
          bounds.writeTimeoutSeconds +
          (bounds.handlerBudgets.database.statementMs * fast) / 1000,
      );
    },
  );

  it("rejects a fast factor below 1 or no renewal interval", () => {
    expect(() => labLeaseSeconds(0.5, 10)).toThrow(/fast >= 1.*0\.5/);
    expect(() => labLeaseSeconds(20, 0)).toThrow(/renewal interval > 0 s.*0 s/);
  });
});

describe("the lease check", () => {
  const renewer = { startedAt: 0 };
  const lapse = (at: number) => ({ region: "us-east-1", at, ageSeconds: 36.2 });

  it("fails on a lapse before the Fence while the standby renewed", () => {
    const check = leaseLapseCheck([lapse(50_000)], { fenceAt: 60_000, renewer, faultAt: 40_000 });
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/us-east-1 at \+10\.0 s \(renewal 36\.2 s old\)/);
  });

  it("passes lapses the lease owed: after a partition, after the renewer stopped, after the Fence", () => {
    expect(
      leaseLapseCheck([lapse(50_000)], {
        fenceAt: 90_000,
        renewer: { startedAt: 0, partitionedAt: 40_000 },
        faultAt: 40_000,
      }).ok,
    ).toBe(true);
    expect(
      leaseLapseCheck([lapse(50_000)], {
        fenceAt: null,
        renewer: { startedAt: 0, stoppedAt: 45_000 },
        faultAt: 40_000,
      }).ok,
    ).toBe(true);
    expect(leaseLapseCheck([lapse(70_000)], { fenceAt: 60_000, renewer, faultAt: 40_000 }).ok).toBe(
      true,
    );
    expect(leaseLapseCheck([], { fenceAt: null, renewer, faultAt: 0 }).ok).toBe(true);
  });
});

describe("the lab's lease clock on the handlers' guard", () => {
  // Merge of 13e and 10i (session 23): the wrapper dropped assertActive's argument, so Verify's
  // synthetic payment was refused as region_fenced and every lab switchover halted at Verify.
  it("passes the caller through, so a fenced flag still lets Verify's synthetic payment in", async () => {
    class LabGuard extends ActiveRegionGuard {}
    const guard = new LabGuard({
      region: "us-west-2",
      // After the run's proof (promotingAt): the only time the guard lets Verify's key through.
      read: async () => ({
        activeRegion: "us-west-2",
        phase: FENCE_PHASE.fenced,
        promotingAt: "2026-12-01T00:00:00.000Z",
      }),
      cacheMs: 0,
    });
    leaseOnLabClock(LabGuard, () => Date.now(), PEER_LEASE.seconds * 1000);
    await expect(
      guard.assertActive({ merchantId: DR_SYNTHETIC_MERCHANT }),
    ).resolves.toBeUndefined();
    await expect(guard.assertActive({ merchantId: "merchant-1" })).rejects.toThrow(
      RegionFencedError,
    );
  });
});
