// Every workflow run leaves a report: the real ASL over the fake world, whose report writers are
// the real writer core over in-memory buckets and one ledger.
import { TransientError } from "../../functions/dr/shared/errors";
import { REPORT_INVOKE } from "../functions/dr/support/fake-reports";
import { EAST, FakeWorld, TOPOLOGY, WEST } from "../functions/dr/support/fake-world";
import { named, runWorkflow } from "./support/harness";

const input = {
  targetRegion: WEST,
  reason: "alarm primary-unhealthy entered ALARM at 03:02",
  trigger: "alarm",
} as const;

describe("the report of a workflow run", () => {
  it("is written in the target region when a failover completes, and linked from the event and the page", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");

    const stored = world.reports.find("failover", "run-1")!;
    expect(stored.report).toMatchObject({
      kind: "failover",
      runId: "run-1",
      groupId: "run-1",
      region: WEST,
      outcome: "succeeded",
      trigger: { kind: "alarm", by: "primary-unhealthy", reason: input.reason },
      rtoSeconds: result.output!.steps.RecordTimeline!.rtoSeconds,
      rpoSeconds: result.output!.steps.RecordTimeline!.rpoEstimateMs! / 1000,
      config: { mode: "automatic", forceDetach: false, sourceRegion: EAST, targetRegion: WEST },
    });
    // The timeline is the run's own: every recovery step with the times it carried.
    const steps = result.output!.steps;
    const timed = stored.report.steps.filter((s) => s.startedAt);
    expect(timed.map((s) => s.name)).toEqual([
      "ValidateInput",
      "Preflight",
      "AcquireLock",
      "Fence",
      "CheckOldWriter",
      "Promote",
      "CheckPromotion",
      "UpdateParameters",
      "ShiftTraffic",
      "Verify",
      "Unfence",
      // RestoreCapacity runs after the report is written (after the lock's release): its
      // outcome is in the execution's output, not in the report.
    ]);
    expect(timed.find((s) => s.name === "Fence")).toMatchObject({
      startedAt: steps.Fence!.startedAt,
      endedAt: steps.Fence!.endedAt,
      status: "succeeded",
    });
    expect(stored.html).toContain('<h1>failover to us-west-2 <span class="badge succeeded">');

    const link = result.output!.steps.RecordTimeline!.report!;
    expect(link.uri).toBe(
      `s3://payments-dr-reports-${WEST}-test-x/reports/failover/${new Date(Date.parse(stored.report.startedAt)).toISOString().slice(0, 7)}/run-1.html`,
    );
    expect(world.events[WEST]![0]!.detail.report).toEqual(link);
    expect(world.messages[WEST]!.at(-1)!.message).toContain(`\nReport: ${link.consoleUrl}`);
    expect(await world.reports.ledger.get("failover/us-west-2/run-1")).toMatchObject({
      outcome: "succeeded",
      reportUri: link.uri,
    });
  });

  it("records where an unplanned failover forked the data, in the run's state, its report and the ledger", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    const { Promote, CheckOldWriter } = result.output!.steps;
    const old = TOPOLOGY.regions[EAST]!;
    // The newest old-primary heartbeat the target held is the fork: all before it replicated.
    // Read again right before the promotion, it is at least the one CheckOldWriter saw.
    const fork = Promote!.fork!;
    expect(Date.parse(fork.lastReplicatedAt!)).toBeGreaterThanOrEqual(
      Date.parse(CheckOldWriter!.heartbeatAt!),
    );
    expect(Date.parse(fork.lastReplicatedAt!)).toBeLessThanOrEqual(Date.parse(fork.failoverAt));
    expect(fork).toEqual({
      oldRegion: EAST,
      oldCluster: old.clusterIdentifier,
      oldClusterArn: old.clusterArn,
      promotedCluster: TOPOLOGY.regions[WEST]!.clusterIdentifier,
      lastReplicatedAt: expect.any(String),
      replicationLagMs: result.output!.steps.Preflight!.replicationLagMs,
      failoverAt: expect.any(String),
      snapshotPrefix: `rds:unplanned-global-failover-${old.clusterIdentifier}-`,
    });
    expect(Date.parse(Promote!.fork!.failoverAt)).toBeGreaterThanOrEqual(
      Date.parse(Promote!.startedAt),
    );
    const { report } = world.reports.find("failover", "run-1")!;
    expect(report.config).toMatchObject({
      forkOldCluster: old.clusterIdentifier,
      forkLastReplicatedAt: fork.lastReplicatedAt,
      forkFailoverAt: Promote!.fork!.failoverAt,
      forkSnapshotPrefix: `rds:unplanned-global-failover-${old.clusterIdentifier}-`,
    });
    expect(report.warnings!.join("\n")).toMatch(
      /copy the snapshot rds:unplanned-global-failover-.* to a manual snapshot before anything else/,
    );
    expect((await world.reports.ledger.get("failover/us-west-2/run-1"))!.fork).toEqual({
      oldRegion: EAST,
      oldCluster: old.clusterIdentifier,
      lastReplicatedAt: fork.lastReplicatedAt,
      failoverAt: Promote!.fork!.failoverAt,
      snapshotPrefix: `rds:unplanned-global-failover-${old.clusterIdentifier}-`,
    });
  });

  it("records no fork for a switchover, which loses nothing", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow(
      "switchover",
      { targetRegion: WEST, reason: "drill", trigger: "console" },
      { world, executionName: "run-2" },
    );
    expect(result.status).toBe("SUCCEEDED");
    expect((await world.reports.ledger.get("switchover/us-west-2/run-2"))!.fork).toBeUndefined();
  });

  it("calls nothing in the failed region to write it", async () => {
    const world = new FakeWorld();
    world.failRegion(EAST);
    await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(world.callsTo(REPORT_INVOKE).map((c) => c.region)).toEqual([WEST]);
    expect(world.reports.find("failover", "run-1")!.report.outcome).toBe("succeeded");
  });

  it("is written for a run that halts, naming the step, and linked from the page", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", input, {
      world,
      executionName: "run-1",
      faults: {
        Promote: { before: () => named("AccessDeniedError", "rds:FailoverGlobalCluster denied") },
      },
    });
    expect(result.status).toBe("FAILED");
    const { report } = world.reports.find("failover", "run-1")!;
    expect(report).toMatchObject({ outcome: "failed", rtoSeconds: null });
    expect(report.summary).toMatch(/^Stopped in a safe state at Promote \(AccessDeniedError/);
    expect(report.steps.find((s) => s.name === "Promote")).toMatchObject({ status: "failed" });
    expect(report.steps.find((s) => s.name === "Verify")).toEqual({
      name: "Verify",
      status: "skipped",
    });
    expect(report.warnings).toContain(
      "The failover lock is still held by run run-1: resume with resumeFailoverId or release it.",
    );
    expect(world.messages[WEST]!.at(-1)!.message).toMatch(/\nReport: https:\/\/us-west-2\.console/);
  });

  it("gives a resumed run a report of its own, grouped with the run it resumes", async () => {
    const world = new FakeWorld();
    await runWorkflow("failover", input, {
      world,
      executionName: "run-1",
      faults: { Verify: { before: () => named("AccessDeniedError"), times: 1 } },
    });
    await runWorkflow(
      "failover",
      { ...input, resumeFailoverId: "run-1" },
      { world, executionName: "run-1b" },
    );
    const rows = await world.reports.ledger.recent(10);
    expect(rows.map((r) => [r.runId, r.groupId, r.outcome])).toEqual([
      ["run-1b", "run-1", "succeeded"],
      ["run-1", "run-1", "failed"],
    ]);
  });

  it("never changes how the run ends when the writer cannot be reached", async () => {
    const world = new FakeWorld();
    world.inject(REPORT_INVOKE, () => new TransientError("lambda:InvokeFunction throttled"), 10);
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.warnings).toBeUndefined();
    expect(result.output!.steps.RecordTimeline!.report).toEqual({
      uri: null,
      consoleUrl: null,
      error: "TransientError: lambda:InvokeFunction throttled",
    });
    expect(world.messages[WEST]!.at(-1)!.message).toMatch(
      /\nReport: not requested \(TransientError: lambda:InvokeFunction throttled\); the writer builds one from the execution history when the run ends\.$/,
    );
  });

  it("is written by each of a drill's switchover and failback, in the region each ran in", async () => {
    const world = new FakeWorld();
    const drill = { reason: "scheduled DR drill drill-5f1c-out", trigger: "drill" } as const;
    const out = await runWorkflow(
      "switchover",
      { ...drill, targetRegion: WEST },
      { world, executionName: "drill-5f1c-out" },
    );
    expect(out.status).toBe("SUCCEEDED");
    // us-east-1 is now the secondary and reports its lag (AuroraGlobalDBReplicationLag).
    world.lagMs[TOPOLOGY.regions[EAST]!.clusterIdentifier] = 40;
    const back = await runWorkflow(
      "failback",
      { ...drill, targetRegion: EAST, ignoreCooldown: true },
      { world, executionName: "drill-5f1c-back" },
    );
    expect(back.status).toBe("SUCCEEDED");
    expect(world.reports.find("switchover", "drill-5f1c-out")!.report).toMatchObject({
      region: WEST,
      title: "switchover to us-west-2 (drill)",
      trigger: { by: "drill-5f1c-out" },
    });
    expect(world.reports.find("failback", "drill-5f1c-back")!.report.region).toBe(EAST);
    expect([...world.reports.buckets.keys()].sort()).toEqual([EAST, WEST]);
  });
});
