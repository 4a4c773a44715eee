import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { ConfigConfigRule } from "@cdktf/provider-aws/lib/config-config-rule";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { XrayGroup } from "@cdktf/provider-aws/lib/xray-group";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { CONTROL, DR_ENV, METRICS, REPORTS_ENV } from "../../functions/common/contract";
import type { ReadinessSettings } from "../../functions/monitoring/readiness/core";
import type { DatabaseConfig, ReadinessConfig } from "../config";
import { NodejsFunction } from "../lib/nodejs-function";
import type { Statement } from "../lib/policy";
import type { Naming } from "../naming";
import { APP_NAME } from "../naming";
import type { PlatformKey } from "./keys";
import type { AlertTopic } from "./observability";

/**
 * AWS-managed Config rules that keep DR readiness from drifting: PITR and CMK encryption on the
 * tables, encrypted Aurora storage, and every table and cluster in a daily backup plan that
 * keeps at least the configured retention.
 */
export function readinessRules(
  retentionDays: number,
): Record<string, { id: string; parameters?: object }> {
  return {
    "dynamodb-pitr": { id: "DYNAMODB_PITR_ENABLED" },
    "dynamodb-kms": { id: "DYNAMODB_TABLE_ENCRYPTED_KMS" },
    "rds-encrypted": { id: "RDS_STORAGE_ENCRYPTED" },
    "backup-plan-daily": {
      id: "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
      parameters: {
        requiredFrequencyValue: "1",
        requiredFrequencyUnit: "days",
        requiredRetentionDays: String(retentionDays),
      },
    },
    "aurora-backed-up": { id: "AURORA_RESOURCES_PROTECTED_BY_BACKUP_PLAN" },
    "dynamodb-backed-up": { id: "DYNAMODB_RESOURCES_PROTECTED_BY_BACKUP_PLAN" },
  };
}

export interface ReadinessProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly region: string;
  /** Names of the Lambdas whose traces the X-Ray group gathers. */
  readonly functionNames: string[];
  readonly backupRetentionDays: number;
  /**
   * Also create the Config rules; they need an AWS Config recorder in the region, which most
   * organizations run centrally. @default false
   */
  readonly configRules?: boolean;
}

/** One region's DR-readiness checks and its X-Ray group. */
export class Readiness extends Construct {
  public readonly rules: ConfigConfigRule[] = [];
  public readonly xrayGroup: XrayGroup;

  constructor(scope: Construct, id: string, props: ReadinessProps) {
    super(scope, id);
    const { provider, naming, region } = props;
    this.xrayGroup = new XrayGroup(this, "xray", {
      provider,
      groupName: naming.name("xrayGroup", "dr"),
      filterExpression: props.functionNames.map((n) => `service("${n}")`).join(" OR "),
      insightsConfiguration: { insightsEnabled: true, notificationsEnabled: false },
    });
    if (!props.configRules) return;
    for (const [name, rule] of Object.entries(readinessRules(props.backupRetentionDays))) {
      this.rules.push(
        new ConfigConfigRule(this, name, {
          provider,
          name: naming.name("generic", name, region),
          description: `payments-dr readiness: ${rule.id}`,
          source: { owner: "AWS", sourceIdentifier: rule.id },
          inputParameters: rule.parameters ? JSON.stringify(rule.parameters) : undefined,
        }),
      );
    }
  }
}

/** Quotas the evaluator compares between the regions (Service Quotas codes). */
export const READINESS_QUOTAS = [
  { serviceCode: "lambda", quotaCode: "L-B99A9384", name: "Concurrent executions" },
  { serviceCode: "rds", quotaCode: "L-7B6409FD", name: "DB instances" },
] as const;

/** Memory and timeout of the evaluator: the checks run in parallel, each capped at 60 s. */
export const READINESS_FUNCTION = { memorySize: 256, timeoutSeconds: 90 } as const;

/**
 * What the evaluator reads, in both regions (names identical in both unless per region). The
 * names it shares with the evaluator's settings are typed by them.
 */
export interface ReadinessTargets extends Pick<
  ReadinessSettings,
  | "accountId"
  | "paymentFunctions"
  | "taskFunctions"
  | "reportWriter"
  | "tables"
  | "stateMachines"
  | "drillDocument"
  | "proberRegion"
  | "lambdaBudget"
> {
  readonly environmentSuffix: string;
  readonly globalClusterIdentifier: string;
  /** Per region: its Aurora cluster ARN, KMS keys, DR automation role ARN, backup vault. */
  readonly regions: Readonly<
    Record<
      string,
      {
        readonly clusterArn: string;
        /** Every key DR depends on there: the Aurora storage key (multi-Region) and the platform key. */
        readonly keyArns: readonly string[];
        /** The key of the region's tables, SSM and logs. */
        readonly platformKeyArn: string;
        /** Each DR task's own role (registry name -> ARN), and the state machines' role. */
        readonly taskRoleArns: Readonly<Record<string, string>>;
        readonly workflowRoleArn: string;
        /** The instances Terraform gives the region's cluster when it holds the writer. */
        readonly instanceIdentifiers: readonly string[];
        readonly backupVaultName: string;
        readonly controlTableArn: string;
        /**
         * The cluster's DB subnet group and cluster parameter group: what re-protect's new
         * secondary is created in, named in the IAM simulation of its role.
         */
        readonly subnetGroup: string;
        readonly clusterParameterGroup: string;
      }
    >
  >;
  readonly parameterPrefix: string;
  readonly database: DatabaseConfig;
  /** The RDS Enhanced Monitoring role new instances are created with (passed by the DR roles). */
  readonly monitoringRoleArn: string;
  readonly rpoTargetSeconds: number;
}

export interface ReadinessEvaluatorProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  /** The region this evaluator runs in. */
  readonly region: string;
  readonly key: PlatformKey;
  readonly topic: AlertTopic;
  /** `DR_TOPOLOGY`, identical in both regions. */
  readonly topology: string;
  readonly targets: ReadinessTargets;
  readonly readiness: ReadinessConfig;
  readonly logRetentionDays: number;
  /**
   * The region's report writer and bucket: each change of the overall status is written there
   * as a `readiness` report. @default - no report (the evaluation is still stored and published)
   */
  readonly reports?: {
    readonly writerFunctionName: string;
    readonly writerArn: string;
    readonly bucket: string;
  };
}

/**
 * The readiness evaluator of one region: a function on an EventBridge schedule (every
 * READINESS_SCHEDULE_MINUTES, 30 by default, like AWS's Region switch plan evaluation), its
 * read-only role, and the alarm that pages when readiness fails two evaluations in a row or
 * stops being evaluated.
 */
export class ReadinessEvaluator extends Construct {
  public readonly function: NodejsFunction;
  public readonly schedule: CloudwatchEventRule;
  public readonly alarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: ReadinessEvaluatorProps) {
    super(scope, id);
    const { provider, naming, region, targets, readiness } = props;
    const minutes = readiness.scheduleMinutes;
    if (!Number.isInteger(minutes) || minutes < 5 || minutes > 720) {
      throw new Error(`readiness schedule must be 5 to 720 minutes, got ${minutes}`);
    }
    const own = targets.regions[region];
    if (!own) throw new Error(`readiness targets must include ${region}, got none`);
    this.function = new NodejsFunction(this, "function", {
      provider,
      naming,
      region,
      key: props.key,
      group: "monitoring",
      source: "readiness",
      component: READINESS_COMPONENT,
      description: "Read-only DR readiness checks of both regions; metrics, alarm, stored result",
      ...READINESS_FUNCTION,
      environment: {
        [DR_ENV.topology]: props.topology,
        [DR_ENV.readinessSettings]: readinessSettingsJson(targets, readiness),
        ...(props.reports
          ? {
              [REPORTS_ENV.writerFunction]: props.reports.writerFunctionName,
              [REPORTS_ENV.bucket]: props.reports.bucket,
            }
          : {}),
      },
      statements: [
        ...readinessStatements(targets, region),
        // Its one write beyond its own metrics and item: a report, through the region's writer.
        ...(props.reports
          ? [
              {
                sid: "WriteReadinessReports",
                actions: ["lambda:InvokeFunction"],
                resources: [props.reports.writerArn],
              },
            ]
          : []),
      ],
      logRetentionDays: props.logRetentionDays,
    });
    this.schedule = new CloudwatchEventRule(this, "schedule", {
      provider,
      name: naming.name("eventRule", "readiness", region),
      description: `Evaluate DR readiness every ${minutes} minutes`,
      scheduleExpression: `rate(${minutes} minutes)`,
    });
    new CloudwatchEventTarget(this, "target", {
      provider,
      rule: this.schedule.name,
      arn: this.function.function.arn,
      // A missed run is made up by the next one; retrying a 90 s evaluation helps nobody.
      retryPolicy: { maximumEventAgeInSeconds: 300, maximumRetryAttempts: 0 },
    });
    new LambdaPermission(this, "invoke", {
      provider,
      functionName: this.function.function.functionName,
      action: "lambda:InvokeFunction",
      principal: "events.amazonaws.com",
      sourceArn: this.schedule.arn,
    });
    this.alarm = new CloudwatchMetricAlarm(this, "failed", {
      provider,
      alarmName: naming.name("alarm", "readiness-failed", region),
      alarmDescription: `DR readiness evaluated in ${region} failed twice in a row, or was not evaluated for ${2 * minutes} minutes. Run \`payments-dr readiness\`: each failing check says what to fix. Not an outage by itself.`,
      namespace: METRICS.namespace,
      metricName: METRICS.readiness,
      dimensions: { Region: region },
      statistic: "Maximum",
      period: minutes * 60,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      // 3 = fail. warn (1) and unknown (2, e.g. the other region not answering during an outage
      // that other alarms page on) show on the dashboard without waking anyone.
      threshold: 3,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      // An evaluator that stopped reporting leaves readiness unknown: that pages too.
      treatMissingData: "breaching",
      alarmActions: [props.topic.topic.arn],
      okActions: [props.topic.topic.arn],
    });
  }
}

/** The evaluator's physical name component: `payments-readiness-<suffix>`. */
export const READINESS_COMPONENT = "readiness";

/** READINESS_SETTINGS: a Terraform expression rendering the JSON (ARNs known at apply). */
export function readinessSettingsJson(
  targets: ReadinessTargets,
  readiness: ReadinessConfig,
): string {
  return Fn.jsonencode(readinessSettings(targets, readiness));
}

/** The READINESS_SETTINGS object (ReadinessSettings in functions/monitoring/readiness/core.ts). */
export function readinessSettings(targets: ReadinessTargets, readiness: ReadinessConfig) {
  return {
    accountId: targets.accountId,
    paymentFunctions: targets.paymentFunctions,
    taskFunctions: targets.taskFunctions,
    reportWriter: targets.reportWriter,
    tables: targets.tables,
    stateMachines: targets.stateMachines,
    drillDocument: targets.drillDocument,
    regions: Object.fromEntries(
      Object.entries(targets.regions).map(([r, t]) => [
        r,
        {
          keyArns: t.keyArns,
          taskRoleArns: t.taskRoleArns,
          workflowRoleArn: t.workflowRoleArn,
          instanceIdentifiers: t.instanceIdentifiers,
          backupVault: t.backupVaultName,
          subnetGroup: t.subnetGroup,
          clusterParameterGroup: t.clusterParameterGroup,
        },
      ]),
    ),
    proberRegion: targets.proberRegion,
    alarmPrefix: `${APP_NAME}-`,
    alarmSuffix: `-${targets.environmentSuffix}`,
    database: {
      instanceClass: targets.database.instanceClass,
      writerInstances: targets.database.primaryInstances,
      standbyInstances: targets.database.secondaryInstances,
      engineVersion: targets.database.engineVersion,
      monitoringRoleArn: targets.monitoringRoleArn,
    },
    lag: { warnMs: readiness.lagWarnMs, failMs: targets.rpoTargetSeconds * 1000 },
    quotas: READINESS_QUOTAS,
    freshnessGraceHours: readiness.freshnessGraceHours,
    unknownPageAfter: readiness.unknownPageAfter,
    scheduleMinutes: readiness.scheduleMinutes,
    lambdaBudget: targets.lambdaBudget,
  };
}

/**
 * The evaluator's permissions: reads only, on the named resources wherever the service supports
 * resource-level permissions. The two writes are its own results: PutMetricData in the PaymentsDR
 * namespace and PutItem of its own `readiness#<region>` item of the control table.
 */
export function readinessStatements(targets: ReadinessTargets, region: string): Statement[] {
  const account = targets.accountId;
  const regions = Object.keys(targets.regions);
  const own = targets.regions[region]!;
  const each = <T>(f: (r: string) => T | T[]) => regions.flatMap(f);
  return [
    {
      sid: "ReadAurora",
      actions: ["rds:DescribeGlobalClusters", "rds:DescribeDBClusters"],
      resources: [
        `arn:aws:rds::${account}:global-cluster:${targets.globalClusterIdentifier}`,
        ...each((r) => targets.regions[r]!.clusterArn),
      ],
    },
    {
      // DescribeDBInstances with a cluster filter is authorized on the db resource type.
      sid: "ReadAuroraInstances",
      actions: ["rds:DescribeDBInstances"],
      resources: each((r) => `arn:aws:rds:${r}:${account}:db:*`),
    },
    {
      sid: "ReadKeys",
      actions: ["kms:DescribeKey"],
      resources: each((r) => [...targets.regions[r]!.keyArns]),
    },
    {
      sid: "ReadFunctions",
      actions: ["lambda:GetFunctionConfiguration", "lambda:GetFunctionConcurrency"],
      resources: each((r) =>
        targets.paymentFunctions.map((f) => `arn:aws:lambda:${r}:${account}:function:${f}`),
      ),
    },
    {
      sid: "ReadParameterNames",
      actions: ["ssm:GetParametersByPath"],
      resources: each((r) => [
        `arn:aws:ssm:${r}:${account}:parameter${targets.parameterPrefix}`,
        `arn:aws:ssm:${r}:${account}:parameter${targets.parameterPrefix}/*`,
      ]),
    },
    {
      sid: "ReadTables",
      actions: ["dynamodb:DescribeTable", "dynamodb:DescribeContinuousBackups"],
      resources: each((r) =>
        targets.tables.map((t) => `arn:aws:dynamodb:${r}:${account}:table/${t}`),
      ),
    },
    {
      sid: "ReadWorkflows",
      actions: ["states:DescribeStateMachine"],
      resources: each((r) =>
        targets.stateMachines.map((m) => `arn:aws:states:${r}:${account}:stateMachine:${m}`),
      ),
    },
    {
      sid: "SimulateDrRoles",
      actions: ["iam:SimulatePrincipalPolicy"],
      resources: each((r) => [
        ...Object.values(targets.regions[r]!.taskRoleArns),
        targets.regions[r]!.workflowRoleArn,
      ]),
    },
    {
      sid: "ReadBackupCopies",
      actions: ["backup:ListRecoveryPointsByBackupVault"],
      resources: each(
        (r) => `arn:aws:backup:${r}:${account}:backup-vault:${targets.regions[r]!.backupVaultName}`,
      ),
    },
    {
      // No resource-level permissions for these reads (Service Authorization Reference).
      // AWS documents no resource type for these (Service Authorization Reference: AWS Backup
      // ListCopyJobs, Lambda GetAccountSettings, Service Quotas GetAWSDefaultServiceQuota, Systems Manager
      // DescribeAutomationExecutions, CloudWatch GetMetricData), so "*" is the only grant.
      sid: "ReadWithoutResourceLevel",
      actions: [
        "backup:ListCopyJobs",
        "lambda:GetAccountSettings",
        "servicequotas:GetAWSDefaultServiceQuota",
        "ssm:DescribeAutomationExecutions",
        "cloudwatch:GetMetricData",
      ],
      resources: ["*"],
    },
    {
      // GetServiceQuota is authorized on the quota (arn:aws:servicequotas:<region>:<account>:
      // <service code>/<quota code>): only the quotas it compares.
      sid: "ReadComparedQuotas",
      actions: ["servicequotas:GetServiceQuota"],
      resources: each((r) =>
        READINESS_QUOTAS.map(
          (q) => `arn:aws:servicequotas:${r}:${account}:${q.serviceCode}/${q.quotaCode}`,
        ),
      ),
    },
    {
      // DescribeAlarms is authorized on the alarm resource type; the evaluator lists this
      // environment's alarms by name prefix, so the alarms of the two regions.
      sid: "ReadAlarms",
      actions: ["cloudwatch:DescribeAlarms"],
      resources: each((r) => `arn:aws:cloudwatch:${r}:${account}:alarm:*`),
    },
    {
      sid: "PublishReadiness",
      actions: ["cloudwatch:PutMetricData"],
      resources: ["*"],
      condition: [
        { test: "StringEquals", variable: "cloudwatch:namespace", values: [METRICS.namespace] },
      ],
    },
    {
      sid: "StoreOwnEvaluation",
      actions: ["dynamodb:PutItem"],
      resources: [own.controlTableArn],
      condition: [
        {
          test: "ForAllValues:StringEquals",
          variable: "dynamodb:LeadingKeys",
          values: [`${CONTROL.readinessItemPrefix}${region}`],
        },
      ],
    },
    {
      sid: "ControlTableKey",
      actions: ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"],
      resources: [own.platformKeyArn],
      condition: [
        {
          test: "StringEquals",
          variable: "kms:ViaService",
          values: [`dynamodb.${region}.amazonaws.com`],
        },
      ],
    },
  ];
}
