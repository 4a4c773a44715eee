// Issue 10's workflow semantics, each against a world that does what AWS documents rather than
// what the code would like: a promotion that takes minutes, a flag that has not reached the old
// region, a managed failover refused while the old primary still answers, a target that lagged
// beyond the RPO bound before the primary failed.
import { FENCE_PHASE } from "../../functions/common/contract";
import {
  ManagedFailoverUnavailableError,
  TransientError,
  VerificationFailedError,
} from "../../functions/dr/shared/errors";
import { DEFAULT_SETTINGS } from "../../functions/dr/shared/settings";
import type { Steps } from "../../functions/dr/shared/types";
import { EAST, FakeWorld, TOPOLOGY, WEST } from "../functions/dr/support/fake-world";
import { runWorkflow } from "./support/harness";
import { renderedDefinition } from "./support/render";

const WEST_ARN = TOPOLOGY.regions[WEST]!.clusterArn;
const WEST_CLUSTER = TOPOLOGY.regions[WEST]!.clusterIdentifier;
const input = { targetRegion: WEST, reason: "us-east-1 API down", trigger: "console" } as const;

/** Seconds of the world's clock between two calls of the run. */
function secondsBetween(world: FakeWorld, first: string, then: string): number {
  const at = (op: string) => world.calls.find((c) => c.op === op)?.at;
  return ((at(then) ?? NaN) - (at(first) ?? NaN)) / 1000;
}

describe("a promotion that takes minutes", () => {
  // "Typically, the chosen secondary cluster assumes the primary role within a few minutes."
  // No upper bound is documented (aurora-global-database-disaster-recovery).
  it("keeps polling a promotion that takes six minutes and completes the failover", async () => {
    const world = new FakeWorld();
    world.promotionSeconds = 6 * 60;
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    expect(world.writerArn()).toBe(WEST_ARN);
    expect(result.output!.steps.CheckPromotion!.elapsedSeconds).toBeGreaterThanOrEqual(6 * 60);
  });

  it("pages on-call once when the promotion is slower than expected, without halting", async () => {
    const world = new FakeWorld();
    world.promotionSeconds = 4 * 60;
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    const subjects = world.messages[WEST]!.map((m) => m.subject);
    expect(subjects).toEqual([
      "[payments-dr test] failover to us-west-2: promotion slower than expected",
      "[payments-dr test] failover to us-west-2 completed",
    ]);
    expect(world.messages[WEST]![0]!.message).toContain("still polling");
  });

  it("stops in the safe state only after the promotion bound, paged, lock kept", async () => {
    const world = new FakeWorld();
    world.promotionSeconds = Infinity;
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result).toMatchObject({ status: "FAILED", error: "PromotionTimeoutError" });
    expect(result.last.steps).toMatchObject({
      CheckPromotion: { elapsedSeconds: expect.any(Number) },
    });
    const elapsed = (result.last.steps as { CheckPromotion: { elapsedSeconds: number } })
      .CheckPromotion.elapsedSeconds;
    expect(elapsed).toBeGreaterThanOrEqual(15 * 60);
    expect(world.lock()).toMatchObject({ owner: "run-1" });
  });

  it.each(["Fence", "CheckPromotion", "UpdateParameters", "Verify", "Unfence", "ReleaseLock"])(
    "rides out two minutes of throttling in %s instead of stranding the system fenced",
    async (state) => {
      const world = new FakeWorld();
      const result = await runWorkflow("failover", input, {
        world,
        faults: { [state]: { before: () => new TransientError("ThrottlingException"), times: 12 } },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(world.flag()).toMatchObject({ activeRegion: WEST, phase: FENCE_PHASE.open });
    },
  );
});

describe("never two writers: promote only once the old writer is provably stopped", () => {
  it("does not promote while the old region's replica still names it and nothing else proves it stopped", async () => {
    const world = new FakeWorld();
    // An inter-region partition: each side is up, the flag written in us-west-2 never reaches
    // us-east-1, and us-east-1 still replicates its heartbeat to us-west-2's cluster.
    world.freezeFlag(EAST);
    world.keepCommitting();
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(world.callsTo("rds:FailoverGlobalCluster")).toEqual([]);
    expect(world.callsTo("rds:RemoveFromGlobalCluster")).toEqual([]);
    expect(result).toMatchObject({ status: "FAILED", error: "OldWriterNotStoppedError" });
    expect(world.messages[WEST]!.at(-1)!.subject).toContain("HALTED at CheckOldWriter");
    expect(world.lock()).toMatchObject({ owner: "run-1" });
    // Review 23 M2: halted before its proof, the run never makes the target healthy, so clients
    // stay with the only region that can write.
    expect(world.flag()).toMatchObject({ activeRegion: WEST, phase: FENCE_PHASE.fenced });
    expect(world.flag()?.promotingAt).toBeUndefined();
    const health = await world.http.request(
      "GET",
      `${world.topology.regions[WEST]!.apiUrl}/health`,
      {
        timeoutMs: 1_000,
      },
    );
    expect(health.status).toBe(503);
  });

  it("stamps promotingAt on the target's flag only after the proof, right before promoting", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    const stamp = world.callsTo("dynamodb:UpdateItem active-region promoting");
    expect(stamp).toHaveLength(1);
    expect(
      secondsBetween(
        world,
        "dynamodb:UpdateItem active-region",
        "dynamodb:UpdateItem active-region promoting",
      ),
    ).toBeGreaterThanOrEqual(world.deps(WEST).settings.fenceSettleSeconds);
    expect(
      secondsBetween(
        world,
        "dynamodb:UpdateItem active-region promoting",
        "rds:FailoverGlobalCluster",
      ),
    ).toBeGreaterThanOrEqual(0);
    expect(world.flag()).toMatchObject({
      phase: FENCE_PHASE.open,
      promotingAt: expect.any(String),
    });
  });

  it("promotes after the old region confirms the fence and the payment path's bound has passed", async () => {
    const world = new FakeWorld();
    // The old primary commits on, and its heartbeat reaches us-west-2 (no COMMIT held by the
    // RPO guard can be left behind it: below).
    world.keepCommitting();
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    const look = result.output!.steps.CheckOldWriter!;
    expect(look).toMatchObject({ evidence: "confirmed" });
    const { fenceSettleSeconds, heartbeatSeconds } = world.deps(WEST).settings;
    expect(
      secondsBetween(world, "dynamodb:UpdateItem active-region", "rds:FailoverGlobalCluster"),
    ).toBeGreaterThanOrEqual(fenceSettleSeconds);
    // The heartbeats counted began after the settle (+1 s for the clocks), two of them one
    // interval apart, and the run waited one interval after the second (review 24-10k M3).
    const settledAt = Date.parse(look.confirmedAt!) + fenceSettleSeconds * 1000;
    expect(Date.parse(look.pausedCommitsFirstBeatAt!)).toBeGreaterThanOrEqual(settledAt + 1000);
    expect(Date.parse(look.pausedCommitsResumedSeenAt!)).toBeGreaterThanOrEqual(
      Date.parse(look.pausedCommitsFirstBeatAt!) + heartbeatSeconds * 1000,
    );
    expect(world.callsTo("rds:FailoverGlobalCluster")[0]!.at).toBeGreaterThanOrEqual(
      Date.parse(look.pausedCommitsResumedSeenAt!) + heartbeatSeconds * 1000,
    );
  });

  // Chaos schedule 994 of seed 20261130: a COMMIT paused by rds.global_db_rpo is not ended by
  // anything the settle counts, and AWS resumes it "as soon as" the lag drops, also just as the
  // failover starts. With the old primary's heartbeat standing still in the target (the lag
  // above the RPO), the confirmation alone must not promote a failover from the primary: the
  // database proof (the primary stays blocked) is the one that holds, later.
  it("does not promote on the old region's confirmation alone while no heartbeat begun after the settle reached the target", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    const look = result.output!.steps.CheckOldWriter!;
    expect(look).toMatchObject({
      evidence: "database",
      oldRegionFlag: "confirmed",
      pausedCommitsResumedSeenAt: null,
    });
    const { fenceSettleSeconds } = world.deps(WEST).settings;
    expect(
      secondsBetween(world, "dynamodb:UpdateItem active-region", "rds:FailoverGlobalCluster"),
    ).toBeGreaterThan(fenceSettleSeconds + 10);
  });

  // Review 24-10k M2: a beat the target's own instance wrote (the target made writable out of
  // band) is no evidence that the old primary's paused COMMITs resumed. Only the source's count.
  it("does not promote on the confirmation while the heartbeats the target holds are its own instance's", async () => {
    const world = new FakeWorld();
    world.keepCommitting();
    world.heartbeatWriter[WEST] = "payments-db-1-usw2-test";
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(world.callsTo("rds:FailoverGlobalCluster")).toEqual([]);
    expect(result).toMatchObject({ status: "FAILED", error: "OldWriterNotStoppedError" });
    // Review 24-10k L2: the page says what the proof waited for, not "the flag never confirmed".
    const page = world.messages[WEST]!.at(-1)!.message;
    expect(page).toContain("replica confirmed the fence");
    expect(page).toContain("two writer heartbeats from the old primary");
    expect(page).toContain("written by payments-db-1-usw2-test");
    expect(page).not.toContain("neither the old region's replica");
  });

  it("promotes on the confirmation when the heartbeats are the old primary's instance's", async () => {
    const world = new FakeWorld();
    world.keepCommitting();
    world.heartbeatWriter[WEST] = "payments-db-1-use1-test";
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.steps.CheckOldWriter).toMatchObject({ evidence: "confirmed" });
  });

  // Review 24-10k M3: the lag dips under the RPO for one beat, then rises again (the guard
  // computes it periodically, aurora_global_db_status.html). One beat shows the guard open at an
  // instant; paused COMMITs may still wait. Two beats one interval apart are needed.
  it("does not promote on the confirmation when only one heartbeat begun after the settle got through", async () => {
    const world = new FakeWorld();
    world.keepCommitting();
    const { fenceSettleSeconds } = world.deps(WEST).settings;
    const result = await runWorkflow("failover", input, {
      world,
      executionName: "run-1",
      observe: {
        CheckOldWriter: (state) => {
          const look = (state as { steps: Steps }).steps.CheckOldWriter;
          if (!look?.confirmedAt || !look.heartbeatAt) return;
          const settledAt = Date.parse(look.confirmedAt) + fenceSettleSeconds * 1000;
          // The first beat past the settle (and the clocks' allowance) is the last to get through.
          if (
            world.heartbeatAt[WEST] === undefined &&
            Date.parse(look.heartbeatAt) >= settledAt + 1000
          ) {
            world.heartbeatAt[WEST] = Date.parse(look.heartbeatAt);
          }
        },
      },
    });
    expect(world.heartbeatAt[WEST]).toEqual(expect.any(Number));
    // The beat stands still, so the database proof (the guard blocks the primary) holds later.
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.steps.CheckOldWriter).toMatchObject({
      evidence: "database",
      pausedCommitsResumedSeenAt: null,
    });
  });

  it("promotes when the RPO guard has provably stopped an unreachable old primary", async () => {
    const world = new FakeWorld();
    world.failRegion(EAST);
    // The old primary's last heartbeat reached us-west-2's cluster 10 s before the run began.
    world.heartbeatAt[WEST] = world.clock - 10_000;
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.steps.CheckOldWriter).toMatchObject({ evidence: "database" });
    const failoverAt = world.callsTo("rds:FailoverGlobalCluster")[0]!.at;
    const bound =
      DEFAULT_SETTINGS.dbRpoSeconds! +
      DEFAULT_SETTINGS.heartbeatSeconds +
      DEFAULT_SETTINGS.writerStopMarginSeconds;
    expect(failoverAt - world.heartbeatAt[WEST]!).toBeGreaterThanOrEqual(bound * 1000);
  });

  // Review M3: an old primary with nothing unreplicated is not blocked by the guard when its
  // region returns, and Aurora's fence of it is best-effort; its payment functions stop only
  // once the peer lease they hold has lapsed. The database proof waits for that too.
  it("promotes on the database's proof no sooner than DR_LEASE_SETTLE_SECONDS after the fence", async () => {
    const world = new FakeWorld();
    world.failRegion(EAST);
    world.heartbeatAt[WEST] = world.clock - 10_000;
    const deps = world.deps.bind(world);
    world.deps = (region, settings = {}) => deps(region, { leaseSettleSeconds: 200, ...settings });
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.steps.CheckOldWriter).toMatchObject({ evidence: "database" });
    expect(
      secondsBetween(world, "dynamodb:UpdateItem active-region", "rds:FailoverGlobalCluster"),
    ).toBeGreaterThanOrEqual(200);
  });

  // Review H1: on an existing cluster, shared_preload_libraries=pg_cron is pending-reboot, so
  // migration 010 wrote its row once and nothing ever beat again. A frozen heartbeat looks
  // exactly like a stopped writer; only its history (seen advancing, never stale while the
  // writer answered) tells them apart.
  it("rejects a frozen heartbeat (pg_cron never loaded) as proof that the old primary stopped", async () => {
    const world = new FakeWorld();
    world.freezeFlag(EAST);
    const migratedAt = world.clock - 3_600_000;
    world.heartbeatAt[WEST] = migratedAt;
    world.heartbeatWatch[WEST] = {
      beatAt: new Date(migratedAt).toISOString(),
      firstSeenAt: new Date(migratedAt + 2_000).toISOString(),
      advanced: false,
      checkedAt: new Date(world.clock - 5_000).toISOString(),
      staleSince: new Date(migratedAt + 80_000).toISOString(),
    };
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(world.callsTo("rds:FailoverGlobalCluster")).toEqual([]);
    expect(result).toMatchObject({ status: "FAILED", error: "OldWriterNotStoppedError" });
  });

  it("rejects a heartbeat that went stale while the old primary answered healthy (its job died)", async () => {
    const world = new FakeWorld();
    world.freezeFlag(EAST);
    const lastBeat = world.clock - 900_000;
    world.heartbeatAt[WEST] = lastBeat;
    world.heartbeatWatch[WEST] = {
      beatAt: new Date(lastBeat).toISOString(),
      firstSeenAt: new Date(lastBeat + 1_000).toISOString(),
      advanced: true,
      checkedAt: new Date(world.clock - 5_000).toISOString(),
      staleSince: new Date(lastBeat + 80_000).toISOString(),
    };
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(world.callsTo("rds:FailoverGlobalCluster")).toEqual([]);
    expect(result).toMatchObject({ status: "FAILED", error: "OldWriterNotStoppedError" });
  });

  // Review H2: the heartbeat's value is now() of its transaction, which rds.global_db_rpo may
  // have paused; "Paused transactions are resumed and committed as soon as the lag ... becomes
  // less than the RPO" (aurora-global-database-disaster-recovery#aurora-global-database-manage-
  // recovery). A beat stamped T may commit at T+50 and the old primary commit until T+50+rpo. The
  // target first seeing it is never before its commit: the bound counts from there.
  it("counts the database bound from when the target first saw the heartbeat, not from its stamp", async () => {
    const world = new FakeWorld();
    world.failRegion(EAST);
    const stamped = world.clock - 60_000;
    const firstSeen = world.clock - 5_000;
    world.heartbeatAt[WEST] = stamped;
    world.heartbeatWatch[WEST] = {
      beatAt: new Date(stamped).toISOString(),
      firstSeenAt: new Date(firstSeen).toISOString(),
      advanced: true,
      checkedAt: new Date(world.clock - 1_000).toISOString(),
    };
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.steps.CheckOldWriter).toMatchObject({ evidence: "database" });
    const failoverAt = world.callsTo("rds:FailoverGlobalCluster")[0]!.at;
    const bound =
      DEFAULT_SETTINGS.dbRpoSeconds! +
      DEFAULT_SETTINGS.heartbeatSeconds +
      DEFAULT_SETTINGS.writerStopMarginSeconds;
    expect(failoverAt - firstSeen).toBeGreaterThanOrEqual(bound * 1000);
  });

  it("never takes the database's word for a planned switchover: it waits for the old region", async () => {
    const world = new FakeWorld();
    world.freezeFlag(EAST);
    world.heartbeatAt[WEST] = world.clock - 600_000;
    const result = await runWorkflow("switchover", input, { world, executionName: "sw-1" });
    expect(world.callsTo("rds:SwitchoverGlobalCluster")).toEqual([]);
    expect(result).toMatchObject({ status: "FAILED", error: "OldWriterNotStoppedError" });
  });
});

describe("the one-way detach", () => {
  const refused = () =>
    new ManagedFailoverUnavailableError("cannot fail over now", "InvalidDBClusterStateFault");

  it("halts and pages instead of detaching when RDS refuses a managed failover and the old primary still answers", async () => {
    const world = new FakeWorld();
    world.inject("rds:FailoverGlobalCluster", refused, 99);
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(world.callsTo("rds:RemoveFromGlobalCluster")).toEqual([]);
    expect(result).toMatchObject({ status: "FAILED", error: "ManagedFailoverRefusedError" });
    expect(world.messages[WEST]!.at(-1)!.message).toContain('"forceDetach":true');
  });

  it("detaches when RDS refuses a managed failover and the old primary is unreachable", async () => {
    const world = new FakeWorld();
    world.failRegion(EAST);
    world.heartbeatAt[WEST] = world.clock - 120_000;
    world.inject("rds:FailoverGlobalCluster", refused, 99);
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.steps.Promote).toMatchObject({ method: "detach" });
    expect(world.callsTo("rds:RemoveFromGlobalCluster")).toHaveLength(1);
  });
});

describe("an alarm-started failover onto a lagging target", () => {
  // With rds.global_db_rpo, a secondary lagging beyond the bound blocks the primary's commits, so
  // the primary's /health fails and the prober's alarm fires although nothing is down. The lag
  // alarm watches AuroraGlobalDBReplicationLag, 1-minute Maximum datapoints (`at` = the minute's
  // start), published in the secondary's region.
  function lagging(history: [agoSeconds: number, lagMs: number][]): FakeWorld {
    const world = new FakeWorld();
    const now = world.clock;
    world.probes[EAST] = [
      ...[0, 10, 20, 30].map((ago) => ({
        at: new Date(now - ago * 1000).toISOString(),
        healthy: false,
      })),
      { at: new Date(now - 40_000).toISOString(), healthy: true },
    ];
    world.lagHistory[WEST_CLUSTER] = history.map(([ago, lagMs]) => ({
      at: new Date(now - ago * 1000).toISOString(),
      lagMs,
    }));
    return world;
  }

  it.each([
    [
      "the lag passed the bound",
      lagging([
        [60, 75_000],
        [120, 45_000],
        [180, 12_000],
        [240, 800],
      ]),
      /lagged 75000 ms .* above the 60 s RPO bound/,
    ],
    [
      "the lag built up past half the bound before the primary failed",
      lagging([
        [120, 35_000],
        [180, 5_000],
        [240, 800],
      ]),
      /lagged 35000 ms .* before the primary's first failed probe/,
    ],
  ])(
    "asks on-call for approval instead of failing over with AllowDataLoss when %s",
    async (_, world, reason) => {
      let asked = "";
      const result = await runWorkflow(
        "failover",
        { ...input, trigger: "alarm" },
        {
          world,
          approval: (event) => {
            asked = event.state.steps.Preflight?.approvalReason ?? "";
            return { approved: false };
          },
        },
      );
      expect(asked).toMatch(reason);
      expect(result).toMatchObject({ status: "FAILED", error: "ApprovalNotGranted" });
      expect(world.callsTo("rds:FailoverGlobalCluster")).toEqual([]);
      expect(world.flag()).toBeUndefined();
      expect(world.messages[WEST]![0]!.message).toContain("Why you are asked: ");
    },
  );

  it("fails over by itself when the lag only grew after the primary stopped answering", async () => {
    const world = new FakeWorld();
    const now = world.clock;
    // The primary died 35 s ago: the minute that just ended saw the lag grow to 35 s.
    world.lagHistory[WEST_CLUSTER] = [
      { at: new Date(now - 60_000).toISOString(), lagMs: 35_000 },
      { at: new Date(now - 120_000).toISOString(), lagMs: 300 },
    ];
    const result = await runWorkflow("failover", { ...input, trigger: "alarm" }, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.states).not.toContain("RequestApproval");
  });
});

describe("resuming a run that already fenced", () => {
  it("does not ask the prober or on-call again, and completes", async () => {
    const world = new FakeWorld();
    world.freezeFlag(EAST);
    world.keepCommitting();
    const alarm = { ...input, trigger: "alarm", mode: "approval" } as const;
    // Started by hand: an alarm's run would not fence a primary that still commits heartbeats.
    const first = await runWorkflow(
      "failover",
      { ...alarm, trigger: "console" },
      { world, executionName: "run-1" },
    );
    expect(first).toMatchObject({ status: "FAILED", error: "OldWriterNotStoppedError" });
    // The partition heals; the prober no longer probes a region the flag says is passive.
    world.thawFlag(EAST);
    world.probes[EAST] = [];
    let asked = false;
    const resumed = await runWorkflow(
      "failover",
      { ...alarm, resumeFailoverId: "run-1" },
      {
        world,
        executionName: "run-1-resume",
        approval: () => {
          asked = true;
          return { approved: false };
        },
      },
    );
    expect(resumed.status).toBe("SUCCEEDED");
    expect(asked).toBe(false);
    expect(world.flag()).toMatchObject({ activeRegion: WEST, fencingToken: 1, phase: "open" });
  });

  it("completes the resume of a run that had completed when its execution died, promoting nothing again", async () => {
    const world = new FakeWorld();
    world.failRegion(EAST);
    world.heartbeatAt[WEST] = world.clock - 10_000;
    const first = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(first.status).toBe("SUCCEEDED");
    // Its execution died after ReleaseLock's work (the lock with its facts is gone), so on-call
    // resumes it as the page of a failed execution says. The promoted cluster in us-west-2 now
    // commits its own heartbeat, so the database can no longer prove anything about us-east-1.
    Object.defineProperty(world.heartbeatAt, WEST, { get: () => world.clock, enumerable: true });
    const resumed = await runWorkflow(
      "failover",
      { ...input, resumeFailoverId: "run-1" },
      { world, executionName: "run-1-resume" },
    );
    expect([resumed.status, resumed.error]).toEqual(["SUCCEEDED", undefined]);
    expect(resumed.output!.steps.CheckOldWriter).toMatchObject({ evidence: "completed" });
    expect(world.callsTo("rds:FailoverGlobalCluster")).toHaveLength(1);
    expect(world.flag()).toMatchObject({ activeRegion: WEST, fencingToken: 1, phase: "open" });
    expect(world.lock()).toBeUndefined();
  });

  it("refuses to release the lock of a fenced run when on-call rejects its resume", async () => {
    const world = new FakeWorld();
    world.freezeFlag(EAST);
    world.keepCommitting();
    await runWorkflow("failover", input, { world, executionName: "run-1" });
    const result = await runWorkflow(
      "failover",
      { ...input, mode: "approval", resumeFailoverId: "run-1" },
      { world, executionName: "run-1-resume", approval: () => ({ approved: false }) },
    );
    // Straight to Fence (already done), not to the approval: still fenced, so still halted.
    expect(result.states).not.toContain("RequestApproval");
    expect(world.lock()).toMatchObject({ owner: "run-1" });
  });
});

// The failback's unleased window (state-machines/README.md, "The peer lease between a failback's
// Fence and its Unfence"). Fence writes the flag with the lease off, Unfence arms it; between the
// two, once the switchover completed, us-east-1 takes writes (ShiftTraffic, Verify's synthetic
// payment, real traffic) with no lease. That is safe only because no other run can fence or
// promote us-west-2 meanwhile: the failback holds the failover lock from before its Fence until
// after its Unfence, and keeps it when it halts in between. Checked before every task.
describe("the peer lease across a failback's Fence and Unfence", () => {
  const failback = { targetRegion: EAST, reason: "us-east-1 healthy again", trigger: "console" };
  // Every Task state of the failback as deployed, read from its ASL (not a list kept by hand).
  const TASKS = Object.entries(
    renderedDefinition("failback").States as Record<string, { Type: string }>,
  )
    .filter(([, state]) => state.Type === "Task")
    .map(([name]) => name);

  /** The invariant: while us-east-1's flag is unleased (and fenced over), this run owns the lock. */
  function watch(world: FakeWorld, seen: string[]) {
    return Object.fromEntries(
      TASKS.map((task) => [
        task,
        () => {
          const flag = world.flag();
          if (flag?.activeRegion === EAST && flag.leaseRequired !== true) {
            seen.push(task);
            expect({ task, lock: world.lock()?.owner }).toEqual({ task, lock: "fb-1" });
          }
        },
      ]),
    );
  }

  it("holds the lock at every step the new writer runs unleased, and arms the lease before releasing it", async () => {
    const world = FakeWorld.afterFailoverToWest();
    const seen: string[] = [];

    const result = await runWorkflow("failback", failback, {
      world,
      executionName: "fb-1",
      observe: {
        ...watch(world, seen),
        ReleaseLock: () => {
          // Before the lock goes, the lease is armed: from here on it protects the writer.
          expect(world.flag()).toMatchObject({ activeRegion: EAST, leaseRequired: true });
        },
      },
    });

    expect(result.status).toBe("SUCCEEDED");
    expect(seen).toEqual(expect.arrayContaining(["CheckOldWriter", "Verify", "Unfence"]));
    expect(world.lock()).toBeUndefined();
    expect(world.flag()).toMatchObject({ activeRegion: EAST, phase: "open", leaseRequired: true });
  });

  it("keeps the lock when it halts inside the window, so a failover started then is refused untouched", async () => {
    const world = FakeWorld.afterFailoverToWest();
    const seen: string[] = [];

    const halted = await runWorkflow("failback", failback, {
      world,
      executionName: "fb-1",
      observe: watch(world, seen),
      faults: {
        Verify: {
          before: () => new VerificationFailedError("synthetic payment refused"),
          times: 99,
        },
      },
    });

    expect(halted.states).toContain("PageOnCall");
    expect(world.flag()).toMatchObject({ activeRegion: EAST, phase: FENCE_PHASE.fenced });
    expect(world.flag()?.leaseRequired).not.toBe(true);
    expect(world.lock()?.owner).toBe("fb-1");
    // us-east-1 is the writer, unleased: the failover that would supersede it is refused.
    const flagBefore = world.flag();
    const failover = await runWorkflow(
      "failover",
      { targetRegion: WEST, reason: "us-east-1 API down", trigger: "console" },
      { world, executionName: "fo-2" },
    );
    expect(failover.states).not.toContain("Fence");
    expect(world.flag()).toEqual(flagBefore);
    expect(world.writerArn()).toBe(TOPOLOGY.regions[EAST]!.clusterArn);
  });
});
