import { FENCE_PHASE, METRICS, PARAMETERS } from "../../functions/common/contract";
import {
  DependencyError,
  ManagedFailoverUnavailableError,
  TransientError,
} from "../../functions/dr/shared/errors";
import { EAST, FakeWorld, TOPOLOGY, WEST } from "../functions/dr/support/fake-world";
import { named, runWorkflow } from "./support/harness";

const WEST_ARN = TOPOLOGY.regions[WEST]!.clusterArn;
const input = { targetRegion: WEST, reason: "us-east-1 API down", trigger: "alarm" } as const;

/** The primary answers API Gateway's generic 500 while its database commits: nine failed probes. */
function failingPrimary(world: FakeWorld): void {
  world.keepCommitting("lambda-500");
  world.probes[EAST] = Array.from({ length: 9 }, (_, i) => ({
    at: new Date(world.clock - i * 10_000).toISOString(),
    healthy: false,
  }));
}

/**
 * A failing primary, and the target's prober record of the heartbeat froze 85 s ago (its /health
 * went quiet with the flood): the flood-veto tests' common world.
 */
function freezeProberRecord(world: FakeWorld): void {
  failingPrimary(world);
  const frozenAt = new Date(world.clock - 85_000).toISOString();
  world.heartbeatWatch[WEST] = {
    beatAt: frozenAt,
    firstSeenAt: frozenAt,
    advanced: true,
    checkedAt: new Date(world.clock).toISOString(),
    previousBeatAt: new Date(world.clock - 90_000).toISOString(),
    answers: world.probes[EAST]!.map((p) => ({ at: p.at, answer: "lambda-500" as const })),
  };
}

describe("failover: the happy path", () => {
  it("fences, promotes, repoints, verifies and unfences, in that order", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });

    expect(result.status).toBe("SUCCEEDED");
    // Each loop (the proof that the old writer stopped, the promotion) shown once.
    const steps = result.states
      .filter((s) => !/^(Is|Approval|Wait)/.test(s))
      .filter((s, i, all) => all[i - 1] !== s);
    expect(steps).toEqual([
      "ValidateInput",
      "HoldInit",
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
      "RecordTimeline",
      "NotifyCompleted",
      "ReleaseLock",
      // After the lock: the readers' wait delays neither the RTO report, the page nor the lock.
      "RestoreCapacity",
      "Completed",
    ]);
    expect(world.flag()).toMatchObject({
      activeRegion: WEST,
      fencingToken: 1,
      updatedBy: "run-1",
      phase: FENCE_PHASE.open,
      previousRegion: EAST,
    });
    expect(world.callsTo("rds:FailoverGlobalCluster")).toMatchObject([
      {
        region: WEST,
        profile: "critical",
        op: "rds:FailoverGlobalCluster",
        args: { id: TOPOLOGY.globalClusterIdentifier, targetArn: WEST_ARN, allowDataLoss: true },
      },
    ]);
    expect(world.writerArn()).toBe(WEST_ARN);
    expect(world.ssm[WEST]!.get(`/payments/test/${PARAMETERS.activeRegion}`)).toBe(WEST);
    expect(world.ssm[WEST]!.get(`/payments/test/${PARAMETERS.writerEndpoint}`)).toBe(
      world.globalEndpoint,
    );
    expect(Object.fromEntries(world.records)).toEqual({ [WEST]: "PRIMARY", [EAST]: "SECONDARY" });
    expect(world.paymentsCreated).toHaveLength(1);
    expect(world.lock()).toBeUndefined();
    expect(world.table.get("failover-cooldown")).toMatchObject({ lastExecution: "run-1" });
  });

  it("fences before it promotes", async () => {
    const world = new FakeWorld();
    await runWorkflow("failover", input, { world });
    const ops = world.calls.map((c) => c.op);
    expect(ops.indexOf("dynamodb:UpdateItem active-region")).toBeLessThan(
      ops.indexOf("rds:FailoverGlobalCluster"),
    );
  });

  it("carries every step's start and end and records the timeline, RPO and RTO", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });
    const steps = result.output!.steps;
    for (const step of ["Preflight", "Fence", "Promote", "CheckPromotion", "Verify"] as const) {
      expect(Date.parse(steps[step]!.endedAt)).toBeGreaterThan(Date.parse(steps[step]!.startedAt));
    }
    // The wait for the writer starts at the first poll, not the last.
    expect(Date.parse(steps.CheckPromotion!.startedAt)).toBeLessThan(
      Date.parse(steps.Promote!.endedAt) + 2000,
    );
    const [event] = world.events[WEST]!;
    expect(event).toMatchObject({
      source: "payments.dr",
      detailType: "dr.failover.completed",
      detail: {
        eventId: "failover-run-1-completed",
        originRegion: WEST,
        rpoEstimateMs: 120,
        promotionMethod: "managed-failover",
      },
    });
    expect((event!.detail.timeline as { step: string }[]).map((t) => t.step)).toEqual([
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
    ]);
    const names = world.metrics[WEST]!.map((m) => m.name);
    expect(names).toEqual(
      expect.arrayContaining([METRICS.stepDuration, METRICS.rpoEstimate, METRICS.rto]),
    );
    expect(world.metrics[WEST]!.find((m) => m.name === METRICS.rpoEstimate)).toMatchObject({
      value: 120,
      dimensions: { Workflow: "failover" },
    });
    expect(world.messages[WEST]!.map((m) => m.subject)).toEqual([
      "[payments-dr test] failover to us-west-2 completed",
    ]);
  });

  it("completes with every client of the failed region throwing, calling it only best-effort", async () => {
    const world = new FakeWorld();
    world.failRegion(EAST);
    const result = await runWorkflow("failover", input, { world });

    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.steps.CheckOldWriter).toMatchObject({
      evidence: "database",
      oldRegionFlag: "unreachable",
    });
    expect(result.output!.steps.UpdateParameters!.otherRegion).toBe("unreachable");
    expect(result.output!.steps.ShiftTraffic!.records).toBe("unreachable");
    const toFailedRegion = world.calls.filter((c) => c.region === EAST);
    expect(toFailedRegion.length).toBeGreaterThan(0);
    // Only best-effort clients (1 attempt, short timeouts) and Route 53 ever addressed us-east-1.
    expect(new Set(toFailedRegion.map((c) => c.profile))).toEqual(new Set(["bestEffort", "dns"]));
    expect(world.flag()?.activeRegion).toBe(WEST);
    expect(world.paymentsCreated).toHaveLength(1);
  });

  // Review L3 (session 22): a state fault on this run's first RemoveFromGlobalCluster is RDS
  // refusing it (API_RemoveFromGlobalCluster: InvalidDBClusterStateFault), not a removal under
  // way: it pages at once instead of riding Promote's TransientError Retry for minutes.
  it("pages at once when RDS refuses this run's first removal with a state fault", async () => {
    const world = new FakeWorld();
    world.inject(
      "rds:RemoveFromGlobalCluster",
      () =>
        new DependencyError("rds:RemoveFromGlobalCluster failed: InvalidDBClusterStateFault", {
          code: "InvalidDBClusterStateFault",
        }),
      99,
    );
    const result = await runWorkflow("failover", { ...input, forceDetach: true }, { world });
    expect(result).toMatchObject({ status: "FAILED", error: "DependencyError" });
    expect(result.cause).toMatch(/on this run's first request/);
    expect(world.callsTo("rds:RemoveFromGlobalCluster")).toHaveLength(1);
  });

  it("detaches and promotes when the input says forceDetach", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", { ...input, forceDetach: true }, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(world.callsTo("rds:FailoverGlobalCluster")).toHaveLength(0);
    expect(world.callsTo("rds:RemoveFromGlobalCluster")).toMatchObject([
      { region: WEST, args: { clusterArn: WEST_ARN } },
    ]);
    expect(result.output!.steps.Promote).toMatchObject({ method: "detach" });
    // Standalone now: its own cluster endpoint is the writer endpoint.
    expect(world.ssm[WEST]!.get(`/payments/test/${PARAMETERS.writerEndpoint}`)).toBe(
      world.clusters[WEST_ARN]!.endpoint,
    );
  });

  it("falls back to detach-and-promote when RDS refuses the managed failover and the old primary is unreachable", async () => {
    const world = new FakeWorld();
    world.failRegion(EAST);
    world.inject(
      "rds:FailoverGlobalCluster",
      () =>
        new ManagedFailoverUnavailableError(
          "primary unreachable",
          "InvalidGlobalClusterStateFault",
        ),
    );
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.steps.Promote).toEqual(
      expect.objectContaining({
        method: "detach",
        detachReason: expect.stringMatching(
          /^FailoverGlobalCluster: InvalidGlobalClusterStateFault; the old primary is unreachable/,
        ),
      }),
    );
    expect(world.callsTo("rds:RemoveFromGlobalCluster")).toHaveLength(1);
  });
});

describe("failover: approval mode", () => {
  const approvalInput = { ...input, trigger: "console", mode: "approval" } as const;

  it("pauses for on-call with the exact approve command, then fails over once approved", async () => {
    const world = new FakeWorld();
    let fencedWhileWaiting: unknown = "not asked";
    const result = await runWorkflow("failover", approvalInput, {
      world,
      executionName: "run-a",
      approval: () => {
        fencedWhileWaiting = world.flag();
        return { approved: true, approvedBy: "alice" };
      },
    });
    expect(result.status).toBe("SUCCEEDED");
    expect(fencedWhileWaiting).toBeUndefined();
    const ask = world.messages[WEST]![0]!;
    expect(ask.subject).toBe("[payments-dr test] APPROVE failover to us-west-2?");
    expect(ask.message).toContain(
      `aws stepfunctions send-task-success --region us-west-2 --task-token 'token-run-a' --task-output '{"approved":true}'`,
    );
    expect(ask.message).toContain("CloudShell");
    expect(ask.message).toContain("within 10 minutes");
  });

  it.each([
    ["rejects", () => Promise.reject(named("ApprovalRejected", "not now"))],
    ["times out", () => Promise.reject(named("States.Timeout"))],
    ["answers approved: false", () => ({ approved: false })],
    ["answers something else", () => ({ approved: "yes" })],
    ["answers with no object", () => true],
  ])("changes nothing and releases the lock when on-call %s", async (_, answer) => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", approvalInput, { world, approval: answer });
    expect(result).toMatchObject({ status: "FAILED", error: "ApprovalNotGranted" });
    expect(world.flag()).toBeUndefined();
    expect(world.lock()).toBeUndefined();
    expect(world.table.has("failover-cooldown")).toBe(false);
    expect(world.callsTo("rds:FailoverGlobalCluster")).toHaveLength(0);
  });
});

describe("failover: rejections", () => {
  it.each([
    [
      "an unknown target region",
      { ...input, targetRegion: "eu-west-1" },
      "InvalidInputError",
      /targetRegion must be one of us-east-1, us-west-2/,
    ],
    [
      "a missing reason",
      { targetRegion: WEST, trigger: "alarm" },
      "InvalidInputError",
      /reason is required/,
    ],
    ["a blank reason", { ...input, reason: "  " }, "InvalidInputError", /reason is required/],
    [
      "an unknown trigger",
      { ...input, trigger: "pager" },
      "InvalidInputError",
      /trigger must be one of alarm, console, drill/,
    ],
    [
      "an unknown field",
      { ...input, forcedetach: true },
      "InvalidInputError",
      /unknown input field\(s\) forcedetach/,
    ],
    [
      "a non-boolean flag",
      { ...input, forceDetach: "yes" },
      "InvalidInputError",
      /forceDetach must be true or false/,
    ],
    [
      "an unknown mode",
      { ...input, mode: "manual" },
      "InvalidInputError",
      /mode must be one of automatic, approval/,
    ],
    [
      "a drill id on a run no drill started",
      { ...input, drillId: "8f4ab9e0" },
      "InvalidInputError",
      /drillId belongs to runs a drill starts: only with trigger "drill"/,
    ],
    [
      "on-call's word that the old writer stopped, from an alarm",
      { ...input, assumeOldWriterStopped: true },
      "InvalidInputError",
      /assumeOldWriterStopped is on-call's word .* only with trigger "console"/,
    ],
    [
      "a malformed resume id",
      { ...input, resumeFailoverId: "a b" },
      "InvalidInputError",
      /resumeFailoverId/,
    ],
  ])("rejects %s before touching anything", async (_, bad, error, cause) => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", bad, { world, region: WEST });
    expect(result).toMatchObject({ status: "FAILED", error });
    expect(result.cause).toMatch(cause);
    expect(result.states.at(-1)).toBe("InputRejected");
    expect(world.calls.filter((c) => !c.op.startsWith("dynamodb:GetItem"))).toEqual([]);
  });

  it("rejects a target that already is the active region", async () => {
    const world = FakeWorld.afterFailoverToWest();
    const result = await runWorkflow("failover", input, { world });
    expect(result).toMatchObject({ status: "FAILED", error: "TargetAlreadyActiveError" });
    expect(result.cause).toMatch(/us-west-2 is already the active region \(fencing token 1/);
  });

  it("rejects the deployed primary as a target when the flag was never written", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow(
      "failover",
      { ...input, targetRegion: EAST, trigger: "console" },
      { world },
    );
    expect(result).toMatchObject({ status: "FAILED", error: "TargetAlreadyActiveError" });
  });

  it("rejects a failover started in a region other than its target", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", input, { world, region: EAST });
    expect(result).toMatchObject({ status: "FAILED", error: "WrongRegionError" });
    expect(result.cause).toMatch(/start the failover state machine in us-west-2/);
  });

  it("rejects a second failover while one runs, without doubling anything", async () => {
    const world = new FakeWorld();
    let release!: () => void;
    const waiting = new Promise<void>((resolve) => (release = resolve));
    let asked!: () => void;
    const approvalAsked = new Promise<void>((resolve) => (asked = resolve));
    const first = runWorkflow(
      "failover",
      { ...input, trigger: "console", mode: "approval" },
      {
        world,
        executionName: "first",
        approval: async () => {
          asked();
          await waiting;
          return { approved: true };
        },
      },
    );
    await approvalAsked;
    const second = await runWorkflow("failover", input, { world, executionName: "second" });
    expect(second).toMatchObject({ status: "FAILED", error: "LockHeldError" });
    expect(second.cause).toMatch(/run first\) holds the failover lock/);
    expect(second.states.at(-1)).toBe("Rejected");
    release();
    expect((await first).status).toBe("SUCCEEDED");
    expect(world.flag()).toMatchObject({ fencingToken: 1, updatedBy: "first" });
    expect(world.callsTo("rds:FailoverGlobalCluster")).toHaveLength(1);
  });

  it("rejects a re-trigger within the cooldown unless ignoreCooldown is set", async () => {
    const world = new FakeWorld();
    expect((await runWorkflow("failover", input, { world, executionName: "run-1" })).status).toBe(
      "SUCCEEDED",
    );
    // Back to us-east-1 by hand, then an alarm fires again within the cooldown.
    world.lagMs[TOPOLOGY.regions[EAST]!.clusterIdentifier] = 10;
    expect(
      (
        await runWorkflow(
          "failback",
          {
            targetRegion: EAST,
            reason: "primary healthy",
            trigger: "console",
            ignoreCooldown: true,
          },
          { world, executionName: "back" },
        )
      ).status,
    ).toBe("SUCCEEDED");
    const again = await runWorkflow("failover", input, { world, executionName: "run-2" });
    expect(again).toMatchObject({ status: "FAILED", error: "CooldownActiveError" });
    expect(world.flag()?.activeRegion).toBe(EAST);
    const forced = await runWorkflow(
      "failover",
      { ...input, ignoreCooldown: true },
      { world, executionName: "run-3" },
    );
    expect(forced.status).toBe("SUCCEEDED");
  });

  it("does not fail back when the primary's health flaps after a failover", async () => {
    const world = new FakeWorld();
    await runWorkflow("failover", input, { world, executionName: "run-1" });
    const token = world.flag()?.fencingToken;
    const before = world.calls.length;
    // The alarm re-fires in the new region, and someone wired it in the old one too.
    const again = await runWorkflow("failover", input, { world, executionName: "flap-1" });
    const back = await runWorkflow(
      "failover",
      { ...input, targetRegion: EAST },
      { world, executionName: "flap-2", region: EAST },
    );
    expect(again).toMatchObject({ status: "FAILED", error: "TargetAlreadyActiveError" });
    expect(back).toMatchObject({ status: "FAILED", error: "AutomaticFailbackRefusedError" });
    expect(world.flag()).toMatchObject({ activeRegion: WEST, fencingToken: token });
    expect(world.calls.slice(before).map((c) => c.op)).toEqual(["dynamodb:GetItem active-region"]);
  });

  // Review H1 (session 22): a planned run's unconfirmed lock (no lockScope) is a claim that goes
  // ahead or gives up within its AcquireLock's lifetime; the failover waits it out through its
  // own Retry (LockSettlingError) instead of ending in Rejected with no page.
  it("waits out a switchover's unconfirmed lock and then fails over, never Rejected", async () => {
    const world = new FakeWorld();
    world.table.set("failover-lock", {
      owner: "stuck-switchover",
      operation: "switchover",
      // 80 s ago: the fake clock (1 s a read; the harness zeroes Retry intervals) crosses the
      // 90 s lifetime within the Retry's attempts.
      acquiredAt: new Date(world.clock - 80_000).toISOString(),
      expiresAt: Math.floor(world.clock / 1000) + 6 * 3600,
      targetRegion: WEST,
      sourceRegion: EAST,
      facts: {},
    });
    const result = await runWorkflow("failover", input, { world, executionName: "after-stuck" });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.states).not.toContain("Rejected");
    expect(world.flag()).toMatchObject({ activeRegion: WEST, updatedBy: "after-stuck" });
    expect(world.lock()?.owner ?? null).not.toBe("stuck-switchover");
  });

  it("rejects an alarm-started failover while the prober still sees the primary answer, touching nothing", async () => {
    const world = new FakeWorld();
    world.probes[EAST] = [
      { at: new Date(world.clock - 5_000).toISOString(), healthy: true },
      { at: new Date(world.clock - 15_000).toISOString(), healthy: false },
    ];
    const result = await runWorkflow("failover", input, { world });
    expect(result).toMatchObject({ status: "FAILED", error: "AlarmNotCorroboratedError" });
    expect(result.states.slice(-1)).toEqual(["Rejected"]);
    expect(world.flag()?.activeRegion ?? EAST).toBe(EAST);
    expect(
      world.calls.filter((c) => /rds:(Failover|Remove)|PutItem|UpdateItem/.test(c.op)),
    ).toEqual([]);
  });

  it("rejects an alarm-started failover when no prober result confirms it", async () => {
    const world = new FakeWorld();
    world.probes[EAST] = [];
    const result = await runWorkflow("failover", input, { world });
    expect(result).toMatchObject({ status: "FAILED", error: "AlarmNotCorroboratedError" });
    expect(world.calls.some((c) => c.op.startsWith("rds:Failover"))).toBe(false);
  });

  // Review 22b-18 H1': a flood of /health beyond its reserved environments gets Lambda-throttle
  // 500s (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html) that the
  // prober counts as unhealthy; the primary's database still commits its heartbeat.
  it("rejects an alarm-started failover while the primary answers API Gateway's generic 500 and still commits heartbeats, paging the command to fail over now", async () => {
    const world = new FakeWorld();
    world.keepCommitting("lambda-500");
    const result = await runWorkflow("failover", input, { world, executionName: "flooded" });
    expect(result).toMatchObject({ status: "FAILED", error: "PrimaryStillCommittingError" });
    expect(result.states).not.toContain("AcquireLock");
    expect(result.states).not.toContain("Fence");
    expect(world.flag()?.activeRegion ?? EAST).toBe(EAST);
    expect(world.lock()).toBeUndefined();
    expect(world.calls.some((c) => /rds:(Failover|Remove)/.test(c.op))).toBe(false);
    const page = world.messages[WEST]!.at(-1)!;
    expect(page.subject).toContain("HALTED at Preflight");
    expect(page.message).toContain(
      "us-east-1 answers API Gateway's generic 500 (a Lambda throttle or a Lambda outage) while its database still commits. If payments are failing, fail over now with:",
    );
    expect(page.message).toContain("No lock is held by this run.");
    expect(page.message).toMatch(
      /fail over now with:\n {2}aws stepfunctions start-execution .*"trigger":"console"/,
    );
    expect(page.message).not.toContain("resumeFailoverId");
    expect(page.message).not.toMatch(/not a dead region/);
  });

  // Review 23-18 H1: the heartbeat is pg_cron inside Aurora; it beats on through every failure
  // outside it. Our /health's own 503 (flag unreadable: DynamoDB; database unreachable: VPC),
  // timeouts and 502/504 are real failures of the payment path: the alarm fails over.
  it.each(["own-503", "timeout", "unreachable", "other-5xx"] as const)(
    "fails over by alarm when the primary's probes got %s although its database still commits",
    async (answer) => {
      const world = new FakeWorld();
      world.keepCommitting(answer);
      const result = await runWorkflow("failover", input, { world });
      expect(result.status).toBe("SUCCEEDED");
      expect(world.flag()?.activeRegion).toBe(WEST);
    },
  );

  it("fails over by alarm when a single failed probe in the window was a real failure among the flood's 500s", async () => {
    const world = new FakeWorld();
    world.keepCommitting("lambda-500");
    world.probes[EAST] = [0, 10, 20, 30, 40].map((ago) => ({
      at: new Date(world.clock - ago * 1000).toISOString(),
      healthy: false,
    }));
    const beatAt = new Date(world.clock - 2_000).toISOString();
    world.heartbeatWatch[WEST] = {
      beatAt,
      firstSeenAt: beatAt,
      advanced: true,
      checkedAt: beatAt,
      previousBeatAt: new Date(world.clock - 7_000).toISOString(),
      answers: world.probes[EAST].map((p, i) => ({
        at: p.at,
        answer: i === 2 ? ("own-503" as const) : ("lambda-500" as const),
      })),
    };
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
  });

  // Review 23-18 M1: regional failures cascade. The API path fails first (generic 500s), the
  // database dies 25-60 s later; the alarm's run (90 s of failures) must fail over at once, not
  // hold for the 80 s staleness bound and wait for a later alarm.
  it.each([25, 40, 60])(
    "fails over by alarm when the database died %i s after the API path began failing",
    async (diedAfter) => {
      const world = new FakeWorld();
      failingPrimary(world);
      const firstFailed = world.clock - 80_000;
      world.heartbeatAt[WEST] = firstFailed + diedAfter * 1000;
      const result = await runWorkflow("failover", input, { world });
      expect(result.status).toBe("SUCCEEDED");
      expect(world.flag()?.activeRegion).toBe(WEST);
    },
  );

  // Review 23-18 M1: a veto is a bounded hold, not a one-shot halt. CloudWatch runs an alarm's
  // actions "only on state transitions, and are not performed again if the condition persists"
  // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html), so the
  // run itself re-checks: the hold loop after Preflight (HoldWait 15 s, 9 looks at most). The
  // harness zeroes retry intervals; each re-check here moves the world's clock by the 15 s the
  // ASL waits, and the prober keeps recording failed probes meanwhile.
  const holdRechecks = (world: FakeWorld, onRecheck: (n: number) => void = () => {}) => {
    let calls = 0;
    return {
      count: () => calls,
      observe: {
        Preflight: () => {
          calls += 1;
          if (calls === 1) return;
          world.clock += 15_000;
          world.probes[EAST]!.unshift({ at: new Date(world.clock).toISOString(), healthy: false });
          onRecheck(calls);
        },
      },
    };
  };

  it.each([1, 3, 6])(
    "fails over by alarm without a second alarm when the held primary's database stops %i re-checks into the hold",
    async (diesAt) => {
      const world = new FakeWorld();
      failingPrimary(world);
      // The database dies between two re-checks: its last beat, somewhere in those 15 s.
      const hold = holdRechecks(world, (n) => {
        if (n === diesAt + 1)
          world.heartbeatAt[WEST] = world.clock - world.drawSeconds([1, 14]) * 1000;
      });
      const result = await runWorkflow("failover", input, { world, observe: hold.observe });
      expect(result.status).toBe("SUCCEEDED");
      expect(world.flag()?.activeRegion).toBe(WEST);
      // Held until the database stopped, then one more look: no page, no second alarm.
      expect(hold.count()).toBeGreaterThanOrEqual(diesAt + 1);
      expect(world.messages[WEST]!.some((m) => m.subject.includes("HALTED"))).toBe(false);
    },
  );

  // Review 24-18 M1: Step Functions keeps one counter per retrier for all of a state's retries
  // ("it already reached its maximum … Therefore, that retrier fails and the execution redirects
  // the workflow to the Z state through the Catch field",
  // https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). The hold is
  // a Choice/Wait loop, so each look has Preflight's whole transient budget: single throttles
  // spread over a hold in which the database stops must not end in a page.
  it.each([
    [[2, 4, 6, 8, 10], 10],
    [[1, 2, 3, 5, 7, 9], 9],
  ])(
    "fails over, no page, when CloudWatch throttles once on looks %j of a hold whose database stops before look %i",
    async (faultAt, diesAt) => {
      const world = new FakeWorld();
      failingPrimary(world);
      const hold = holdRechecks(world, (n) => {
        if (n === diesAt) world.heartbeatAt[WEST] = world.clock - world.drawSeconds([6, 14]) * 1000;
      });
      const observe = {
        Preflight: () => {
          hold.observe.Preflight();
          if (faultAt.includes(hold.count()))
            world.inject(
              "cloudwatch:GetMetricData",
              () => new TransientError("Rate exceeded (GetMetricData)"),
              1,
            );
        },
      };
      const result = await runWorkflow("failover", input, { world, observe });
      expect(result.status).toBe("SUCCEEDED");
      expect(world.flag()?.activeRegion).toBe(WEST);
      expect(world.messages[WEST]!.some((m) => m.subject.includes("HALTED"))).toBe(false);
    },
  );

  it("pages after the bounded hold (9 looks over about 2 minutes) while the database keeps committing, with no lock held", async () => {
    const world = new FakeWorld();
    world.keepCommitting("lambda-500");
    const hold = holdRechecks(world);
    const result = await runWorkflow("failover", input, { world, observe: hold.observe });
    expect(result).toMatchObject({ status: "FAILED", error: "PrimaryStillCommittingError" });
    expect(hold.count()).toBe(9);
    expect(result.states).not.toContain("AcquireLock");
    expect(world.lock()).toBeUndefined();
    expect(world.flag()?.activeRegion ?? EAST).toBe(EAST);
    expect(world.messages[WEST]!.filter((m) => m.subject.includes("HALTED"))).toHaveLength(1);
  });

  // Review 23-18 H2: flood BOTH regions' /health. The prober's record of the target's heartbeat
  // froze when the flood began (its /health said nothing since); the veto now reads the beat
  // through the target's heartbeat reader (Lambda API, no route), which the flood cannot reach.
  it("holds an alarm's failover when both regions' /health are flooded and the prober's record froze, on the heartbeat reader's fresh beat", async () => {
    const world = new FakeWorld();
    freezeProberRecord(world);
    world.heartbeatWriter[WEST] = "payments-db-1-use1-test";
    // Review 24-18 M4: the flood reaches the target's /health too (modelled apart from its
    // reader), so only the reader can show the beat: a /health-only read would fail over.
    world.healthFlooded[WEST] = true;
    world.healthFlooded[EAST] = true;
    const result = await runWorkflow("failover", input, { world });
    expect(result).toMatchObject({ status: "FAILED", error: "PrimaryStillCommittingError" });
    expect(world.flag()?.activeRegion ?? EAST).toBe(EAST);
    expect(world.calls.some((c) => /rds:(Failover|Remove)/.test(c.op))).toBe(false);
    expect(world.calls.some((c) => c.op === "GET /health (heartbeat)")).toBe(false);
  });

  // Review 24-18 M4: the reader's reservation busy, /health answering: the fallback still sees
  // the beat and holds. Both unreadable: the residual the README names (unreadable never holds
  // at Preflight, so the run fences). Since 10k/10n the confirmed proof also needs two beats of
  // the old writer in the target (paused commits resumed), which an unreadable heartbeat never
  // shows, and the database proof needs one: the run halts at CheckOldWriter's bound with a page,
  // nothing promoted (never two writers; on-call resumes with assumeOldWriterStopped).
  it.each([
    [false, "FAILED", "PrimaryStillCommittingError"],
    [true, "FAILED", "OldWriterNotStoppedError"],
  ] as const)(
    "with the target's heartbeat reader throttled and its /health flooded=%s, the run ends %s (%s)",
    async (flooded, status, error) => {
      const world = new FakeWorld();
      // The target's prober reads the same two paths, so its record froze with them.
      freezeProberRecord(world);
      world.readerState[WEST] = "throttled";
      world.healthFlooded[WEST] = flooded;
      const result = await runWorkflow("failover", input, { world });
      expect(result.status).toBe(status);
      expect(result.error).toBe(error);
      expect(world.calls.some((c) => c.op === "GET /health (heartbeat)")).toBe(true);
      expect(world.calls.some((c) => /rds:(Failover|Remove)/.test(c.op))).toBe(false);
    },
  );

  // Review 23-18 L2: a beat the target's own instance wrote (a target made writable out of band)
  // is not the primary's: it never holds a failover.
  it("does not hold the alarm's run at Preflight when the fresh beat the target holds was written by the target's own instance (then halts at CheckOldWriter)", async () => {
    const world = new FakeWorld();
    freezeProberRecord(world);
    world.heartbeatWriter[WEST] = world.clusters[WEST_ARN]!.instances[0]!;
    const result = await runWorkflow("failover", input, { world });
    // Preflight's point: not held, the run fences.
    expect(world.flag()?.activeRegion).toBe(WEST);
    // Review 24-10k M2: the same beats are no evidence at CheckOldWriter either, so with the
    // target's own instance writing (it is writable out of band) the confirmation cannot show
    // the old primary's paused COMMITs resumed: a safe halt that names the writer, not a promotion.
    expect(result).toMatchObject({ status: "FAILED", error: "OldWriterNotStoppedError" });
    expect(world.calls.some((c) => /rds:(Failover|Remove)/.test(c.op))).toBe(false);
    expect(world.messages[WEST]!.at(-1)!.message).toContain(
      `written by ${world.clusters[WEST_ARN]!.instances[0]!}`,
    );
  });

  it("fails over by alarm when the prober recorded fresh beats the target's own instance wrote, and the reader cannot be read", async () => {
    const world = new FakeWorld();
    failingPrimary(world);
    world.heartbeatAt[WEST] = null;
    const own = world.clusters[WEST_ARN]!.instances[0]!;
    // The prober keeps recording the target's own beats, fresh at every look.
    const record = () => {
      const beatAt = new Date(world.clock - 2_000).toISOString();
      world.heartbeatWatch[WEST] = {
        beatAt,
        firstSeenAt: beatAt,
        advanced: true,
        checkedAt: beatAt,
        previousBeatAt: new Date(world.clock - 7_000).toISOString(),
        writer: own,
        previousWriter: own,
        answers: world.probes[EAST]!.map((p) => ({ at: p.at, answer: "lambda-500" as const })),
      };
    };
    const result = await runWorkflow("failover", input, { world, observe: { Preflight: record } });
    // Preflight does not veto: the run fences us-west-2.
    expect(result.states).toEqual(expect.arrayContaining(["Fence", "CheckOldWriter"]));
    expect(world.flag()?.activeRegion).toBe(WEST);
    // Since chaos schedule 994 (session 24, 10k): with us-east-1 up, its replica confirms the
    // fence, but a failover from the guarded primary also needs a heartbeat begun after the
    // settle in the target, to know COMMITs the RPO guard paused have resumed; this target
    // cannot read any, so the run halts safely, paged, with nothing promoted (it completed on
    // the confirmation alone before).
    expect(result.status).toBe("FAILED");
    expect(result.error).toBe("OldWriterNotStoppedError");
    expect(world.callsTo("rds:FailoverGlobalCluster")).toHaveLength(0);
  });

  it("fails over by alarm when the heartbeat stopped once the region died during a flood", async () => {
    const world = new FakeWorld();
    // /health failing for 10 minutes (a flood), the heartbeat stopped 3 minutes ago: the
    // replication-lag alarm's run, whose lag alarm needs 3 minutes, finds it older than the bound.
    world.probes[EAST] = Array.from({ length: 60 }, (_, i) => ({
      at: new Date(world.clock - i * 10_000).toISOString(),
      healthy: false,
    }));
    world.heartbeatAt[WEST] = world.clock - 180_000;
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(world.flag()?.activeRegion).toBe(WEST);
  });

  it("fails over by alarm when the last heartbeat began in the first failed probe's period, before the probe could see the region dead", async () => {
    const world = new FakeWorld();
    // The datapoint's time is its 10 s period's start; the probe that failed may have run up to
    // 10 s later with a timeout of up to 9 s: a beat 15 s after the period's start proves nothing.
    world.probes[EAST] = [0, 10, 20, 30].map((ago) => ({
      at: new Date(world.clock - ago * 1000).toISOString(),
      healthy: false,
    }));
    world.heartbeatAt[WEST] = world.clock - 30_000 + 15_000;
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
  });

  it("rejects an alarm-started failover on the prober's record of a new heartbeat when the target's /health cannot be read", async () => {
    const world = new FakeWorld();
    world.heartbeatAt[WEST] = null;
    world.probes[EAST] = [0, 10, 20, 30, 40].map((ago) => ({
      at: new Date(world.clock - ago * 1000).toISOString(),
      healthy: false,
    }));
    // The prober keeps recording new beats through the hold's re-checks.
    const record = () => {
      const beatAt = new Date(world.clock - 3_000).toISOString();
      world.heartbeatWatch[WEST] = {
        beatAt,
        firstSeenAt: beatAt,
        advanced: true,
        checkedAt: beatAt,
        previousBeatAt: new Date(world.clock - 8_000).toISOString(),
        answers: world.probes[EAST]!.map((p) => ({ at: p.at, answer: "throttled" as const })),
      };
    };
    const result = await runWorkflow("failover", input, {
      world,
      observe: { Preflight: record },
    });
    expect(result).toMatchObject({ status: "FAILED", error: "PrimaryStillCommittingError" });
    expect(world.flag()?.activeRegion ?? EAST).toBe(EAST);
  });

  it("lets on-call fail over by hand while the primary still commits heartbeats", async () => {
    const world = new FakeWorld();
    world.keepCommitting("lambda-500");
    const result = await runWorkflow("failover", { ...input, trigger: "console" }, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(world.flag()?.activeRegion).toBe(WEST);
  });

  it("lets on-call fail over by hand whatever the prober last saw", async () => {
    const world = new FakeWorld();
    world.probes[EAST] = [{ at: new Date(world.clock).toISOString(), healthy: true }];
    const result = await runWorkflow("failover", { ...input, trigger: "console" }, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(world.flag()?.activeRegion).toBe(WEST);
  });

  it("refuses to start when the replication lag is unknown, unless allowUnknownLag is set", async () => {
    const world = new FakeWorld();
    world.lagMs[TOPOLOGY.regions[WEST]!.clusterIdentifier] = null;
    const refused = await runWorkflow("failover", input, { world });
    expect(refused).toMatchObject({ status: "FAILED", error: "ReplicationLagUnknownError" });
    expect(world.flag()).toBeUndefined();
    expect(world.lock()).toBeUndefined();
    const forced = await runWorkflow("failover", { ...input, allowUnknownLag: true }, { world });
    expect(forced.status).toBe("SUCCEEDED");
    expect(forced.output!.steps.RecordTimeline!.rpoEstimateMs).toBeNull();
  });

  it("refuses to fail over to an unavailable target cluster", async () => {
    const world = new FakeWorld();
    world.clusters[WEST_ARN]!.status = "storage-optimization";
    const result = await runWorkflow("failover", input, { world });
    expect(result).toMatchObject({ status: "FAILED", error: "TargetClusterUnhealthyError" });
    expect(world.flag()).toBeUndefined();
  });
});

describe("failover: a promotion that never completes", () => {
  it("stops after the promotion bound in the safe state, lock kept, fenced, paged, promoted once", async () => {
    const world = new FakeWorld();
    world.promotionSeconds = Infinity;
    const result = await runWorkflow("failover", input, { world, executionName: "run-1" });

    expect(result).toMatchObject({ status: "FAILED", error: "PromotionTimeoutError" });
    // 5 s apart for two minutes, then 15 s apart until the 20-minute bound.
    expect(result.states.filter((s) => s === "CheckPromotion").length).toBeGreaterThan(60);
    expect(result.states.filter((s) => s === "PageSlowPromotion")).toHaveLength(1);
    expect(result.states.slice(-3)).toEqual(["PromotionTimedOut", "PageOnCall", "Halted"]);
    expect(world.callsTo("rds:FailoverGlobalCluster")).toHaveLength(1);
    expect(world.lock()).toMatchObject({ owner: "run-1" });
    expect(world.flag()).toMatchObject({ activeRegion: WEST, phase: FENCE_PHASE.fenced });
    const page = world.messages[WEST]!.at(-1)!;
    expect(page.subject).toBe("[payments-dr test] failover to us-west-2 HALTED at CheckPromotion");
    expect(page.message).toContain('"resumeFailoverId":"run-1"');
    expect(page.message).toContain("no region accepts payments");
  });

  it("completes when resumed after the promotion finally finished", async () => {
    const world = new FakeWorld();
    world.promotionSeconds = Infinity;
    await runWorkflow("failover", input, { world, executionName: "run-1" });
    world.promotion!.completesAt = world.clock;
    const resumed = await runWorkflow(
      "failover",
      { ...input, resumeFailoverId: "run-1" },
      { world, executionName: "run-1-resume" },
    );
    expect(resumed.status).toBe("SUCCEEDED");
    expect(world.callsTo("rds:FailoverGlobalCluster")).toHaveLength(1);
    expect(world.flag()).toMatchObject({ fencingToken: 1, phase: FENCE_PHASE.open });
    expect(world.lock()).toBeUndefined();
  });
});
