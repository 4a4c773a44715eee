// IAM's policy simulator (SimulatePrincipalPolicy) for the DR roles, evaluating the identity
// policies infra/constructs/dr-iam.ts renders, not a list the test keeps: each task role's
// statements come from `taskStatements` (the infra function its Terraform policy is built from),
// given the environment's concrete ARNs where Terraform would put references (the cluster's
// `arn`, the key's `arn`, ...), in the formats AWS documents for them. What no policy allows is
// denied, as IAM does.
//
// IAM, "Policy evaluation logic" (https://docs.aws.amazon.com/IAM/latest/UserGuide/
// reference_policies_evaluation-logic.html): a request is implicitly denied unless an Allow
// statement matches its action, its resource and all of its conditions; an explicit Deny wins.
// Action names match case-insensitively, resources case-sensitively, both with `*` and `?`
// wildcards ("IAM JSON policy elements: Action / Resource"). A condition whose key the request
// does not carry is not met ("IAM JSON policy elements: Condition operators": "If the key that
// you specify in a policy condition is not present in the request context, the values do not
// match"). The simulator answers one EvaluationResult per action with the decision for each
// resource in ResourceSpecificResults (IAM API Reference, SimulatePrincipalPolicy,
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html), and
// NoSuchEntity for a role that does not exist.
import type { SimulatePrincipalPolicyCommandInput } from "@aws-sdk/client-iam";
import type { DrTopology } from "../../../../functions/common/contract";
import type { ReadinessSettings } from "../../../../functions/monitoring/readiness/core";
import { DR_TASK_NAMES, drTask } from "../../../../functions/dr/tasks";
import type { DrIamProps } from "../../../../infra/constructs/dr-iam";
import { drResourceNames, taskStatements } from "../../../../infra/constructs/dr-iam";
import { Naming } from "../../../../infra/naming";

export interface PolicyStatement {
  effect?: "Allow" | "Deny";
  sid?: string;
  actions: string[];
  resources: string[];
  condition?: { test: string; variable: string; values: string[] }[];
}

/** `*` any run of characters, `?` one; everything else literal. */
function glob(pattern: string, value: string, caseInsensitive = false): boolean {
  const source = pattern
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, caseInsensitive ? "i" : "").test(value);
}

function conditionMet(
  c: { test: string; variable: string; values: string[] },
  context: Record<string, string[]>,
): boolean {
  const given = context[c.variable];
  if (!given) return false;
  const test = (v: string) => {
    switch (c.test) {
      case "StringEquals":
      case "ArnEquals":
        return c.values.includes(v);
      case "StringLike":
      case "ArnLike":
        return c.values.some((p) => glob(p, v));
      default:
        // A condition this model does not know must not pass silently.
        throw new Error(`iam-simulator: condition operator ${c.test} not modelled`);
    }
  };
  return given.some(test);
}

/** The decision for one action on one resource under a role's statements. */
export function decide(
  statements: readonly PolicyStatement[],
  action: string,
  resource: string,
  context: Record<string, string[]>,
): "allowed" | "explicitDeny" | "implicitDeny" {
  const matches = (s: PolicyStatement) =>
    s.actions.some((a) => glob(a, action, true)) &&
    s.resources.some((r) => glob(r, resource)) &&
    (s.condition ?? []).every((c) => conditionMet(c, context));
  if (statements.some((s) => s.effect === "Deny" && matches(s))) return "explicitDeny";
  return statements.some((s) => s.effect !== "Deny" && matches(s)) ? "allowed" : "implicitDeny";
}

/**
 * The DrIamProps dr-iam.ts reads, as plain values: what Terraform resolves at apply (ARNs, IDs)
 * given in the formats AWS documents (RDS cluster `arn:aws:rds:<region>:<account>:cluster:<id>`,
 * Amazon RDS User Guide, "Amazon Resource Names (ARNs) in Amazon RDS"), the names from the same
 * naming rules infra uses.
 */
export function concreteIamProps(
  topology: DrTopology,
  settings: ReadinessSettings,
): { props: DrIamProps; naming: Naming } {
  const naming = new Naming(topology.environmentSuffix);
  const [primary, secondary] = Object.values(topology.regions).sort((a) =>
    a.role === "primary" ? -1 : 1,
  ) as [DrTopology["regions"][string], DrTopology["regions"][string]];
  const account = settings.accountId;
  const slot = (r: typeof primary, count: number) => ({
    cluster: { arn: r.clusterArn },
    instances: Array.from({ length: count }, () => ({})),
    storageKeyArn: settings.regions[r.region]!.keyArns[0],
    spec: {
      clusterIdentifier: r.clusterIdentifier,
      dbSubnetGroupName: settings.regions[r.region]!.subnetGroup,
      dbClusterParameterGroupName: settings.regions[r.region]!.clusterParameterGroup,
    },
  });
  const region = (r: typeof primary) => ({
    region: r.region,
    key: { arn: settings.regions[r.region]!.keyArns[1], accountId: account },
    alerts: { topic: { arn: r.alertTopicArn } },
    bus: { bus: { arn: `arn:aws:events:${r.region}:${account}:event-bus/${r.eventBusName}` } },
  });
  const props = {
    naming,
    database: {
      globalCluster: { globalClusterIdentifier: topology.globalClusterIdentifier },
      primary: slot(primary, settings.database.writerInstances),
      secondary: slot(secondary, settings.database.standbyInstances),
      spec: { monitoringRoleArn: settings.database.monitoringRoleArn },
    },
    controlTable: { name: topology.controlTable },
    primary: region(primary),
    secondary: region(secondary),
    routing: {
      primaryHealthCheck: { id: primary.healthCheckId },
      secondaryHealthCheck: { id: secondary.healthCheckId },
    },
    ...(topology.dns ? { zone: { zone: { zoneId: topology.dns.hostedZoneId } } } : {}),
  } as unknown as DrIamProps;
  return { props, naming };
}

/** Each DR role's identity policy, by role ARN, as dr-iam.ts renders it for this environment. */
export function drRolePolicies(
  topology: DrTopology,
  settings: ReadinessSettings,
): Map<string, PolicyStatement[]> {
  const { props, naming } = concreteIamProps(topology, settings);
  const policies = new Map<string, PolicyStatement[]>();
  for (const region of Object.keys(topology.regions)) {
    for (const task of DR_TASK_NAMES) {
      policies.set(
        settings.regions[region]!.taskRoleArns[task]!,
        taskStatements(drTask(task).permissions, props, region) as PolicyStatement[],
      );
    }
    // The state machines' role: InvokeTheirTasks (dr-iam.ts), that region's task functions.
    policies.set(settings.regions[region]!.workflowRoleArn, [
      {
        sid: "InvokeTheirTasks",
        actions: ["lambda:InvokeFunction"],
        resources: drResourceNames(naming).functions.map(
          (f) => `arn:aws:lambda:${region}:${settings.accountId}:function:${f}`,
        ),
      },
    ]);
  }
  return policies;
}

/** A role loses `action` (on `resource` only, when given): a missing grant, as a drifted role. */
export function revoke(
  policies: Map<string, PolicyStatement[]>,
  roleArn: string,
  action: string,
  resource?: string,
): void {
  const statements = policies.get(roleArn);
  if (!statements) throw new Error(`iam-simulator: no role ${roleArn}`);
  if (!statements.some((s) => s.actions.includes(action))) {
    throw new Error(`iam-simulator: ${roleArn} has no ${action} to revoke`);
  }
  policies.set(
    roleArn,
    statements.flatMap((s) => {
      if (!s.actions.includes(action)) return [s];
      const others = { ...s, actions: s.actions.filter((a) => a !== action) };
      const kept = resource
        ? [{ ...s, actions: [action], resources: s.resources.filter((r) => r !== resource) }]
        : [];
      return [others, ...kept].filter((x) => x.actions.length > 0 && x.resources.length > 0);
    }),
  );
}

/** SimulatePrincipalPolicy's answer for these policies, or the error IAM throws. */
export function simulatePrincipalPolicy(
  policies: ReadonlyMap<string, readonly PolicyStatement[]>,
  input: SimulatePrincipalPolicyCommandInput,
) {
  const statements = policies.get(input.PolicySourceArn!);
  if (!statements) {
    throw Object.assign(new Error(`The role with name ${input.PolicySourceArn} cannot be found.`), {
      name: "NoSuchEntityException",
      $metadata: { httpStatusCode: 404 },
      $fault: "client",
    });
  }
  const context: Record<string, string[]> = Object.fromEntries(
    (input.ContextEntries ?? []).map((e) => [e.ContextKeyName!, e.ContextKeyValues ?? []]),
  );
  return {
    IsTruncated: false,
    EvaluationResults: input.ActionNames!.map((action) => {
      const perResource = (input.ResourceArns ?? ["*"]).map((resource) => ({
        EvalResourceName: resource,
        EvalResourceDecision: decide(statements, action, resource, context),
      }));
      const denied = perResource.find((p) => p.EvalResourceDecision !== "allowed");
      return {
        EvalActionName: action,
        EvalDecision: denied ? denied.EvalResourceDecision : ("allowed" as const),
        ResourceSpecificResults: perResource,
      };
    }),
  };
}
