// The rest of the lab's scenarios in fast mode (issue 13): a partition, a failback and a second
// trigger. Each asserts the invariants rather than one path: at most one writer at any instant,
// nothing lost beyond rds.global_db_rpo (judged on the old primary's own commits), nothing
// doubled, one completed run. A separate file from lab.test.ts so jest can run the two at once.
import { expectInvariants, expectReconciled, runLab } from "./support/run";

jest.setTimeout(240_000);

// The partition is back in npm test (session 25). Issue 13b took it out after 2 of 6 runs failed
// at load 20+, safely each time (one writer, loss within the RPO); 13d and 16d traced the
// failures to the promoted us-west-2's /health flapping under load (its 700 ms real-time checks,
// three misses flip Route 53's check, and with both records unhealthy Route 53 answers the
// primary) and to CheckOldWriter reading no heartbeat from that /health. Since then the target's
// /health stays 200 "taking-over" from the run's proof whatever its own cluster answers (cf56eda),
// the heartbeat is read through a reader function of its own with /health only as the fallback
// (issue 18), and the settles scale with --fast (lab/write-path.ts labHandlerBudgets), so the
// partition's fast run takes ~25 s instead of ~40 s. Session 25: 7 of 7 runs passed, 3 alone
// (25.6, 25.6, 28.4 s), 2 beside lab.test.ts (load 2-3) and 2 beside lab.test.ts, surge.test.ts
// and promotion.test.ts at once (load 3-4).

describe("the two-region lab, the other scenarios", () => {
  it("keeps one writer through a partition, loses no more than rds.global_db_rpo of commits, and reconciles them", async () => {
    const result = await runLab({ scenario: "partition" });
    expectInvariants(result, {
      writer: "us-west-2",
      lossless: false,
      phases: ["detect", "decide", "fence", "promote", "dns", "workflow"],
    });
    // The run promoted on a proof, never on a guess: the database's or the old region's own.
    const run = result.lab.orchestrator.executions.find((e) => e.status === "SUCCEEDED")!;
    const check = run.states.filter((s) => s.name === "CheckOldWriter").at(-1)!;
    const evidence = (check.output as { steps: { CheckOldWriter: { evidence: string } } }).steps
      .CheckOldWriter.evidence;
    expect(["database", "confirmed"]).toContain(evidence);
    // Issue 16: what the old primary took during the partition, reconciled.
    expectReconciled(result);
  });

  it("fails back with no acknowledged payment lost", async () => {
    const result = await runLab({ scenario: "failback" });
    expectInvariants(result, {
      writer: "us-east-1",
      lossless: true,
      phases: ["decide", "fence", "promote", "dns", "workflow"],
    });
  });

  it("rejects the second of two simultaneous triggers and fails over once", async () => {
    const result = await runLab({ scenario: "double-trigger" });
    expectInvariants(result, {
      writer: "us-west-2",
      lossless: false,
      phases: ["detect", "decide", "fence", "promote", "dns", "workflow"],
    });
    const runs = result.lab.orchestrator.executions;
    expect(runs.filter((e) => e.status === "SUCCEEDED")).toHaveLength(1);
    expect(runs).toHaveLength(2);
    const second = runs.find((e) => e.status !== "SUCCEEDED")!;
    expect(second.error).toBe("LockHeldError");
    expect(result.finalFlag).toEqual({ activeRegion: "us-west-2", fencingToken: 1 });
  });
});
