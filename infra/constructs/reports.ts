import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import type { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { LambdaFunctionEventInvokeConfig } from "@cdktf/provider-aws/lib/lambda-function-event-invoke-config";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { Construct } from "constructs";
import { LEDGER, METRICS, REPORTS_ENV } from "../../functions/common/contract";
import { DRILL_KINDS } from "../../functions/reports/shared/model";
import type { Targets } from "../../functions/reports/shared/model";
import type { TargetsByKind } from "../../functions/reports/shared/settings";
import type { DrillConfig, FailoverConfig, ReportsConfig } from "../config";
import { NodejsFunction } from "../lib/nodejs-function";
import type { Statement } from "../lib/policy";
import { policyDocument } from "../lib/policy";
import type { Naming } from "../naming";
import type { PlatformKey } from "./keys";
import type { AlertTopic } from "./observability";
import { pagingAlarm } from "./observability";

/** Physical name components of the report functions (identical in both regions). */
export const REPORT_FUNCTIONS = {
  writer: "report-writer",
  widget: "ledger-widget",
  watch: "drill-watch",
} as const;

export const REPORTS_MEMORY_MB = 256;

/** Versions a rewritten report leaves behind are kept this long. */
export const NONCURRENT_VERSION_DAYS = 30;

/** The targets each kind of run is held to: failovers by the RTO/RPO targets, restores by theirs. */
export function reportTargets(failover: FailoverConfig, drills: DrillConfig): TargetsByKind {
  const failoverTargets: Targets = {
    rtoTargetSeconds: failover.rtoTargetSeconds,
    rtoGoalSeconds: failover.rtoGoalSeconds,
    rpoTargetSeconds: failover.rpoTargetSeconds,
  };
  return {
    default: failoverTargets,
    "restore-drill": {
      rtoTargetSeconds: drills.restoreRtoTargetSeconds,
      rtoGoalSeconds: drills.restoreRtoTargetSeconds,
      rpoTargetSeconds: drills.restoreMaxBackupAgeHours * 3600,
    },
  };
}

export interface LedgerRegion {
  readonly provider: AwsProvider;
  readonly region: string;
  readonly key: PlatformKey;
}

export interface LedgerTableProps {
  readonly naming: Naming;
  /** The table is created here; its replica lives in `secondary`. */
  readonly primary: LedgerRegion;
  readonly secondary: LedgerRegion;
}

/**
 * The ledger: a global table with a row per run and drill, readable in either region (the
 * dashboard, the drill watch and the CLI read their own region's replica). Rows expire with the
 * reports they point to.
 */
export class LedgerTable extends Construct {
  public readonly table: DynamodbTable;
  public readonly name: string;
  /** ARN of the table in each region. */
  public readonly arns: Record<string, string>;

  constructor(scope: Construct, id: string, props: LedgerTableProps) {
    super(scope, id);
    const { naming, primary, secondary } = props;
    this.name = naming.name("dynamodbTable", "dr-ledger");
    this.table = new DynamodbTable(this, "table", {
      provider: primary.provider,
      name: this.name,
      billingMode: "PAY_PER_REQUEST",
      hashKey: LEDGER.partitionKey,
      attribute: [
        { name: LEDGER.partitionKey, type: "S" },
        { name: LEDGER.indexPartitionKey, type: "S" },
        { name: LEDGER.indexSortKey, type: "S" },
      ],
      globalSecondaryIndex: [
        {
          name: LEDGER.timeIndex,
          hashKey: LEDGER.indexPartitionKey,
          rangeKey: LEDGER.indexSortKey,
          projectionType: "ALL",
        },
      ],
      ttl: { attributeName: LEDGER.ttlAttribute, enabled: true },
      pointInTimeRecovery: { enabled: true },
      serverSideEncryption: { enabled: true, kmsKeyArn: primary.key.arn },
      // Global tables replicate through streams.
      streamEnabled: true,
      streamViewType: "NEW_AND_OLD_IMAGES",
      deletionProtectionEnabled: false,
      replica: [
        {
          regionName: secondary.region,
          kmsKeyArn: secondary.key.arn,
          pointInTimeRecovery: true,
          propagateTags: true,
        },
      ],
    });
    this.arns = {
      [primary.region]: this.table.arn,
      [secondary.region]: `arn:aws:dynamodb:${secondary.region}:${secondary.key.accountId}:table/${this.name}`,
    };
  }
}

export interface RegionalReportsProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly region: string;
  readonly key: PlatformKey;
  readonly alerts: AlertTopic;
  readonly ledger: LedgerTable;
  readonly reports: ReportsConfig;
  readonly targets: TargetsByKind;
  readonly logRetentionDays: number;
}

/**
 * Where one region's runs leave their evidence: a private, CMK-encrypted, versioned report
 * bucket with a retention rule, and the writer, the only function allowed to put reports there
 * and rows in the ledger. The writer also hears every end of a payments-dr workflow execution
 * in this region, so a run that never wrote its own report (stopped, timed out, refused) gets
 * one from its history.
 */
export class RegionalReports extends Construct {
  public readonly bucket: S3Bucket;
  public readonly writer: NodejsFunction;

  constructor(scope: Construct, id: string, props: RegionalReportsProps) {
    super(scope, id);
    const { provider, naming, region, key } = props;
    this.bucket = new S3Bucket(this, "bucket", {
      provider,
      bucketPrefix: naming.bucketPrefix("dr-reports", region),
      // Destroyable on the first try: `terraform destroy` empties it, every version included.
      forceDestroy: true,
    });
    new S3BucketPublicAccessBlock(this, "public-access-block", {
      provider,
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "ownership", {
      provider,
      bucket: this.bucket.id,
      // ACLs off: the bucket owner owns every object.
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    new S3BucketServerSideEncryptionConfigurationA(this, "encryption", {
      provider,
      bucket: this.bucket.id,
      rule: [
        {
          applyServerSideEncryptionByDefault: {
            sseAlgorithm: "aws:kms",
            kmsMasterKeyId: key.arn,
          },
          // One data key per bucket, not per object: fewer KMS calls, same key.
          bucketKeyEnabled: true,
        },
      ],
    });
    // A rewritten report keeps its earlier version for a while: evidence is not silently lost.
    new S3BucketVersioningA(this, "versioning", {
      provider,
      bucket: this.bucket.id,
      versioningConfiguration: { status: "Enabled" },
    });
    new S3BucketLifecycleConfiguration(this, "lifecycle", {
      provider,
      bucket: this.bucket.id,
      rule: [
        {
          id: "report-retention",
          status: "Enabled",
          filter: [{ prefix: "" }],
          expiration: [{ days: props.reports.retentionDays }],
          noncurrentVersionExpiration: [{ noncurrentDays: NONCURRENT_VERSION_DAYS }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 1 }],
        },
        {
          id: "expired-delete-markers",
          status: "Enabled",
          filter: [{ prefix: "" }],
          expiration: [{ expiredObjectDeleteMarker: true }],
        },
      ],
    });
    new S3BucketPolicy(this, "policy", {
      provider,
      bucket: this.bucket.id,
      policy: policyDocument(this, "policy-document", provider, [
        {
          sid: "DenyInsecureTransport",
          effect: "Deny",
          principals: [{ type: "*", identifiers: ["*"] }],
          actions: ["s3:*"],
          resources: [this.bucket.arn, `${this.bucket.arn}/*`],
          condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
        },
      ]),
    });

    const accountId = key.accountId;
    const workflowExecutions = `arn:aws:states:${region}:${accountId}:execution:payments-*-${naming.suffix}:*`;
    this.writer = new NodejsFunction(this, "writer", {
      provider,
      naming,
      region,
      key,
      group: "reports",
      source: "writer",
      component: REPORT_FUNCTIONS.writer,
      description: "Stores run and drill reports (JSON + HTML) and their ledger rows",
      memorySize: REPORTS_MEMORY_MB,
      timeoutSeconds: 30,
      environment: {
        [REPORTS_ENV.environmentSuffix]: naming.suffix,
        [REPORTS_ENV.bucket]: this.bucket.bucket,
        [REPORTS_ENV.ledgerTable]: props.ledger.name,
        [REPORTS_ENV.targets]: JSON.stringify(props.targets),
        [REPORTS_ENV.retentionDays]: String(props.reports.retentionDays),
      },
      statements: [
        {
          sid: "PutReports",
          actions: ["s3:PutObject"],
          resources: [`${this.bucket.arn}/reports/*`],
        },
        {
          sid: "LedgerRows",
          actions: ["dynamodb:GetItem", "dynamodb:PutItem"],
          resources: [props.ledger.arns[region]!],
        },
        {
          sid: "ReadEndedWorkflows",
          actions: ["states:GetExecutionHistory"],
          resources: [workflowExecutions],
        },
        {
          // The asynchronous invoke's on-failure destination: a report that could not be
          // written pages.
          sid: "PageWhenAReportFails",
          actions: ["sns:Publish"],
          resources: [props.alerts.topic.arn],
        },
        ...keyUse(key, region, [
          ["s3", ["kms:GenerateDataKey"]],
          ["dynamodb", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]],
          ["sns", ["kms:Decrypt", "kms:GenerateDataKey"]],
        ]),
      ],
      logRetentionDays: props.logRetentionDays,
    });
    new LambdaFunctionEventInvokeConfig(this, "writer-async", {
      provider,
      functionName: this.writer.function.functionName,
      // Lambda retries a failed asynchronous invoke twice, then pages on-call.
      maximumRetryAttempts: 2,
      maximumEventAgeInSeconds: 3600,
      destinationConfig: { onFailure: { destination: props.alerts.topic.arn } },
    });

    const ended = new CloudwatchEventRule(this, "ended-executions", {
      provider,
      name: naming.name("eventRule", "dr-run-ended", region),
      description: `Every payments-dr workflow execution in ${region} that ended: its report, if it wrote none`,
      eventPattern: JSON.stringify(endedExecutionsPattern(region, accountId, naming.suffix)),
    });
    new CloudwatchEventTarget(this, "ended-executions-target", {
      provider,
      rule: ended.name,
      targetId: "report-writer",
      arn: this.writer.function.arn,
      retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 10 },
    });
    new LambdaPermission(this, "ended-executions-invoke", {
      provider,
      functionName: this.writer.function.functionName,
      action: "lambda:InvokeFunction",
      principal: "events.amazonaws.com",
      sourceArn: ended.arn,
    });
  }
}

/**
 * Step Functions' status-change events (on the default bus) of every payments-dr workflow of
 * this environment in this region, by name pattern, so a workflow added later (re-protect) is
 * covered without a change here.
 */
export function endedExecutionsPattern(
  region: string,
  accountId: string,
  suffix: string,
): Record<string, unknown> {
  return {
    source: ["aws.states"],
    "detail-type": ["Step Functions Execution Status Change"],
    detail: {
      status: ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
      stateMachineArn: [
        { wildcard: `arn:aws:states:${region}:${accountId}:stateMachine:payments-*-${suffix}` },
      ],
    },
  };
}

/** KMS statements for using the region's key through the named services only. */
export function keyUse(
  key: PlatformKey,
  region: string,
  uses: ReadonlyArray<readonly [service: string, actions: string[]]>,
): Statement[] {
  return uses.map(([service, actions]) => ({
    sid: `KeyVia${service.charAt(0).toUpperCase()}${service.slice(1)}`,
    actions,
    resources: [key.arn],
    condition: [
      {
        test: "StringEquals",
        variable: "kms:ViaService",
        values: [`${service}.${region}.amazonaws.com`],
      },
    ],
  }));
}

export interface DrillEvidenceProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  /** The secondary region: where the drills are scheduled and the overview dashboard lives. */
  readonly region: string;
  readonly key: PlatformKey;
  readonly alerts: AlertTopic;
  readonly ledger: LedgerTable;
  readonly reports: ReportsConfig;
  readonly drills: DrillConfig;
  readonly logRetentionDays: number;
}

/**
 * Drill results that page, and the ledger on the dashboard. The drill watch reads the ledger
 * every 15 minutes and publishes each drill's age and whether its newest run failed; two alarms
 * per kind of drill page on them. The widget renders the ledger for the overview dashboard.
 */
export class DrillEvidence extends Construct {
  public readonly watch: NodejsFunction;
  public readonly widget: NodejsFunction;
  public readonly alarms: CloudwatchMetricAlarm[] = [];

  constructor(scope: Construct, id: string, props: DrillEvidenceProps) {
    super(scope, id);
    const { provider, naming, region, key, ledger } = props;
    const environment = {
      [REPORTS_ENV.environmentSuffix]: naming.suffix,
      [REPORTS_ENV.ledgerTable]: ledger.name,
      [REPORTS_ENV.retentionDays]: String(props.reports.retentionDays),
      [REPORTS_ENV.maxDrillAgeDays]: String(props.drills.maxAgeDays),
    };
    const readLedger: Statement[] = [
      {
        sid: "ReadLedger",
        actions: ["dynamodb:Query"],
        resources: [`${ledger.arns[region]!}/index/${LEDGER.timeIndex}`],
      },
      {
        sid: "LedgerAge",
        actions: ["dynamodb:DescribeTable"],
        resources: [ledger.arns[region]!],
      },
      ...keyUse(key, region, [["dynamodb", ["kms:Decrypt"]]]),
    ];
    this.watch = new NodejsFunction(this, "watch", {
      provider,
      naming,
      region,
      key,
      group: "reports",
      source: "drill-watch",
      component: REPORT_FUNCTIONS.watch,
      description: "Publishes how long ago each drill passed and whether its newest run failed",
      memorySize: REPORTS_MEMORY_MB,
      timeoutSeconds: 30,
      environment,
      statements: [
        ...readLedger,
        {
          sid: "PublishDrillMetrics",
          actions: ["cloudwatch:PutMetricData"],
          resources: ["*"],
          condition: [
            { test: "StringEquals", variable: "cloudwatch:namespace", values: [METRICS.namespace] },
          ],
        },
      ],
      logRetentionDays: props.logRetentionDays,
    });
    const schedule = new CloudwatchEventRule(this, "watch-schedule", {
      provider,
      name: naming.name("eventRule", "dr-drill-watch", region),
      description: "Check the drills' results in the ledger every 15 minutes",
      scheduleExpression: "rate(15 minutes)",
    });
    new CloudwatchEventTarget(this, "watch-target", {
      provider,
      rule: schedule.name,
      targetId: "drill-watch",
      arn: this.watch.function.arn,
    });
    new LambdaPermission(this, "watch-invoke", {
      provider,
      functionName: this.watch.function.functionName,
      action: "lambda:InvokeFunction",
      principal: "events.amazonaws.com",
      sourceArn: schedule.arn,
    });

    this.widget = new NodejsFunction(this, "widget", {
      provider,
      naming,
      region,
      key,
      group: "reports",
      source: "ledger-widget",
      component: REPORT_FUNCTIONS.widget,
      description: "The DR ledger as a CloudWatch dashboard widget (read-only)",
      memorySize: REPORTS_MEMORY_MB,
      timeoutSeconds: 10,
      environment,
      statements: readLedger,
      logRetentionDays: props.logRetentionDays,
    });

    const pager = { provider, naming, region, topic: props.alerts };
    for (const kind of DRILL_KINDS) {
      const dimensions = { Drill: kind };
      this.alarms.push(
        pagingAlarm(this, `${kind}-overdue`, pager, {
          alarmDescription: `No successful ${kind} in ${props.drills.maxAgeDays} days (from the DR ledger). Run it: runbooks/${kind === "restore-drill" ? "restore-drill" : "dr-drill"}.md. Also fires when the drill watch stops reporting.`,
          namespace: METRICS.namespace,
          metricName: METRICS.drillOverdueDays,
          dimensions,
          statistic: "Maximum",
          period: 3600,
          // Three hours: a fresh deployment has its first datapoint within 15 minutes, and a
          // 40-day limit does not need a faster page.
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
          threshold: props.drills.maxAgeDays,
          comparisonOperator: "GreaterThanThreshold",
          // A silent watch cannot vouch for the drills.
          treatMissingData: "breaching",
        }),
        pagingAlarm(this, `${kind}-failed`, pager, {
          alarmDescription: `The newest ${kind} failed (from the DR ledger): its report says where. Stays in ALARM until a ${kind} passes.`,
          namespace: METRICS.namespace,
          metricName: METRICS.drillFailing,
          dimensions,
          statistic: "Maximum",
          period: 1800,
          evaluationPeriods: 1,
          threshold: 1,
          comparisonOperator: "GreaterThanOrEqualToThreshold",
          // A period without a datapoint (the watch runs every 15 minutes, not on the period's
          // edge) keeps the state: the alarm must not flap between pages.
          treatMissingData: "ignore",
        }),
      );
    }
  }
}
