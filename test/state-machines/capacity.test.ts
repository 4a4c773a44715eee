// After a failover or switchover the new primary gets the old primary's capacity: RestoreCapacity
// adds readers with Terraform's identifiers and settings, asks once however often it runs, never
// waits for them, and never blocks or halts the run.
import {
  AccessDeniedError,
  DependencyError,
  TransientError,
} from "../../functions/dr/shared/errors";
import type { InstanceRequest } from "../../functions/dr/shared/ports";
import { EAST, FakeWorld, TEST_CAPACITY, TOPOLOGY, WEST } from "../functions/dr/support/fake-world";
import { runWorkflow } from "./support/harness";

const westArn = TOPOLOGY.regions[WEST]!.clusterArn;
const input = { targetRegion: WEST, reason: "primary down", trigger: "console" };

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
      expect(result.output!.steps.RestoreCapacity).toMatchObject({
        desired: 2,
        requested: ["payments-db-2-usw2-test"],
      });
      expect(world.instancesOf(westArn).map((i) => [i.identifier, i.status])).toEqual([
        ["payments-db-1-usw2-test", "available"],
        ["payments-db-2-usw2-test", "creating"],
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
    expect(result.output!.steps.RestoreCapacity!.note).toBe(`${EAST} already has 2 of 2 instances`);
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

  it("never reuses the name of an instance being deleted: it asks for none rather than collide", async () => {
    const world = new FakeWorld();
    world.addInstance(westArn, "payments-db-2-usw2-test", "deleting", "db.r6g.large");
    const result = await runWorkflow("failover", input, { world });
    // The one being deleted carries no load and its name is taken: nothing left to ask for.
    expect(result.status).toBe("SUCCEEDED");
    expect(world.callsTo("rds:CreateDBInstance")).toEqual([]);
    expect(result.output!.steps.RestoreCapacity!.requested).toEqual([]);
  });

  it("retries a throttled create and asks once", async () => {
    const world = new FakeWorld();
    world.inject("rds:CreateDBInstance", () => new TransientError("ThrottlingException"), 1);
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.retries).toContain("RestoreCapacity");
    expect(world.instancesOf(westArn)).toHaveLength(2);
  });

  it("retries a create refused while the promoted cluster is still in a transitional state", async () => {
    const world = new FakeWorld();
    world.inject(
      "rds:CreateDBInstance",
      () =>
        new DependencyError(
          "rds:CreateDBInstance failed: InvalidDBClusterStateFault: DB cluster is not available",
        ),
      1,
    );
    const result = await runWorkflow("failover", input, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.retries).toContain("RestoreCapacity");
    expect(result.output!.warnings?.RestoreCapacity).toBeUndefined();
    expect(world.instancesOf(westArn).map((i) => i.identifier)).toContain(
      "payments-db-2-usw2-test",
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
});
