// The CLI names resources by infra/naming.ts rules; this synthesizes the stack and checks that
// every name the CLI uses exists there, and that the on-call operator role allows every call the
// CLI makes. A renamed resource or a narrowed policy fails here, not at 3 a.m.
import { loadConfig } from "../../infra/config";
import type { TerraformJson } from "../../infra/lib/synthesized";
import { CLI_IAM_ACTIONS, RECONCILE_IAM_ACTIONS } from "../../cli/aws";
import { resolveDeployment, WORKFLOWS } from "../../cli/target";
import { policyStatements } from "../infra/helpers";
import { synthStack } from "../infra/synth-stack";

const ENV = {
  ENVIRONMENT_SUFFIX: "prod",
  PRIMARY_REGION: "us-east-2",
  SECONDARY_REGION: "us-west-1",
};
let json: TerraformJson;
beforeAll(() => {
  json = JSON.parse(synthStack(loadConfig({ ...ENV }))) as TerraformJson;
});

const names = (type: string, attribute: string) =>
  Object.values(json.resource?.[type] ?? {}).map((r) => (r as Record<string, unknown>)[attribute]);

describe("the CLI's view of a deployment", () => {
  const deployment = resolveDeployment({}, ENV);

  it("uses the names the stack gives its state machines, table, drill, clusters and alarms", () => {
    expect(deployment.regions).toEqual(["us-east-2", "us-west-1"]);
    for (const w of WORKFLOWS)
      expect(names("aws_sfn_state_machine", "name")).toContain(deployment.names.stateMachine(w));
    expect(names("aws_dynamodb_table", "name")).toContain(deployment.names.controlTable);
    expect(names("aws_ssm_document", "name")).toContain(deployment.names.drillDocument);
    expect(names("aws_rds_global_cluster", "global_cluster_identifier")).toEqual([
      deployment.names.globalCluster,
    ]);
    expect(names("aws_rds_cluster", "cluster_identifier").sort()).toEqual(
      deployment.regions.map((r) => deployment.names.cluster(r)).sort(),
    );
    expect(names("aws_cloudwatch_metric_alarm", "alarm_name")).toEqual(
      expect.arrayContaining([...deployment.names.detectionAlarms]),
    );
    expect(names("aws_ssm_parameter", "name")).toContain(deployment.names.parameter("api/url"));
    expect(names("aws_iam_role", "name")).toContain(deployment.names.operatorRole);
    expect(names("aws_iam_role", "name")).toContain(deployment.names.reconcilerRole);
  });

  it("is allowed every call it makes by the on-call operator role", () => {
    const allowed = policyStatements(json, "dr-iam_operator-permissions").flatMap(
      (s) => s.actions ?? [],
    );
    expect(CLI_IAM_ACTIONS.filter((a) => !allowed.includes(a))).toEqual([]);
  });

  it("runs reconcile as the reconciler role, which allows its calls; the operator role does not write", () => {
    const reconciler = policyStatements(json, "reconcile_reconciler-permissions");
    const allowed = reconciler.flatMap((s) => s.actions ?? []);
    expect(RECONCILE_IAM_ACTIONS.filter((a) => !allowed.includes(a))).toEqual([]);
    // Exactly those, plus the two key uses its calls need; never a wildcard.
    expect([...new Set(allowed)].sort()).toEqual(
      [...RECONCILE_IAM_ACTIONS, "kms:Decrypt", "kms:GenerateDataKey"].sort(),
    );
    const operator = policyStatements(json, "dr-iam_operator-permissions").flatMap(
      (s) => s.actions ?? [],
    );
    expect(operator).not.toContain("events:PutEvents");
    expect(operator).not.toContain("s3:PutObject");
    // The writes on exact ARNs: each region's bus, its report bucket's reconcile prefix.
    const resources = (action: string) =>
      reconciler.filter((s) => s.actions?.includes(action)).flatMap((s) => s.resources ?? []);
    const buses = resources("events:PutEvents").sort();
    expect(buses).toHaveLength(2);
    deployment.regions.forEach((r, i) =>
      expect(buses[i]).toMatch(
        new RegExp(`^arn:aws:events:${r}:\\$\\{.+\\}:event-bus/payments-events-prod$`),
      ),
    );
    expect(resources("s3:PutObject")).toHaveLength(2);
    for (const r of resources("s3:PutObject")) expect(r).toMatch(/\/reports\/reconcile\/\*$/);
  });
});
