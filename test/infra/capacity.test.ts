// The infrastructure side of RestoreCapacity: every DR task knows the old primary's capacity
// (DR_CAPACITY), the instances it would add are the ones Terraform builds for a writer cluster
// (same identifiers and settings, so Terraform can adopt them), and the automation role may
// create exactly those and nothing else.
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

  it("lets the automation role create only those instances", () => {
    const statements = policyStatements(json, "primary-automation-permissions");
    const restore = statements.find((s) => s.sid === "RestoreCapacity")!;
    expect(restore.actions).toEqual(["rds:CreateDBInstance", "rds:AddTagsToResource"]);
    const dbs = restore.resources!.filter((r) => r.includes(":db:"));
    expect(dbs.map((r) => r.split(":db:")[1])).toEqual([
      "payments-db-1-use1-dev",
      "payments-db-2-use1-dev",
      "payments-db-1-usw2-dev",
      "payments-db-2-usw2-dev",
    ]);
    expect(statements.find((s) => s.sid === "PassMonitoringRole")!.resources).toEqual([
      "${aws_iam_role.database_monitoring-role_DD73B2F2.arn}",
    ]);
    expect(findResource(json, "aws_iam_role", "database_monitoring-role")).toBeDefined();
  });
});
