import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Construct } from "constructs";
import { METRICS } from "../../functions/common/contract";
import type { Statement } from "../lib/policy";
import { policyDocument } from "../lib/policy";
import type { Naming } from "../naming";
import { WORKFLOWS } from "../lib/asl";
import type { GlobalDatabase } from "./database";
import { instanceIdentifier } from "./database";
import { DRILL_RUNBOOK } from "./drills";
import { drTaskFunctionNames } from "./orchestration";
import { REPORT_FUNCTIONS } from "./reports";
import type { RegionalEventBus } from "./events";
import type { PlatformKey } from "./keys";
import type { AlertTopic } from "./observability";
import type { FailoverRouting, PublicZone } from "./routing";
import type { GlobalTable } from "./tables";

/**
 * Write actions AWS authorizes only on "*" (no resource-level permissions). They are the only
 * write actions allowed on "*", each scoped by a condition where AWS offers one.
 */
export const STAR_ONLY_WRITE_ACTIONS = [
  // CloudWatch metrics: scoped by the cloudwatch:namespace condition.
  "cloudwatch:PutMetricData",
  // Step Functions vended logs and X-Ray tracing.
  "logs:CreateLogDelivery",
  "logs:UpdateLogDelivery",
  "logs:DeleteLogDelivery",
  "logs:PutResourcePolicy",
  "xray:PutTraceSegments",
  "xray:PutTelemetryRecords",
  // Approving a paused failover: task tokens are not resources.
  "states:SendTaskSuccess",
  "states:SendTaskFailure",
  "states:SendTaskHeartbeat",
] as const;

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
  /** @default - no DNS permissions (no domain configured) */
  readonly dns?: { readonly zone: PublicZone; readonly routing: FailoverRouting };
  /**
   * The writer's instance count: RestoreCapacity may create instances 1..n of either region's
   * cluster, by their Terraform identifiers. @default - no RestoreCapacity permissions
   */
  readonly writerInstances?: number;
  /**
   * The evidence on-call reads (report buckets, the ledger in each region, the dashboard's ledger
   * widget). @default - none
   */
  readonly reports?: {
    readonly bucketArns: string[];
    readonly ledgerArns: string[];
    readonly widgetFunctionArn: string;
  };
}

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
    // The workflow tasks only: the prober has its own role and no workflow runs it.
    functions: drTaskFunctionNames(naming),
    drillDocument: naming.name("ssmDocument", DRILL_RUNBOOK),
    reportWriter: naming.name("lambdaFunction", REPORT_FUNCTIONS.writer),
  };
}

/**
 * IAM for DR automation: a role per region for the orchestrator (its state machines and task
 * functions), assumable by the automation principals of both regions, and an on-call operator
 * role that can start and approve failovers but cannot change data. Every write is scoped to
 * named resources; ARNs are built from names so the policies exist before the workflows that
 * use them (Step Functions checks its logging permissions at creation).
 */
export class DrIam extends Construct {
  public readonly automationRoles: Record<"primary" | "secondary", IamRole>;
  public readonly automationPolicies: Record<"primary" | "secondary", IamRolePolicy>;
  public readonly operatorRole: IamRole;

  constructor(scope: Construct, id: string, props: DrIamProps) {
    super(scope, id);
    const { naming } = props;
    const accountId = props.primary.key.accountId;
    const regions = [props.primary, props.secondary];
    const roleName = (r: DrRegionResources) => naming.name("iamRole", "dr-automation", r.region);
    const roleArn = (r: DrRegionResources) => `arn:aws:iam::${accountId}:role/${roleName(r)}`;

    const role = (key: "primary" | "secondary") => {
      const region = props[key];
      const peer = key === "primary" ? props.secondary : props.primary;
      const provider = region.provider;
      const created = new IamRole(this, `${key}-automation`, {
        provider,
        name: roleName(region),
        description: `payments-dr failover automation (${region.region})`,
        maxSessionDuration: 3600,
        assumeRolePolicy: policyDocument(this, `${key}-automation-trust`, provider, [
          {
            sid: "AutomationServices",
            actions: ["sts:AssumeRole"],
            principals: [
              {
                type: "Service",
                identifiers: [
                  "states.amazonaws.com",
                  "lambda.amazonaws.com",
                  "ssm.amazonaws.com",
                  "events.amazonaws.com",
                ],
              },
            ],
            condition: [
              { test: "StringEquals", variable: "aws:SourceAccount", values: [accountId] },
            ],
          },
          {
            // The other region's automation may drive this region (cross-region assume role).
            // The role is named in a condition, not as the principal, so neither role has to
            // exist before the other.
            sid: "PeerRegionAutomation",
            actions: ["sts:AssumeRole"],
            principals: [{ type: "AWS", identifiers: [`arn:aws:iam::${accountId}:root`] }],
            condition: [
              { test: "ArnEquals", variable: "aws:PrincipalArn", values: [roleArn(peer)] },
            ],
          },
        ]),
      });
      const policy = new IamRolePolicy(this, `${key}-automation-policy`, {
        provider,
        role: created.id,
        name: "dr-automation",
        policy: policyDocument(
          this,
          `${key}-automation-permissions`,
          provider,
          drAutomationStatements(props, regions.map(roleArn)),
        ),
      });
      return { created, policy };
    };
    const primary = role("primary");
    const secondary = role("secondary");
    this.automationRoles = { primary: primary.created, secondary: secondary.created };
    this.automationPolicies = { primary: primary.policy, secondary: secondary.policy };

    const provider = props.primary.provider;
    this.operatorRole = new IamRole(this, "operator", {
      provider,
      name: naming.name("iamRole", "dr-operator"),
      description: "On-call: start and approve failovers, read their state; no data changes",
      maxSessionDuration: 43200,
      assumeRolePolicy: policyDocument(this, "operator-trust", provider, [
        {
          actions: ["sts:AssumeRole"],
          principals: [{ type: "AWS", identifiers: [`arn:aws:iam::${accountId}:root`] }],
          condition: [{ test: "Bool", variable: "aws:MultiFactorAuthPresent", values: ["true"] }],
        },
      ]),
    });
    new IamRolePolicy(this, "operator-policy", {
      provider,
      role: this.operatorRole.id,
      name: "dr-operator",
      policy: policyDocument(this, "operator-permissions", provider, operatorStatements(props)),
    });
  }
}

function arns(props: DrIamProps) {
  const { naming } = props;
  const accountId = props.primary.key.accountId;
  const names = drResourceNames(naming);
  const both = [props.primary, props.secondary];
  const controlTableName = props.controlTable.name;
  return {
    stateMachines: both.flatMap((r) =>
      names.stateMachines.map((n) => `arn:aws:states:${r.region}:${accountId}:stateMachine:${n}`),
    ),
    executions: both.flatMap((r) =>
      names.stateMachines.map((n) => `arn:aws:states:${r.region}:${accountId}:execution:${n}:*`),
    ),
    functions: both.flatMap((r) =>
      names.functions.map((n) => `arn:aws:lambda:${r.region}:${accountId}:function:${n}`),
    ),
    reportWriters: both.map(
      (r) => `arn:aws:lambda:${r.region}:${accountId}:function:${names.reportWriter}`,
    ),
    controlTables: both.map(
      (r) => `arn:aws:dynamodb:${r.region}:${accountId}:table/${controlTableName}`,
    ),
    parameters: both.map(
      (r) => `arn:aws:ssm:${r.region}:${accountId}:parameter${naming.parameterPrefix}/*`,
    ),
    globalCluster: `arn:aws:rds::${accountId}:global-cluster:${props.database.globalCluster.globalClusterIdentifier}`,
    clusters: [props.database.primary.cluster.arn, props.database.secondary.cluster.arn],
    topics: both.map((r) => r.alerts.topic.arn),
    buses: both.map((r) => r.bus.bus.arn),
    keys: both.map((r) => r.key.arn),
    drills: both.map(
      (r) => `arn:aws:ssm:${r.region}:${accountId}:automation-definition/${names.drillDocument}:*`,
    ),
    drillExecutions: both.map((r) => `arn:aws:ssm:${r.region}:${accountId}:automation-execution/*`),
    automationRoles: both.map(
      (r) => `arn:aws:iam::${accountId}:role/${naming.name("iamRole", "dr-automation", r.region)}`,
    ),
    logGroups: both.flatMap((r) => [
      ...names.functions.map(
        (n) => `arn:aws:logs:${r.region}:${accountId}:log-group:/aws/lambda/${n}:*`,
      ),
    ]),
  };
}

/** What the orchestrator (state machines and task functions) may do, in either region. */
export function drAutomationStatements(
  props: DrIamProps,
  automationRoleArns: string[],
): Statement[] {
  const a = arns(props);
  const viaService = (services: string[]) => [
    {
      test: "StringEquals",
      variable: "kms:ViaService",
      values: [props.primary, props.secondary].flatMap((r) =>
        services.map((s) => `${s}.${r.region}.amazonaws.com`),
      ),
    },
  ];
  const statements: Statement[] = [
    {
      sid: "PromoteTheGlobalDatabase",
      actions: [
        "rds:FailoverGlobalCluster",
        "rds:SwitchoverGlobalCluster",
        "rds:RemoveFromGlobalCluster",
      ],
      resources: [a.globalCluster, ...a.clusters],
    },
    {
      sid: "ReadTheGlobalDatabase",
      actions: ["rds:Describe*"],
      resources: [a.globalCluster, ...a.clusters],
    },
    {
      sid: "FlagAndLock",
      actions: [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
      ],
      resources: a.controlTables,
    },
    {
      sid: "Endpoints",
      actions: ["ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter"],
      resources: a.parameters,
    },
    {
      sid: "TableAndParameterKeys",
      actions: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
      resources: a.keys,
      condition: viaService(["dynamodb", "ssm", "sns"]),
    },
    {
      sid: "Page",
      actions: ["sns:Publish"],
      resources: a.topics,
    },
    {
      sid: "Timeline",
      actions: ["events:PutEvents"],
      resources: a.buses,
    },
    {
      sid: "RunWorkflows",
      actions: ["states:StartExecution"],
      resources: a.stateMachines,
    },
    {
      sid: "ReadWorkflows",
      actions: ["states:DescribeExecution", "states:DescribeStateMachine", "states:ListExecutions"],
      resources: [...a.stateMachines, ...a.executions],
    },
    {
      sid: "InvokeTasks",
      actions: ["lambda:InvokeFunction"],
      resources: a.functions,
    },
    {
      // The tasks hand their run's report to the writer (asynchronously); the drill runbook
      // hands it the drill's (synchronously).
      sid: "WriteReports",
      actions: ["lambda:InvokeFunction"],
      resources: a.reportWriters,
    },
    {
      sid: "TaskLogs",
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: a.logGroups,
    },
    {
      sid: "StartDrills",
      actions: ["ssm:StartAutomationExecution"],
      resources: a.drills,
    },
    {
      // The drill reads its own execution (steps, times, who started it) for its report.
      sid: "ReadDrillForItsReport",
      actions: ["ssm:GetAutomationExecution"],
      resources: a.drillExecutions,
    },
    {
      sid: "RunDrillsAsThisRole",
      actions: ["iam:PassRole"],
      resources: a.automationRoles,
      condition: [
        { test: "StringEquals", variable: "iam:PassedToService", values: ["ssm.amazonaws.com"] },
      ],
    },
    {
      sid: "AssumeEitherRegionsAutomation",
      actions: ["sts:AssumeRole"],
      resources: automationRoleArns,
    },
    {
      sid: "ReadMetrics",
      actions: [
        "cloudwatch:GetMetricData",
        "cloudwatch:GetMetricStatistics",
        "cloudwatch:DescribeAlarms",
      ],
      resources: ["*"],
    },
    {
      sid: "PublishDrMetrics",
      actions: ["cloudwatch:PutMetricData"],
      resources: ["*"],
      condition: [
        { test: "StringEquals", variable: "cloudwatch:namespace", values: [METRICS.namespace] },
      ],
    },
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
  if (props.writerInstances) {
    const account = props.primary.key.accountId;
    const regions = [props.primary, props.secondary];
    const clusters = [props.database.primary, props.database.secondary];
    statements.push(
      {
        // DescribeDBInstances with a cluster filter is authorized on the db resource type.
        sid: "CountInstances",
        actions: ["rds:DescribeDBInstances"],
        resources: regions.map((r) => `arn:aws:rds:${r.region}:${account}:db:*`),
      },
      {
        // RestoreCapacity: only the instances Terraform would create for a writer cluster.
        sid: "RestoreCapacity",
        actions: ["rds:CreateDBInstance", "rds:AddTagsToResource"],
        resources: [
          ...regions.flatMap((r) =>
            Array.from(
              { length: props.writerInstances! },
              (_, i) =>
                `arn:aws:rds:${r.region}:${account}:db:${instanceIdentifier(props.naming, r.region, i)}`,
            ),
          ),
          ...clusters.map((c) => c.cluster.arn),
          ...regions.map(
            (r, i) =>
              `arn:aws:rds:${r.region}:${account}:subgrp:${clusters[i]!.cluster.dbSubnetGroupName}`,
          ),
        ],
      },
      {
        sid: "PassMonitoringRole",
        actions: ["iam:PassRole"],
        resources: [props.database.monitoringRoleArn],
      },
      {
        // Performance Insights of the new instance encrypts with the region's storage key.
        sid: "PerformanceInsightsKey",
        actions: ["kms:DescribeKey", "kms:CreateGrant"],
        resources: clusters.map((c) => c.storageKeyArn),
        condition: [
          {
            test: "StringEquals",
            variable: "kms:ViaService",
            values: regions.map((r) => `rds.${r.region}.amazonaws.com`),
          },
        ],
      },
    );
  }
  if (props.dns) {
    statements.push(
      {
        sid: "SwapFailoverRecords",
        actions: ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"],
        resources: [`arn:aws:route53:::hostedzone/${props.dns.zone.zone.zoneId}`],
      },
      {
        sid: "ReadHealthChecks",
        actions: ["route53:GetHealthCheck", "route53:GetHealthCheckStatus"],
        resources: [
          props.dns.routing.primaryHealthCheck,
          props.dns.routing.secondaryHealthCheck,
        ].map((check) => `arn:aws:route53:::healthcheck/${check.id}`),
      },
      {
        sid: "ReadChanges",
        actions: ["route53:GetChange"],
        resources: ["arn:aws:route53:::change/*"],
      },
    );
  }
  return statements;
}

/** On-call: start, approve and watch the workflows; read health; change no data. */
export function operatorStatements(props: DrIamProps): Statement[] {
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
    {
      sid: "ReadHealth",
      actions: [
        "cloudwatch:GetMetricData",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:GetDashboard",
        "cloudwatch:ListDashboards",
        "rds:DescribeGlobalClusters",
        "rds:DescribeDBClusters",
        "route53:GetHealthCheckStatus",
        // `payments-dr history` lists drill runs; this List-type call takes no resource ARN.
        "ssm:DescribeAutomationExecutions",
      ],
      resources: ["*"],
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
      sid: "RunDrillsAsAutomation",
      actions: ["iam:PassRole"],
      resources: a.automationRoles,
      condition: [
        { test: "StringEquals", variable: "iam:PassedToService", values: ["ssm.amazonaws.com"] },
      ],
    },
    { sid: "ReadFlag", actions: ["dynamodb:GetItem"], resources: a.controlTables },
    { sid: "ReadEndpoints", actions: ["ssm:GetParameter"], resources: a.parameters },
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
