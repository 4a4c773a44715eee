// The policy pack (infra/lib/policy-pack.ts, `npm run policy`) on the synthesized stack: it
// passes on the default and the all-options synth, and each rule reports a violation planted in
// an otherwise clean stack, one line naming the resource, the rule and what to change.
import { checkPolicies, formatViolation, iamFigures } from "../../infra/lib/policy-pack";
import type { RuleId } from "../../infra/lib/policy-pack";
import type { TerraformJson } from "../../infra/lib/synthesized";
import { CUSTOM_ENV, synth } from "./helpers";

type Json = TerraformJson & {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  data: Record<string, Record<string, Record<string, unknown>>>;
};

const context = { suffix: "dev" };

/** The one resource of `type` whose name contains `fragment`, as [address, body]. */
function pick(json: Json, type: string, fragment = ""): [string, Record<string, unknown>] {
  const entry = Object.entries(json.resource[type] ?? {}).find(([n]) => n.includes(fragment));
  if (!entry) throw new Error(`no ${type} matching ${fragment}`);
  return [`${type}.${entry[0]}`, entry[1]];
}

function policyDoc(json: Json, reference: unknown): { statement: Record<string, unknown>[] } {
  const name = /aws_iam_policy_document\.([^.]+)\.json/.exec(String(reference))![1]!;
  return json.data.aws_iam_policy_document![name] as { statement: Record<string, unknown>[] };
}

describe("the policy pack", () => {
  const clean = synth().json as Json;

  it.each([
    ["default", {}],
    ["all-options", CUSTOM_ENV],
  ])("passes on the %s synth", (_, env) => {
    const violations = checkPolicies(synth(env).json, context);
    expect(violations.map(formatViolation)).toEqual([]);
  });

  const plants: [RuleId, string, (json: Json) => string][] = [
    [
      "cmk-encryption",
      "an SNS topic without its key",
      (json) => {
        const [address, topic] = pick(json, "aws_sns_topic");
        delete topic.kms_master_key_id;
        return address;
      },
    ],
    [
      "cmk-encryption",
      "a state machine on an AWS owned key",
      (json) => {
        const [address, machine] = pick(json, "aws_sfn_state_machine", "workflow-failover");
        delete machine.encryption_configuration;
        return address;
      },
    ],
    [
      "no-star-resource-on-scoped-actions",
      'a task role writing the control table on "*"',
      (json) => {
        const [address, policy] = pick(json, "aws_iam_role_policy", "task-fence");
        policyDoc(json, policy.policy).statement.push({
          sid: "Planted",
          actions: ["dynamodb:PutItem"],
          resources: ["*"],
        });
        return address;
      },
    ],
    [
      "conditioned-trust",
      "a service trust without aws:SourceAccount",
      (json) => {
        const [address, role] = pick(json, "aws_iam_role", "primary-workflows");
        for (const s of policyDoc(json, role.assume_role_policy).statement) delete s.condition;
        return address;
      },
    ],
    [
      "conditioned-trust",
      "the operator trusting the account root unconditioned",
      (json) => {
        const [address, role] = pick(json, "aws_iam_role", "dr-iam_operator_");
        for (const s of policyDoc(json, role.assume_role_policy).statement) delete s.condition;
        return address;
      },
    ],
    [
      "conditioned-trust",
      "the reconciliation role trusting SSM Automation of any account",
      (json) => {
        const [address, role] = pick(json, "aws_iam_role", "reconcile_secondary-role");
        for (const s of policyDoc(json, role.assume_role_policy).statement) delete s.condition;
        return address;
      },
    ],
    [
      "no-star-resource-on-scoped-actions",
      'the reconciliation role restoring into any cluster ("*")',
      (json) => {
        const [address, policy] = pick(json, "aws_iam_role_policy", "reconcile_primary-policy");
        policyDoc(json, policy.policy).statement.push({
          sid: "Planted",
          actions: ["rds:RestoreDBClusterFromSnapshot"],
          resources: ["*"],
        });
        return address;
      },
    ],
    [
      "environment-suffix",
      "the reconciliation document named without the suffix",
      (json) => {
        const [address, document] = pick(json, "aws_ssm_document", "reconcile_primary-document");
        document.name = "payments-reconcile";
        return address;
      },
    ],
    [
      "no-public-database",
      "a publicly accessible Aurora instance",
      (json) => {
        const [address, instance] = pick(json, "aws_rds_cluster_instance");
        instance.publicly_accessible = true;
        return address;
      },
    ],
    [
      "no-open-ingress",
      "a security group open to 0.0.0.0/0",
      (json) => {
        const [address, group] = pick(json, "aws_security_group");
        group.ingress = [
          { from_port: 443, to_port: 443, protocol: "tcp", cidr_blocks: ["0.0.0.0/0"] },
        ];
        return address;
      },
    ],
    [
      "log-retention",
      "a log group kept forever",
      (json) => {
        const [address, group] = pick(json, "aws_cloudwatch_log_group");
        delete group.retention_in_days;
        return address;
      },
    ],
    [
      "environment-suffix",
      "a queue named without the suffix",
      (json) => {
        const [address, queue] = pick(json, "aws_sqs_queue");
        queue.name = "payments-events-dlq";
        return address;
      },
    ],
    [
      "destroyable",
      "a cluster that keeps a final snapshot",
      (json) => {
        const [address, cluster] = pick(json, "aws_rds_cluster");
        cluster.skip_final_snapshot = false;
        return address;
      },
    ],
    [
      "destroyable",
      "a resource that refuses destroy",
      (json) => {
        const [address, table] = pick(json, "aws_dynamodb_table");
        table.lifecycle = { prevent_destroy: true };
        return address;
      },
    ],
  ];

  it.each(plants)("reports %s: %s", (rule, _, plant) => {
    const json = structuredClone(clean);
    const address = plant(json);
    const violations = checkPolicies(json, context);
    expect(violations.length).toBeGreaterThan(0);
    expect(violations.filter((v) => v.address !== address || v.rule !== rule)).toEqual([]);
    expect(formatViolation(violations[0]!)).toMatch(
      new RegExp(`^${address.replace(/\./g, "\\.")}: ${rule}: \\S`),
    );
  });

  it('counts roles, statements and the remaining writes on "*" with why each remains', () => {
    const figures = iamFigures(clean);
    expect(figures.roles).toBeGreaterThan(60);
    expect(figures.wildcardActionStatements).toBe(0);
    expect(figures.starWrites.filter((s) => s.why.includes("NOT JUSTIFIED"))).toEqual([]);
  });
});
