import {
  ActiveRegionGuard,
  MAX_ACTIVE_REGION_CACHE_MS,
} from "../../../../functions/payments/shared/fencing";
import type { ActiveRegionFlag } from "../../../../functions/payments/shared/fencing";
import { PEER_LEASE } from "../../../../functions/common/contract";
import { guardFromEnvironment } from "../../../../functions/payments/shared/write-runtime";

function fixture(cacheMs = 5_000) {
  let now = 0;
  let flag: ActiveRegionFlag | undefined = { activeRegion: "us-east-1" };
  let reads = 0;
  const guard = new ActiveRegionGuard({
    region: "us-east-1",
    cacheMs,
    now: () => now,
    read: async () => {
      reads += 1;
      return flag;
    },
  });
  return {
    guard,
    advance: (ms: number) => (now += ms),
    setFlag: (next: ActiveRegionFlag | undefined) => (flag = next),
    reads: () => reads,
  };
}

describe("ActiveRegionGuard", () => {
  it("trusts a read flag for less than 5 s, then reads it again", async () => {
    const f = fixture();
    await f.guard.assertActive();
    f.setFlag({ activeRegion: "us-west-2" });

    f.advance(4_999);
    await f.guard.assertActive();
    f.advance(1);

    await expect(f.guard.assertActive()).rejects.toMatchObject({
      name: "PassiveRegionError",
      activeRegion: "us-west-2",
      message: "passive region: writes go to us-west-2",
    });
    expect(f.reads()).toBe(2);
  });

  it("shares one read between concurrent callers", async () => {
    const f = fixture();

    await Promise.all(Array.from({ length: 20 }, () => f.guard.assertActive()));

    expect(f.reads()).toBe(1);
  });

  it("rejects writes when the flag item is missing", async () => {
    const f = fixture();
    f.setFlag(undefined);

    await expect(f.guard.assertActive()).rejects.toMatchObject({
      name: "ActiveRegionUnknownError",
    });
  });

  it("does not cache a failed read", async () => {
    let fail = true;
    const guard = new ActiveRegionGuard({
      region: "us-east-1",
      cacheMs: 5_000,
      read: async () => {
        if (fail) throw new Error("timeout");
        return { activeRegion: "us-east-1" };
      },
    });
    await expect(guard.assertActive()).rejects.toMatchObject({ name: "ActiveRegionUnknownError" });
    fail = false;

    await expect(guard.assertActive()).resolves.toBeUndefined();
  });

  // Review 23b-10 L1: the guard itself, not the body's parsing, refuses a merchant while fenced;
  // L2: the DR merchant passes only once the run stamped its proof (promotingAt).
  describe("a fenced flag naming this region", () => {
    const PROOF = "2026-11-30T23:00:00.000Z";

    it("rejects every merchant but the DR verification's with RegionFencedError", async () => {
      const f = fixture();
      f.setFlag({ activeRegion: "us-east-1", phase: "fenced", promotingAt: PROOF });

      await expect(f.guard.assertActive({ merchantId: "merchant-1" })).rejects.toMatchObject({
        name: "RegionFencedError",
      });
      await expect(f.guard.assertActive()).rejects.toMatchObject({ name: "RegionFencedError" });
      await expect(f.guard.assertActive({ merchantId: "dr-synthetic" })).resolves.toBeUndefined();
    });

    it("rejects the DR verification's writes before the run has proven the old writer stopped", async () => {
      const f = fixture();
      f.setFlag({ activeRegion: "us-east-1", phase: "fenced" });

      await expect(f.guard.assertActive({ merchantId: "dr-synthetic" })).rejects.toMatchObject({
        name: "RegionFencedError",
      });
    });

    it("rejects writes under a phase it does not know, the DR verification's too", async () => {
      const f = fixture();
      f.setFlag({ activeRegion: "us-east-1", phase: "draining", promotingAt: PROOF });

      await expect(f.guard.assertActive({ merchantId: "dr-synthetic" })).rejects.toMatchObject({
        name: "RegionFencedError",
      });
      await expect(f.guard.assertActive()).rejects.toMatchObject({ name: "RegionFencedError" });
    });
  });

  it("fails to build with a cache longer than 5 s", () => {
    expect(() => fixture(MAX_ACTIVE_REGION_CACHE_MS + 1)).toThrow(
      "active-region cache must be 0 to 5000 ms, got 5001",
    );
  });

  // The peer lease (PEER_LEASE, review M3): the check runs against the function's clock at every
  // write, whatever the cache holds; the bound the DR orchestrator waits for
  // (infra/lib/fence-bound.ts leaseSettleSeconds) relies on exactly these edges.
  describe("peer lease", () => {
    const LEASE_MS = PEER_LEASE.seconds * 1000;
    const armed = (peerSeenAtMs: number): ActiveRegionFlag => ({
      activeRegion: "us-east-1",
      fencingToken: 0,
      leaseRequired: true,
      peerSeenAt: new Date(peerSeenAtMs).toISOString(),
    });

    it("accepts a renewal exactly PEER_LEASE.seconds old and refuses one a millisecond older", async () => {
      const f = fixture();
      f.advance(100_000);
      f.setFlag(armed(100_000 - LEASE_MS));
      await expect(f.guard.assertActive()).resolves.toBeUndefined();

      f.advance(1);
      await expect(f.guard.assertActive()).rejects.toMatchObject({
        name: "PeerLeaseLapsedError",
        region: "us-east-1",
        peerSeenAt: new Date(100_000 - LEASE_MS).toISOString(),
        ageMs: LEASE_MS + 1,
      });
    });

    it("checks the cached flag against the clock now: the 5 s cache never extends the lease", async () => {
      const f = fixture();
      f.advance(100_000);
      f.setFlag(armed(100_000 - LEASE_MS + 2_000));
      await f.guard.assertActive();
      expect(f.reads()).toBe(1);

      // Still inside the cache window, but the renewal it holds is now too old: one fresh read
      // (a newer renewal may be there), then the refusal.
      f.advance(2_001);
      await expect(f.guard.assertActive()).rejects.toMatchObject({ name: "PeerLeaseLapsedError" });
      expect(f.reads()).toBe(2);
    });

    it("takes a newer renewal from a fresh read instead of refusing on the cached one", async () => {
      const f = fixture();
      f.advance(100_000);
      f.setFlag(armed(100_000 - LEASE_MS));
      await f.guard.assertActive();
      f.setFlag(armed(100_000));
      f.advance(1_000);

      await expect(f.guard.assertActive()).resolves.toBeUndefined();
      expect(f.reads()).toBe(2);
    });

    it("tolerates a renewer clock up to two skews ahead, and refuses a stamp further in the future", async () => {
      const f = fixture(0);
      const skewMs = 2 * PEER_LEASE.clockSkewSeconds * 1000;
      f.advance(100_000);
      f.setFlag(armed(100_000 + skewMs));
      await expect(f.guard.assertActive()).resolves.toBeUndefined();

      f.setFlag(armed(100_000 + skewMs + 1));
      await expect(f.guard.assertActive()).rejects.toMatchObject({ name: "PeerLeaseLapsedError" });
    });

    it("refuses an armed lease that was never stamped, and ignores the lease when it is not armed", async () => {
      const f = fixture(0);
      f.advance(100_000);
      f.setFlag({ activeRegion: "us-east-1", leaseRequired: true });
      await expect(f.guard.assertActive()).rejects.toMatchObject({
        name: "PeerLeaseLapsedError",
        peerSeenAt: null,
      });

      // The survivor of an unplanned failover (false) and a flag from before the lease (absent).
      f.setFlag({ ...armed(0), leaseRequired: false });
      await expect(f.guard.assertActive()).resolves.toBeUndefined();
      f.setFlag({ activeRegion: "us-east-1", peerSeenAt: new Date(0).toISOString() });
      await expect(f.guard.assertActive()).resolves.toBeUndefined();
    });

    it("answers a passive region as passive, whatever its lease says", async () => {
      const f = fixture(0);
      f.advance(100_000);
      f.setFlag({ ...armed(0), activeRegion: "us-west-2" });
      await expect(f.guard.assertActive()).rejects.toMatchObject({ name: "PassiveRegionError" });
    });
  });

  it("reads ACTIVE_REGION_CACHE_MS, defaulting to 5000 and refusing more", () => {
    const read = async () => ({ activeRegion: "us-east-1" });

    expect(() => guardFromEnvironment(read, "us-east-1", {})).not.toThrow();
    expect(() =>
      guardFromEnvironment(read, "us-east-1", { ACTIVE_REGION_CACHE_MS: "6000" }),
    ).toThrow("ACTIVE_REGION_CACHE_MS");
  });
});
