// The lab's options (lab/config.ts): --lag, the replication lag spike before a region-down, is
// read in seconds and refused where it would measure rds.global_db_rpo instead of a loss the
// reconciliation must find (at half the RPO the failover's lag check halts, rightly).
import { ConfigError, parseArgs, PRODUCTION_TIMINGS } from "../../lab/config";
import { expectedRto } from "../../lab/expected";
import { restartRange, restartTail } from "../../lab/world/aurora";
import { Random } from "../../lab/world/clock";
import { workflowDeadline } from "../../lab/scenarios";
import { pollBounds } from "../../infra/lib/asl";
import { promotionExpectedSeconds } from "../../infra/lib/rto";

describe("the lab's options", () => {
  it("reads --lag A-B in seconds, with AWS's typical lag of seconds by default and 0-0 for none", () => {
    // The default region-down loses the last seconds' commits, as an outage does ("typically a
    // non-zero value measured in seconds"), so the default run shows the reconciliation.
    expect(parseArgs(["region-down"]).timings.lagBeforeFaultMs).toEqual([1_000, 5_000]);
    expect(PRODUCTION_TIMINGS.lagBeforeFaultMs).toEqual([1_000, 5_000]);
    expect(parseArgs(["region-down", "--lag", "0-0"]).timings.lagBeforeFaultMs).toEqual([0, 0]);
    expect(parseArgs(["region-down", "--lag", "4-10"]).timings.lagBeforeFaultMs).toEqual([
      4_000, 10_000,
    ]);
  });

  it("draws the promoted writer's restart from --restart, as the tail of the operation and never beyond it", () => {
    // Aurora's in-Region failover as the proxy: "typically ... less than 60 seconds, and often
    // less than 30 seconds" (Concepts.AuroraHighAvailability).
    expect(parseArgs(["region-down"]).timings.promotionOutageMs).toEqual([5_000, 60_000]);
    expect(parseArgs(["region-down", "--restart", "10-20"]).timings.promotionOutageMs).toEqual([
      10_000, 20_000,
    ]);
    expect(restartTail(45_000, 30_000)).toBe(30_000);
    expect(restartTail(12_000, 30_000)).toBe(12_000);
    // A draw inside the operation, not min(draw, operation) (review 23 L1): with the default
    // 5-60 s against a 20 s operation, the old clip made the whole operation the restart in
    // 73 % of the draws.
    const random = new Random(23);
    const draws = Array.from({ length: 2_000 }, () => {
      const [lo, hi] = restartRange([5_000, 60_000], 20_000);
      return restartTail(Math.round(random.between(lo, hi)), 20_000);
    });
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(5_000);
    expect(draws.filter((d) => d >= 19_900).length / draws.length).toBeLessThan(0.02);
    expect(restartRange([0, 0], 20_000)).toEqual([0, 0]);
    expect(restartRange([30_000, 60_000], 20_000)).toEqual([20_000, 20_000]);
    // The promote phase counts the drawn operation once: the restart is inside it (review M3).
    for (const restart of ["5-60", "0-0", "30-30"]) {
      for (const planned of [false, true]) {
        const config = parseArgs(["region-down", "--restart", restart]);
        const t = config.timings;
        const operation = planned ? t.switchoverMs : t.failoverMs;
        const promote = expectedRto(config, planned).phases.find((p) => p.name === "promote")!;
        expect(promote.seconds).toBeCloseTo(
          promotionExpectedSeconds(1, (operation[0] + operation[1]) / 2000),
          1,
        );
      }
    }
  });

  it("keeps the default managed failover (its restart inside it) under the failover workflow's slow-promotion page, which pages at 90 s and halts at 20 min", () => {
    // What lab/config.ts and the README cite (review 23 L2: they gave a "14 polls x 5 s" bound the
    // workflow does not have): IsPromotionComplete pages once at 90 s and keeps polling, and
    // halts at 1200 s (PROMOTION_SLOW_SECONDS and PROMOTION_TIMEOUT_MINUTES's defaults; the lab
    // runs the file's values). A default failover past the page would page on-call in ordinary runs.
    const { promotionSlowSeconds, promotionTimeoutSeconds } = pollBounds("failover");
    expect(promotionSlowSeconds).toBe(90);
    expect(promotionTimeoutSeconds).toBe(20 * 60);
    expect(PRODUCTION_TIMINGS.failoverMs[1] / 1000).toBeLessThan(promotionSlowSeconds);
  });

  it("expects the planned path's DNS right after ShiftTraffic's record swap, the unplanned one beside the promotion", () => {
    // Planned: Route 53's control plane is up and ShiftTraffic swaps the records; with both
    // checks unhealthy Route 53 answers the record marked primary (API_ResourceRecordSet,
    // Failover). No health-check wait, only what is left of a client's TTL.
    const config = parseArgs(["switchover"]);
    const t = config.timings;
    const phase = (planned: boolean, name: string) =>
      expectedRto(config, planned).phases.find((p) => p.name === name)!.seconds;
    expect(phase(true, "dns")).toBeCloseTo(1 + t.dnsTtlSeconds / 2, 1);
    // Unplanned: the target's check passes from the proof on (its /health answers "taking-over"
    // once Promote stamps promotingAt), beside the promotion: only what outlasts it counts.
    const span = t.healthCheckIntervalSeconds * t.healthCheckFailureThreshold + t.dnsTtlSeconds / 2;
    expect(phase(false, "dns")).toBeCloseTo(Math.max(0, span - phase(false, "promote")), 0);
    expect(phase(false, "dns")).toBeLessThan(span);
  });

  it("waits for the workflows past the production bound by fast mode's settles and the restarts' measured overrun, and while a restart runs", () => {
    const bounds = { fenceSettleSeconds: 165, leaseSettleSeconds: 132 };
    // Settles: (165 - 25) + (132 - 49) lab s over the deployed ones.
    const base = 240_000 + 223_000;
    expect(workflowDeadline(0, 240_000, bounds, [], 10_000)).toBe(base);
    // A real restart of 50 lab s against 15 drawn (a 2.5 s real start at --fast 20).
    expect(
      workflowDeadline(0, 240_000, bounds, [{ from: 100_000, to: 150_000, windowMs: 15_000 }], 0),
    ).toBe(base + 35_000);
    // Still restarting: the deadline stays ahead of now.
    const open = [{ from: 100_000, windowMs: 15_000 }];
    expect(workflowDeadline(0, 240_000, bounds, open, 900_000)).toBeGreaterThan(900_000);
  });

  it.each([
    [["--restart", "60-5"], '--restart="60-5" is not allowed: LOW must not exceed HIGH'],
    [["--lag", "10-30"], "--lag=10-30 is not allowed: below half of --rpo (60 s)"],
    [["--lag", "5-15", "--rpo", "20"], "--lag=5-15 is not allowed: below half of --rpo (20 s)"],
    [["--lag", "9-4"], '--lag="9-4" is not allowed: LOW must not exceed HIGH'],
    [["--lag", "fast"], '--lag="fast" is not allowed: LOW-HIGH in seconds, e.g. 20-60'],
  ])("rejects %j, naming the option and what is allowed", (args, message) => {
    expect(() => parseArgs(["region-down", ...args])).toThrow(ConfigError);
    expect(() => parseArgs(["region-down", ...args])).toThrow(message);
  });
});
