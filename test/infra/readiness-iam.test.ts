// The readiness evaluator's iam-permissions check against the roles the stack really deploys.
// SimulatePrincipalPolicy evaluates every action on every resource given and answers
// implicitDeny where no Allow statement matches both ("IAM policy evaluation logic",
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html;
// SimulatePrincipalPolicy, https://docs.aws.amazon.com/IAM/latest/APIReference/
// API_SimulatePrincipalPolicy.html: "The simulation ... evaluates each action against each
// resource"). So every (action, resource) pair the check simulates must be allowed by the
// synthesized policy of the role, or a correct deployment pages. This test evaluates those pairs
// over the synthesized statements with a small evaluator (Allow/Deny, wildcard action and ARN
// matching; conditions are ignored, which can only allow more, never less).
import type { DrTopology } from "../../functions/common/contract";
import { requiredCalls } from "../../functions/monitoring/readiness/core";
import { DR_TASK_NAMES } from "../../functions/dr/tasks";
import { ACCOUNT, SETTINGS } from "../functions/monitoring/support/aws-readiness-world";
import { TOPOLOGY } from "../functions/dr/support/fake-world";
import type { TerraformJson } from "../../infra/lib/synthesized";
import { policyStatements, resourceList, resources, synth } from "./helpers";

interface Statement {
  readonly effect?: string;
  readonly actions?: readonly string[];
  readonly resources?: readonly string[];
}

/** IAM's string match: `*` any run of characters, `?` one (case-sensitive for ARNs). */
function glob(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, ignoreCase ? "is" : "s").test(value);
}

/** An explicit Deny wins; otherwise an Allow matching action and resource; otherwise implicitDeny. */
export function decide(statements: readonly Statement[], action: string, resource: string) {
  const matches = (s: Statement) =>
    (s.actions ?? []).some((a) => glob(a, action, true)) &&
    (s.resources ?? []).some((r) => glob(r, resource));
  if (statements.some((s) => s.effect === "Deny" && matches(s))) return "explicitDeny";
  return statements.some((s) => s.effect !== "Deny" && matches(s)) ? "allowed" : "implicitDeny";
}

const REGION_OF: Record<string, string> = {
  "aws.primary": "us-east-1",
  "aws.secondary": "us-west-2",
};

/**
 * Resolves the references the RDS ARNs are built from to what they are at apply, for an account
 * of ACCOUNT: the account (taken from the primary key's ARN), the clusters' ARNs and the global
 * cluster's identifier (both literal in the configuration).
 */
function resolver(json: TerraformJson) {
  const clusters = resources(json, "aws_rds_cluster");
  const globals = resources(json, "aws_rds_global_cluster");
  return (s: string) =>
    s
      .replace(/\$\{element\(split\(":", aws_kms_key\.[^)]+\), 4\)\}/g, ACCOUNT)
      .replace(/\$\{aws_rds_cluster\.([^.]+)\.arn\}/g, (_, id: string) => {
        const c = clusters[id]!;
        return `arn:aws:rds:${REGION_OF[String(c.provider)]}:${ACCOUNT}:cluster:${String(c.cluster_identifier)}`;
      })
      .replace(
        /\$\{aws_rds_global_cluster\.([^.]+)\.global_cluster_identifier\}/g,
        (_, id: string) => String(globals[id]!.global_cluster_identifier),
      )
      .replace(
        /\$\{(aws_db_subnet_group|aws_rds_cluster_parameter_group)\.([^.]+)\.name\}/g,
        (_, type: string, id: string) => String(resources(json, type)[id]!.name),
      )
      .replace(
        /\$\{aws_rds_cluster\.([^.]+)\.(db_subnet_group_name|db_cluster_parameter_group_name)\}/g,
        (_, id: string, attribute: string) => {
          // The cluster's own argument: a reference to the group, resolved the same way.
          const value = String(clusters[id]![attribute]);
          return value.replace(
            /\$\{(aws_db_subnet_group|aws_rds_cluster_parameter_group)\.([^.]+)\.name\}/g,
            (__, type: string, group: string) => String(resources(json, type)[group]!.name),
          );
        },
      );
}

describe("the readiness evaluator's IAM simulation", () => {
  const { json } = synth({});
  const resolve = resolver(json);
  const clusters = Object.values(resources(json, "aws_rds_cluster"));
  const clusterIn = (region: string) => {
    const c = clusters.find((x) => REGION_OF[String(x.provider)] === region)!;
    const id = String(c.cluster_identifier);
    return { clusterIdentifier: id, clusterArn: `arn:aws:rds:${region}:${ACCOUNT}:cluster:${id}` };
  };
  // The topology the deployed evaluator reads (DR_TOPOLOGY), with the stack's database names.
  const topology: DrTopology = {
    ...TOPOLOGY,
    globalClusterIdentifier: String(
      Object.values(resources(json, "aws_rds_global_cluster"))[0]!.global_cluster_identifier,
    ),
    regions: Object.fromEntries(
      Object.entries(TOPOLOGY.regions).map(([r, region]) => [r, { ...region, ...clusterIn(r) }]),
    ),
  };
  const slot: Record<string, string> = { "us-east-1": "primary", "us-west-2": "secondary" };
  const roles = (region: string) =>
    Object.fromEntries(
      DR_TASK_NAMES.map((task) => [
        task,
        `arn:aws:iam::${ACCOUNT}:role/orchestration-${slot[region]}_task-${task}_permissions`,
      ]),
    );
  // The instance names as the stack writes them into READINESS_SETTINGS (an HCL jsonencode).
  const evaluator = resourceList(json, "aws_lambda_function").find(
    (f) => f.function_name === "payments-readiness-dev",
  )!;
  const settingsText = (evaluator.environment as { variables: Record<string, string> }).variables
    .READINESS_SETTINGS!;
  const instanceIdentifiers = (region: string) => {
    const entry = new RegExp(
      `"${region}" = \\{[\\s\\S]*?"instanceIdentifiers" = \\[([^\\]]*)\\]`,
    ).exec(settingsText);
    if (!entry) throw new Error(`no instanceIdentifiers for ${region} in READINESS_SETTINGS`);
    return [...entry[1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
  };
  // The cluster's subnet and parameter groups, by name, as READINESS_SETTINGS carries them.
  const groupIn = (type: string, region: string) =>
    String(
      Object.values(resources(json, type)).find((g) => REGION_OF[String(g.provider)] === region)!
        .name,
    );
  const settings = {
    ...SETTINGS,
    regions: Object.fromEntries(
      Object.entries(SETTINGS.regions).map(([r, s]) => [
        r,
        {
          ...s,
          taskRoleArns: roles(r),
          instanceIdentifiers: instanceIdentifiers(r),
          subnetGroup: groupIn("aws_db_subnet_group", r),
          clusterParameterGroup: groupIn("aws_rds_cluster_parameter_group", r),
        },
      ]),
    ),
  };

  it.each(["us-east-1", "us-west-2"])(
    "simulates from %s only database calls the deployed task roles allow",
    (region) => {
      const denied: string[] = [];
      let pairs = 0;
      for (const { job, roleArn, calls } of requiredCalls(topology, settings, region)) {
        if (job === "workflows") continue;
        const statements = policyStatements(json, roleArn.split("/").pop()!).map((s) => ({
          ...s,
          resources: (s.resources ?? []).map(resolve),
        })) as Statement[];
        for (const call of calls) {
          for (const action of call.actions.filter((a) => a.startsWith("rds:"))) {
            for (const resource of call.resources) {
              pairs += 1;
              if (decide(statements, action, resource) !== "allowed") {
                denied.push(`${job}: ${action} on ${resource}`);
              }
            }
          }
        }
      }
      expect(denied).toEqual([]);
      expect(settings.regions[region]!.instanceIdentifiers).toEqual([
        `payments-db-1-${slot[region] === "primary" ? "use1" : "usw2"}-dev`,
        `payments-db-2-${slot[region] === "primary" ? "use1" : "usw2"}-dev`,
      ]);
      // The check still covers the database calls: the failover, re-protect and capacity tasks.
      expect(pairs).toBeGreaterThan(40);
    },
  );

  it("the evaluator used here denies what a role does not grant", () => {
    const statements: Statement[] = [
      { actions: ["rds:DescribeDBInstances"], resources: ["arn:aws:rds:us-east-1:1:db:*"] },
    ];
    expect(decide(statements, "rds:DescribeDBInstances", "arn:aws:rds:us-east-1:1:db:x")).toBe(
      "allowed",
    );
    expect(decide(statements, "rds:DescribeDBInstances", "arn:aws:rds:us-east-1:1:cluster:x")).toBe(
      "implicitDeny",
    );
    expect(decide(statements, "rds:ModifyDBInstance", "arn:aws:rds:us-east-1:1:db:x")).toBe(
      "implicitDeny",
    );
  });
});

describe("the IAM of a snapshot listing filtered by cluster", () => {
  // DescribeDBClusterSnapshots with DBClusterIdentifier returns every snapshot of the cluster:
  // the daily automated ones (`rds:<cluster>-<date>`), AWS Backup's (`awsbackup:job-<id>`),
  // anyone's manual ones, beside Aurora's point-of-failure snapshot. The Service Authorization
  // Reference (Amazon RDS, DescribeDBClusterSnapshots) lists resource types cluster and
  // cluster-snapshot, neither required, and no page says which ARNs a filtered listing is
  // authorized on: so whichever RDS checks (the cluster, or each snapshot it returns), the
  // roles that list must be allowed on all of them.
  const { json } = synth({});
  const resolve = resolver(json);
  const listed = (region: string, cluster: string) => [
    `arn:aws:rds:${region}:${ACCOUNT}:cluster:${cluster}`,
    `arn:aws:rds:${region}:${ACCOUNT}:cluster-snapshot:rds:unplanned-global-failover-${cluster}-2026-11-30-09-02`,
    `arn:aws:rds:${region}:${ACCOUNT}:cluster-snapshot:rds:${cluster}-2026-11-30-02-05`,
    `arn:aws:rds:${region}:${ACCOUNT}:cluster-snapshot:awsbackup:job-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b`,
    `arn:aws:rds:${region}:${ACCOUNT}:cluster-snapshot:before-the-upgrade`,
    `arn:aws:rds:${region}:${ACCOUNT}:cluster-snapshot:${cluster}-at-failover-1a2b3c4d`,
  ];
  const clusters = Object.values(resources(json, "aws_rds_cluster")).map((c) => ({
    region: REGION_OF[String(c.provider)]!,
    cluster: String(c.cluster_identifier),
  }));
  const statementsOf = (fragment: string) =>
    policyStatements(json, fragment).map((s) => ({
      ...s,
      resources: (s.resources ?? []).map(resolve),
    })) as Statement[];
  const operatorDoc = Object.entries(json.data?.aws_iam_policy_document ?? {}).find(([, doc]) =>
    ((doc as { statement?: { sid?: string }[] }).statement ?? []).some(
      (s) => s.sid === "FindPointOfFailureSnapshots",
    ),
  )![0];

  it.each([
    ["re-protect's Rebuild (us-east-1)", "orchestration-primary_task-rebuild_permissions_"],
    ["re-protect's Rebuild (us-west-2)", "orchestration-secondary_task-rebuild_permissions_"],
    ["the on-call operator (payments-dr reconcile)", operatorDoc],
  ])("lets %s list every snapshot a cluster can have", (_, fragment) => {
    const statements = statementsOf(fragment);
    const denied = clusters
      .flatMap(({ region, cluster }) => listed(region, cluster))
      .filter((arn) => decide(statements, "rds:DescribeDBClusterSnapshots", arn) !== "allowed");
    expect(denied).toEqual([]);
    expect(clusters).toHaveLength(2);
  });

  it("still copies and tags only the snapshots re-protect names", () => {
    const statements = statementsOf("orchestration-secondary_task-rebuild_permissions_");
    for (const { region, cluster } of clusters) {
      const automated = `arn:aws:rds:${region}:${ACCOUNT}:cluster-snapshot:rds:${cluster}-2026-11-30-02-05`;
      for (const action of ["rds:CopyDBClusterSnapshot", "rds:AddTagsToResource"]) {
        expect(decide(statements, action, automated)).toBe("implicitDeny");
      }
    }
  });
});
