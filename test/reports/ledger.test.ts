import { drillStatus, rtoTrend, summarize } from "../../functions/reports/shared/ledger";
import { entry } from "./support/samples";

const day = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 86_400_000).toISOString();

describe("the ledger's trend against the targets", () => {
  it("calls RTO improving, worsening or steady from the last 3 successful runs against the 3 before", () => {
    const runs = (rtos: number[]) =>
      rtos.map((rto, i) => entry({ kind: "switchover", endedAt: day(i), rtoSeconds: rto }));
    // Oldest first: the three before, then the newest three.
    expect(rtoTrend(runs([200, 210, 190, 120, 130, 125]))).toBe("improving");
    expect(rtoTrend(runs([120, 130, 125, 200, 210, 190]))).toBe("worsening");
    expect(rtoTrend(runs([120, 130, 125, 126, 121, 129]))).toBe("steady");
    expect(rtoTrend(runs([120, 130, 125, 126, 121]))).toBe("not enough runs");
  });

  it("leaves failed runs out of the medians and counts runs over the target they ran under", () => {
    const runs = [
      entry({ kind: "failover", endedAt: day(1), rtoSeconds: 100 }),
      entry({ kind: "failover", endedAt: day(2), rtoSeconds: 1000 }),
      entry({ kind: "failover", endedAt: day(3), rtoSeconds: null, outcome: "failed" }),
      entry({ kind: "failover", endedAt: day(4), rtoSeconds: null, outcome: "rejected" }),
      entry({ kind: "failover-drill", endedAt: day(5), rtoSeconds: 140, rpoSeconds: 400 }),
    ];
    const [failover, drill] = summarize(runs);
    expect(failover).toMatchObject({
      kind: "failover",
      runs: 4,
      succeeded: 2,
      failed: 1,
      rejected: 1,
      medianRtoSeconds: 550,
      overRtoTarget: 1,
      overRpoTarget: 0,
    });
    expect(failover!.last!.endedAt).toBe(day(4));
    expect(drill).toMatchObject({ kind: "failover-drill", overRpoTarget: 1 });
  });
});

describe("when each drill last passed", () => {
  const since = new Date(day(0));

  it("counts from the last success, not from a later failure, and says the newest run failed", () => {
    const runs = [
      entry({ kind: "failover-drill", endedAt: day(10) }),
      entry({ kind: "failover-drill", endedAt: day(40), outcome: "failed" }),
    ];
    const [failover, restore] = drillStatus(runs, new Date(day(52)), since);
    expect(failover).toEqual({
      kind: "failover-drill",
      lastSuccessAt: day(10),
      daysSinceSuccess: 42,
      lastOutcome: "failed",
      lastRunAt: day(40),
    });
    // Never run: counted from when the ledger began.
    expect(restore).toEqual({
      kind: "restore-drill",
      lastSuccessAt: null,
      daysSinceSuccess: 52,
      lastOutcome: null,
      lastRunAt: null,
    });
  });

  it("does not count the failover workflow runs a drill started as drills", () => {
    const runs = [
      entry({ kind: "switchover", endedAt: day(30) }),
      entry({ kind: "failback", endedAt: day(30) }),
    ];
    expect(drillStatus(runs, new Date(day(31)), since)[0]!.daysSinceSuccess).toBe(31);
  });
});
