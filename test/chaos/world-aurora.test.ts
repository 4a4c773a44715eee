// The chaos world's Aurora model against AWS's documented behaviour, one behaviour at a time
// (the injector's findings are only as true as its world).
import { AuroraGlobal } from "./world/aurora";
import { VirtualClock } from "./world/clock";
import { Network } from "./world/network";
import { Random } from "./world/random";

const EAST = "us-east-1";
const WEST = "us-west-2";

function globalDatabase(seed: number, promotionSeconds: number) {
  const clock = new VirtualClock(Date.UTC(2026, 10, 30));
  const random = new Random(seed);
  const network = new Network(random);
  const aurora = new AuroraGlobal(
    "payments-global",
    [EAST, WEST].map((region) => ({
      region,
      arn: `arn:aws:rds:${region}:123456789012:cluster:payments-${region}`,
      identifier: `payments-${region}`,
      role: region === EAST ? ("writer" as const) : ("secondary" as const),
      rpoSeconds: region === EAST ? 60 : null,
    })),
    clock,
    network,
    random,
    () => promotionSeconds,
  );
  const runAll = () => {
    for (let timer = clock.next(); timer; timer = clock.next()) void timer.fn();
  };
  return { clock, network, aurora, runAll };
}

describe("the chaos world's Aurora global database", () => {
  // "As soon as that old primary Region is healthy and available again, Aurora automatically adds
  // it back to the global cluster as a secondary Region" (aurora-global-database-disaster-recovery).
  it("re-adds a reachable old primary as a secondary after a managed failover, also when its best-effort fence lands after the promotion", () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      // Every fence delayed (0-30 s), the promotion done in 2 s: the fence lands after it.
      const { aurora, runAll } = globalDatabase(seed, 2);
      aurora.fenceDelayShare = 1;
      expect(aurora.failover(WEST)).toBe("ok");
      runAll();
      expect(aurora.writer).toBe(WEST);
      expect(aurora.clusters[EAST]).toMatchObject({
        role: "secondary",
        member: true,
        source: WEST,
        fenced: false,
      });
      // The point-of-failure snapshot is taken before the new volume.
      expect(aurora.snapshots.map((s) => s.clusterIdentifier)).toEqual([`payments-${EAST}`]);
    }
  });

  it("re-adds the old primary only once the regions can see each other again", () => {
    const { clock, network, aurora, runAll } = globalDatabase(3, 2);
    aurora.fenceDelayShare = 0;
    expect(aurora.failover(WEST)).toBe("ok");
    // The regions part before Aurora gets to re-add the old primary, for an hour.
    const partitionEnd = clock.now + 3600_000;
    network.add({ kind: "partition", from: clock.now + 5000, to: partitionEnd });
    clock.at(partitionEnd - clock.now, () => aurora.networkChanged());
    let rejoinedAt: number | null = null;
    for (let timer = clock.next(); timer; timer = clock.next()) {
      void timer.fn();
      if (rejoinedAt === null && aurora.clusters[EAST]!.role === "secondary")
        rejoinedAt = clock.now;
    }
    runAll();
    expect(rejoinedAt).not.toBeNull();
    expect(rejoinedAt!).toBeGreaterThanOrEqual(partitionEnd);
    expect(aurora.clusters[EAST]).toMatchObject({ role: "secondary", source: WEST });
  });
});
