// The lab's options (lab/config.ts): --lag, the replication lag spike before a region-down, is
// read in seconds and refused where it would measure rds.global_db_rpo instead of a loss the
// reconciliation must find (at half the RPO the failover's lag check halts, rightly).
import { ConfigError, parseArgs, PRODUCTION_TIMINGS } from "../../lab/config";

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

  it.each([
    [["--lag", "10-30"], "--lag=10-30 is not allowed: below half of --rpo (60 s)"],
    [["--lag", "5-15", "--rpo", "20"], "--lag=5-15 is not allowed: below half of --rpo (20 s)"],
    [["--lag", "9-4"], '--lag="9-4" is not allowed: LOW must not exceed HIGH'],
    [["--lag", "fast"], '--lag="fast" is not allowed: LOW-HIGH in seconds, e.g. 20-60'],
  ])("rejects %j, naming the option and what is allowed", (args, message) => {
    expect(() => parseArgs(["region-down", ...args])).toThrow(ConfigError);
    expect(() => parseArgs(["region-down", ...args])).toThrow(message);
  });
});
