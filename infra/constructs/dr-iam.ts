import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Construct } from "constructs";
import { PARAMETERS, heartbeatReaderName } from "../../functions/common/contract";
import type { TaskPermissions } from "../../functions/dr/shared/permissions";
import { SECURE_PARAMETERS } from "../../functions/dr/shared/permissions";
import type { GrantTargets } from "../../functions/dr/shared/grants";
import { taskGrants } from "../../functions/dr/shared/grants";
import type { DrTaskName } from "../../functions/dr/tasks";
import { drTask } from "../../functions/dr/tasks";
import type { Statement } from "../lib/policy";
import { policyDocument } from "../lib/policy";
import { onCallPrincipals, onCallTrust } from "../lib/on-call";
import type { Naming } from "../naming";
import { WORKFLOWS } from "../lib/asl";
import type { GlobalDatabase } from "./database";
import { instanceIdentifier } from "./database";
import { DRILL_RUNBOOK } from "./drills";
import { READINESS_COMPONENT } from "./readiness";
import { reconcileNames } from "./reconcile";
import { drTaskFunctionNames } from "./orchestration";
import { REPORT_FUNCTIONS } from "./reports";
import type { RegionalEventBus } from "./events";
import type { PlatformKey } from "./keys";
import type { AlertTopic } from "./observability";
import type { FailoverRouting, PublicZone } from "./routing";
import type { GlobalTable } from "./tables";

export interface DrRegionResources {
  readonly provider: AwsProvider;
  readonly region: string;
  readonly alerts: AlertTopic;
  readonly bus: RegionalEventBus;
  readonly key: PlatformKey;
}

export interface DrIamProps {
  readonly naming: Naming;
  readonly database: GlobalDatabase;
  readonly controlTable: GlobalTable;
  readonly primary: DrRegionResources;
  readonly secondary: DrRegionResources;
  /** The Route 53 health checks (created with or without a domain). */
  readonly routing: FailoverRouting;
  /** @default - no hosted zone: no record permissions */
  readonly zone?: PublicZone;
  /**
   * IAM principals (role or user ARNs, `*` allowed in the name) that may assume the operator
   * role, with MFA. @default - the on-call role `payments-dr-oncall-<suffix>` of this account
   */
  readonly operatorPrincipalArns?: readonly string[];
  /**
   * The evidence on-call reads (report buckets, the ledger in each region, the dashboard's ledger
   * widget). @default - none
   */
  readonly reports?: {
    readonly bucketArns: string[];
    readonly ledgerArns: string[];
    readonly widgetFunctionArn: string;
  };
  /**
   * The slot holding the writer (WRITER_REGION). EventBridge's rules (the failover trigger, the
   * drill schedule) live in the other slot, the standby. @default "primary"
   */
  readonly writer?: Key;
}

type Key = "primary" | "secondary";
const KEYS: readonly Key[] = ["primary", "secondary"];

// How recent the operator's MFA must be, and the on-call roles' trust: infra/lib/on-call.ts.
export { OPERATOR_MFA_MAX_AGE_SECONDS } from "../lib/on-call";

/**
 * Names of what the DR roles run or start, identical in both regions. They are derived from the
 * naming rules and the task registry rather than taken from the resources, because those
 * resources (state machines, task functions, the drill document) are created after these roles
 * and their policies: Step Functions checks its logging permissions when a state machine is
 * created, so a reference to it here would be a cycle.
 */
export function drResourceNames(naming: Naming) {
  return {
    stateMachines: WORKFLOWS.map((w) => naming.name("stateMachine", w)),
    functions: drTaskFunctionNames(naming),
    drillDocument: naming.name("ssmDocument", DRILL_RUNBOOK),
    reportWriter: naming.name("lambdaFunction", REPORT_FUNCTIONS.writer),
  };
}

/**
 * IAM for DR automation, one role per job: each DR task function has its own role (built by
 * `taskStatements` from the task's declared permissions, see functions/dr/shared/permissions.ts);
 * the state machines of a region share a role that may only invoke that region's tasks; the
 * drill automation (SSM) has a role per region; EventBridge has one role for what its rules
 * start (the failover trigger, the monthly drill); on-call has an operator role that can start
 * and approve failovers but cannot change data. ARNs are built from names so the policies exist
 * before the workflows that use them.
 */
export class DrIam extends Construct {
  public readonly workflowRoles: Record<Key, IamRole>;
  public readonly workflowPolicies: Record<Key, IamRolePolicy>;
  public readonly drillRoles: Record<Key, IamRole>;
  public readonly eventsRole: IamRole;
  public readonly operatorRole: IamRole;
  private readonly props: DrIamProps;

  constructor(scope: Construct, id: string, props: DrIamProps) {
    super(scope, id);
    this.props = props;
    const { naming } = props;
    const a = arns(props);
    const accountId = a.accountId;

    // ---- the state machines ----
    const workflows = (key: Key) => {
      const region = props[key];
      const provider = region.provider;
      const machines = a.stateMachinesIn(region.region);
      const role = new IamRole(this, `${key}-workflows`, {
        provider,
        name: naming.name("iamRole", "dr-workflows", region.region),
        description: `payments-dr state machines (${region.region}): invoke their tasks, nothing else`,
        maxSessionDuration: 3600,
        assumeRolePolicy: policyDocument(this, `${key}-workflows-trust`, provider, [
          serviceTrust(["states.amazonaws.com"], accountId, machines),
        ]),
      });
      const policy = new IamRolePolicy(this, `${key}-workflows-policy`, {
        provider,
        role: role.id,
        name: "dr-workflows",
        policy: policyDocument(this, `${key}-workflows-permissions`, provider, [
          {
            sid: "InvokeTheirTasks",
            actions: ["lambda:InvokeFunction"],
            resources: a.functionsIn(region.region),
          },
          stateMachineKeyStatement("StateMachineKey", [region.key.arn], machines),
          ...VENDED_LOGS_AND_TRACING,
        ]),
      });
      return { role, policy };
    };
    const w = { primary: workflows("primary"), secondary: workflows("secondary") };
    this.workflowRoles = { primary: w.primary.role, secondary: w.secondary.role };
    this.workflowPolicies = { primary: w.primary.policy, secondary: w.secondary.policy };

    // ---- SSM Automation (the drill) ----
    const drillRoleName = (key: Key) => naming.name("iamRole", "dr-drill", props[key].region);
    const drillRoleArn = (key: Key) => `arn:aws:iam::${accountId}:role/${drillRoleName(key)}`;
    const drill = (key: Key) => {
      const region = props[key];
      const peer: Key = key === "primary" ? "secondary" : "primary";
      const provider = region.provider;
      const role = new IamRole(this, `${key}-drill`, {
        provider,
        name: drillRoleName(key),
        description: `payments-dr drill automation (${region.region})`,
        maxSessionDuration: 3600,
        assumeRolePolicy: policyDocument(this, `${key}-drill-trust`, provider, [
          serviceTrust(["ssm.amazonaws.com"], accountId, [
            `arn:aws:ssm:${region.region}:${accountId}:automation-execution/*`,
          ]),
          {
            // The seed's cross-region assume-role, kept for the one role that drives both
            // regions (the drill moves the active region and back): the other region's drill
            // role, named exactly. It is named in a condition rather than as the principal so
            // neither role has to exist before the other.
            sid: "PeerRegionDrill",
            actions: ["sts:AssumeRole"],
            principals: [{ type: "AWS", identifiers: [`arn:aws:iam::${accountId}:root`] }],
            condition: [
              { test: "ArnEquals", variable: "aws:PrincipalArn", values: [drillRoleArn(peer)] },
            ],
          },
        ]),
      });
      new IamRolePolicy(this, `${key}-drill-policy`, {
        provider,
        role: role.id,
        name: "dr-drill",
        policy: policyDocument(this, `${key}-drill-permissions`, provider, [
          {
            // runbooks/scripts/check_readiness.py
            sid: "ReadActiveRegion",
            actions: ["ssm:GetParameter"],
            resources: a.parameters(["activeRegion"]),
          },
          {
            sid: "ReadGlobalDatabase",
            actions: ["rds:DescribeGlobalClusters"],
            resources: [a.globalCluster],
          },
          {
            // runbooks/scripts/run_workflow.py, in either region.
            sid: "RunWorkflows",
            actions: ["states:StartExecution"],
            resources: a.stateMachines,
          },
          { sid: "WatchWorkflows", actions: ["states:DescribeExecution"], resources: a.executions },
          stateMachineKeyStatement("WorkflowKeys", a.keys, a.stateMachines),
          { sid: "Page", actions: ["sns:Publish"], resources: a.topics },
          kmsVia("TopicKeys", ["kms:GenerateDataKey", "kms:Decrypt"], a.keys, props, ["sns"]),
          {
            // runbooks/scripts/write_drill_report.py hands the drill's report to the writer of
            // the region the drill runs in (synchronously), after reading its own execution.
            sid: "WriteItsReport",
            actions: ["lambda:InvokeFunction"],
            resources: [a.reportWriterIn(region.region)],
          },
          {
            sid: "ReadItsOwnExecution",
            actions: ["ssm:GetAutomationExecution"],
            resources: [`arn:aws:ssm:${region.region}:${accountId}:automation-execution/*`],
          },
          { sid: "PeerRegionDrill", actions: ["sts:AssumeRole"], resources: [drillRoleArn(peer)] },
        ]),
      });
      return role;
    };
    this.drillRoles = { primary: drill("primary"), secondary: drill("secondary") };

    // ---- EventBridge: the failover trigger and the drill schedule (the standby slot) ----
    // The role itself stays in the secondary slot under its name, so a WRITER_REGION move
    // rewrites its policy rather than replacing a role the rules are using; what it may start
    // follows the standby slot, where the rules are.
    const secondary = props.secondary;
    const standbyKey: Key = (props.writer ?? "primary") === "primary" ? "secondary" : "primary";
    const standby = props[standbyKey];
    const rules = [
      naming.name("eventRule", "failover-trigger", standby.region),
      naming.name("eventRule", "dr-drill", standby.region),
    ].map((n) => `arn:aws:events:${standby.region}:${accountId}:rule/${n}`);
    const failoverMachine = `arn:aws:states:${standby.region}:${accountId}:stateMachine:${naming.name("stateMachine", "failover")}`;
    this.eventsRole = new IamRole(this, "events", {
      provider: secondary.provider,
      name: naming.name("iamRole", "dr-events", secondary.region),
      description: "EventBridge: start the failover workflow and the monthly drill",
      maxSessionDuration: 3600,
      assumeRolePolicy: policyDocument(this, "events-trust", secondary.provider, [
        serviceTrust(["events.amazonaws.com"], accountId, rules),
      ]),
    });
    new IamRolePolicy(this, "events-policy", {
      provider: secondary.provider,
      role: this.eventsRole.id,
      name: "dr-events",
      policy: policyDocument(this, "events-permissions", secondary.provider, [
        { sid: "StartFailover", actions: ["states:StartExecution"], resources: [failoverMachine] },
        stateMachineKeyStatement("FailoverKey", [standby.key.arn], [failoverMachine]),
        {
          sid: "StartDrill",
          actions: ["ssm:StartAutomationExecution"],
          resources: [
            `arn:aws:ssm:${standby.region}:${accountId}:automation-definition/${a.drillDocument}:*`,
          ],
        },
        {
          sid: "RunDrillAsDrillRole",
          actions: ["iam:PassRole"],
          resources: [drillRoleArn(standbyKey)],
          condition: [
            {
              test: "StringEquals",
              variable: "iam:PassedToService",
              values: ["ssm.amazonaws.com"],
            },
          ],
        },
      ]),
    });

    // ---- on-call ----
    const provider = props.primary.provider;
    this.operatorRole = new IamRole(this, "operator", {
      provider,
      name: naming.name("iamRole", "dr-operator"),
      description: "On-call: start and approve failovers, read their state; no data changes",
      maxSessionDuration: 43200,
      assumeRolePolicy: policyDocument(this, "operator-trust", provider, [
        onCallTrust(accountId, onCallPrincipals(props.operatorPrincipalArns, accountId, naming)),
      ]),
    });
    new IamRolePolicy(this, "operator-policy", {
      provider,
      role: this.operatorRole.id,
      name: "dr-operator",
      policy: policyDocument(
        this,
        "operator-permissions",
        provider,
        operatorStatements(props, KEYS.map(drillRoleArn)),
      ),
    });
  }

  /**
   * The statements of one DR task's own role in `region`: exactly the calls its declaration
   * allows, on the exact resources of both regions (a task running in one region reaches the
   * other region's replica, parameters and topic, best-effort or for a planned switchover).
   */
  public taskStatements(task: DrTaskName, region: string): Statement[] {
    return taskStatements(drTask(task).permissions, this.props, region);
  }
}

/** A service may assume the role only for this account's resources (confused deputy). */
function serviceTrust(services: string[], accountId: string, sourceArns?: string[]): Statement {
  return {
    sid: "Service",
    actions: ["sts:AssumeRole"],
    principals: [{ type: "Service", identifiers: services }],
    condition: [
      { test: "StringEquals", variable: "aws:SourceAccount", values: [accountId] },
      ...(sourceArns ? [{ test: "ArnLike", variable: "aws:SourceArn", values: sourceArns }] : []),
    ],
  };
}

/** Step Functions vended logs and X-Ray: AWS authorizes these only on "*". */
const VENDED_LOGS_AND_TRACING: Statement[] = [
  {
    sid: "WorkflowLogDelivery",
    actions: [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ],
    resources: ["*"],
  },
  {
    sid: "WorkflowTracing",
    actions: [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ],
    resources: ["*"],
  },
];

/**
 * Using a state machine's customer-managed key: only for these state machines, by the encryption
 * context Step Functions binds to its data (Step Functions, "Data at rest encryption":
 * https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
 */
function stateMachineKeyStatement(sid: string, keys: string[], machines: string[]): Statement {
  return {
    sid,
    actions: ["kms:Decrypt", "kms:GenerateDataKey"],
    resources: keys,
    condition: [
      {
        test: "StringEquals",
        variable: "kms:EncryptionContext:aws:states:stateMachineArn",
        values: machines,
      },
    ],
  };
}

function kmsVia(
  sid: string,
  actions: string[],
  keys: string[],
  props: DrIamProps,
  services: string[],
): Statement {
  return {
    sid,
    actions,
    resources: keys,
    condition: [
      {
        test: "StringEquals",
        variable: "kms:ViaService",
        values: [props.primary, props.secondary].flatMap((r) =>
          services.map((s) => `${s}.${r.region}.amazonaws.com`),
        ),
      },
    ],
  };
}

function arns(props: DrIamProps) {
  const { naming } = props;
  const accountId = props.primary.key.accountId;
  const names = drResourceNames(naming);
  const both = [props.primary, props.secondary];
  const stateMachinesIn = (region: string) =>
    names.stateMachines.map((n) => `arn:aws:states:${region}:${accountId}:stateMachine:${n}`);
  return {
    accountId,
    regions: both.map((r) => r.region),
    drillDocument: names.drillDocument,
    stateMachinesIn,
    stateMachines: both.flatMap((r) => stateMachinesIn(r.region)),
    executions: both.flatMap((r) =>
      names.stateMachines.map((n) => `arn:aws:states:${r.region}:${accountId}:execution:${n}:*`),
    ),
    functionsIn: (region: string) =>
      names.functions.map((n) => `arn:aws:lambda:${region}:${accountId}:function:${n}`),
    reportWriterIn: (region: string) =>
      `arn:aws:lambda:${region}:${accountId}:function:${names.reportWriter}`,
    reportWriters: both.map(
      (r) => `arn:aws:lambda:${r.region}:${accountId}:function:${names.reportWriter}`,
    ),
    controlTables: both.map(
      (r) => `arn:aws:dynamodb:${r.region}:${accountId}:table/${props.controlTable.name}`,
    ),
    parameters: (keys: readonly (keyof typeof PARAMETERS)[]) =>
      both.flatMap((r) =>
        keys.map(
          (k) =>
            `arn:aws:ssm:${r.region}:${accountId}:parameter${naming.parameterPrefix}/${PARAMETERS[k]}`,
        ),
      ),
    globalCluster: `arn:aws:rds::${accountId}:global-cluster:${props.database.globalCluster.globalClusterIdentifier}`,
    clusters: [props.database.primary.cluster.arn, props.database.secondary.cluster.arn],
    // What a re-protect snapshots, renames and creates, by exact name in both regions (the
    // writer can be either, WRITER_REGION): the kept old primary and its instances get
    // `-detached-<run tag>`, its snapshot `-at-reprotect-<run tag>` (functions/dr/rebuild), so
    // only the run tag is a wildcard.
    rebuild: rebuildArns(props, accountId),
    storageKeys: [props.database.primary.storageKeyArn, props.database.secondary.storageKeyArn],
    monitoringRole: props.database.spec.monitoringRoleArn,
    topics: both.map((r) => r.alerts.topic.arn),
    buses: both.map((r) => r.bus.bus.arn),
    keys: both.map((r) => r.key.arn),
    healthChecks: [props.routing.primaryHealthCheck, props.routing.secondaryHealthCheck].map(
      (check) => `arn:aws:route53:::healthcheck/${check.id}`,
    ),
    drills: both.map(
      (r) => `arn:aws:ssm:${r.region}:${accountId}:automation-definition/${names.drillDocument}:*`,
    ),
    drillExecutions: both.map((r) => `arn:aws:ssm:${r.region}:${accountId}:automation-execution/*`),
    reconcile: {
      documents: both.map(
        (r) =>
          `arn:aws:ssm:${r.region}:${accountId}:automation-definition/${reconcileNames(naming, r.region).document}:*`,
      ),
      roles: both.map(
        (r) => `arn:aws:iam::${accountId}:role/${reconcileNames(naming, r.region).role}`,
      ),
      // The listing is filtered by DBClusterIdentifier and returns every snapshot of the
      // cluster (automated, AWS Backup's, manual): granted on the cluster and on every cluster
      // snapshot of the region, as Rebuild's listing (DATABASE_RESOURCES.listClusterSnapshots).
      snapshots: [props.database.primary, props.database.secondary].flatMap((slot, i) => {
        const region = both[i]!.region;
        const rds = (kind: string, name: string) =>
          `arn:aws:rds:${region}:${accountId}:${kind}:${name}`;
        return [rds("cluster", slot.spec.clusterIdentifier), rds("cluster-snapshot", "*")];
      }),
    },
    dashboards: `arn:aws:cloudwatch::${accountId}:dashboard/payments-*-${naming.suffix}`,
  };
}

/** Re-protect's resources (see `arns`). */
function rebuildArns(props: DrIamProps, accountId: string) {
  const { naming } = props;
  const slots = [props.database.primary, props.database.secondary];
  const regions = [props.primary.region, props.secondary.region];
  const rds = (region: string, kind: string, name: string) =>
    `arn:aws:rds:${region}:${accountId}:${kind}:${name}`;
  // Either region may hold the writer (more instances) or the secondary.
  const instanceCount = Math.max(...slots.map((slot) => slot.instances.length));
  const instanceNames = (region: string) =>
    Array.from({ length: instanceCount }, (_, i) => instanceIdentifier(naming, region, i));
  return {
    kept: slots.map((slot, i) =>
      rds(regions[i]!, "cluster", `${slot.spec.clusterIdentifier}-detached-*`),
    ),
    instances: regions.flatMap((r) => instanceNames(r).map((n) => rds(r, "db", n))),
    // A standby region's instances beyond its own count: only RestoreCapacity creates them there.
    restoredReaders: regions.flatMap((r) =>
      instanceNames(r)
        .slice(Math.min(...slots.map((slot) => slot.instances.length)))
        .map((n) => rds(r, "db", n)),
    ),
    keptInstances: regions.flatMap((r) =>
      instanceNames(r).map((n) => rds(r, "db", `${n}-detached-*`)),
    ),
    snapshots: slots.map((slot, i) =>
      rds(regions[i]!, "cluster-snapshot", `${slot.spec.clusterIdentifier}-at-reprotect-*`),
    ),
    // Aurora's snapshot of an old primary at the point of failure
    // (`rds:unplanned-global-failover-<cluster>-<timestamp>`, aurora-global-database-disaster-
    // recovery.html) and re-protect's manual copy of it (`-at-failover-<run tag>`).
    pointOfFailure: slots.map((slot, i) =>
      rds(
        regions[i]!,
        "cluster-snapshot",
        `rds:unplanned-global-failover-${slot.spec.clusterIdentifier}-*`,
      ),
    ),
    pointOfFailureCopies: slots.map((slot, i) =>
      rds(regions[i]!, "cluster-snapshot", `${slot.spec.clusterIdentifier}-at-failover-*`),
    ),
    subnetGroups: slots.map((slot, i) => rds(regions[i]!, "subgrp", slot.spec.dbSubnetGroupName)),
    clusterParameterGroups: slots.map((slot, i) =>
      rds(regions[i]!, "cluster-pg", slot.spec.dbClusterParameterGroupName),
    ),
    // CreateDBInstance without DBParameterGroupName: the engine's default group.
    defaultParameterGroups: regions.map((r) => rds(r, "pg", "default.aurora-postgresql*")),
  };
}

/**
 * A task's declaration as IAM statements: the shared grants (functions/dr/shared/grants.ts, which
 * the readiness evaluator simulates too) on this environment's ARNs.
 */
export function taskStatements(
  permissions: TaskPermissions,
  props: DrIamProps,
  region: string,
): Statement[] {
  return taskGrants(permissions, grantTargets(props, region));
}

/** The ARNs the shared grants name, from this environment's resources. */
export function grantTargets(props: DrIamProps, region: string): GrantTargets {
  const a = arns(props);
  return {
    regions: a.regions,
    // createInstance serves re-protect's Rebuild (the new secondary's readers) and RestoreCapacity
    // (the promoted cluster's missing readers): both name only the instances Terraform gives a
    // cluster (payments-db-<n>-<region code>-<suffix>, n up to the writer's count).
    database: {
      globalCluster: [a.globalCluster],
      clusters: a.clusters,
      anyInstance: a.regions.map((r) => `arn:aws:rds:${r}:${a.accountId}:db:*`),
      instances: a.rebuild.instances,
      keptInstances: a.rebuild.keptInstances,
      restoredReaders: a.rebuild.restoredReaders,
      keptClusters: a.rebuild.kept,
      snapshots: a.rebuild.snapshots,
      pointOfFailure: a.rebuild.pointOfFailure,
      pointOfFailureCopies: a.rebuild.pointOfFailureCopies,
      anyClusterSnapshot: a.regions.map(
        (r) => `arn:aws:rds:${r}:${a.accountId}:cluster-snapshot:*`,
      ),
      subnetGroups: a.rebuild.subnetGroups,
      clusterParameterGroups: a.rebuild.clusterParameterGroups,
      defaultParameterGroups: a.rebuild.defaultParameterGroups,
    },
    storageKeys: a.storageKeys,
    platformKeys: a.keys,
    monitoringRole: a.monitoringRole,
    controlTables: a.controlTables,
    parameters: a.parameters,
    buses: a.buses,
    topics: a.topics,
    reportWriter: a.reportWriterIn(region),
    heartbeatReaders: a.regions.map(
      (r) =>
        `arn:aws:lambda:${r}:${a.accountId}:function:${heartbeatReaderName(props.naming.suffix)}`,
    ),
    healthChecks: a.healthChecks,
    ...(props.zone ? { hostedZone: `arn:aws:route53:::hostedzone/${props.zone.zone.zoneId}` } : {}),
  };
}

/** On-call: start, approve and watch the workflows; read health; change no data. */
export function operatorStatements(props: DrIamProps, drillRoleArns: string[]): Statement[] {
  const a = arns(props);
  return [
    { sid: "StartWorkflows", actions: ["states:StartExecution"], resources: a.stateMachines },
    {
      sid: "StopOrRedriveWorkflows",
      actions: ["states:StopExecution", "states:RedriveExecution"],
      resources: a.executions,
    },
    {
      sid: "ApprovePausedFailovers",
      actions: ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
      resources: ["*"],
    },
    {
      sid: "WatchWorkflows",
      actions: [
        "states:DescribeExecution",
        "states:DescribeStateMachine",
        "states:GetExecutionHistory",
        "states:ListExecutions",
      ],
      resources: [...a.stateMachines, ...a.executions],
    },
    // Starting, approving and reading executions of CMK-encrypted state machines.
    stateMachineKeyStatement("WorkflowKeys", a.keys, a.stateMachines),
    {
      sid: "ReadMetricsAndAlarms",
      actions: [
        "cloudwatch:GetMetricData",
        "cloudwatch:ListDashboards",
        "cloudwatch:DescribeAlarms",
        // `payments-dr history` lists drill runs; this List-type call takes no resource ARN.
        "ssm:DescribeAutomationExecutions",
      ],
      resources: ["*"],
    },
    { sid: "ReadDashboards", actions: ["cloudwatch:GetDashboard"], resources: [a.dashboards] },
    {
      sid: "ReadDatabase",
      actions: ["rds:DescribeGlobalClusters", "rds:DescribeDBClusters"],
      resources: [a.globalCluster, ...a.clusters],
    },
    {
      sid: "ReadHealthChecks",
      actions: ["route53:GetHealthCheckStatus"],
      resources: a.healthChecks,
    },
    {
      sid: "RunDrills",
      actions: ["ssm:StartAutomationExecution"],
      resources: a.drills,
    },
    {
      sid: "WatchDrills",
      actions: [
        "ssm:GetAutomationExecution",
        "ssm:DescribeAutomationStepExecutions",
        "ssm:StopAutomationExecution",
      ],
      resources: a.drillExecutions,
    },
    {
      sid: "RunDrillsAsDrillRole",
      actions: ["iam:PassRole"],
      resources: drillRoleArns,
      condition: [
        { test: "StringEquals", variable: "iam:PassedToService", values: ["ssm.amazonaws.com"] },
      ],
    },
    {
      // `payments-dr reconcile` looks for the old cluster's point-of-failure snapshot (AWS's
      // rds:unplanned-global-failover-<cluster>-*) or the runbook's manual copy: reads only.
      sid: "FindPointOfFailureSnapshots",
      actions: ["rds:DescribeDBClusterSnapshots"],
      resources: a.reconcile.snapshots,
    },
    {
      // runbooks/reconcile.md step 2: on-call starts it in the old primary's region (either),
      // watched by WatchDrills (automation executions of both regions).
      sid: "RunReconciliation",
      actions: ["ssm:StartAutomationExecution"],
      resources: a.reconcile.documents,
    },
    {
      sid: "RunReconciliationAsItsRole",
      actions: ["iam:PassRole"],
      resources: a.reconcile.roles,
      condition: [
        { test: "StringEquals", variable: "iam:PassedToService", values: ["ssm.amazonaws.com"] },
      ],
    },
    { sid: "ReadFlag", actions: ["dynamodb:GetItem"], resources: a.controlTables },
    {
      // `payments-dr readiness --now`: the evaluator runs with its own read-only role.
      sid: "RunReadiness",
      actions: ["lambda:InvokeFunction"],
      resources: a.regions.map(
        (r) =>
          `arn:aws:lambda:${r}:${a.accountId}:function:${props.naming.name("lambdaFunction", READINESS_COMPONENT)}`,
      ),
    },
    // Reading the flag decrypts through DynamoDB only; the operator cannot decrypt SSM secrets.
    kmsVia("ReadFlagKey", ["kms:Decrypt"], a.keys, props, ["dynamodb"]),
    {
      // The endpoints and the active region; never the SecureString password or API keys.
      sid: "ReadEndpoints",
      actions: ["ssm:GetParameter"],
      resources: a.parameters(
        (Object.keys(PARAMETERS) as (keyof typeof PARAMETERS)[]).filter(
          (k) => !SECURE_PARAMETERS.includes(k),
        ),
      ),
    },
    ...evidenceStatements(props),
  ];
}

/** On-call reads the evidence: reports, the ledger (`npm run ledger`), the dashboard widget. */
function evidenceStatements(props: DrIamProps): Statement[] {
  const reports = props.reports;
  if (!reports) return [];
  const regions = [props.primary, props.secondary];
  return [
    {
      sid: "ReadReports",
      actions: ["s3:GetObject", "s3:GetObjectVersion"],
      resources: reports.bucketArns.map((arn) => `${arn}/reports/*`),
    },
    {
      sid: "ListReports",
      actions: ["s3:ListBucket", "s3:ListBucketVersions"],
      resources: reports.bucketArns,
    },
    {
      sid: "ReadLedger",
      actions: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:DescribeTable"],
      resources: reports.ledgerArns.flatMap((arn) => [arn, `${arn}/index/*`]),
    },
    {
      sid: "ViewLedgerWidget",
      actions: ["lambda:InvokeFunction"],
      resources: [reports.widgetFunctionArn],
    },
    {
      sid: "DecryptEvidence",
      actions: ["kms:Decrypt"],
      resources: regions.map((r) => r.key.arn),
      condition: [
        {
          test: "StringEquals",
          variable: "kms:ViaService",
          values: regions.flatMap((r) => [
            `s3.${r.region}.amazonaws.com`,
            `dynamodb.${r.region}.amazonaws.com`,
          ]),
        },
      ],
    },
  ];
}
