// The rest of the lab's scenarios in fast mode (issue 13): a partition, a failback and a second
// trigger. Each asserts the invariants rather than one path: at most one writer at any instant,
// nothing lost beyond rds.global_db_rpo (judged on the old primary's own commits), nothing
// doubled, one completed run. A separate file from lab.test.ts so jest can run the two at once.
import { expectInvariants, expectReconciled, runLab } from "./support/run";

jest.setTimeout(240_000);

// The partition: still only with LAB_PARTITION=1. Issue 13b took it out of npm test after 2 of 6
// runs failed at load 20+, safely each time (one writer, loss within the RPO): the target's
// /health answered 503 past Verify's scaled retries once, and once no client reached us-west-2
// within 3 DNS TTLs (9 s real at --fast 20). A third cause (the old primary read while being
// fenced timed out) was fixed in 16c. 16d found why 4 of 5 partition runs spent 30 s of real time
// fencing the old primary (a held connection kept its shutdown waiting into the lab's SIGKILL
// bound: lab/world/postgres.ts, authentication_timeout), gave the wait for clients in the new
// region a 30 s real-time floor (scenarios.ts), and put it back in npm test: 10 of 10 CLI runs
// and the first jest run (with lab.test.ts in parallel, load 18-19) passed, but the second jest
// run (load 17-18, seed 494165507) failed again on the second cause: the failover completed and
// Verify passed, yet no client was answered by us-west-2 before the load stopped, 30 s real
// later; the same seed passed alone from the CLI. Not explained yet (a flapping us-west-2 health
// check under load, and Route 53 answering the primary when no record is healthy, is the lead
// to follow), so not in npm test; LAB_PARTITION=1 runs it.
// 13d (session 23) followed that lead with Route 53's failed checks now in report.json
// (route53.failedChecks, the answer or error of each). In a passing run at load 13 the promoted
// us-west-2's /health failed 8 times in 230 lab s after the promotion, each "database check timed
// out after 700 ms" (0.8-1.1 s real): /health's checks are real-time 700 ms budgets, every
// database round trip goes through the lab process's proxy, and the region's one API process
// serves every function at once; three such failures in a row (1.5 s real at --fast 20) flip the
// check, and with us-east-1 unhealthy too Route 53 answers the PRIMARY (us-east-1), as it
// documents. A second failure mode under heavier load (3 labs at once, load 9-16, 2 of 3 runs):
// the failover halted OldWriterNotStopped because every CheckOldWriter look after the proof was
// due read "no writer heartbeat" from us-west-2's /health (the same 700 ms budget). The base
// (08ae4e4) passed the same seeds at load 16, and ours passed alone (jest) and 2 of 2 with 2 labs at once, so
// both look load-bound, not fixed here (the /health budget is issue 10's, engineer 10g's): still
// gated.
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
