import {
  ActiveRegionGuard,
  MAX_ACTIVE_REGION_CACHE_MS,
} from "../../../../functions/payments/shared/fencing";
import type { ActiveRegionFlag } from "../../../../functions/payments/shared/fencing";
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

  it("fails to build with a cache longer than 5 s", () => {
    expect(() => fixture(MAX_ACTIVE_REGION_CACHE_MS + 1)).toThrow(
      "active-region cache must be 0 to 5000 ms, got 5001",
    );
  });

  it("reads ACTIVE_REGION_CACHE_MS, defaulting to 5000 and refusing more", () => {
    const read = async () => ({ activeRegion: "us-east-1" });

    expect(() => guardFromEnvironment(read, "us-east-1", {})).not.toThrow();
    expect(() =>
      guardFromEnvironment(read, "us-east-1", { ACTIVE_REGION_CACHE_MS: "6000" }),
    ).toThrow("ACTIVE_REGION_CACHE_MS");
  });
});
