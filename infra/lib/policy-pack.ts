// The project's policy pack: rules a payment assessor checks, run over the synthesized Terraform
// JSON (what `terraform plan` would create), so a change that widens a privilege or drops a
// hardening setting fails `npm test` with one line per violation. Pure: it reads JSON only.
import type { TerraformJson } from "./synthesized";

export interface Violation {
  /** Terraform address, e.g. `aws_iam_role_policy.dr-iam_primary-task-fence-policy_1A2B`. */
  readonly address: string;
  readonly rule: RuleId;
  /** What to change. */
  readonly fix: string;
}

export type RuleId =
  | "cmk-encryption"
  | "no-star-resource-on-scoped-actions"
  | "conditioned-trust"
  | "no-public-database"
  | "no-open-ingress"
  | "log-retention"
  | "environment-suffix"
  | "destroyable";

export interface PolicyStatement {
  readonly sid?: string;
  readonly effect?: string;
  readonly actions?: readonly string[];
  readonly not_actions?: readonly string[];
  readonly resources?: readonly string[];
  readonly principals?: readonly {
    readonly type: string;
    readonly identifiers: readonly string[];
  }[];
  readonly condition?: readonly {
    readonly test: string;
    readonly variable: string;
    readonly values: readonly string[];
  }[];
}

type Resources = Record<string, Record<string, Record<string, unknown>>>;

/**
 * Write actions AWS authorizes only on "*" (the Service Authorization Reference lists no
 * resource type for them), so `Resource: "*"` is the only way to grant them. Each grant is scoped
 * by a condition where AWS offers one. Keep this list short and each entry justified.
 */
export const STAR_ONLY_ACTIONS: Readonly<Record<string, string>> = {
  "cloudwatch:PutMetricData": "no resource type; scoped by the cloudwatch:namespace condition",
  "cloudwatch:GetMetricData": "no resource type (read)",
  "cloudwatch:GetMetricStatistics": "no resource type (read)",
  "logs:CreateLogDelivery": "Step Functions vended logs: no resource type",
  "logs:GetLogDelivery": "Step Functions vended logs: no resource type",
  "logs:UpdateLogDelivery": "Step Functions vended logs: no resource type",
  "logs:DeleteLogDelivery": "Step Functions vended logs: no resource type",
  "logs:ListLogDeliveries": "Step Functions vended logs: no resource type",
  "logs:PutResourcePolicy": "Step Functions vended logs: no resource type",
  "logs:DescribeResourcePolicies": "no resource type (read)",
  "logs:DescribeLogGroups": "Step Functions vended logs check (read)",
  "xray:PutTraceSegments": "no resource type",
  "xray:PutTelemetryRecords": "no resource type",
  "xray:GetSamplingRules": "no resource type (read)",
  "xray:GetSamplingTargets": "no resource type (read)",
  "states:SendTaskSuccess": "task tokens are not resources",
  "states:SendTaskFailure": "task tokens are not resources",
  "states:SendTaskHeartbeat": "task tokens are not resources",
  "ssm:DescribeAutomationExecutions": "List-type call with no resource type (read)",
  "dynamodb:ListTables": "no resource type (read)",
  "backup:ListCopyJobs": "no resource type (read)",
  "lambda:GetAccountSettings": "no resource type (read)",
  "servicequotas:GetAWSDefaultServiceQuota": "no resource type (read)",
  "cloudwatch:DescribeAlarms": "scoped only by alarm ARN pattern; read",
  "cloudwatch:ListDashboards": "no resource type (read)",
  "ec2:CreateNetworkInterface": "Lambda VPC access: AWS requires * (Lambda creates the ENI)",
  "ec2:DescribeNetworkInterfaces": "no resource type (read)",
  "ec2:DeleteNetworkInterface": "Lambda VPC access: AWS requires *",
  "ec2:AssignPrivateIpAddresses": "Lambda VPC access: AWS requires *",
  "ec2:UnassignPrivateIpAddresses": "Lambda VPC access: AWS requires *",
  "ec2:DescribeSubnets": "no resource type (read)",
  "ec2:DescribeVpcs": "no resource type (read)",
};

const READ_VERBS = /^(Get|Describe|List|BatchGet|Query|Scan|Search|Lookup|View)/;

/** True for actions that change something (everything but reads). */
export function isWriteAction(action: string): boolean {
  const verb = action.split(":")[1] ?? "";
  return !READ_VERBS.test(verb);
}

/** The policy document data source a `${data.aws_iam_policy_document.<name>.json}` names. */
function documentOf(json: TerraformJson, reference: unknown): PolicyStatement[] | undefined {
  if (typeof reference !== "string") return undefined;
  const match = /\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}/.exec(reference);
  if (!match) return undefined;
  const doc = json.data?.aws_iam_policy_document?.[match[1]!] as
    { statement?: PolicyStatement[] } | undefined;
  return doc?.statement ?? [];
}

/** Identity policies (inline role policies) with their statements. */
export function identityPolicies(
  json: TerraformJson,
): { address: string; role: string; statements: PolicyStatement[] }[] {
  const policies = (json.resource?.aws_iam_role_policy ?? {}) as Resources[string];
  return Object.entries(policies).map(([name, p]) => ({
    address: `aws_iam_role_policy.${name}`,
    role: String(p.role),
    statements: documentOf(json, p.policy) ?? [],
  }));
}

export interface IamFigures {
  readonly roles: number;
  readonly inlinePolicies: number;
  readonly managedAttachments: number;
  /** AWS managed policies attached, by ARN (their statements are AWS's, not in the JSON). */
  readonly managedByArn: Readonly<Record<string, number>>;
  readonly statements: number;
  readonly wildcardActionStatements: number;
  readonly starResourceWriteStatements: number;
  /** The remaining `Resource: "*"` write actions, with why each cannot be scoped. */
  readonly starWrites: readonly { address: string; sid: string; actions: string[]; why: string }[];
}

/** The figures the issue asks for, from the synthesized JSON (`npm run policy`). */
export function iamFigures(json: TerraformJson): IamFigures {
  const policies = identityPolicies(json);
  const statements = policies.flatMap((p) =>
    p.statements.map((s) => ({ address: p.address, statement: s })),
  );
  const starWrites = statements
    .filter(({ statement: s }) => (s.resources ?? []).includes("*"))
    .map(({ address, statement: s }) => ({
      address,
      sid: s.sid ?? "",
      actions: (s.actions ?? []).filter(isWriteAction),
    }))
    .filter((s) => s.actions.length > 0)
    .map((s) => ({
      ...s,
      why: s.actions.map((a) => `${a}: ${STAR_ONLY_ACTIONS[a] ?? "NOT JUSTIFIED"}`).join("; "),
    }));
  return {
    roles: Object.keys(json.resource?.aws_iam_role ?? {}).length,
    inlinePolicies: policies.length,
    managedAttachments: Object.keys(json.resource?.aws_iam_role_policy_attachment ?? {}).length,
    managedByArn: Object.values(json.resource?.aws_iam_role_policy_attachment ?? {}).reduce<
      Record<string, number>
    >((acc, a) => {
      const arn = String(a.policy_arn).replace(/^arn:aws:iam::aws:policy\//, "");
      acc[arn] = (acc[arn] ?? 0) + 1;
      return acc;
    }, {}),
    statements: statements.length,
    wildcardActionStatements: statements.filter(({ statement: s }) =>
      (s.actions ?? []).some((a) => a.includes("*")),
    ).length,
    starResourceWriteStatements: starWrites.length,
    starWrites,
  };
}

// ---- rules ----

/** Data stores and the argument that names their customer-managed key. */
const CMK_ARGUMENTS: Readonly<Record<string, (r: Record<string, unknown>) => boolean>> = {
  aws_rds_cluster: (r) => r.storage_encrypted === true && typeof r.kms_key_id === "string",
  aws_dynamodb_table: (r) => {
    const sse = first(r.server_side_encryption);
    return sse?.enabled === true && typeof sse.kms_key_arn === "string";
  },
  aws_sns_topic: (r) => typeof r.kms_master_key_id === "string",
  aws_sqs_queue: (r) => typeof r.kms_master_key_id === "string",
  aws_cloudwatch_log_group: (r) => typeof r.kms_key_id === "string",
  aws_ssm_parameter: (r) => r.type !== "SecureString" || typeof r.key_id === "string",
  aws_backup_vault: (r) => typeof r.kms_key_arn === "string",
  aws_cloudwatch_event_bus: (r) => typeof r.kms_key_identifier === "string",
  aws_sfn_state_machine: (r) => {
    const enc = first(r.encryption_configuration);
    return enc?.type === "CUSTOMER_MANAGED_KMS_KEY" && typeof enc.kms_key_id === "string";
  },
  aws_s3_bucket_server_side_encryption_configuration: (r) => {
    const rule = first(r.rule);
    const by = first(rule?.apply_server_side_encryption_by_default);
    return by?.sse_algorithm === "aws:kms" && typeof by.kms_master_key_id === "string";
  },
  aws_secretsmanager_secret: (r) => typeof r.kms_key_id === "string",
};

function first(value: unknown): Record<string, unknown> | undefined {
  if (Array.isArray(value)) return value[0] as Record<string, unknown> | undefined;
  if (value && typeof value === "object") return value as Record<string, unknown>;
  return undefined;
}

/** Named resource arguments that must carry the environment suffix. */
const NAME_ARGUMENTS = ["name", "function_name", "identifier", "cluster_identifier"];
/** Types whose `name` is not a physical name we choose (or is fixed by AWS). */
const UNNAMED_TYPES = new Set([
  "aws_iam_role_policy", // scoped to its role, which carries the suffix
  "aws_apigatewayv2_stage", // "$default"
  "aws_apigatewayv2_authorizer", // scoped to its API
  "aws_cloudwatch_dashboard", // dashboard_name is checked below
  "aws_route53_zone", // the customer's domain
  "aws_route53_record",
]);

export interface PolicyContext {
  /** The environment suffix every physical name must carry. */
  readonly suffix: string;
}

/** Every violation of the pack in one synthesized stack. */
export function checkPolicies(json: TerraformJson, context: PolicyContext): Violation[] {
  const out: Violation[] = [];
  const resources = (json.resource ?? {}) as Resources;
  const each = (fn: (type: string, name: string, r: Record<string, unknown>) => void) => {
    for (const [type, byName] of Object.entries(resources)) {
      for (const [name, r] of Object.entries(byName)) fn(type, name, r);
    }
  };

  each((type, name, r) => {
    const address = `${type}.${name}`;
    // CMK encryption on every data store that supports it.
    const cmk = CMK_ARGUMENTS[type];
    if (cmk && !cmk(r)) {
      out.push({
        address,
        rule: "cmk-encryption",
        fix: "encrypt it with the region's platform key (customer-managed KMS key)",
      });
    }
    // No public database.
    if (
      (type === "aws_db_instance" || type === "aws_rds_cluster_instance") &&
      r.publicly_accessible === true
    ) {
      out.push({ address, rule: "no-public-database", fix: "set publicly_accessible = false" });
    }
    // No 0.0.0.0/0 (or ::/0) ingress.
    const openIngress = (rule: Record<string, unknown>) =>
      [...asStrings(rule.cidr_blocks), ...asStrings(rule.cidr_ipv4)].includes("0.0.0.0/0") ||
      [...asStrings(rule.ipv6_cidr_blocks), ...asStrings(rule.cidr_ipv6)].includes("::/0");
    if (type === "aws_security_group" || type === "aws_default_security_group") {
      for (const rule of asRecords(r.ingress)) {
        if (openIngress(rule)) {
          out.push({
            address,
            rule: "no-open-ingress",
            fix: "allow a security group or a narrow CIDR instead of 0.0.0.0/0",
          });
        }
      }
    }
    if (
      (type === "aws_security_group_rule" && r.type === "ingress" && openIngress(r)) ||
      (type === "aws_vpc_security_group_ingress_rule" && openIngress(r))
    ) {
      out.push({
        address,
        rule: "no-open-ingress",
        fix: "allow a security group or a narrow CIDR instead of 0.0.0.0/0",
      });
    }
    // Every log group with retention.
    if (
      type === "aws_cloudwatch_log_group" &&
      !(typeof r.retention_in_days === "number" && r.retention_in_days > 0)
    ) {
      out.push({
        address,
        rule: "log-retention",
        fix: "set retention_in_days (config: LOG_RETENTION_*_DAYS)",
      });
    }
    // Every named resource with the suffix.
    if (!UNNAMED_TYPES.has(type)) {
      for (const argument of [...NAME_ARGUMENTS, "dashboard_name"]) {
        const value = r[argument];
        if (typeof value === "string" && !value.includes("${") && !value.includes(context.suffix)) {
          out.push({
            address,
            rule: "environment-suffix",
            fix: `${argument} "${value}" must carry the environment suffix "${context.suffix}" (Naming.name)`,
          });
        }
      }
    }
    // Nothing retained on destroy.
    const lifecycle = first(r.lifecycle);
    if (lifecycle?.prevent_destroy === true) {
      out.push({ address, rule: "destroyable", fix: "remove lifecycle.prevent_destroy" });
    }
    if (type === "aws_rds_cluster" && r.skip_final_snapshot !== true) {
      out.push({ address, rule: "destroyable", fix: "set skip_final_snapshot = true" });
    }
    if (
      (type === "aws_s3_bucket" && r.force_destroy !== true) ||
      (type === "aws_backup_vault" && r.force_destroy === false)
    ) {
      out.push({
        address,
        rule: "destroyable",
        fix: "set force_destroy = true so destroy empties it",
      });
    }
    if (type === "aws_kms_key" && typeof r.deletion_window_in_days !== "number") {
      out.push({
        address,
        rule: "destroyable",
        fix: "set deletion_window_in_days (7) so destroy schedules the key's deletion",
      });
    }
    if (type === "aws_iam_role") {
      const trust = documentOf(json, r.assume_role_policy);
      for (const s of trust ?? []) {
        const conditions = (s.condition ?? []).map((c) => c.variable);
        const services = (s.principals ?? []).filter((p) => p.type === "Service");
        const others = (s.principals ?? []).filter((p) => p.type !== "Service");
        if (services.length > 0 && !conditions.includes("aws:SourceAccount")) {
          out.push({
            address,
            rule: "conditioned-trust",
            fix: "add an aws:SourceAccount condition to the service trust",
          });
        }
        if (others.length > 0 && conditions.length === 0) {
          out.push({
            address,
            rule: "conditioned-trust",
            fix: "condition the trust of AWS principals (aws:PrincipalArn, MFA)",
          });
        }
        if (
          others.some((p) => p.identifiers.some((i) => /:root$/.test(i))) &&
          !conditions.includes("aws:PrincipalArn")
        ) {
          out.push({
            address,
            rule: "conditioned-trust",
            fix: "trust named principals, not the account root",
          });
        }
      }
    }
  });

  // No Resource "*" on actions that support resource-level permissions.
  for (const policy of identityPolicies(json)) {
    for (const s of policy.statements) {
      if (s.effect === "Deny" || !(s.resources ?? []).includes("*")) continue;
      const scoped = (s.actions ?? []).filter((a) => !(a in STAR_ONLY_ACTIONS));
      if (scoped.length > 0) {
        out.push({
          address: policy.address,
          rule: "no-star-resource-on-scoped-actions",
          fix: `statement ${s.sid ?? "(no sid)"}: name the resources of ${scoped.join(", ")} instead of "*"`,
        });
      }
    }
  }
  return out;
}

function asStrings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function asRecords(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? (value as Record<string, unknown>[]) : [];
}

/** One line per violation: address, rule, what to change. */
export function formatViolation(v: Violation): string {
  return `${v.address}: ${v.rule}: ${v.fix}`;
}
