// The infrastructure side of RestoreCapacity: every DR task knows the old primary's capacity
// (DR_CAPACITY), the instances it would add are the ones Terraform builds for a writer cluster
// (same identifiers and settings, so Terraform can adopt them), and RestoreCapacity's own role may
// create exactly those and nothing else.
import { DR_TASK_NAMES } from "../../functions/dr/tasks";
import { findResource, inRegion, policyStatements, resourceList, synth } from "./helpers";

describe("capacity after a failover", () => {
  const { json } = synth({});
  const task = resourceList(json, "aws_lambda_function").find(
    (f) => f.function_name === "payments-dr-restore-capacity-dev",
  )!;
  const capacity = String(
    (task.environment as { variables: Record<string, string> }).variables.DR_CAPACITY,
  );

  it("tells the task the writer's count and class and each region's Terraform identifiers", () => {
    expect(capacity).toContain('"instances" = 2');
    expect(capacity).toContain('"instanceClass" = "db.r5.large"');
    expect(capacity).toContain('"payments-db-1-usw2-dev", "payments-db-2-usw2-dev"');
    expect(capacity).toContain('"payments-db-1-use1-dev", "payments-db-2-use1-dev"');
    expect(capacity).toContain('"monitoringInterval" = 15');
    expect(capacity).toContain('"caCertificateIdentifier" = "rds-ca-rsa2048-g1"');
  });

  it("would add exactly the instances Terraform builds for a writer cluster, with their settings", () => {
    const writer = inRegion(resourceList(json, "aws_rds_cluster_instance"), "primary");
    expect(writer.map((i) => i.identifier)).toEqual([
      "payments-db-1-use1-dev",
      "payments-db-2-use1-dev",
    ]);
    for (const [i, instance] of writer.entries()) {
      expect(instance).toMatchObject({
        instance_class: "db.r5.large",
        promotion_tier: i,
        monitoring_interval: 15,
        ca_cert_identifier: "rds-ca-rsa2048-g1",
        publicly_accessible: false,
        auto_minor_version_upgrade: false,
        performance_insights_enabled: true,
        performance_insights_retention_period: 7,
      });
    }
  });

  it("lets only RestoreCapacity's and Rebuild's roles create exactly those instances", () => {
    const statements = policyStatements(
      json,
      "orchestration-primary_task-restore-capacity_permissions_",
    );
    const create = statements.find((s) => s.sid === "DatabaseCreateInstance")!;
    expect(create.actions).toEqual(["rds:CreateDBInstance"]);
    const names = [
      "payments-db-1-use1-dev",
      "payments-db-2-use1-dev",
      "payments-db-1-usw2-dev",
      "payments-db-2-usw2-dev",
    ];
    expect(
      create.resources!.filter((r) => r.includes(":db:")).map((r) => r.split(":db:")[1]),
    ).toEqual(names);
    // Tags only on the new instances; the monitoring role passed to RDS monitoring only.
    const tag = statements.find((s) => s.sid === "DatabaseTagNewInstance")!;
    expect(tag.actions).toEqual(["rds:AddTagsToResource"]);
    expect(tag.resources!.map((r) => r.split(":db:")[1])).toEqual(names);
    const pass = statements.find((s) => s.sid === "PassTheMonitoringRole")!;
    expect(pass.resources).toEqual(["${aws_iam_role.database_monitoring-role_DD73B2F2.arn}"]);
    expect(pass.condition).toEqual([
      {
        test: "StringEquals",
        variable: "iam:PassedToService",
        values: ["rds.amazonaws.com", "monitoring.rds.amazonaws.com"],
      },
    ]);
    expect(findResource(json, "aws_iam_role", "database_monitoring-role")).toBeDefined();
    // A reader alone needs the storage key only for Performance Insights, through RDS.
    expect(statements.find((s) => s.sid === "StorageKeysThroughRds")).toMatchObject({
      actions: ["kms:CreateGrant", "kms:DescribeKey"],
    });
    // No other task may create an instance, pass a role or tag (Rebuild, re-protect's task,
    // creates the new secondary's instances with the same one createInstance).
    for (const task of DR_TASK_NAMES.filter((t) => t !== "restore-capacity" && t !== "rebuild")) {
      const actions = policyStatements(
        json,
        `orchestration-primary_task-${task}_permissions_`,
      ).flatMap((s) => s.actions ?? []);
      expect(
        actions.filter((a) => /CreateDBInstance|AddTagsToResource|iam:PassRole/.test(a)),
      ).toEqual([]);
    }
  });
});

describe("releasing the readers RestoreCapacity added", () => {
  const { json } = synth({});

  it("tells the task the standby's own count", () => {
    const task = resourceList(json, "aws_lambda_function").find(
      (f) => f.function_name === "payments-dr-restore-capacity-dev",
    )!;
    const env = (task.environment as { variables: Record<string, string> }).variables;
    expect(String(env.DR_CAPACITY)).toContain('"standbyInstances" = 1');
  });

  it("lets only RestoreCapacity delete, only the identifiers beyond the standby's, only with its tag", () => {
    const statements = policyStatements(
      json,
      "orchestration-primary_task-restore-capacity_permissions_",
    );
    const remove = statements.find((s) => s.sid === "DatabaseDeleteInstance")!;
    expect(remove.actions).toEqual(["rds:DeleteDBInstance"]);
    // Never db-1, Terraform's standby instance in either region.
    expect(remove.resources!.map((r) => r.split(":db:")[1])).toEqual([
      "payments-db-2-use1-dev",
      "payments-db-2-usw2-dev",
    ]);
    expect(remove.condition).toEqual([
      {
        test: "StringEquals",
        variable: "aws:ResourceTag/created-by",
        values: ["payments-dr-restore-capacity"],
      },
    ]);
    for (const task of DR_TASK_NAMES.filter((t) => t !== "restore-capacity")) {
      const actions = policyStatements(
        json,
        `orchestration-primary_task-${task}_permissions_`,
      ).flatMap((s) => s.actions ?? []);
      expect(actions.filter((a) => /DeleteDBInstance/.test(a))).toEqual([]);
    }
  });
});

// Terraform and the readers RestoreCapacity adds, after a failover to us-west-2 (the writer was
// us-east-1 with 2 instances, us-west-2 stood by with 1; RestoreCapacity added
// payments-db-2-usw2-dev). Terraform plans from its state: it destroys only what state holds.
describe("Terraform and the readers RestoreCapacity adds", () => {
  const added = "payments-db-2-usw2-dev";
  const identifiers = (j: ReturnType<typeof synth>["json"]) =>
    resourceList(j, "aws_rds_cluster_instance").map((i) => i.identifier);

  it("leaves an added reader alone while the configuration is unchanged: it is in no resource, so never in state", () => {
    const { json } = synth({});
    expect(identifiers(json)).not.toContain(added);
    expect(identifiers(json)).toContain("payments-db-1-usw2-dev");
    // Nothing reads instances either (no data source could make a plan depend on it).
    expect(Object.keys(json.data ?? {})).not.toContain("aws_db_instance");
    expect(Object.keys(json.data ?? {})).not.toContain("aws_rds_cluster_instance");
    expect((json as { import?: unknown[] }).import).toBeUndefined();
  });

  it("with the writer moved and DB_ADOPT_RESTORED_READERS, imports exactly the added readers into the writer's resources, with the arguments RestoreCapacity used", () => {
    const { json } = synth({ WRITER_REGION: "us-west-2", DB_ADOPT_RESTORED_READERS: "true" });
    const imports = (json as { import?: { to: string; id: string; provider?: string }[] }).import;
    const west = resourceList(json, "aws_rds_cluster_instance").filter((i) =>
      String(i.identifier).endsWith("-usw2-dev"),
    );
    expect(west.map((i) => i.identifier)).toEqual(["payments-db-1-usw2-dev", added]);
    // Only the reader RestoreCapacity added is imported; db-1 is the standby's own, in state.
    expect(imports).toEqual([
      {
        to: expect.stringMatching(/^aws_rds_cluster_instance\.database_secondary-instance-1_\w+$/),
        id: added,
        provider: expect.stringContaining("aws.secondary"),
      },
    ]);
    // The arguments an import compares with the live instance: the ones RestoreCapacity sends
    // (test/state-machines/capacity.test.ts asserts its CreateDBInstance input), so the plan
    // imports it and replaces nothing (identifier, cluster, engine and subnet group are ForceNew).
    const [, second] = west;
    expect(second).toMatchObject({
      identifier: added,
      engine: "aurora-postgresql",
      instance_class: "db.r5.large",
      promotion_tier: 1,
      publicly_accessible: false,
      auto_minor_version_upgrade: false,
      performance_insights_enabled: true,
      performance_insights_retention_period: 7,
      monitoring_interval: 15,
      ca_cert_identifier: "rds-ca-rsa2048-g1",
      tags: { Name: "payments-db-usw2-dev-2", "region-code": "usw2" },
    });
    expect(String(second!.cluster_identifier)).toContain("database_secondary-cluster");
  });

  it("imports nothing when the flag is not set: adopting is a deliberate, one-apply step", () => {
    const { json } = synth({ WRITER_REGION: "us-west-2" });
    expect((json as { import?: unknown[] }).import).toBeUndefined();
    expect(identifiers(json)).toContain(added);
  });
});
