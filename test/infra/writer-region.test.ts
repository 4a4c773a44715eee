// WRITER_REGION: after a failover, a switchover or a re-protect the operator moves the writer in
// config with one value. Everything that follows the writer moves; every data store keeps its
// slot, address and identity (the offline proof against the provider's replacement rules is in
// writer-move.test.ts).
import { ConfigError, loadConfig } from "../../infra/config";
import { contractLines, DATA_STORE_TYPES, WRITER_MOVED_ENV } from "../../infra/lib/addresses";
import { computeBudget } from "../../infra/lib/rto";
import { validateInput } from "../../functions/dr/validate-input/core";
import { FakeWorld, EAST, TOPOLOGY } from "../functions/dr/support/fake-world";
import type { Resource } from "./helpers";
import { findResource, FULL_ENV, inRegion, policyStatements, resourceList, synth } from "./helpers";

const MOVED = { ...FULL_ENV, ...WRITER_MOVED_ENV };

function parameters(json: ReturnType<typeof synth>["json"], slot: string): Record<string, string> {
  const group = findResource(json, "aws_rds_cluster_parameter_group", `${slot}-parameters`);
  return Object.fromEntries(
    (group.parameter as { name: string; value: string }[]).map((p) => [p.name, p.value]),
  );
}

function ignored(resource: Resource): string[] {
  return (resource.lifecycle as { ignore_changes?: string[] } | undefined)?.ignore_changes ?? [];
}

describe("WRITER_REGION", () => {
  it("defaults to the primary region and accepts either of the stack's regions", () => {
    expect(loadConfig({}).writer).toBe("primary");
    expect(loadConfig({ WRITER_REGION: "us-east-1" }).writer).toBe("primary");
    expect(loadConfig({ WRITER_REGION: "us-west-2" }).writer).toBe("secondary");
    expect(
      loadConfig({
        PRIMARY_REGION: "eu-west-1",
        SECONDARY_REGION: "eu-central-1",
        WRITER_REGION: "eu-central-1",
      }).writer,
    ).toBe("secondary");
  });

  it("rejects a region the stack does not deploy, naming both it does", () => {
    expect(() => loadConfig({ WRITER_REGION: "eu-west-1" })).toThrow(ConfigError);
    expect(() => loadConfig({ WRITER_REGION: "eu-west-1" })).toThrow(
      'WRITER_REGION="eu-west-1" is not allowed: PRIMARY_REGION (us-east-1) or SECONDARY_REGION (us-west-2): the region whose Aurora cluster takes writes',
    );
  });

  it("never moves the state backend: it stays in the secondary region by default", () => {
    const config = loadConfig({ ...WRITER_MOVED_ENV, TF_STATE_BUCKET: "acme-tf-state" });
    expect(config.stateBackend?.region).toBe("us-west-2");
  });
});

describe("the stack with the writer moved to us-west-2", () => {
  const before = synth(FULL_ENV).json;
  const { json } = synth(MOVED);
  const cluster = (slot: string) => findResource(json, "aws_rds_cluster", `${slot}-cluster`);

  it("keeps every data store's address and identifying arguments", () => {
    const stores = (lines: string[]) =>
      lines.filter((l) => DATA_STORE_TYPES[l.slice(0, l.indexOf("."))] && l.includes(" {"));
    const was = stores(contractLines(before));
    expect(was.length).toBeGreaterThan(15);
    expect(stores(contractLines(json))).toEqual(was);
  });

  it("guards the RPO on the writer's parameter group only, in its own slot", () => {
    expect(parameters(json, "secondary")["rds.global_db_rpo"]).toBe("60");
    expect(parameters(json, "primary")["rds.global_db_rpo"]).toBeUndefined();
    // Names and descriptions replace a group when changed: they stay with the slot.
    for (const slot of ["primary", "secondary"]) {
      const was = findResource(before, "aws_rds_cluster_parameter_group", `${slot}-parameters`);
      const now = findResource(json, "aws_rds_cluster_parameter_group", `${slot}-parameters`);
      expect({ name: now.name, description: now.description }).toEqual({
        name: was.name,
        description: was.description,
      });
    }
  });

  it("puts the writer's instance count in the writer region and the reader's in the other", () => {
    const instances = resourceList(json, "aws_rds_cluster_instance");
    expect(inRegion(instances, "secondary")).toHaveLength(2);
    expect(inRegion(instances, "primary")).toHaveLength(1);
    // The instances that stay keep their identifiers: only the extra reader instance goes.
    expect(findResource(json, "aws_rds_cluster_instance", "primary-instance-0").identifier).toBe(
      findResource(before, "aws_rds_cluster_instance", "primary-instance-0").identifier,
    );
  });

  it("gives only the writer the credentials and never diffs the user, which replaces a cluster", () => {
    expect(cluster("secondary")).toMatchObject({
      master_username: "payments_admin",
      master_password: "${var.db_master_password}",
    });
    expect(cluster("primary").master_username).toBeUndefined();
    expect(cluster("primary").master_password).toBeUndefined();
    for (const slot of ["primary", "secondary"]) {
      expect(ignored(cluster(slot))).toEqual(
        expect.arrayContaining([
          "replication_source_identifier",
          "global_cluster_identifier",
          "master_username",
        ]),
      );
      // Each slot keeps its own key: the multi-Region primary in us-east-1, its replica in us-west-2.
      expect(cluster(slot).kms_key_id).toBe(
        findResource(before, "aws_rds_cluster", `${slot}-cluster`).kms_key_id,
      );
    }
  });

  it("creates the reader cluster after the writer's instances", () => {
    expect(cluster("primary").depends_on).toEqual(
      expect.arrayContaining([expect.stringContaining("database_secondary-instance-0")]),
    );
    expect(String(cluster("secondary").depends_on ?? "")).not.toContain("primary-instance");
  });

  it("detects failure of us-west-2 from us-east-1 and starts the us-east-1 failover there", () => {
    const alarms = resourceList(json, "aws_cloudwatch_metric_alarm").filter((a) =>
      /payments-(primary-unhealthy|prober-silent|writer-unavailable)-/.test(String(a.alarm_name)),
    );
    expect(alarms.map((a) => [a.alarm_name, a.provider]).sort()).toEqual([
      ["payments-primary-unhealthy-use1-dev", "aws.primary"],
      ["payments-prober-silent-use1-dev", "aws.primary"],
      ["payments-writer-unavailable-use1-dev", "aws.primary"],
    ]);
    const unhealthy = alarms.find((a) => String(a.alarm_name).includes("primary-unhealthy"))!;
    expect(unhealthy.dimensions).toEqual({ Region: "us-west-2" });
    const writerAlarm = alarms.find((a) => String(a.alarm_name).includes("writer-unavailable"))!;
    expect(writerAlarm.dimensions).toEqual({
      DBClusterIdentifier: expect.stringContaining("aws_rds_cluster.database_primary-cluster_"),
    });

    const prober = resourceList(json, "aws_lambda_function").filter(
      (f) => f.function_name === "payments-dr-prober-dev",
    );
    expect(prober.map((p) => p.provider)).toEqual(["aws.primary"]);
    const rule = resourceList(json, "aws_cloudwatch_event_rule").find(
      (r) => r.name === "payments-failover-trigger-use1-dev",
    )!;
    expect(rule.provider).toBe("aws.primary");
    const target = resourceList(json, "aws_cloudwatch_event_target").find(
      (t) => t.target_id === "failover-workflow",
    )!;
    expect(String(target.arn)).toMatch(/orchestration-primary_workflow-failover_.*\.arn/);
    // EventBridge's own role (issue 14), allowed to start this region's failover machine.
    expect(String(target.role_arn)).toContain("dr-iam_events_");
    expect(
      policyStatements(json, "dr-iam_events-permissions").find((s) => s.sid === "StartFailover")!
        .resources,
    ).toEqual([
      expect.stringMatching(/^arn:aws:states:us-east-1:.*:stateMachine:payments-failover-dev$/),
    ]);
    const template = String(
      (target.input_transformer as { input_template: string }).input_template,
    );
    expect(template).toContain('"targetRegion":"us-east-1"');
  });

  it("lets the prober in us-east-1 read the control table there", () => {
    const policies = Object.entries(json.data?.aws_iam_policy_document ?? {}).filter(([name]) =>
      name.startsWith("prober-in-primary_function_permissions"),
    );
    expect(policies).toHaveLength(1);
    const read = (policies[0]![1].statement as { sid: string; resources: string[] }[]).find(
      (s) => s.sid === "ReadActiveRegion",
    )!;
    expect(read.resources).toEqual([
      expect.stringMatching(/aws_dynamodb_table\.tables_control_.*\.arn/),
    ]);
  });

  it("lets an alarm in us-east-1 fail over toward us-east-1, which DR_TOPOLOGY now calls secondary", async () => {
    const topology = String(
      (
        resourceList(json, "aws_lambda_function").find(
          (f) => f.function_name === "payments-dr-fence-dev" && f.provider === "aws.primary",
        )!.environment as { variables: Record<string, string> }
      ).variables.DR_TOPOLOGY,
    );
    // jsonencode({... "us-east-1" = {... "role" = "secondary" ...}, "us-west-2" = {... "role" = "primary"}})
    expect(topology).toMatch(/"us-east-1"\s*=\s*\{[^{}]*"role"\s*=\s*"secondary"/);
    expect(topology).toMatch(/"us-west-2"\s*=\s*\{[^{}]*"role"\s*=\s*"primary"/);

    const moved = {
      ...TOPOLOGY,
      regions: {
        "us-east-1": { ...TOPOLOGY.regions["us-east-1"]!, role: "secondary" as const },
        "us-west-2": { ...TOPOLOGY.regions["us-west-2"]!, role: "primary" as const },
      },
    };
    const world = new FakeWorld(moved);
    world.table.set("active-region", {
      activeRegion: "us-west-2",
      fencingToken: 1,
      updatedAt: new Date(world.clock).toISOString(),
      updatedBy: "earlier-failover",
      phase: "open",
    });
    const accepted = await validateInput(
      {
        workflow: "failover",
        input: { targetRegion: EAST, reason: "alarm x entered ALARM", trigger: "alarm" },
        context: {
          executionId: "arn:x",
          executionName: "alarm-1",
          startTime: "2026-11-25T03:00:05Z",
          stateMachineArn: "arn:sm",
        },
      },
      world.deps(EAST),
    );
    expect(accepted.request).toMatchObject({ targetRegion: EAST, sourceRegion: "us-west-2" });
  });

  it("seeds the fencing flag and the active-region parameter with the writer, then leaves them alone", () => {
    const [item] = resourceList(json, "aws_dynamodb_table_item");
    expect(JSON.parse(String(item!.item))).toMatchObject({ activeRegion: { S: "us-west-2" } });
    expect(ignored(item!)).toEqual(["item"]);
    for (const parameter of resourceList(json, "aws_ssm_parameter").filter((p) =>
      String(p.name).endsWith("/active-region"),
    )) {
      expect(parameter.value).toBe("us-west-2");
      expect(ignored(parameter)).toEqual(["value"]);
    }
  });

  it("points the PRIMARY failover record at the writer's API, keeping the records' addresses", () => {
    const records = Object.entries(json.resource?.aws_route53_record ?? {}).filter(
      ([, r]) => (r as Resource).failover_routing_policy,
    );
    const primary = records.find(
      ([, r]) => ((r as Resource).failover_routing_policy as { type: string }).type === "PRIMARY",
    )!;
    expect(primary[0]).toMatch(/^routing_primary-record_/);
    expect(String(((primary[1] as Resource).alias as { name: string }).name)).toContain(
      "payments-secondary_domain",
    );
    expect(String((primary[1] as Resource).health_check_id)).toContain("routing_secondary-health");
  });

  it("drills from the writer to us-east-1 and back, scheduled in us-east-1", () => {
    const schedule = resourceList(json, "aws_cloudwatch_event_rule").find(
      (r) => r.name === "payments-dr-drill-use1-dev",
    )!;
    expect(schedule).toMatchObject({ provider: "aws.primary" });
    expect(String(schedule.description)).toContain("switchover to us-east-1 and back");
    const target = resourceList(json, "aws_cloudwatch_event_target").find(
      (t) => t.target_id === "dr-drill",
    )!;
    expect(String(target.arn)).toContain("aws_ssm_document.drills_primary-document_");
  });

  it("budgets the RTO of a failover toward us-east-1, with the RPO guard read from the writer", () => {
    const budget = computeBudget(json, "s", loadConfig(MOVED));
    expect(budget.targetRegion).toBe("us-east-1");
    expect(budget.rpoBoundSeconds).toBe(60);
  });
});
