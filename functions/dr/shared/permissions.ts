// What a DR task may call, declared next to its definition (each core's `*_TASK.permissions`),
// at the level of the ports its core uses. The infrastructure turns a declaration into the IAM
// policy of that task's own role (infra/constructs/dr-iam.ts), so adding a task without
// declaring its calls fails the type check, and a call the declaration lacks fails the workflow
// tests the way AWS would fail it: with AccessDenied (test/state-machines/support/harness.ts).
import type { PARAMETERS } from "../../common/contract";
import type {
  ControlPort,
  DatabasePort,
  DnsPort,
  EventsPort,
  MetricsPort,
  NotifierPort,
  ParametersPort,
  ReplicaPort,
  ReportsPort,
} from "./ports";

type Methods<P> = {
  [K in keyof P]: P[K] extends (...args: never[]) => unknown ? K : never;
}[keyof P];

export type DatabaseCall = Methods<DatabasePort>;
export type ControlCall = Methods<ControlPort>;
export type MetricsCall = Methods<MetricsPort>;
export type EventsCall = Methods<EventsPort>;
export type NotifierCall = Methods<NotifierPort>;
export type DnsCall = Methods<DnsPort>;
export type ParametersCall = Methods<ParametersPort>;
export type ReplicaCall = Methods<ReplicaPort>;
export type ReportsCall = Methods<ReportsPort>;

export type ParameterKey = keyof typeof PARAMETERS;

/**
 * The parameters a workflow may write: the writer endpoint and the active region. Never the
 * password or the API keys (the type refuses them, and the policy pack checks the result).
 */
export const WRITABLE_PARAMETERS = ["writerEndpoint", "activeRegion"] as const;
export type WritableParameterKey = (typeof WRITABLE_PARAMETERS)[number];

/** SecureString parameters (platform CMK): reading one decrypts through KMS. */
export const SECURE_PARAMETERS: readonly ParameterKey[] = ["password", "apiKeys", "drVerifyApiKey"];

export interface TaskPermissions {
  /**
   * Aurora calls, on the global cluster and both regional clusters (re-protect's also on what it
   * creates, renames and snapshots there, by exact name).
   */
  readonly database?: readonly DatabaseCall[];
  /** The control table (fencing flag, lock, cooldown), in either region's replica. */
  readonly control?: readonly ControlCall[];
  /** SSM parameters by key (`PARAMETERS`), read and written in either region. */
  readonly parameters?: {
    readonly read?: readonly ParameterKey[];
    readonly write?: readonly WritableParameterKey[];
  };
  readonly metrics?: readonly MetricsCall[];
  /** The region's DR event bus. */
  readonly events?: readonly EventsCall[];
  /** The region's alert topic. */
  readonly notifier?: readonly NotifierCall[];
  /** Route 53 (the hosted zone's failover records and the two health checks). */
  readonly dns?: readonly DnsCall[];
  /** A region's writer heartbeat, read through its own /health (HTTPS): no AWS permission. */
  readonly replica?: readonly ReplicaCall[];
  /** The report writer of the region the task runs in (lambda:InvokeFunction). */
  readonly reports?: readonly ReportsCall[];
  /** Plain HTTPS to the regions' payment APIs (Verify): no AWS permission. */
  readonly http?: boolean;
}

/**
 * The IAM action each port method's AWS adapter needs: the API operation it sends (IAM action
 * names are the API operation names; Service Authorization Reference). Checked against what the
 * adapters actually send in test/functions/dr/permissions.test.ts.
 */
export const PORT_ACTIONS = {
  database: {
    describeGlobalCluster: ["rds:DescribeGlobalClusters"],
    describeCluster: ["rds:DescribeDBClusters"],
    failoverGlobalCluster: ["rds:FailoverGlobalCluster"],
    switchoverGlobalCluster: ["rds:SwitchoverGlobalCluster"],
    removeFromGlobalCluster: ["rds:RemoveFromGlobalCluster"],
    // Capacity after a promotion (functions/dr/restore-capacity).
    instances: ["rds:DescribeDBInstances"],
    // Re-protect (functions/dr/rebuild). What IAM also checks beyond the operation itself (the
    // tags on a snapshot, the KMS grant for the new secondary's key, passing the monitoring
    // role) is not an SDK call; infra/constructs/dr-iam.ts adds it to the same method.
    describeInstance: ["rds:DescribeDBInstances"],
    describeClusterSnapshot: ["rds:DescribeDBClusterSnapshots"],
    createClusterSnapshot: ["rds:CreateDBClusterSnapshot"],
    listClusterSnapshots: ["rds:DescribeDBClusterSnapshots"],
    copyClusterSnapshot: ["rds:CopyDBClusterSnapshot"],
    renameCluster: ["rds:ModifyDBCluster"],
    renameInstance: ["rds:ModifyDBInstance"],
    unprotectGlobalCluster: ["rds:ModifyGlobalCluster"],
    deleteGlobalCluster: ["rds:DeleteGlobalCluster"],
    createGlobalCluster: ["rds:CreateGlobalCluster"],
    createSecondaryCluster: ["rds:CreateDBCluster"],
    // Both: Rebuild and RestoreCapacity. The one command it sends; what AWS also authorizes with
    // it (rds:AddTagsToResource for the tags in the request, iam:PassRole of the monitoring role,
    // the Performance Insights key) is in CREATE_INSTANCE_IMPLIED_ACTIONS, added by dr-iam.ts.
    createInstance: ["rds:CreateDBInstance"],
    // RestoreCapacity, on a planned move: the readers it added to the region being left.
    deleteInstance: ["rds:DeleteDBInstance"],
  },
  control: {
    getActiveRegion: ["dynamodb:GetItem"],
    putActiveRegion: ["dynamodb:UpdateItem"],
    setPhase: ["dynamodb:UpdateItem"],
    markPromoting: ["dynamodb:UpdateItem"],
    renewPeerLease: ["dynamodb:UpdateItem"],
    getLock: ["dynamodb:GetItem"],
    putLock: ["dynamodb:PutItem"],
    claimLock: ["dynamodb:PutItem"],
    recordFact: ["dynamodb:UpdateItem"],
    renewLock: ["dynamodb:UpdateItem"],
    deleteLock: ["dynamodb:DeleteItem"],
    getCooldown: ["dynamodb:GetItem"],
    putCooldown: ["dynamodb:PutItem"],
    getReadiness: ["dynamodb:GetItem"],
    putReadiness: ["dynamodb:PutItem"],
    getHeartbeatWatch: ["dynamodb:GetItem"],
    putHeartbeatWatch: ["dynamodb:PutItem"],
  },
  parameters: {
    get: ["ssm:GetParameter"],
    put: ["ssm:PutParameter"],
  },
  metrics: {
    put: ["cloudwatch:PutMetricData"],
    replicationLag: ["cloudwatch:GetMetricData"],
    probeResults: ["cloudwatch:GetMetricData"],
    replicationLagHistory: ["cloudwatch:GetMetricData"],
  },
  events: { put: ["events:PutEvents"] },
  notifier: { publish: ["sns:Publish"] },
  dns: {
    healthCheckStatus: ["route53:GetHealthCheckStatus"],
    failoverRecords: ["route53:ListResourceRecordSets"],
    makePrimary: ["route53:ChangeResourceRecordSets"],
  },
  // The region's heartbeat reader through the Lambda API (then HTTPS to its /health, which needs
  // nothing in IAM): functions/dr/shared/aws/replica.ts.
  replica: { writerHeartbeat: ["lambda:InvokeFunction"] },
  reports: { submit: ["lambda:InvokeFunction"] },
} as const satisfies {
  database: Record<DatabaseCall, readonly string[]>;
  control: Record<ControlCall, readonly string[]>;
  parameters: Record<ParametersCall, readonly string[]>;
  metrics: Record<MetricsCall, readonly string[]>;
  events: Record<EventsCall, readonly string[]>;
  notifier: Record<NotifierCall, readonly string[]>;
  dns: Record<DnsCall, readonly string[]>;
  replica: Record<ReplicaCall, readonly string[]>;
  reports: Record<ReportsCall, readonly string[]>;
};

export type PortName = keyof typeof PORT_ACTIONS;

/**
 * The kinds of RDS resource a database call is authorized on, by port method: the one map
 * infra/constructs/dr-iam.ts builds each task role's database statements from and the readiness
 * evaluator simulates those roles with (functions/monitoring/readiness/core.ts), so the two
 * cannot drift. Every kind names the ARNs of both regions (the writer can be either):
 * - globalCluster: the global cluster; clusters: the two member clusters;
 * - anyInstance: `db:*` (DescribeDBInstances filtered by cluster names no instance);
 * - instances / keptInstances: the instances Terraform gives a cluster, and those names with
 *   `-detached-*` (re-protect keeps the old primary's instances under that name);
 * - restoredReaders: the instance names beyond the standby's count, which only RestoreCapacity
 *   creates in a standby region (DB_SECONDARY_INSTANCES < n <= DB_PRIMARY_INSTANCES);
 * - keptClusters: `<cluster>-detached-*`; snapshots: `<cluster>-at-reprotect-*`;
 * - pointOfFailure: Aurora's `rds:unplanned-global-failover-<cluster>-*`; pointOfFailureCopies:
 *   re-protect's `<cluster>-at-failover-*`; anyClusterSnapshot: `cluster-snapshot:*` (a listing);
 * - subnetGroups, clusterParameterGroups, defaultParameterGroups (`default.aurora-postgresql*`).
 * Service Authorization Reference, Amazon RDS (https://docs.aws.amazon.com/service-authorization/
 * latest/reference/list_amazonrds.html) lists the resource types each action is authorized on.
 */
export const DATABASE_RESOURCES = {
  describeGlobalCluster: ["globalCluster"],
  describeCluster: ["clusters", "keptClusters"],
  failoverGlobalCluster: ["globalCluster", "clusters"],
  switchoverGlobalCluster: ["globalCluster", "clusters"],
  removeFromGlobalCluster: ["globalCluster", "clusters"],
  // Filtered by cluster, the request names no instance: the instances of the two regions
  // (Service Authorization Reference, Amazon RDS: DescribeDBInstances, db*).
  instances: ["anyInstance"],
  describeInstance: ["instances", "keptInstances"],
  describeClusterSnapshot: ["snapshots", "pointOfFailureCopies"],
  createClusterSnapshot: ["clusters", "snapshots"],
  // Service Authorization Reference, Amazon RDS, DescribeDBClusterSnapshots: resource types
  // "cluster" and "cluster-snapshot", neither marked required, and nothing says which ARN a
  // listing filtered by DBClusterIdentifier is authorized on. The listing returns every snapshot
  // of the cluster: the daily automated `rds:<cluster>-<date>`, AWS Backup's `awsbackup:job-*`,
  // anyone's manual ones, not only the names re-protect reads. Naming only those names would be
  // denied if RDS authorizes the snapshots it returns, so the listing is granted on the two
  // clusters and on every cluster snapshot of the two regions: a List-level read of metadata;
  // copying and tagging stay on exact names.
  listClusterSnapshots: ["clusters", "anyClusterSnapshot"],
  // The source (Aurora's system snapshot) and the target (the manual copy).
  copyClusterSnapshot: ["pointOfFailure", "pointOfFailureCopies"],
  renameCluster: ["clusters", "keptClusters"],
  renameInstance: ["instances", "keptInstances"],
  // Deletion protection off on the stale, empty global cluster, before deleting it.
  unprotectGlobalCluster: ["globalCluster"],
  deleteGlobalCluster: ["globalCluster"],
  createGlobalCluster: ["globalCluster", "clusters"],
  createSecondaryCluster: ["globalCluster", "clusters", "subnetGroups", "clusterParameterGroups"],
  createInstance: ["instances", "clusters", "subnetGroups", "defaultParameterGroups"],
  // Only the identifiers beyond the standby's count (never Terraform's standby instances), and
  // dr-iam.ts conditions it on RestoreCapacity's created-by tag.
  deleteInstance: ["restoredReaders"],
} as const satisfies Record<DatabaseCall, readonly DatabaseResourceKind[]>;

export type DatabaseResourceKind =
  | "globalCluster"
  | "clusters"
  | "anyInstance"
  | "instances"
  | "keptInstances"
  | "restoredReaders"
  | "keptClusters"
  | "snapshots"
  | "pointOfFailure"
  | "pointOfFailureCopies"
  | "anyClusterSnapshot"
  | "subnetGroups"
  | "clusterParameterGroups"
  | "defaultParameterGroups";

/**
 * The tag RestoreCapacity gives the readers it creates: the mark of an instance Terraform does
 * not own (adopting one, DB_ADOPT_RESTORED_READERS, removes it), and the condition on the only
 * delete of an instance a DR role may make (infra/constructs/dr-iam.ts).
 */
export const RESTORED_BY_TAG = {
  Key: "created-by",
  Value: "payments-dr-restore-capacity",
} as const;

/**
 * What CreateDBInstance is also authorized for, without a command of its own: the tags in the
 * request (rds:AddTagsToResource, "Tagging Amazon RDS resources"; RDS checks it when a create
 * carries tags), and passing the Enhanced Monitoring role (iam:PassRole, "Setting up and enabling
 * Enhanced Monitoring"). Resources and conditions are in infra/constructs/dr-iam.ts.
 */
export const CREATE_INSTANCE_IMPLIED_ACTIONS = ["rds:AddTagsToResource", "iam:PassRole"] as const;

/** The port methods a declaration allows, as `port.method` (parameters by read/write). */
export function allowedCalls(permissions: TaskPermissions): Set<string> {
  const calls = new Set<string>();
  for (const port of [
    "database",
    "control",
    "metrics",
    "events",
    "notifier",
    "dns",
    "replica",
    "reports",
  ] as const) {
    for (const method of permissions[port] ?? []) calls.add(`${port}.${method}`);
  }
  if ((permissions.parameters?.read ?? []).length > 0) calls.add("parameters.get");
  if ((permissions.parameters?.write ?? []).length > 0) calls.add("parameters.put");
  return calls;
}

/** Does the declaration allow any AWS call at all? (A task that calls nothing is a mistake.) */
export function declaresAnything(permissions: TaskPermissions): boolean {
  return allowedCalls(permissions).size > 0 || permissions.http === true;
}
