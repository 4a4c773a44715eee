// The one contract between what a DR task calls and what its role is granted: a task's
// declaration (`*_TASK.permissions`) as IAM grants (actions, resource ARNs, conditions), built
// from the ARNs of the environment. The infrastructure renders the grants as the task role's
// policy (infra/constructs/dr-iam.ts, ARNs from the Terraform resources); the readiness
// evaluator simulates the same grants against the deployed role (functions/monitoring/readiness,
// ARNs rebuilt at runtime from the account, regions, suffix and names it is given). Neither side
// keeps its own list, so the check cannot ask for less than the workflows need, nor more than
// the roles are meant to have. Pure: no AWS imports.
import { METRICS, PARAMETERS } from "../../common/contract";
import type { DatabaseResourceKind, ParameterKey, TaskPermissions } from "./permissions";
import {
  CREATE_INSTANCE_IMPLIED_ACTIONS,
  DATABASE_RESOURCES,
  PORT_ACTIONS,
  RESTORED_BY_TAG,
  SECURE_PARAMETERS,
  WRITABLE_PARAMETERS,
} from "./permissions";

export interface GrantCondition {
  test: string;
  variable: string;
  values: string[];
}

/** One IAM statement of a task's role (the shape of a policy document statement). */
export interface Grant {
  sid: string;
  actions: string[];
  resources: string[];
  condition?: GrantCondition[];
}

/** The ARNs the grants name, in both regions (the writer can be either). */
export interface GrantTargets {
  /** Both regions, for the services' `kms:ViaService` endpoints. */
  readonly regions: readonly string[];
  /** Each kind of RDS resource a database call is authorized on (DATABASE_RESOURCES). */
  readonly database: Readonly<Record<DatabaseResourceKind, readonly string[]>>;
  /** The Aurora storage keys (the multi-Region key and its replica). */
  readonly storageKeys: readonly string[];
  /** The platform keys (control table, SecureString parameters, alert topics). */
  readonly platformKeys: readonly string[];
  /** The RDS Enhanced Monitoring role new instances are created with. */
  readonly monitoringRole: string;
  readonly controlTables: readonly string[];
  readonly parameters: (keys: readonly ParameterKey[]) => string[];
  readonly buses: readonly string[];
  readonly topics: readonly string[];
  /** The report writer of the region the task runs in. */
  readonly reportWriter: string;
  /** Both regions' heartbeat readers (WRITER_HEARTBEAT.readerComponent). */
  readonly heartbeatReaders: readonly string[];
  readonly healthChecks: readonly string[];
  /** The hosted zone's ARN; undefined without a domain (no record calls). */
  readonly hostedZone?: string;
}

const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * A customer-managed key used only through the named services in the two regions (kms:ViaService,
 * AWS KMS Developer Guide, https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).
 */
function kmsVia(
  sid: string,
  actions: string[],
  keys: readonly string[],
  targets: GrantTargets,
  services: string[],
): Grant {
  return {
    sid,
    actions,
    resources: [...keys],
    condition: [
      {
        test: "StringEquals",
        variable: "kms:ViaService",
        values: targets.regions.flatMap((r) => services.map((s) => `${s}.${r}.amazonaws.com`)),
      },
    ],
  };
}

/**
 * A task's declaration as IAM grants (one per port method, so each names its resources). The
 * action of each method is the one its adapter sends (PORT_ACTIONS, checked against the adapters
 * in test/functions/dr/permissions.test.ts); what AWS also authorizes with a call without a
 * command of its own (tags at creation, passing the monitoring role, the customer-managed keys
 * a service uses on the caller's behalf) is added here, next to the call that needs it.
 */
export function taskGrants(permissions: TaskPermissions, targets: GrantTargets): Grant[] {
  const grants: Grant[] = [];
  const add = (sid: string, actions: string[], resources: string[], condition?: GrantCondition[]) =>
    grants.push({ sid, actions, resources, ...(condition ? { condition } : {}) });

  const database = new Set(permissions.database ?? []);
  for (const method of database) {
    const actions = [...PORT_ACTIONS.database[method]];
    // Describe of the global cluster names only it; the changes are authorized on the global
    // cluster and the member clusters (Service Authorization Reference, Amazon RDS). Re-protect's
    // calls name exactly what they create, rename and snapshot, in both regions (the writer can
    // be either: WRITER_REGION).
    const resources = DATABASE_RESOURCES[method].flatMap((k) => [...targets.database[k]]);
    if (method === "deleteInstance") {
      // Only what RestoreCapacity itself created: its created-by tag, which Terraform removes
      // when it adopts a reader (DB_ADOPT_RESTORED_READERS), so an adopted reader is safe too.
      // DeleteDBInstance is authorized on the db resource with aws:ResourceTag (Service
      // Authorization Reference, Amazon RDS).
      if (resources.length > 0) {
        add(`Database${pascal(method)}`, actions, resources, [
          {
            test: "StringEquals",
            variable: `aws:ResourceTag/${RESTORED_BY_TAG.Key}`,
            values: [RESTORED_BY_TAG.Value],
          },
        ]);
      }
      continue;
    }
    add(`Database${pascal(method)}`, actions, resources);
    if (method === "createClusterSnapshot") {
      // Tags given at creation are authorized as rds:AddTagsToResource on the new resource
      // (RDS User Guide, "Tagging Amazon RDS resources": "you must have the
      // rds:AddTagsToResource permission").
      add("TagTheKeptSnapshot", ["rds:AddTagsToResource"], [...targets.database.snapshots]);
    }
    if (method === "copyClusterSnapshot") {
      add(
        "TagThePointOfFailureCopy",
        ["rds:AddTagsToResource"],
        [...targets.database.pointOfFailureCopies],
      );
    }
    if (
      method === "createSecondaryCluster" ||
      method === "createInstance" ||
      method === "copyClusterSnapshot"
    ) {
      // The new secondary's storage, its instances' Performance Insights and the copy of the
      // point-of-failure snapshot use that region's storage key (the multi-Region replica).
      // Aurora, "AWS KMS key management" (https://docs.aws.amazon.com/AmazonRDS/latest/
      // AuroraUserGuide/Overview.Encryption.Keys.html, "Authorizing use of a customer managed
      // key"): "To create an Aurora resource using a customer managed key, a user must have
      // permissions to call the following operations on the customer managed key:
      // kms:CreateGrant, kms:DescribeKey", and "use the kms:ViaService condition key to allow
      // the user to create grants on the KMS key only when the grant is created on the user's
      // behalf by an AWS service". RDS does the cryptography under that grant: no Decrypt or
      // GenerateDataKey for the caller. One statement for the three methods.
      if (!grants.some((g) => g.sid === "StorageKeysThroughRds")) {
        grants.push(
          kmsVia(
            "StorageKeysThroughRds",
            ["kms:CreateGrant", "kms:DescribeKey"],
            targets.storageKeys,
            targets,
            ["rds"],
          ),
        );
      }
    }
    if (method === "createInstance") {
      // Tags given at creation (RestoreCapacity's created-by) are authorized as
      // rds:AddTagsToResource on the new instance (RDS User Guide, "Tagging Amazon RDS resources").
      add(
        "DatabaseTagNewInstance",
        [CREATE_INSTANCE_IMPLIED_ACTIONS[0]],
        [...targets.database.instances],
      );
      // Enhanced Monitoring: the instance is created with the monitoring role, which the caller
      // passes: "The user that enables Enhanced Monitoring must be granted the PassRole
      // permission" (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/
      // USER_Monitoring.OS.Enabling.html). AWS's own example (IAM User Guide,
      // https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html, Example 2)
      // grants PassRole on the one role and names no iam:PassedToService value; the role's
      // trusted principal is monitoring.rds.amazonaws.com, while the request that passes it is
      // RDS's CreateDBInstance, and AWS's NeptuneFullAccess managed policy (Neptune User Guide),
      // which passes roles through the same RDS API, conditions PassRole on
      // "iam:passedToService": "rds.amazonaws.com". No AWS page says which of the two RDS
      // reports for the monitoring role: both are allowed, on this one role only (whose trust
      // admits monitoring.rds.amazonaws.com alone), rather than risk an AccessDenied in the
      // middle of a re-protect.
      add(
        "PassTheMonitoringRole",
        [CREATE_INSTANCE_IMPLIED_ACTIONS[1]],
        [targets.monitoringRole],
        [
          {
            test: "StringEquals",
            variable: "iam:PassedToService",
            values: ["rds.amazonaws.com", "monitoring.rds.amazonaws.com"],
          },
        ],
      );
    }
  }

  const control = new Set(permissions.control ?? []);
  if (control.size > 0) {
    const actions = new Set<string>();
    for (const method of control) {
      for (const action of PORT_ACTIONS.control[method]) actions.add(action);
    }
    add("ControlTable", [...actions].sort(), [...targets.controlTables]);
    const writes = [...actions].some((x) => x !== "dynamodb:GetItem");
    // The table's customer-managed key, through DynamoDB only: reads decrypt, writes also
    // encrypt (DynamoDB, "Encryption at rest: how it works").
    grants.push(
      kmsVia(
        "ControlTableKey",
        writes ? ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"],
        targets.platformKeys,
        targets,
        ["dynamodb"],
      ),
    );
  }

  const reads = [...new Set(permissions.parameters?.read ?? [])];
  const writes = [...new Set(permissions.parameters?.write ?? [])];
  for (const key of writes) {
    if (!(WRITABLE_PARAMETERS as readonly string[]).includes(key)) {
      throw new Error(
        `a DR task may write only ${WRITABLE_PARAMETERS.join(", ")}, got parameter ${key}`,
      );
    }
  }
  if (reads.length > 0) add("ReadParameters", ["ssm:GetParameter"], targets.parameters(reads));
  if (writes.length > 0) add("WriteParameters", ["ssm:PutParameter"], targets.parameters(writes));
  if (reads.some((k) => SECURE_PARAMETERS.includes(k))) {
    grants.push(
      kmsVia("SecureParameterKey", ["kms:Decrypt"], targets.platformKeys, targets, ["ssm"]),
    );
  }

  const metrics = new Set(permissions.metrics ?? []);
  if (metrics.has("put")) {
    add(
      "PublishDrMetrics",
      ["cloudwatch:PutMetricData"],
      ["*"],
      [{ test: "StringEquals", variable: "cloudwatch:namespace", values: [METRICS.namespace] }],
    );
  }
  if (
    ["replicationLag", "probeResults", "replicationLagHistory"].some((m) => metrics.has(m as never))
  ) {
    // GetMetricData takes no resource (Service Authorization Reference, CloudWatch).
    add("ReadMetrics", ["cloudwatch:GetMetricData"], ["*"]);
  }
  if ((permissions.events ?? []).includes("put")) {
    add("Timeline", ["events:PutEvents"], [...targets.buses]);
  }
  if ((permissions.notifier ?? []).includes("publish")) {
    add("Page", ["sns:Publish"], [...targets.topics]);
    // SNS encrypts with the topic's key on the publisher's behalf (SNS, "Encryption at rest").
    grants.push(
      kmsVia("TopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], targets.platformKeys, targets, [
        "sns",
      ]),
    );
  }
  if ((permissions.replica ?? []).includes("writerHeartbeat")) {
    // The heartbeat reader of the region read (a task reads the target's or its own), invoked
    // synchronously (functions/dr/shared/aws/replica.ts, review 23-18 H2).
    add("ReadWriterHeartbeat", ["lambda:InvokeFunction"], [...targets.heartbeatReaders]);
  }
  if ((permissions.reports ?? []).includes("submit")) {
    // The report writer of the region the task runs in, invoked asynchronously.
    add("WriteRunReport", ["lambda:InvokeFunction"], [targets.reportWriter]);
  }
  const dns = new Set(permissions.dns ?? []);
  if (dns.has("healthCheckStatus")) {
    add("ReadHealthChecks", ["route53:GetHealthCheckStatus"], [...targets.healthChecks]);
  }
  if (targets.hostedZone) {
    const zone = [targets.hostedZone];
    if (dns.has("failoverRecords"))
      add("ReadFailoverRecords", ["route53:ListResourceRecordSets"], zone);
    if (dns.has("makePrimary"))
      add("SwapFailoverRecords", ["route53:ChangeResourceRecordSets"], zone);
  }
  return grants;
}

/** An SSM parameter's ARN (the prefix starts with `/`). */
export function parameterArn(region: string, account: string, prefix: string, key: ParameterKey) {
  return `arn:aws:ssm:${region}:${account}:parameter${prefix}/${PARAMETERS[key]}`;
}
