import { FENCE_PHASE } from "../../functions/common/contract";
import { EAST, FakeWorld, TOPOLOGY, WEST } from "../functions/dr/support/fake-world";
import { runWorkflow } from "./support/harness";

const EAST_ARN = TOPOLOGY.regions[EAST]!.clusterArn;
const WEST_ARN = TOPOLOGY.regions[WEST]!.clusterArn;

describe("switchover workflow", () => {
  const input = { targetRegion: WEST, reason: "quarterly drill", trigger: "drill" } as const;

  it("switches over with SwitchoverGlobalCluster called in the current primary region", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("switchover", input, { world, executionName: "sw-1" });

    expect(result.status).toBe("SUCCEEDED");
    expect(world.callsTo("rds:SwitchoverGlobalCluster")).toMatchObject([
      {
        region: EAST,
        profile: "critical",
        op: "rds:SwitchoverGlobalCluster",
        args: { id: TOPOLOGY.globalClusterIdentifier, targetArn: WEST_ARN },
      },
    ]);
    expect(world.callsTo("rds:FailoverGlobalCluster")).toHaveLength(0);
    expect(world.writerArn()).toBe(WEST_ARN);
    expect(world.flag()).toMatchObject({ activeRegion: WEST, fencingToken: 1, phase: "open" });
    expect(world.events[WEST]![0]).toMatchObject({ detailType: "dr.switchover.completed" });
    expect(result.output!.steps.CheckOldWriter).toMatchObject({
      stopped: true,
      evidence: "confirmed",
      oldRegionFlag: "confirmed",
    });
  });

  it("keeps the flag fenced until the new writer is verified, then unfences without a token bump", async () => {
    const world = new FakeWorld();
    const seen: Record<string, unknown> = {};
    const result = await runWorkflow("switchover", input, {
      world,
      observe: {
        Switchover: () => (seen.atSwitchover = { ...world.flag() }),
        Verify: () => (seen.atVerify = world.flag()?.phase),
      },
    });
    expect(result.status).toBe("SUCCEEDED");
    expect(seen.atSwitchover).toMatchObject({ activeRegion: WEST, phase: FENCE_PHASE.fenced });
    expect(seen.atVerify).toBe(FENCE_PHASE.fenced);
    expect(result.output!.steps.Unfence).toMatchObject({
      activeRegion: WEST,
      fencingToken: 1,
      phase: FENCE_PHASE.open,
    });
    expect(world.flag()).toMatchObject({ fencingToken: 1, phase: FENCE_PHASE.open });
  });

  it("refuses a planned switchover when the current primary is unreachable, before fencing", async () => {
    const world = new FakeWorld();
    world.failRegion(EAST);
    const result = await runWorkflow("switchover", input, { world });
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("TransientError");
    expect(result.last.failures).toHaveProperty("Preflight");
    expect(world.flag()).toBeUndefined();
    expect(world.lock()).toBeUndefined();
  });

  it("rejects an alarm as a trigger: planned moves are started by people", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("switchover", { ...input, trigger: "alarm" }, { world });
    expect(result).toMatchObject({ status: "FAILED", error: "InvalidInputError" });
  });

  it("rejects forceDetach, which only an unplanned failover accepts", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("switchover", { ...input, forceDetach: true }, { world });
    expect(result).toMatchObject({ status: "FAILED", error: "InvalidInputError" });
    expect(result.cause).toMatch(/unknown input field\(s\) forceDetach/);
  });
});

describe("failback workflow", () => {
  const input = {
    targetRegion: EAST,
    reason: "us-east-1 healthy again",
    trigger: "console",
  } as const;

  it("switches back to the deployed primary once it has caught up", async () => {
    const world = FakeWorld.afterFailoverToWest();
    const result = await runWorkflow("failback", input, { world, executionName: "fb-1" });

    expect(result.status).toBe("SUCCEEDED");
    expect(world.callsTo("rds:SwitchoverGlobalCluster")).toMatchObject([
      { region: WEST, args: { targetArn: EAST_ARN } },
    ]);
    expect(world.writerArn()).toBe(EAST_ARN);
    expect(world.flag()).toMatchObject({ activeRegion: EAST, fencingToken: 2, phase: "open" });
    expect(Object.fromEntries(world.records)).toEqual({ [EAST]: "PRIMARY", [WEST]: "SECONDARY" });
    expect(world.events[EAST]![0]).toMatchObject({ detailType: "dr.failback.completed" });
  });

  it("refuses with a clear error while the original primary lags behind, changing nothing", async () => {
    const world = FakeWorld.afterFailoverToWest();
    world.lagMs[TOPOLOGY.regions[EAST]!.clusterIdentifier] = 4500;
    const result = await runWorkflow("failback", input, { world });

    expect(result).toMatchObject({ status: "FAILED", error: "FailbackNotReadyError" });
    expect(result.cause).toMatch(/4500 ms behind .* more than 1000 ms/);
    expect(world.flag()).toMatchObject({ activeRegion: WEST, fencingToken: 1 });
    expect(world.lock()).toBeUndefined();
    expect(world.callsTo("rds:SwitchoverGlobalCluster")).toHaveLength(0);
  });

  it("refuses when no replication-lag datapoint shows it caught up", async () => {
    const world = FakeWorld.afterFailoverToWest();
    world.lagMs[TOPOLOGY.regions[EAST]!.clusterIdentifier] = null;
    const result = await runWorkflow("failback", input, { world });
    expect(result).toMatchObject({ status: "FAILED", error: "FailbackNotReadyError" });
  });

  it("refuses a target other than the deployed primary", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failback", { ...input, targetRegion: WEST }, { world });
    expect(result).toMatchObject({ status: "FAILED", error: "InvalidInputError" });
    expect(result.cause).toMatch(/a failback returns to the deployed primary us-east-1/);
  });

  it("refuses when the deployed primary already is active", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failback", input, { world });
    expect(result).toMatchObject({ status: "FAILED", error: "TargetAlreadyActiveError" });
  });
});
