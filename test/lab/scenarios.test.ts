// The rest of the lab's scenarios in fast mode (issue 13): a partition, a failback and a second
// trigger. Each asserts the invariants rather than one path: at most one writer at any instant,
// nothing lost beyond rds.global_db_rpo (judged on the old primary's own commits), nothing
// doubled, one completed run. A separate file from lab.test.ts so jest can run the two at once.
import { expectInvariants, expectReconciled, runLab } from "./support/run";

jest.setTimeout(240_000);

// The partition: only with LAB_PARTITION=1. Issue 13b took it out of npm test after 2 of 6 runs
// failed at load 20+, safely each time (one writer, loss within the RPO); 13d and 16d traced the
// failures (at load 9-20) to the promoted us-west-2's /health under load: its database check is a
// 700 ms real-time budget in the region's one API process, three misses flip Route 53's check,
// and with both records unhealthy Route 53 answers the primary; and CheckOldWriter, which in the
// lab reads the writer heartbeat only through the target's /health (lab/lab.ts replica(), not
// issue 18's heartbeat reader function), read "no heartbeat" and halted. cf56eda keeps /health 200
// "taking-over" from the run's proof until Unfence; after Unfence, and the heartbeat read, are
// unchanged. Session 25 (settles scaled, ~25 s a run): 7 of 7 runs passed at load 4 or below,
// where the old code passed too, so they do not show the causes gone. It stays out until the lab
// reads the heartbeat through the reader function and the partition passes at the load that
// failed it (three labs at once, load 9+).
const partitionIt = process.env.LAB_PARTITION === "1" ? it : it.skip;

describe("the two-region lab, the other scenarios", () => {
  partitionIt(
    "keeps one writer through a partition, loses no more than rds.global_db_rpo of commits, and reconciles them",
    async () => {
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
    },
  );

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
