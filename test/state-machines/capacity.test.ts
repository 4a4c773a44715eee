// After a failover or switchover the new primary gets the old primary's capacity: RestoreCapacity
// adds readers with Terraform's identifiers and settings, asks once however often it runs, is
// done only once the configured count is available (bounded: 30 minutes, then a page; an
// instance Aurora cannot recover pages at once), and never blocks or halts the run. A planned
// move also deletes the readers it added to the region it leaves.
import { AccessDeniedError, TransientError } from "../../functions/dr/shared/errors";
import type { InstanceRequest } from "../../functions/dr/shared/ports";
import { EAST, FakeWorld, TEST_CAPACITY, TOPOLOGY, WEST } from "../functions/dr/support/fake-world";
import { Random } from "../chaos/world/random";
import { runWorkflow } from "./support/harness";

const westArn = TOPOLOGY.regions[WEST]!.clusterArn;
const eastArn = TOPOLOGY.regions[EAST]!.clusterArn;
const RESTORED = "payments-db-2-usw2-test";
const TAG = { "created-by": "payments-dr-restore-capacity" };
const input = { targetRegion: WEST, reason: "primary down", trigger: "console" };

// Review 23b, L4: every drawn test prints its seed; `CAPACITY_SEED=<n> npx jest <this file> -t
// '<test name>'` replays it (one seeded generator per test, test/chaos/world/random.ts).
let random: Random | undefined;
let testSeed = 0;
beforeEach(() => {
  random = undefined;
  testSeed = process.env.CAPACITY_SEED
    ? Number(process.env.CAPACITY_SEED)
    : Math.floor(Math.random() * 2 ** 31);
});
/** Uniform in [0, 1), from the test's seed (printed at its first draw). */
function draw(): number {
  if (!random) {
    random = new Random(testSeed);
    console.log(`${expect.getState().currentTestName}: CAPACITY_SEED=${testSeed}`);
  }
  return random.next();
}

/** One "capacity not restored" page in the target region, and its metric (review 22, M1). */
function expectCapacityPage(world: FakeWorld, workflow: string, body: RegExp, region = WEST) {
  const pages = world.messages[region]!.filter((m) => m.subject.includes("capacity not restored"));
  expect(pages).toHaveLength(1);
  expect(pages[0]!.subject).toContain(`${workflow} to ${region}: capacity not restored`);
  expect(pages[0]!.message).toMatch(body);
  expect(world.metrics[region]!.filter((d) => d.name === "CapacityNotRestored")).toEqual([
    expect.objectContaining({
      value: 1,
      unit: "Count",
      dimensions: { Workflow: workflow, Region: region },
    }),
    // The capacity-not-restored alarm's metric (infra/constructs/observability.ts).
    expect.objectContaining({ value: 1, unit: "Count", dimensions: { Region: region } }),
  ]);
}

/** The one capacity page's text (review 23, M3: its advice is asserted per case). */
function capacityPage(world: FakeWorld, region = WEST): string {
  return world.messages[region]!.find((m) => m.subject.includes("capacity not restored"))!.message;
}

describe("capacity in the new primary", () => {
  it.each(["failover", "switchover"] as const)(
    "a %s adds the old primary's second instance to the promoted cluster, after Unfence",
    async (workflow) => {
      const world = new FakeWorld();
      let openWhenAsked: string | undefined;
      const result = await runWorkflow(workflow, input, {
        world,
        observe: { RestoreCapacity: () => (openWhenAsked = world.flag()?.phase) },
      });
      expect(result.status).toBe("SUCCEEDED");
      // Not part of the RTO: the region already takes writes when the readers are asked for.
      expect(openWhenAsked).toBe("open");
      const created = world.callsTo("rds:CreateDBInstance");
      expect(created.map((c) => c.region)).toEqual([WEST]);
      expect(created[0]!.args).toEqual({
        identifier: "payments-db-2-usw2-test",
        clusterIdentifier: "payments-usw2-test",
        instanceClass: "db.r6g.large",
        engine: "aurora-postgresql",
        promotionTier: 1,
        dbSubnetGroupName: "payments-db-usw2-test",
        monitoringRoleArn: TEST_CAPACITY.monitoringRoleArn,
        monitoringInterval: 15,
        performanceInsightsKmsKeyId: TEST_CAPACITY.regions[WEST]!.performanceInsightsKmsKeyId,
        caCertificateIdentifier: "rds-ca-rsa2048-g1",
        tags: {
          Name: "payments-usw2-test-2",
          "region-code": "usw2",
          "created-by": "payments-dr-restore-capacity",
        },
      } satisfies InstanceRequest);
      // Done once the reader is available, not once it was asked for (review 22b, M2'): Aurora
      // takes polls of the world's clock to create it.
      expect(result.output!.steps.RestoreCapacity).toMatchObject({
        desired: 2,
        requested: ["payments-db-2-usw2-test"],
        waiting: [],
        done: true,
        note: `${WEST} already has 2 of 2 instances available`,
      });
      expect(result.output!.steps.RestoreCapacity!.polls).toBeGreaterThan(1);
      expect(result.output!.warnings?.RestoreCapacity).toBeUndefined();
      expect(world.instancesOf(westArn).map((i) => [i.identifier, i.status])).toEqual([
        ["payments-db-1-usw2-test", "available"],
        ["payments-db-2-usw2-test", "available"],
      ]);
    },
  );

  it("adds nothing when the new primary already has the capacity (a failback home)", async () => {
    const world = FakeWorld.afterFailoverToWest();
    const result = await runWorkflow(
      "failback",
      { targetRegion: EAST, reason: "home", trigger: "console" },
      { world },
    );
    expect(result.status).toBe("SUCCEEDED");
    expect(world.callsTo("rds:CreateDBInstance")).toEqual([]);
    expect(result.output!.steps.RestoreCapacity!.note).toBe(
      `${EAST} already has 2 of 2 instances available`,
    );
  });

  it("converges when run again: the second run finds the reader asked for and adds none", async () => {
    const world = new FakeWorld();
    await runWorkflow("failover", input, { world, executionName: "run-1" });
    await runWorkflow(
      "failover",
      { ...input, resumeFailoverId: "run-1" },
      {
        world,
        executionName: "run-1-resume",
      },
    );
    expect(world.callsTo("rds:CreateDBInstance")).toHaveLength(1);
    expect(world.instancesOf(westArn)).toHaveLength(2);
  });

  describe("done only with the configured count available (review 22b, M2')", () => {
    it("waits for a name held by an instance being deleted, names it, then asks for it once it is gone", async () => {
      const world = new FakeWorld();
      world.addInstance(westArn, RESTORED, "deleting", "db.r6g.large");
      // Aurora documents no duration for a deletion: gone after 1 to 20 polls (30 s apart).
      const gonePoll = 1 + Math.floor(draw() * 20);
      let seen = 0;
      let createsWhileHeld = -1;
      const result = await runWorkflow("failover", input, {
        world,
        observe: {
          RestoreCapacity: () => {
            seen += 1;
            if (seen !== gonePoll + 1) return;
            createsWhileHeld = world.callsTo("rds:CreateDBInstance").length;
            world.instances.delete(`${WEST}/${RESTORED}`);
            world.clusters[westArn]!.instances = world.clusters[westArn]!.instances.filter(
              (i) => i !== RESTORED,
            );
          },
        },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings?.RestoreCapacity).toBeUndefined();
      // Never asked while the name was taken (it would collide), asked once when it was free.
      expect(createsWhileHeld).toBe(0);
      expect(world.callsTo("rds:CreateDBInstance").map((c) => c.args)).toEqual([
        expect.objectContaining({ identifier: RESTORED }),
      ]);
      expect(result.output!.steps.RestoreCapacity).toMatchObject({ done: true, waiting: [] });
      expect(world.instancesOf(westArn).map((i) => [i.identifier, i.status])).toEqual([
        ["payments-db-1-usw2-test", "available"],
        [RESTORED, "available"],
      ]);
    });

    it("pages, naming the instance being deleted, when the name stays held past the bound", async () => {
      const world = new FakeWorld();
      world.addInstance(westArn, RESTORED, "deleting", "db.r6g.large");
      const result = await runWorkflow("failover", input, { world });
      expect(result.status).toBe("SUCCEEDED");
      expect(world.callsTo("rds:CreateDBInstance")).toEqual([]);
      expect(result.output!.warnings!.RestoreCapacity).toMatchObject({
        Error: "CapacityTimeoutError",
      });
      expect(result.output!.steps.RestoreCapacity!.waiting).toEqual([
        `${RESTORED} in ${WEST}: the name is held by an instance being deleted; asked for once it is gone`,
      ]);
      expectCapacityPage(
        world,
        "failover",
        /Still waiting for: payments-db-2-usw2-test in us-west-2: the name is held by an instance being deleted/,
      );
      // Not asked for: the by-hand add is the advice, naming it.
      const page = capacityPage(world);
      expect(page).toContain(
        `${WEST}'s database was not brought to the old primary's capacity (2 instances of DR_CAPACITY)`,
      );
      expect(page).toContain(`Next: add the missing readers by hand (${RESTORED})`);
      expect(page).not.toMatch(/do not add another/);
    });

    it("pages when the reader it asked for is still creating at the bound", async () => {
      const world = new FakeWorld();
      // Aurora never finishes this one (it documents no duration, aurora-replicas-adding.html).
      world.creationNeverEnds.add(RESTORED);
      const result = await runWorkflow("failover", input, { world });
      expect(result.status).toBe("SUCCEEDED");
      expect(world.callsTo("rds:CreateDBInstance")).toHaveLength(1);
      expect(result.output!.warnings!.RestoreCapacity).toMatchObject({
        Error: "CapacityTimeoutError",
      });
      expect(result.output!.steps.RestoreCapacity!.waiting).toEqual([
        `${RESTORED} in ${WEST} is creating`,
      ]);
      expectCapacityPage(
        world,
        "failover",
        /Still waiting for: payments-db-2-usw2-test in us-west-2 is creating/,
      );
      // Review 23, M3: the reader exists and is progressing; a by-hand add would overshoot.
      const page = capacityPage(world);
      expect(page).toContain(
        `${WEST}'s database is not at the old primary's capacity yet (1 of 2 instances available): ${RESTORED} is creating after the loop's 30-minute bound`,
      );
      expect(page).toContain(
        `Next: ${RESTORED} exists and Aurora is still working on it: do not add another reader`,
      );
      expect(page).toContain(
        `aws rds describe-db-instances --region ${WEST} --db-instance-identifier ${RESTORED}`,
      );
      expect(page).not.toMatch(/add the missing readers by hand/);
    });

    // The DB instance status table (accessing-monitoring.html#Overview.DBInstance.Status): the
    // states it says need someone to act (delete and recreate, fix the subnets, the parameter
    // group, the KMS key, try again hours later). One drawn per run, not a copy of the code's set.
    const NEEDS_ACTION = [
      "failed",
      "incompatible-network",
      "incompatible-parameters",
      "inaccessible-encryption-credentials",
      "insufficient-capacity",
    ];
    it("pages at once, naming the instance and its state, when the reader it asked for goes to a state that needs someone to act", async () => {
      const status = NEEDS_ACTION[Math.floor(draw() * NEEDS_ACTION.length)]!;
      const world = new FakeWorld();
      // Accepted, then broken after 1 to 5 polls (while Aurora creates it).
      const brokenPoll = 2 + Math.floor(draw() * 5);
      world.creationNeverEnds.add(RESTORED);
      let seen = 0;
      const result = await runWorkflow("failover", input, {
        world,
        observe: {
          RestoreCapacity: () => {
            seen += 1;
            if (seen === brokenPoll) world.instances.get(`${WEST}/${RESTORED}`)!.status = status;
          },
        },
      });
      expect(result.status).toBe("SUCCEEDED");
      // At once: the poll that saw it is the last.
      expect(seen).toBe(brokenPoll);
      expect(result.output!.warnings!.RestoreCapacity!.Error).toBe("DependencyError");
      // Asked once; nothing recreated over it.
      expect(world.callsTo("rds:CreateDBInstance")).toHaveLength(1);
      expectCapacityPage(world, "failover", new RegExp(`${RESTORED} is ${status}`));
    });

    it("waits for a reader in a state Aurora leaves by itself (modifying, upgrading, rebooting...), then is done without a page", async () => {
      const status = [
        "modifying",
        "upgrading",
        "rebooting",
        "backing-up",
        "configuring-enhanced-monitoring",
      ][Math.floor(draw() * 5)]!;
      const world = new FakeWorld();
      world.creationNeverEnds.add(RESTORED);
      const from = 2 + Math.floor(draw() * 5);
      const until = from + 1 + Math.floor(draw() * 20);
      let seen = 0;
      const result = await runWorkflow("failover", input, {
        world,
        observe: {
          RestoreCapacity: () => {
            seen += 1;
            const reader = world.instances.get(`${WEST}/${RESTORED}`)!;
            if (seen === from) reader.status = status;
            if (seen === until) reader.status = "available";
          },
        },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings?.RestoreCapacity).toBeUndefined();
      expect(result.output!.steps.RestoreCapacity).toMatchObject({ done: true, polls: until });
      expect(world.callsTo("rds:CreateDBInstance")).toHaveLength(1);
    });

    it("is done with a broken extra instance when the configured count is available", async () => {
      const world = new FakeWorld();
      world.addInstance(westArn, RESTORED, "available", "db.r6g.large");
      world.addInstance(westArn, "payments-db-3-usw2-test", "failed", "db.r6g.large");
      const result = await runWorkflow("failover", input, { world });
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings?.RestoreCapacity).toBeUndefined();
      expect(result.output!.steps.RestoreCapacity).toMatchObject({ done: true, polls: 1 });
    });
  });

  it("retries a throttled create and asks once", async () => {
    const world = new FakeWorld();
    world.inject("rds:CreateDBInstance", () => new TransientError("ThrottlingException"), 1);
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.retries).toContain("RestoreCapacity");
    expect(world.instancesOf(westArn)).toHaveLength(2);
  });

  it("waits minutes, not seconds, for a promoted cluster that stays modifying, then asks", async () => {
    const world = new FakeWorld();
    // Aurora refuses a reader while the cluster is in a transitional state
    // (aurora-replicas-adding.html); how long a freshly promoted cluster stays "modifying" AWS
    // does not say (the nearest figure: "15 minutes or more" for an instance change,
    // AuroraPostgreSQL.Managing.html). Drawn from 2 to 20 minutes of the world's clock, far
    // beyond the ~30 s the Retry's backoff allowed.
    const modifyingSeconds = 120 + Math.floor(draw() * 1080);
    let until: number | undefined;
    const result = await runWorkflow("failover", input, {
      world,
      observe: {
        RestoreCapacity: () => {
          const cluster = world.clusters[westArn]!;
          until ??= world.clock + modifyingSeconds * 1000;
          cluster.status = world.clock < until ? "modifying" : "available";
        },
      },
    });
    expect(result.status).toBe("SUCCEEDED");
    const step = result.output!.steps.RestoreCapacity!;
    expect(step.requested).toEqual(["payments-db-2-usw2-test"]);
    expect(step.elapsedSeconds).toBeGreaterThanOrEqual(modifyingSeconds);
    // Creation then takes 3 to 20 minutes (FakeWorld.instanceCreationSeconds) within the same
    // 30-minute bound (review 23, M4): either the reader is available and the loop done, or it is
    // still creating at the bound and the page says not to add another.
    const reader = world.instances.get(`${WEST}/${RESTORED}`)!;
    if (reader.status === "available") {
      expect(result.output!.warnings?.RestoreCapacity).toBeUndefined();
      expect(step.done).toBe(true);
    } else {
      expect(reader.status).toBe("creating");
      expect(result.output!.warnings!.RestoreCapacity!.Error).toBe("CapacityTimeoutError");
      expect(capacityPage(world)).toContain("do not add another reader");
    }
    // One accepted create, after the refusals; the reader exists once.
    expect(world.createdInstances).toEqual([`${WEST}/${RESTORED}`]);
    expect(world.instancesOf(westArn).map((i) => i.identifier)).toEqual([
      "payments-db-1-usw2-test",
      "payments-db-2-usw2-test",
    ]);
  });

  it.each(["failover", "switchover"] as const)(
    "a %s records its RTO, pages completion and releases the lock before capacity waits",
    async (workflow) => {
      const world = new FakeWorld();
      // The promoted cluster stays modifying 2 to 20 minutes (see above): the capacity loop
      // polls that long, and none of it may reach the RTO report, the page or the lock.
      const modifyingSeconds = 120 + Math.floor(draw() * 1080);
      let until: number | undefined;
      const at: Record<string, number> = {};
      let lockAtCapacity: unknown = "unset";
      const result = await runWorkflow(workflow, input, {
        world,
        observe: {
          RecordTimeline: () => (at.RecordTimeline ??= world.clock),
          NotifyCompleted: () => (at.NotifyCompleted ??= world.clock),
          ReleaseLock: () => (at.ReleaseLock ??= world.clock),
          RestoreCapacity: () => {
            if (at.RestoreCapacity === undefined) {
              at.RestoreCapacity = world.clock;
              lockAtCapacity = world.lock();
            }
            const cluster = world.clusters[westArn]!;
            until ??= world.clock + modifyingSeconds * 1000;
            cluster.status = world.clock < until ? "modifying" : "available";
          },
        },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(at.RecordTimeline).toBeLessThan(at.RestoreCapacity!);
      expect(at.NotifyCompleted).toBeLessThan(at.RestoreCapacity!);
      expect(at.ReleaseLock).toBeLessThan(at.RestoreCapacity!);
      // The lock is gone (the cooldown written) when the first poll runs.
      expect(lockAtCapacity).toBeUndefined();
      expect(world.table.get("failover-cooldown")).toBeDefined();
      // The reader is still asked for, minutes later, in the same execution; it is available
      // by the bound or still creating at it (3-20 min of creation after the modifying wait).
      const step = result.output!.steps.RestoreCapacity!;
      expect(step.requested).toEqual(["payments-db-2-usw2-test"]);
      expect(
        step.done === true || world.instances.get(`${WEST}/${RESTORED}`)!.status === "creating",
      ).toBe(true);
      expect(step.elapsedSeconds).toBeGreaterThanOrEqual(modifyingSeconds);
      expect(world.clock - at.ReleaseLock!).toBeGreaterThanOrEqual(modifyingSeconds * 1000);
    },
  );

  it("converges when restarted after the capacity loop was cut short: the resumed run adds the reader once", async () => {
    const world = new FakeWorld();
    // The first execution's capacity step fails for good (a warning of the completed run, after
    // the lock is released: no reader); the run is resumed, as on-call would.
    world.inject(
      "rds:CreateDBInstance",
      () => new AccessDeniedError("not authorized to perform rds:CreateDBInstance"),
    );
    const first = await runWorkflow("failover", input, { world, executionName: "run-1" });
    expect(first.status).toBe("SUCCEEDED");
    expect(first.output!.warnings!.RestoreCapacity).toBeDefined();
    expect(world.instancesOf(westArn)).toHaveLength(1);
    const resumed = await runWorkflow(
      "failover",
      { ...input, resumeFailoverId: "run-1" },
      { world, executionName: "run-1-resume" },
    );
    expect(resumed.status).toBe("SUCCEEDED");
    // The refused ask and the one that worked; the reader exists once.
    expect(world.callsTo("rds:CreateDBInstance")).toHaveLength(2);
    expect(world.instancesOf(westArn).map((i) => i.identifier)).toEqual([
      "payments-db-1-usw2-test",
      "payments-db-2-usw2-test",
    ]);
  });

  it("gives up on a cluster that never leaves modifying after its 30-minute bound, with a warning", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", input, {
      world,
      observe: { RestoreCapacity: () => void (world.clusters[westArn]!.status = "modifying") },
    });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.warnings!.RestoreCapacity).toMatchObject({
      Error: "CapacityTimeoutError",
    });
    expect(result.output!.steps.RestoreCapacity!.waiting![0]).toMatch(
      /^payments-db-2-usw2-test in us-west-2: .*InvalidDBClusterStateFault/,
    );
    expect(world.lock()).toBeUndefined();
    expectCapacityPage(
      world,
      "failover",
      /CapacityTimeoutError.*Still waiting for: payments-db-2/s,
    );
  });

  it("records a refused create as a warning of a completed failover, never a halt", async () => {
    const world = new FakeWorld();
    world.inject(
      "rds:CreateDBInstance",
      () => new AccessDeniedError("not authorized to perform rds:CreateDBInstance"),
      99,
    );
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.warnings!.RestoreCapacity).toMatchObject({
      Error: "DependencyError",
      Cause: expect.stringContaining("payments-db-2-usw2-test: AccessDeniedError"),
    });
    expect(world.flag()).toMatchObject({ activeRegion: WEST, phase: "open" });
    expect(world.lock()).toBeUndefined();
    // The completion page went out before the loop; the refusal gets its own page and metric.
    expectCapacityPage(world, "failover", /payments-db-2-usw2-test: AccessDeniedError/);
  });

  // Review 23, L3: the page refused for good (topic key or policy) still leaves the metric.
  it("still publishes the CapacityNotRestored metric when the page is refused for good", async () => {
    const world = new FakeWorld();
    world.inject(
      "rds:CreateDBInstance",
      () => new AccessDeniedError("not authorized to perform rds:CreateDBInstance"),
      99,
    );
    world.inject(
      "sns:Publish",
      () => new AccessDeniedError("KMS key disabled for the topic"),
      99,
      WEST,
    );
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.capacityPage).toMatchObject({ Error: "AccessDeniedError" });
    expect(world.metrics[WEST]!.filter((d) => d.name === "CapacityNotRestored")).toEqual([
      expect.objectContaining({ value: 1, dimensions: { Workflow: "failover", Region: WEST } }),
      // The alarm's metric goes out too: the alarm is then the page that reaches on-call.
      expect.objectContaining({ value: 1, dimensions: { Region: WEST } }),
    ]);
  });

  it("still pages when the CapacityNotRestored metric is refused (the page goes first)", async () => {
    const world = new FakeWorld();
    world.inject(
      "rds:CreateDBInstance",
      () => new AccessDeniedError("not authorized to perform rds:CreateDBInstance"),
      99,
    );
    // Review 22b, L1': an SCP or the role's namespace condition refusing the datapoint.
    world.inject(
      "cloudwatch:PutMetricData",
      () => new AccessDeniedError("not authorized to perform cloudwatch:PutMetricData"),
      99,
    );
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
    const pages = world.messages[WEST]!.filter((m) => m.subject.includes("capacity not restored"));
    expect(pages).toHaveLength(1);
    expect(pages[0]!.message).toMatch(/payments-db-2-usw2-test: AccessDeniedError/);
    // Once: the refused metric is recorded, not retried into a second page.
    expect(result.output!.capacityPage).toMatchObject({
      published: true,
      metric:
        "not published: AccessDeniedError: not authorized to perform cloudwatch:PutMetricData",
    });
    // The page was sent before the metric was attempted.
    const sent = world.calls.findIndex(
      (c) =>
        c.op === "sns:Publish" &&
        (c.args as { subject: string }).subject.includes("capacity not restored"),
    );
    const metric = world.calls.findIndex(
      (c) =>
        c.op === "cloudwatch:PutMetricData" &&
        JSON.stringify(c.args).includes("CapacityNotRestored"),
    );
    expect(sent).toBeGreaterThanOrEqual(0);
    expect(metric).toBeGreaterThan(sent);
  });

  it("pages nothing about capacity when the loop ends with the reader available", async () => {
    const world = new FakeWorld();
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(world.messages[WEST]!.map((m) => m.subject)).not.toContainEqual(
      expect.stringContaining("capacity not restored"),
    );
    expect(world.metrics[WEST]!.filter((d) => d.name === "CapacityNotRestored")).toEqual([]);
  });

  describe("after the lock's release, only while its run still owns the move", () => {
    // The loop runs after ReleaseLock; the cooldown is its only other guard, and ignoreCooldown,
    // re-protect and the drill's failback pass it (review 22, H1). Polls drawn, not pinned.
    function modifyingFor(world: FakeWorld, polls: number, during: (poll: number) => unknown) {
      let seen = 0;
      return {
        RestoreCapacity: async () => {
          seen += 1;
          world.clusters[westArn]!.status = seen <= polls ? "modifying" : "available";
          if (seen === polls) await during(seen);
        },
      };
    }

    it("a failback started with ignoreCooldown during a switchover's loop: the old loop adds no reader to the region the failback left", async () => {
      const world = new FakeWorld();
      const polls = 2 + Math.floor(draw() * 6);
      let back: Awaited<ReturnType<typeof runWorkflow>> | undefined;
      let westCreatesAfterFailback = -1;
      const out = await runWorkflow(
        "switchover",
        { targetRegion: WEST, reason: "drill", trigger: "console" },
        {
          world,
          executionName: "switch-out",
          observe: modifyingFor(world, polls, async () => {
            world.lagMs[TOPOLOGY.regions[EAST]!.clusterIdentifier] = 40;
            world.clusters[westArn]!.status = "available";
            back = await runWorkflow(
              "failback",
              { targetRegion: EAST, reason: "back", trigger: "console", ignoreCooldown: true },
              { world, executionName: "back-home" },
            );
            westCreatesAfterFailback = world
              .callsTo("rds:CreateDBInstance")
              .filter((c) => c.region === WEST).length;
            world.clusters[westArn]!.status = "available";
          }),
        },
      );
      expect(back?.status).toBe("SUCCEEDED");
      expect(world.flag()).toMatchObject({ activeRegion: EAST, phase: "open" });
      expect(out.status).toBe("SUCCEEDED");
      expect(out.output!.warnings!.RestoreCapacity).toMatchObject({
        Error: "CapacitySupersededError",
        Cause: expect.stringMatching(/names us-east-1 token \d+ .*not us-west-2/),
      });
      // Nothing asked in us-west-2 after the failback made it the standby again.
      expect(world.callsTo("rds:CreateDBInstance").filter((c) => c.region === WEST)).toHaveLength(
        westCreatesAfterFailback,
      );
      expect(world.instancesOf(westArn).map((i) => i.identifier)).toEqual([
        "payments-db-1-usw2-test",
      ]);
    });

    it("stops with a warning when a later run moves the regions while it only polls (review 22b, L2')", async () => {
      const world = new FakeWorld();
      // The reader was asked for and Aurora is still creating it: the loop only polls.
      world.creationNeverEnds.add(RESTORED);
      const laterPoll = 2 + Math.floor(draw() * 10);
      let seen = 0;
      const result = await runWorkflow("failover", input, {
        world,
        observe: {
          RestoreCapacity: () => {
            seen += 1;
            if (seen !== laterPoll) return;
            // A later failback's fence: us-east-1 active again, the next token.
            const flag = world.flag()!;
            world.table.set("active-region", {
              ...flag,
              activeRegion: EAST,
              fencingToken: flag.fencingToken + 1,
              phase: "fenced",
              updatedBy: "later-failback",
            });
          },
        },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(seen).toBe(laterPoll);
      expect(result.output!.warnings!.RestoreCapacity).toMatchObject({
        Error: "CapacitySupersededError",
        Cause: expect.stringContaining(
          `stopped before poll ${laterPoll}: the active-region flag names us-east-1`,
        ),
      });
      expect(world.callsTo("rds:CreateDBInstance")).toHaveLength(1);
      // The page says a later run owns the regions, not "add the missing readers" in us-west-2.
      expectCapacityPage(world, "failover", /a later run owns the regions now/);
      expect(
        world.messages[WEST]!.find((m) => m.subject.includes("capacity not restored"))!.message,
      ).not.toMatch(/add the missing readers by hand/);
    });

    /** runbooks/reprotect.md step 3: re-protect takes the lock in the active region, no fence. */
    function reprotectLock(world: FakeWorld) {
      world.takeReprotectLock(WEST, EAST);
    }

    // Review 23, M2: the runbook's re-protect holds the lock, moves no flag, and can take hours.
    it("creates nothing while a re-protect holds the lock, says so, and asks once it is released", async () => {
      const world = new FakeWorld();
      const polls = 2 + Math.floor(draw() * 6);
      const heldFor = 1 + Math.floor(draw() * 6);
      let refusedBefore = -1;
      let createsWhileHeld = -1;
      let waitingWhileHeld: readonly string[] = [];
      let seen = 0;
      const modifying = modifyingFor(world, polls, () => {
        // The asks so far were refused (the cluster was modifying); none may follow while held.
        refusedBefore = world.callsTo("rds:CreateDBInstance").length;
        world.clusters[westArn]!.status = "available";
        reprotectLock(world);
      });
      const result = await runWorkflow("failover", input, {
        world,
        observe: {
          RestoreCapacity: async (state) => {
            await modifying.RestoreCapacity();
            seen += 1;
            if (seen === polls + heldFor) {
              createsWhileHeld = world.callsTo("rds:CreateDBInstance").length;
              waitingWhileHeld =
                (state as { steps: { RestoreCapacity?: { waiting?: string[] } } }).steps
                  .RestoreCapacity?.waiting ?? [];
              world.table.delete("failover-lock");
            }
          },
        },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(refusedBefore).toBeGreaterThanOrEqual(0);
      expect(createsWhileHeld).toBe(refusedBefore);
      expect(waitingWhileHeld).toEqual([
        `${RESTORED} in ${WEST}: not asked for at this poll: run reprotect-1 (reprotect) holds the failover lock in ${WEST}'s copy of the control table`,
      ]);
      // Asked once the lock was released, and done when available: no page.
      expect(result.output!.warnings?.RestoreCapacity).toBeUndefined();
      expect(world.callsTo("rds:CreateDBInstance")).toHaveLength(refusedBefore + 1);
      expect(result.output!.steps.RestoreCapacity).toMatchObject({ done: true, waiting: [] });
      expect(
        world.messages[WEST]!.filter((m) => m.subject.includes("capacity not restored")),
      ).toEqual([]);
    });

    it("keeps watching its creating reader through a re-protect, and pages naming it when it fails", async () => {
      const world = new FakeWorld();
      world.creationNeverEnds.add(RESTORED);
      const lockedPoll = 2 + Math.floor(draw() * 5);
      const failedPoll = lockedPoll + 1 + Math.floor(draw() * 10);
      let seen = 0;
      const result = await runWorkflow("failover", input, {
        world,
        observe: {
          RestoreCapacity: () => {
            seen += 1;
            if (seen === lockedPoll) reprotectLock(world);
            if (seen === failedPoll) world.instances.get(`${WEST}/${RESTORED}`)!.status = "failed";
          },
        },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(seen).toBe(failedPoll);
      // The flag is still this run's: no later move, so no "superseded".
      expect(world.flag()).toMatchObject({ activeRegion: WEST, phase: "open" });
      expect(result.output!.warnings!.RestoreCapacity).toMatchObject({
        Error: "DependencyError",
        Cause: expect.stringContaining(`${RESTORED} is failed`),
      });
      expect(world.callsTo("rds:CreateDBInstance")).toHaveLength(1);
      expectCapacityPage(world, "failover", new RegExp(`${RESTORED} is failed`));
    });

    it("is done when its reader becomes available while a re-protect holds the lock", async () => {
      const world = new FakeWorld();
      world.creationNeverEnds.add(RESTORED);
      const lockedPoll = 2 + Math.floor(draw() * 5);
      const availablePoll = lockedPoll + 1 + Math.floor(draw() * 10);
      let seen = 0;
      const result = await runWorkflow("failover", input, {
        world,
        observe: {
          RestoreCapacity: () => {
            seen += 1;
            if (seen === lockedPoll) reprotectLock(world);
            if (seen === availablePoll) {
              world.instances.get(`${WEST}/${RESTORED}`)!.status = "available";
            }
          },
        },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings?.RestoreCapacity).toBeUndefined();
      expect(result.output!.steps.RestoreCapacity).toMatchObject({
        done: true,
        polls: availablePoll,
      });
    });

    it("stops without deleting the standby's reader once another run has fenced", async () => {
      const world = FakeWorld.afterFailoverToWest();
      world.addInstance(westArn, RESTORED, "creating", "db.r6g.large");
      world.instances.get(`${WEST}/${RESTORED}`)!.tags = TAG;
      const polls = 2 + Math.floor(draw() * 6);
      let seen = 0;
      const result = await runWorkflow(
        "failback",
        { targetRegion: EAST, reason: "drill", trigger: "drill", ignoreCooldown: true },
        {
          world,
          observe: {
            RestoreCapacity: () => {
              seen += 1;
              if (seen !== polls) return;
              // A later run's Fence: the flag moves on with the next token.
              const flag = world.flag()!;
              world.table.set("active-region", {
                ...flag,
                activeRegion: WEST,
                fencingToken: flag.fencingToken + 1,
                phase: "fenced",
                updatedBy: "later-run",
              });
              world.instances.get(`${WEST}/${RESTORED}`)!.status = "available";
            },
          },
        },
      );
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings!.RestoreCapacity).toMatchObject({
        Error: "CapacitySupersededError",
      });
      expect(world.callsTo("rds:DeleteDBInstance")).toHaveLength(0);
      expect(world.instances.get(`${WEST}/${RESTORED}`)!.status).toBe("available");
    });

    // Review 22b, M1': a later run making us-west-2 active again writes its lock and its fence in
    // us-west-2's copy first; us-east-1's copy (the failback's target) sees them only when
    // global-table replication brings them, with no upper bound (V2globaltables_HowItWorks).
    // Review 23, M2: a later run's lock there holds the delete (nothing deleted, said why); its
    // fence, when it comes, stops the loop.
    it.each(["fence", "lock"] as const)(
      "deletes nothing when a later run's %s is only in the copy of the region it deletes in (not yet replicated), and stops at its fence",
      async (written) => {
        const world = FakeWorld.afterFailoverToWest();
        world.addInstance(westArn, RESTORED, "creating", "db.r6g.large");
        world.instances.get(`${WEST}/${RESTORED}`)!.tags = TAG;
        const polls = 2 + Math.floor(draw() * 6);
        // The lock first, the fence 1 to 4 polls later (AcquireLock, then Fence).
        const fencePoll = written === "fence" ? polls : polls + 1 + Math.floor(draw() * 4);
        let seen = 0;
        let waitingWhileLocked: readonly string[] = [];
        const result = await runWorkflow(
          "failback",
          { targetRegion: EAST, reason: "drill", trigger: "drill", ignoreCooldown: true },
          {
            world,
            observe: {
              RestoreCapacity: (state) => {
                seen += 1;
                if (seen === polls) {
                  const flag = world.flag()!;
                  // us-east-1's copy keeps what it holds now: the failback's own open flag, no lock.
                  world.holdFlag(EAST, { ...flag } as Record<string, unknown>);
                  world.holdLock(EAST, undefined);
                  world.table.set("failover-lock", {
                    owner: "later-run",
                    operation: "failover",
                    acquiredAt: new Date(world.clock).toISOString(),
                    expiresAt: Math.floor(world.clock / 1000) + 900,
                    targetRegion: WEST,
                    sourceRegion: EAST,
                    facts: {},
                  });
                  world.instances.get(`${WEST}/${RESTORED}`)!.status = "available";
                }
                if (written === "lock" && seen === fencePoll) {
                  waitingWhileLocked =
                    (state as { steps: { RestoreCapacity?: { waiting?: string[] } } }).steps
                      .RestoreCapacity?.waiting ?? [];
                }
                if (seen === fencePoll) {
                  const flag = world.flag()!;
                  world.table.set("active-region", {
                    ...flag,
                    activeRegion: WEST,
                    fencingToken: flag.fencingToken + 1,
                    phase: "fenced",
                    updatedBy: "later-run",
                  });
                }
              },
            },
          },
        );
        expect(result.status).toBe("SUCCEEDED");
        expect(result.output!.warnings!.RestoreCapacity).toMatchObject({
          Error: "CapacitySupersededError",
          Cause: expect.stringMatching(
            /before deleting payments-db-2-usw2-test in us-west-2: the active-region flag names us-west-2 token \d+ \(fenced\) set by later-run in us-west-2's copy/,
          ),
        });
        if (written === "lock") {
          expect(waitingWhileLocked).toEqual([
            `${RESTORED} in ${WEST}: not deleted yet: run later-run (failover) holds the failover lock in ${WEST}'s copy of the control table`,
          ]);
        }
        // The check read us-west-2's own copy, and nothing was deleted there.
        expect(
          world.calls.filter((c) => c.region === WEST && c.op === "dynamodb:GetItem failover-lock"),
        ).not.toHaveLength(0);
        expect(world.callsTo("rds:DeleteDBInstance")).toEqual([]);
        expect(world.instances.get(`${WEST}/${RESTORED}`)!.status).toBe("available");
        expect(
          world.messages[EAST]!.filter((m) => m.subject.includes("capacity not restored")),
        ).toHaveLength(1);
      },
    );

    it("deletes despite a stopped run's expired lock left in the region's copy", async () => {
      const world = FakeWorld.afterFailoverToWest();
      world.addInstance(westArn, RESTORED, "available", "db.r6g.large");
      world.instances.get(`${WEST}/${RESTORED}`)!.tags = TAG;
      let seen = 0;
      const result = await runWorkflow(
        "failback",
        { targetRegion: EAST, reason: "drill", trigger: "drill", ignoreCooldown: true },
        {
          world,
          observe: {
            RestoreCapacity: () => {
              seen += 1;
              // A run whose release in us-west-2 failed, its lease long past (AcquireLock
              // counts such a lock as free).
              if (seen === 1) {
                world.holdLock(WEST, {
                  owner: "stopped-run",
                  operation: "switchover",
                  acquiredAt: new Date(world.clock - 3_600_000).toISOString(),
                  expiresAt: Math.floor(world.clock / 1000) - 1800,
                  targetRegion: WEST,
                  sourceRegion: EAST,
                  facts: {},
                });
              }
            },
          },
        },
      );
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings?.RestoreCapacity).toBeUndefined();
      expect(world.callsTo("rds:DeleteDBInstance").map((c) => [c.region, c.args])).toEqual([
        [WEST, { identifier: RESTORED }],
      ]);
    });

    it("deletes in the region it left only once that region's copy shows this run's flag", async () => {
      const world = FakeWorld.afterFailoverToWest();
      world.addInstance(westArn, RESTORED, "available", "db.r6g.large");
      world.instances.get(`${WEST}/${RESTORED}`)!.tags = TAG;
      const before = world.flag()!;
      // us-west-2's copy still shows the flag from before the failback for 1 to 6 polls.
      const behindFor = 1 + Math.floor(draw() * 6);
      let seen = 0;
      let deletesWhileBehind = -1;
      const result = await runWorkflow(
        "failback",
        { targetRegion: EAST, reason: "drill", trigger: "drill", ignoreCooldown: true },
        {
          world,
          observe: {
            RestoreCapacity: () => {
              seen += 1;
              if (seen === 1) world.holdFlag(WEST, { ...before } as Record<string, unknown>);
              if (seen === behindFor + 1) {
                deletesWhileBehind = world.callsTo("rds:DeleteDBInstance").length;
                world.thawFlag(WEST);
              }
            },
          },
        },
      );
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings?.RestoreCapacity).toBeUndefined();
      expect(deletesWhileBehind).toBe(0);
      expect(world.callsTo("rds:DeleteDBInstance").map((c) => [c.region, c.args])).toEqual([
        [WEST, { identifier: RESTORED }],
      ]);
      expect(result.output!.steps.RestoreCapacity!.polls).toBeGreaterThan(behindFor);
    });

    it("deletes nothing while the region it left has an unreachable copy of the control table", async () => {
      const world = FakeWorld.afterFailoverToWest();
      world.addInstance(westArn, RESTORED, "available", "db.r6g.large");
      world.instances.get(`${WEST}/${RESTORED}`)!.tags = TAG;
      let seen = 0;
      const result = await runWorkflow(
        "failback",
        { targetRegion: EAST, reason: "drill", trigger: "drill", ignoreCooldown: true },
        {
          world,
          observe: {
            RestoreCapacity: () => {
              seen += 1;
              // us-west-2's DynamoDB endpoint times out from here on; its RDS still answers.
              if (seen === 1) {
                world.inject(
                  "dynamodb:GetItem active-region",
                  () => new TransientError("GetItem in us-west-2: connect ETIMEDOUT"),
                  Infinity,
                  WEST,
                );
              }
            },
          },
        },
      );
      expect(result.status).toBe("SUCCEEDED");
      expect(world.callsTo("rds:DeleteDBInstance")).toEqual([]);
      expect(result.output!.warnings!.RestoreCapacity).toMatchObject({
        Error: "CapacityTimeoutError",
      });
      expect(result.output!.steps.RestoreCapacity!.waiting).toEqual([
        `${RESTORED} in ${WEST}: not deleted: ${WEST}'s copy of the control table could not be read (TransientError: GetItem in us-west-2: connect ETIMEDOUT), so nothing shows that no later run is taking ${WEST} over`,
      ]);
      // Review 23, M3: the new primary has its capacity; the page says so and sends on-call to
      // the undeleted reader, not to add readers to a full primary.
      const page = capacityPage(world, EAST);
      expect(page).toContain(
        `${EAST} has the old primary's capacity (2 of 2 instances available), but a reader this kit added to ${WEST} was not deleted`,
      );
      expect(page).toContain(
        `Next: ${RESTORED} in ${WEST} was not deleted because not deleted: ${WEST}'s copy of the control table could not be read`,
      );
      expect(page).toContain(
        `delete it once no run is moving to ${WEST} (aws rds delete-db-instance --region ${WEST} --db-instance-identifier ${RESTORED})`,
      );
      expect(page).not.toMatch(/add the missing readers|may have no in-region failover target/);
    });
  });

  it("adds nothing and says why when DR_CAPACITY is not set", async () => {
    const world = new FakeWorld();
    world.capacity = null;
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.output!.steps.RestoreCapacity).toMatchObject({
      desired: null,
      note: "DR_CAPACITY is not set",
    });
  });

  describe("the region a planned move leaves", () => {
    const back = { targetRegion: EAST, reason: "drill", trigger: "drill", ignoreCooldown: true };

    /** After a failover to us-west-2 whose RestoreCapacity added RESTORED there (`status`). */
    function westWithRestoredReader(status: string, tags: Record<string, string> = TAG) {
      const world = FakeWorld.afterFailoverToWest();
      world.addInstance(westArn, RESTORED, status, "db.r6g.large");
      world.instances.get(`${WEST}/${RESTORED}`)!.tags = tags;
      return world;
    }

    it("a drill's failback deletes the reader its switchover added to the standby, and only that", async () => {
      const world = new FakeWorld();
      const out = await runWorkflow(
        "switchover",
        { targetRegion: WEST, reason: "drill", trigger: "drill" },
        { world, executionName: "drill-out" },
      );
      expect(out.status).toBe("SUCCEEDED");
      expect(world.instancesOf(westArn).map((i) => i.identifier)).toContain(RESTORED);
      world.lagMs[TOPOLOGY.regions[EAST]!.clusterIdentifier] = 40;
      const home = await runWorkflow("failback", back, { world, executionName: "drill-back" });
      expect(home.status).toBe("SUCCEEDED");
      expect(home.output!.warnings?.RestoreCapacity).toBeUndefined();
      // Exactly one delete, of the reader RestoreCapacity created, in the standby region.
      expect(world.callsTo("rds:DeleteDBInstance").map((c) => [c.region, c.args])).toEqual([
        [WEST, { identifier: RESTORED }],
      ]);
      expect(home.output!.steps.RestoreCapacity).toMatchObject({
        released: [RESTORED],
        done: true,
      });
      // The standby is back to Terraform's one instance (the deleted one is going or gone);
      // us-east-1 keeps its two.
      const west = world.instancesOf(westArn).filter((i) => i.status !== "deleting");
      expect(west.map((i) => i.identifier)).toEqual(["payments-db-1-usw2-test"]);
      expect(world.instancesOf(eastArn).map((i) => i.identifier)).toEqual([
        "payments-db-1-use1-test",
        "payments-db-2-use1-test",
      ]);
    });

    it("waits while that reader is still being created, then deletes it", async () => {
      const world = westWithRestoredReader("creating");
      // Aurora: creating a reader takes minutes and a creating instance cannot be deleted
      // (DeleteDBInstance: InvalidDBInstanceState); drawn, not pinned: 3 to 12 polls.
      const polls = 3 + Math.floor(draw() * 10);
      let seen = 0;
      const result = await runWorkflow("failback", back, {
        world,
        observe: {
          RestoreCapacity: () => {
            seen += 1;
            if (seen === polls) world.instances.get(`${WEST}/${RESTORED}`)!.status = "available";
          },
        },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings?.RestoreCapacity).toBeUndefined();
      expect(result.output!.steps.RestoreCapacity!.polls).toBe(polls);
      expect(result.output!.steps.RestoreCapacity!.released).toEqual([RESTORED]);
      // Asked once, when it could be: nothing is sent while it is creating.
      expect(world.callsTo("rds:DeleteDBInstance")).toHaveLength(1);
      expect(world.instances.get(`${WEST}/${RESTORED}`)?.status ?? "gone").toMatch(/deleting|gone/);
    });

    it("leaves a reader Terraform adopted (no created-by tag) and Terraform's own standby instance", async () => {
      const world = westWithRestoredReader("available", { Name: "payments-usw2-test-2" });
      // Even tagged, Terraform's standby identifier is never deleted.
      world.instances.get(`${WEST}/payments-db-1-usw2-test`)!.tags = TAG;
      const result = await runWorkflow("failback", back, { world });
      expect(result.status).toBe("SUCCEEDED");
      expect(world.callsTo("rds:DeleteDBInstance")).toEqual([]);
      expect(world.instancesOf(westArn).map((i) => i.status)).toEqual(["available", "available"]);
    });

    it("never takes the standby below its own count", async () => {
      const world = westWithRestoredReader("available");
      // Terraform's db-1 is gone (deleted by hand): the restored reader is all the standby has.
      world.clusters[westArn]!.instances = [RESTORED];
      world.instances.delete(`${WEST}/payments-db-1-usw2-test`);
      const result = await runWorkflow("failback", back, { world });
      expect(result.status).toBe("SUCCEEDED");
      expect(world.callsTo("rds:DeleteDBInstance")).toEqual([]);
      expect(result.output!.steps.RestoreCapacity!.note).toMatch(
        /kept payments-db-2-usw2-test \(the standby would have fewer than 1\)/,
      );
    });

    // Review 23, M1: the standby's own instance is there but not working. Failed and
    // incompatible-* are states "Amazon RDS can't recover" (DB instance status table,
    // accessing-monitoring.html#Overview.DBInstance.Status); rebooting is one it leaves.
    it.each(["failed", "incompatible-network", "insufficient-capacity"])(
      "keeps the standby's only working instance, and pages, when Terraform's instance there is %s",
      async (status) => {
        const world = westWithRestoredReader("available");
        world.instances.get(`${WEST}/payments-db-1-usw2-test`)!.status = status;
        const result = await runWorkflow("failback", back, { world });
        expect(result.status).toBe("SUCCEEDED");
        expect(world.callsTo("rds:DeleteDBInstance")).toEqual([]);
        expect(world.instances.get(`${WEST}/${RESTORED}`)!.status).toBe("available");
        expect(result.output!.warnings!.RestoreCapacity).toMatchObject({
          Error: "StandbyNotWorkingError",
          Cause: expect.stringContaining(
            `${RESTORED} in ${WEST} kept: the standby has 0 of 1 instance(s) available besides it (payments-db-1-usw2-test is ${status})`,
          ),
        });
        // Review 23, M3: the page is about the standby, not the full new primary.
        const page = capacityPage(world, EAST);
        expect(page).toContain(
          `the standby in ${WEST} has no working instance besides the reader this kit added there, which it therefore kept`,
        );
        expect(page).toContain("Next: fix the standby's broken instance as the reason above says");
        expect(page).not.toMatch(/add the missing readers/);
        expectCapacityPage(
          world,
          "failback",
          new RegExp(`payments-db-1-usw2-test is ${status}`),
          EAST,
        );
      },
    );

    it("keeps the reader while the standby's own instance reboots, and deletes it once that is available again", async () => {
      const world = westWithRestoredReader("available");
      world.instances.get(`${WEST}/payments-db-1-usw2-test`)!.status = "rebooting";
      // A reboot takes minutes at most; drawn: back before poll 2 to 9 (observe runs before each).
      const backPoll = 2 + Math.floor(draw() * 8);
      let seen = 0;
      let deletesWhileRebooting = -1;
      const result = await runWorkflow("failback", back, {
        world,
        observe: {
          RestoreCapacity: () => {
            seen += 1;
            if (seen !== backPoll) return;
            deletesWhileRebooting = world.callsTo("rds:DeleteDBInstance").length;
            world.instances.get(`${WEST}/payments-db-1-usw2-test`)!.status = "available";
          },
        },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(deletesWhileRebooting).toBe(0);
      expect(result.output!.warnings?.RestoreCapacity).toBeUndefined();
      expect(result.output!.steps.RestoreCapacity!.polls).toBe(backPoll);
      expect(world.callsTo("rds:DeleteDBInstance").map((c) => c.args)).toEqual([
        { identifier: RESTORED },
      ]);
    });

    it("gives up after its bound with a warning, never a halt, when the reader stays in creation", async () => {
      const world = westWithRestoredReader("creating");
      const result = await runWorkflow("failback", back, { world });
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings!.RestoreCapacity).toMatchObject({
        Error: "CapacityTimeoutError",
      });
      expect(result.output!.steps.RestoreCapacity!.elapsedSeconds).toBeGreaterThanOrEqual(1800);
      expect(result.output!.steps.RestoreCapacity!.waiting).toEqual([
        `${RESTORED} in ${WEST} is creating`,
      ]);
      expect(world.callsTo("rds:DeleteDBInstance")).toEqual([]);
      expect(world.lock()).toBeUndefined();
    });

    it("converges when run again: a second failback finds the reader deleted and deletes nothing", async () => {
      const world = westWithRestoredReader("available");
      await runWorkflow("failback", back, { world, executionName: "back-1" });
      await runWorkflow(
        "failback",
        { ...back, resumeFailoverId: "back-1" },
        { world, executionName: "back-1-resume" },
      );
      expect(world.callsTo("rds:DeleteDBInstance")).toHaveLength(1);
    });

    // Review 23, L1: the page names both when the new primary has a broken instance and the
    // release fails too.
    it("pages naming both a broken instance of the new primary and a failed delete in the region it left", async () => {
      const world = westWithRestoredReader("available");
      world.instances.get(`${EAST}/payments-db-2-use1-test`)!.status = "failed";
      world.inject(
        "rds:DeleteDBInstance",
        () => new AccessDeniedError("not authorized to perform rds:DeleteDBInstance"),
        1,
        WEST,
      );
      const result = await runWorkflow("failback", back, { world });
      expect(result.status).toBe("SUCCEEDED");
      const cause = result.output!.warnings!.RestoreCapacity!.Cause as string;
      expect(cause).toContain("payments-db-2-use1-test is failed");
      expect(cause).toContain("not authorized to perform rds:DeleteDBInstance");
      expect(capacityPage(world, EAST)).toMatch(
        /payments-db-2-use1-test is failed.*not authorized to perform rds:DeleteDBInstance/s,
      );
    });

    // Review 23b, M1: the bound's page must not tell on-call to delete the reader the loop kept
    // as the standby's only working instance ("Before you can perform a switchover or failover
    // to a headless secondary ... you must add a DB instance", aurora-global-database-instances).
    const deleteKept = new RegExp(
      `delete-db-instance --region ${WEST} --db-instance-identifier ${RESTORED}`,
    );
    it("pages the broken standby as the headline at the bound, with no command deleting the reader kept for it, while the new primary is still short", async () => {
      const world = westWithRestoredReader("available");
      world.instances.get(`${WEST}/payments-db-1-usw2-test`)!.status = "failed";
      // us-east-1's own reader stays modifying past the bound (a class change: "15 minutes or
      // more", AuroraPostgreSQL.Managing.html).
      world.instances.get(`${EAST}/payments-db-2-use1-test`)!.status = "modifying";
      const result = await runWorkflow("failback", back, { world });
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings!.RestoreCapacity!.Error).toBe("CapacityTimeoutError");
      expect(world.callsTo("rds:DeleteDBInstance")).toEqual([]);
      const page = capacityPage(world, EAST);
      expect(page.split("\n")[0]).toMatch(
        new RegExp(`the standby in ${WEST} has no working instance besides the reader`),
      );
      expect(page.split("\n")[0]).toContain(`${EAST} also has 1 of 2 instances available`);
      expect(page).not.toMatch(deleteKept);
      expect(page).toContain(
        `Next: keep ${RESTORED} in ${WEST}: it is the standby's only working instance`,
      );
      expect(page).toContain(
        `Next: payments-db-1-usw2-test in ${WEST} is failed: replace it: delete it (aws rds delete-db-instance --region ${WEST} --db-instance-identifier payments-db-1-usw2-test), then run terraform apply.`,
      );
      // Said once, with the instances named (not also the generic "replace the broken instance").
      expect(page).not.toContain(
        "Next: fix the standby's broken instance as the reason above says",
      );
      // The new primary's own wait still gets its advice.
      expect(page).toContain(
        "Next: payments-db-2-use1-test exists and Aurora is still working on it",
      );
    });

    it("tells on-call to keep the reader until the standby's own instance is available when that instance is modifying at the bound and the new primary is full", async () => {
      const world = westWithRestoredReader("available");
      world.instances.get(`${WEST}/payments-db-1-usw2-test`)!.status = "modifying";
      const result = await runWorkflow("failback", back, { world });
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings!.RestoreCapacity!.Error).toBe("CapacityTimeoutError");
      expect(world.callsTo("rds:DeleteDBInstance")).toEqual([]);
      const page = capacityPage(world, EAST);
      expect(page.split("\n")[0]).toContain(`${EAST} has the old primary's capacity (2 of 2`);
      expect(page).not.toMatch(deleteKept);
      expect(page).toContain(
        `Next: keep ${RESTORED} in ${WEST} until payments-db-1-usw2-test is available: it is the standby's only working instance meanwhile`,
      );
    });

    // Review 23b, L2: the ASL's Retry keeps only the retry's output.
    it("records the delete of an attempt whose create in the new primary was throttled", async () => {
      const world = westWithRestoredReader("available");
      world.instances.delete(`${EAST}/payments-db-2-use1-test`);
      world.clusters[eastArn]!.instances = world.clusters[eastArn]!.instances.filter(
        (i) => i !== "payments-db-2-use1-test",
      );
      world.inject(
        "rds:CreateDBInstance",
        () => new TransientError("Throttling: Rate exceeded"),
        1,
        EAST,
      );
      const result = await runWorkflow("failback", back, { world });
      expect(result.status).toBe("SUCCEEDED");
      expect(world.callsTo("rds:DeleteDBInstance").map((c) => c.args)).toEqual([
        { identifier: RESTORED },
      ]);
      expect(result.output!.steps.RestoreCapacity!.released).toEqual([RESTORED]);
    });

    // Review 23b, M2: a switchover away from a degrading region, whose RDS API then fails.
    describe("keeps watching the new primary when the region left fails", () => {
      function degradingEast(world: FakeWorld, onPoll: (poll: number) => void) {
        let seen = 0;
        return {
          RestoreCapacity: () => {
            seen += 1;
            if (seen === 2) {
              world.inject(
                "rds:DescribeDBInstances",
                () => new TransientError("ServiceUnavailable"),
                10_000,
                EAST,
              );
            }
            onPoll(seen);
          },
          polls: () => seen,
        };
      }

      it("pages naming the new primary's reader when it fails after the region left's API did", async () => {
        const world = new FakeWorld();
        world.creationNeverEnds.add(RESTORED);
        // Broken 6 to 15 polls after the region left's API stopped answering: past the ASL's
        // Retries of a throw there (the observer counts every attempt), so the loop must still run.
        const failedPoll = 8 + Math.floor(draw() * 10);
        const watch = degradingEast(world, (poll) => {
          if (poll === failedPoll) world.instances.get(`${WEST}/${RESTORED}`)!.status = "failed";
        });
        const result = await runWorkflow("switchover", input, {
          world,
          observe: { RestoreCapacity: watch.RestoreCapacity },
        });
        expect(result.status).toBe("SUCCEEDED");
        expect(watch.polls()).toBe(failedPoll);
        expect(result.output!.warnings!.RestoreCapacity!.Error).toBe("DependencyError");
        expect(result.output!.warnings!.RestoreCapacity!.Cause).toContain(`${RESTORED} is failed`);
        expect(world.callsTo("rds:CreateDBInstance")).toHaveLength(1);
        expectCapacityPage(world, "switchover", new RegExp(`${RESTORED} is failed`));
      });

      it("is done watching the new primary once its reader is available, and pages at the bound about the region left only", async () => {
        const world = new FakeWorld();
        const watch = degradingEast(world, () => undefined);
        const result = await runWorkflow("switchover", input, {
          world,
          observe: { RestoreCapacity: watch.RestoreCapacity },
        });
        expect(result.status).toBe("SUCCEEDED");
        expect(world.instances.get(`${WEST}/${RESTORED}`)!.status).toBe("available");
        expect(result.output!.warnings!.RestoreCapacity!.Error).toBe("CapacityTimeoutError");
        expect(result.output!.steps.RestoreCapacity!.elapsedSeconds).toBeGreaterThanOrEqual(1800);
        const page = capacityPage(world, WEST);
        expect(page.split("\n")[0]).toContain(`${WEST} has the old primary's capacity (2 of 2`);
        expect(page).toContain(
          `Next: the release failed (TransientError: ServiceUnavailable) in ${EAST}`,
        );
        // Review 23c, L2: the hand delete keeps the standby's floor.
        expect(page).toContain(
          "keeping that many other instances available there: never the last available one while the standby's own instance is not available",
        );
        expect(page).not.toMatch(/add the missing readers by hand/);
        expect(page).not.toMatch(/do not add another reader/);
      });
    });

    // Review 23b, L6: the loop refused to create on that lock; the page must not say "by hand".
    it("pages, when another run holds the lock to the bound, that the loop refused to create because of it", async () => {
      const world = new FakeWorld();
      const result = await runWorkflow("failover", input, {
        world,
        observe: {
          RestoreCapacity: () => {
            world.takeReprotectLock(WEST, EAST);
          },
        },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings!.RestoreCapacity!.Error).toBe("CapacityTimeoutError");
      expect(world.callsTo("rds:CreateDBInstance")).toEqual([]);
      const page = capacityPage(world);
      expect(page.split("\n")[0]).toContain(
        `the loop did not ask for ${RESTORED} because another run held the failover lock`,
      );
      expect(page).toContain(
        `Next: ${RESTORED} was not asked for because run reprotect-1 (reprotect) holds the failover lock`,
      );
      expect(page).toContain("add it once that run ends");
      expect(page).not.toMatch(/add the missing readers by hand/);
    });

    it("a failover calls nothing in the region it left", async () => {
      const world = new FakeWorld();
      world.addInstance(eastArn, "payments-db-3-use1-test", "available", "db.r6g.large");
      const result = await runWorkflow("failover", input, { world });
      expect(result.status).toBe("SUCCEEDED");
      expect(world.callsTo("rds:DeleteDBInstance")).toEqual([]);
      expect(result.output!.steps.RestoreCapacity!.released).toBeUndefined();
    });
  });
});
