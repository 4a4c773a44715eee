import { CloudwatchDashboard } from "@cdktf/provider-aws/lib/cloudwatch-dashboard";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import type { CloudwatchMetricAlarmConfig } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { Construct } from "constructs";
import { METRICS, PEER_LEASE } from "../../functions/common/contract";
import { DRILL_KINDS } from "../../functions/reports/shared/model";
import type { Targets } from "../../functions/reports/shared/model";
import type { RoutingConfig } from "../config";
import { policyDocument, tlsOnlyStatement } from "../lib/policy";
import type { Naming } from "../naming";
import type { PlatformKey } from "./keys";

/** Aurora reports AuroraGlobalDBReplicationLag in milliseconds: 60 s is 60000. */
export const REPLICATION_LAG_THRESHOLD_MS = 60_000;
export const DYNAMODB_REPLICATION_LATENCY_THRESHOLD_MS = 10_000;
export const PAYMENT_ERROR_RATE_PERCENT = 5;

export interface AlertTopicProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly region: string;
  readonly key: PlatformKey;
  /**
   * Subscribed to the topic by email (the address confirms the subscription).
   * @default - no subscription
   */
  readonly email?: string;
}

/** A KMS-encrypted SNS topic for one region's pages, with the on-call email subscribed. */
export class AlertTopic extends Construct {
  public readonly topic: SnsTopic;

  constructor(scope: Construct, id: string, props: AlertTopicProps) {
    super(scope, id);
    const { provider, naming, key } = props;
    this.topic = new SnsTopic(this, "topic", {
      provider,
      name: naming.name("snsTopic", "alerts"),
      displayName: `payments-dr ${naming.suffix} alerts (${props.region})`,
      kmsMasterKeyId: key.arn,
    });
    new SnsTopicPolicy(this, "policy", {
      provider,
      arn: this.topic.arn,
      policy: policyDocument(this, "policy-document", provider, [
        {
          sid: "AlarmsAndEventsPublish",
          principals: [
            { type: "Service", identifiers: ["cloudwatch.amazonaws.com", "events.amazonaws.com"] },
          ],
          actions: ["sns:Publish"],
          resources: [this.topic.arn],
          condition: [
            { test: "StringEquals", variable: "aws:SourceAccount", values: [key.accountId] },
          ],
        },
        tlsOnlyStatement("sns", this.topic.arn),
      ]),
    });
    if (props.email) {
      new SnsTopicSubscription(this, "email", {
        provider,
        topicArn: this.topic.arn,
        protocol: "email",
        endpoint: props.email,
      });
    }
  }
}

export interface ObservedRegion {
  readonly region: string;
  readonly clusterIdentifier: string;
  readonly apiId: string;
  /** Payment function names (identical in both regions). */
  readonly functionNames: string[];
  /** The health function (GET /health), also in `functionNames`. */
  readonly healthFunctionName: string;
  readonly tableNames: string[];
  /** The other region, where DynamoDB replicates to. */
  readonly peerRegion: string;
  /**
   * The connection budget's safe share of this region's writer (infra/lib/connection-budget.ts):
   * the designed worst case stays under it, so crossing it means something the budget does not
   * count holds connections.
   */
  readonly writerConnectionsSafe: number;
}

export interface RegionalObservabilityProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly topic: AlertTopic;
  readonly observed: ObservedRegion;
  /** The region whose health the prober in `prober.region` reports. */
  readonly prober: { readonly region: string; readonly probedRegion: string };
}

/** Who an alarm pages: the region's topic, on entering ALARM and on recovering. */
export interface Pager {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly region: string;
  readonly topic: AlertTopic;
}

/**
 * Minutes of failed peer-lease renewals before the renewal alarm notifies: re-protect's wait to
 * arm (LEASE_WAIT_CAP_SECONDS, 300 s), so the page lands when re-protect gives up arming.
 */
export const RENEWAL_FAILING_MINUTES = 5;

/**
 * Seconds the capacity-not-restored alarm looks back: it stays in ALARM about this long after a
 * capacity page, then returns to OK (which says no new capacity loop ended short, not that the
 * capacity is back: review 24, L2; README, Capacity after a failover, says what to check).
 */
export const CAPACITY_ALARM_PERIOD_SECONDS = 3600;

/** An alarm named `payments-<name>-<region code>-<suffix>` that pages the region's topic. */
export function pagingAlarm(scope: Construct, name: string, pager: Pager, spec: AlarmSpec) {
  return new CloudwatchMetricAlarm(scope, name, {
    provider: pager.provider,
    alarmName: pager.naming.name("alarm", name, pager.region),
    alarmActions: [pager.topic.topic.arn],
    okActions: [pager.topic.topic.arn],
    ...spec,
  });
}

export type AlarmSpec = Omit<
  CloudwatchMetricAlarmConfig,
  "alarmName" | "provider" | "alarmActions" | "okActions"
>;

/** Metric array in the CloudWatch dashboard format. */
type DashboardMetric = (string | Record<string, unknown>)[];

/** One region's alarms and dashboard. */
export class RegionalObservability extends Construct {
  public readonly alarms: Record<string, CloudwatchMetricAlarm> = {};
  public readonly dashboard: CloudwatchDashboard;

  constructor(scope: Construct, id: string, props: RegionalObservabilityProps) {
    super(scope, id);
    const { observed } = props;
    const region = observed.region;

    this.alarm(props, "replication-lag", {
      alarmDescription:
        "Aurora global replication lag above 60 s: the RPO is at risk (metric in milliseconds).",
      namespace: "AWS/RDS",
      metricName: "AuroraGlobalDBReplicationLag",
      dimensions: { DBClusterIdentifier: observed.clusterIdentifier },
      statistic: "Maximum",
      period: 60,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      threshold: REPLICATION_LAG_THRESHOLD_MS,
      comparisonOperator: "GreaterThanThreshold",
      // Only the secondary cluster reports lag; the writer's silence is normal.
      treatMissingData: "notBreaching",
    });
    // From the access logs, /health excluded: a passive region answers its health checks with
    // 503 by design, which would otherwise keep this alarm firing.
    this.alarm(props, "payment-errors", {
      alarmDescription: `More than ${PAYMENT_ERROR_RATE_PERCENT}% of payment API requests (not /health) fail with 5xx.`,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      threshold: PAYMENT_ERROR_RATE_PERCENT,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
      metricQuery: [
        {
          id: "rate",
          expression: "IF(requests > 0, 100 * errors / requests, 0)",
          label: "5xx rate (%)",
          returnData: true,
        },
        {
          id: "errors",
          metric: {
            namespace: METRICS.namespace,
            metricName: METRICS.apiServerErrors,
            stat: "Sum",
            period: 60,
          },
        },
        {
          id: "requests",
          metric: {
            namespace: METRICS.namespace,
            metricName: METRICS.apiRequests,
            stat: "Sum",
            period: 60,
          },
        },
      ],
    });
    // The writer's connection count against the budget's safe share. A role metric, as AWS
    // advises ("use WRITER or READER role metrics to set up alarms instead of relying on metrics
    // for specific DB instances", creating_alarms.html): it follows the writer role to whichever
    // instance holds it, and the secondary's silence before a failover is normal.
    this.alarm(props, "db-connections", {
      alarmDescription: `The writer of ${observed.clusterIdentifier} holds more than ${observed.writerConnectionsSafe} connections, the connection budget's safe share: something the budget does not count is connecting (npm run budget; README, "Sizing the connection budget").`,
      namespace: "AWS/RDS",
      metricName: "DatabaseConnections",
      dimensions: { DBClusterIdentifier: observed.clusterIdentifier, Role: "WRITER" },
      statistic: "Maximum",
      period: 60,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      threshold: observed.writerConnectionsSafe,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
    });
    this.alarm(props, "lambda-throttles", {
      alarmDescription: "Payment functions are being throttled.",
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
      metricQuery: [
        {
          id: "throttles",
          expression: observed.functionNames.map((_, i) => `t${i}`).join(" + "),
          label: "Throttles (all payment functions)",
          returnData: true,
        },
        ...observed.functionNames.map((functionName, i) => ({
          id: `t${i}`,
          metric: {
            namespace: "AWS/Lambda",
            metricName: "Throttles",
            dimensions: { FunctionName: functionName },
            stat: "Sum",
            period: 60,
          },
        })),
      ],
    });
    // Review 22b-18 H1': /health runs in its reserved environments at the stage's default
    // throttle, so a flood beyond what they carry makes Lambda throttle it, and "If the Lambda API
    // rejects the invocation request, API Gateway returns a 500 error code"
    // (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html): unhealthy to
    // Route 53 and the prober. It pages on its own (the sum above drowns it among the payment
    // functions) so the flood is visible as what it is; it never starts a failover, and an
    // alarm's failover halts while the writer heartbeat still advances (Preflight).
    this.alarm(props, "health-throttles", {
      alarmDescription: `The health function ${observed.healthFunctionName} (GET /health) in ${region} is being throttled: more requests than its reserved environments carry, most likely a flood of the unauthenticated /health. Route 53 and the prober count the 500s as unhealthy; a failover the prober's alarm starts halts at Preflight while the primary still commits its writer heartbeat (README, "Route throttling").`,
      namespace: "AWS/Lambda",
      metricName: "Throttles",
      dimensions: { FunctionName: observed.healthFunctionName },
      statistic: "Sum",
      period: 60,
      evaluationPeriods: 2,
      datapointsToAlarm: 1,
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
    });
    observed.tableNames.forEach((tableName) =>
      this.alarm(props, `dynamodb-replication-${tableName.split("-")[1]}`, {
        alarmDescription: `${tableName} replication to ${observed.peerRegion} is slower than 10 s.`,
        namespace: "AWS/DynamoDB",
        metricName: "ReplicationLatency",
        dimensions: { TableName: tableName, ReceivingRegion: observed.peerRegion },
        statistic: "Average",
        period: 60,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        threshold: DYNAMODB_REPLICATION_LATENCY_THRESHOLD_MS,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
      }),
    );
    for (const [name, metricName] of [
      ["backup-jobs-failed", "NumberOfBackupJobsFailed"],
      ["copy-jobs-failed", "NumberOfCopyJobsFailed"],
    ] as const) {
      this.alarm(props, name, {
        alarmDescription: `AWS Backup: ${metricName} in ${region}.`,
        namespace: "AWS/Backup",
        metricName,
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
      });
    }
    // A run's capacity loop (after its lock's release) that ended short: the Notify task pages and
    // publishes CapacityNotRestored, by Workflow and Region and by Region alone (the run's target,
    // which is this region: ValidateInput makes a state machine move the writer only to its own
    // region). The alarm watches the Region-only metric: one metric, no metric math over series
    // that exist only once a workflow has paged. It is the state on-call tooling and the console
    // show, and it still pages when the page was refused by Notify's own IAM (Notify sends the
    // metric then too), but not when the topic's key or policy refuses: it publishes to the same
    // topic (review 24, L3; sns-key-management.html#compatibility-with-aws-services). Sum over an hour (a period of an hour or more is allowed with
    // 1 evaluation period,
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html):
    // it alarms at the next evaluation after the page and stays in ALARM about an hour.
    this.alarm(props, "capacity-not-restored", {
      alarmDescription: `A failover, switchover or failback to ${region} completed but its capacity loop ended short: ${region}'s database may not have the old primary's instance count (DR_CAPACITY), or the standby left has no working instance of its own, or a reader the kit added there was not deleted. The capacity page (subject "capacity not restored") says which and what to run (README, Capacity after a failover). Returns to OK about an hour later whether or not capacity is back (OK is not "capacity restored"): close the incident once the page's advice is done.`,
      namespace: METRICS.namespace,
      metricName: METRICS.capacityNotRestored,
      dimensions: { Region: region },
      statistic: "Sum",
      period: CAPACITY_ALARM_PERIOD_SECONDS,
      evaluationPeriods: 1,
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      treatMissingData: "notBreaching",
    });
    // The write path's writer identity check could not run (review 24-10l H1): every write in
    // this region is refused (503 database_unavailable) until it runs again. Usually a deploy
    // fault (engine below the function's floor, EXECUTE not granted: the migrate function
    // verifies both), or this region's cluster endpoint unreachable. Any datapoint pages: a
    // passive region writes nothing, so this only counts real refusals. The Region-only datum
    // (write-runtime.ts installWriterCheck); the Reason datum says which.
    this.alarm(props, "writer-check-failed", {
      alarmDescription: `The payment write path's writer identity check failed in ${region}: every write there is refused with 503 until it runs. Metric ${METRICS.writerCheckFailed} by Region and Reason says why (function_missing: Aurora PostgreSQL below 13.7/12.11/11.16/10.21; permission_denied: run the migrate function; timeout or own_cluster_unavailable: the region's cluster endpoint). README, Writer identity check.`,
      namespace: METRICS.namespace,
      metricName: METRICS.writerCheckFailed,
      dimensions: { Region: region },
      statistic: "Sum",
      period: 60,
      evaluationPeriods: 1,
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      treatMissingData: "notBreaching",
    });

    this.dashboard = new CloudwatchDashboard(this, "dashboard", {
      provider: props.provider,
      dashboardName: props.naming.name("dashboard", "dr", region),
      dashboardBody: JSON.stringify({ widgets: regionWidgets(observed, props.prober) }),
    });
  }

  protected alarm(
    props: RegionalObservabilityProps,
    name: string,
    spec: AlarmSpec,
  ): CloudwatchMetricAlarm {
    const alarm = pagingAlarm(this, name, { ...props, region: props.observed.region }, spec);
    this.alarms[name] = alarm;
    return alarm;
  }
}

function widget(title: string, region: string, metrics: DashboardMetric[], extra: object = {}) {
  return {
    type: "metric",
    width: 12,
    height: 6,
    properties: {
      title,
      region,
      metrics,
      view: "timeSeries",
      stacked: false,
      period: 60,
      ...extra,
    },
  };
}

/** The widgets of one region's dashboard (also reused by the overview). */
export function regionWidgets(
  observed: ObservedRegion,
  prober: { readonly region: string; readonly probedRegion: string },
): object[] {
  const { region, clusterIdentifier: cluster } = observed;
  const rds = (metricName: string, stat = "Average"): DashboardMetric => [
    "AWS/RDS",
    metricName,
    "DBClusterIdentifier",
    cluster,
    { stat },
  ];
  const perFunction = (metricName: string, stat: string): DashboardMetric[] =>
    observed.functionNames.map((fn) => ["AWS/Lambda", metricName, "FunctionName", fn, { stat }]);
  const perTable = (
    metricName: string,
    stat: string,
    extraDims: string[] = [],
  ): DashboardMetric[] =>
    observed.tableNames.map((t) => [
      "AWS/DynamoDB",
      metricName,
      "TableName",
      t,
      ...extraDims,
      { stat },
    ]);
  return [
    {
      type: "text",
      width: 24,
      height: 2,
      properties: {
        markdown: `## payments-dr ${region}\nActive region: see the *Active region* widget (1 = this region takes writes). Failover runbook: README, "Failing over".`,
      },
    },
    widget(
      "Aurora global replication lag (ms)",
      region,
      [rds("AuroraGlobalDBReplicationLag", "Maximum")],
      {
        annotations: {
          horizontal: [{ label: "alarm (60 s)", value: REPLICATION_LAG_THRESHOLD_MS }],
        },
      },
    ),
    widget("Aurora CPU (%)", region, [rds("CPUUtilization")]),
    widget("Aurora connections", region, [rds("DatabaseConnections", "Sum")]),
    widget("Aurora commit latency (ms)", region, [rds("CommitLatency")]),
    widget("Lambda invocations", region, perFunction("Invocations", "Sum")),
    widget("Lambda errors", region, perFunction("Errors", "Sum")),
    widget("Lambda p99 duration (ms)", region, perFunction("Duration", "p99")),
    widget("Lambda throttles", region, perFunction("Throttles", "Sum")),
    widget("DynamoDB consumed read capacity", region, perTable("ConsumedReadCapacityUnits", "Sum")),
    widget(
      "DynamoDB consumed write capacity",
      region,
      perTable("ConsumedWriteCapacityUnits", "Sum"),
    ),
    widget(
      `DynamoDB replication latency to ${observed.peerRegion} (ms)`,
      region,
      perTable("ReplicationLatency", "Average", ["ReceivingRegion", observed.peerRegion]),
    ),
    widget("DynamoDB throttled requests", region, [
      ...perTable("ReadThrottleEvents", "Sum"),
      ...perTable("WriteThrottleEvents", "Sum"),
    ]),
    widget(
      `Prober view of ${prober.probedRegion} /health (1 = healthy)`,
      prober.region,
      [
        [
          METRICS.namespace,
          METRICS.probeHealthy,
          "Region",
          prober.probedRegion,
          { stat: "Minimum", period: 10 },
        ],
      ],
      { period: 10, yAxis: { left: { min: 0, max: 1 } } },
    ),
    widget(
      `Writer heartbeat stale at ${prober.region} (1 = its job is not running)`,
      prober.region,
      [
        [
          METRICS.namespace,
          METRICS.writerHeartbeatStale,
          "Region",
          prober.region,
          { stat: "Maximum" },
        ],
      ],
      { yAxis: { left: { min: 0, max: 1 } } },
    ),
    widget(
      "Active region (1 = takes writes)",
      region,
      [[METRICS.namespace, METRICS.activeRegion, "Region", region, { stat: "Maximum" }]],
      { yAxis: { left: { min: 0, max: 1 } } },
    ),
    widget(
      "Readiness checks evaluated here (0 ok, 1 warn, 2 unknown, 3 fail)",
      region,
      [
        [
          {
            expression: `SEARCH('{${METRICS.namespace},Check,Region} MetricName="${METRICS.readinessCheck}" Region="${region}"', 'Maximum', 1800)`,
            id: "checks",
          },
        ],
      ],
      { period: 1800, yAxis: { left: { min: 0, max: 3 } } },
    ),
  ];
}

export interface OverviewDashboardProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly primary: ObservedRegion;
  readonly secondary: ObservedRegion;
  readonly prober: { readonly region: string; readonly probedRegion: string };
  /** The DR ledger and drill alarms (in the dashboard's region). @default - not shown */
  readonly evidence?: {
    readonly widgetFunctionArn: string;
    readonly alarms: CloudwatchMetricAlarm[];
    readonly targets: Targets;
    readonly maxDrillAgeDays: number;
  };
}

/** Days of run history the trend graphs show. */
export const TREND_DAYS = 180;

/**
 * The ledger (a custom widget), the RTO and RPO of every run over half a year against the
 * targets, and how long ago each drill passed against its limit.
 */
export function evidenceWidgets(
  dashboardRegion: string,
  regions: readonly string[],
  evidence: NonNullable<OverviewDashboardProps["evidence"]>,
): object[] {
  const workflows = ["failover", "switchover", "failback"];
  const trend = {
    start: `-P${TREND_DAYS}D`,
    period: 86400,
    view: "timeSeries",
    stacked: false,
  };
  return [
    {
      type: "custom",
      width: 24,
      height: 12,
      properties: {
        title: "DR ledger: drills and failovers, RTO and RPO against the targets",
        endpoint: evidence.widgetFunctionArn,
        params: { limit: 20 },
        updateOn: { refresh: true, resize: false, timeRange: false },
      },
    },
    {
      type: "metric",
      width: 12,
      height: 6,
      properties: {
        ...trend,
        title: `Measured RTO per run (s), last ${TREND_DAYS} days`,
        region: dashboardRegion,
        metrics: regions.flatMap((region) =>
          workflows.map((workflow) => [
            METRICS.namespace,
            METRICS.rto,
            "Workflow",
            workflow,
            { stat: "Maximum", region, label: `${workflow} (${region})` },
          ]),
        ),
        annotations: {
          horizontal: [
            { label: "RTO goal", value: evidence.targets.rtoGoalSeconds, color: "#1565c0" },
            { label: "RTO target", value: evidence.targets.rtoTargetSeconds, color: "#c62828" },
          ],
        },
      },
    },
    {
      type: "metric",
      width: 12,
      height: 6,
      properties: {
        ...trend,
        title: `RPO estimate per run (ms), last ${TREND_DAYS} days`,
        region: dashboardRegion,
        metrics: regions.flatMap((region) =>
          workflows.map((workflow) => [
            METRICS.namespace,
            METRICS.rpoEstimate,
            "Workflow",
            workflow,
            { stat: "Maximum", region, label: `${workflow} (${region})` },
          ]),
        ),
        annotations: {
          horizontal: [
            {
              label: "RPO target",
              value: evidence.targets.rpoTargetSeconds * 1000,
              color: "#c62828",
            },
          ],
        },
      },
    },
    {
      type: "metric",
      width: 12,
      height: 6,
      properties: {
        title: "Days since each drill passed",
        region: dashboardRegion,
        view: "timeSeries",
        stacked: false,
        start: "-P90D",
        period: 3600,
        metrics: DRILL_KINDS.map((kind) => [
          METRICS.namespace,
          METRICS.drillOverdueDays,
          "Drill",
          kind,
          { stat: "Maximum", label: kind },
        ]),
        annotations: {
          horizontal: [{ label: "pages", value: evidence.maxDrillAgeDays, color: "#c62828" }],
        },
      },
    },
    {
      type: "alarm",
      width: 12,
      height: 6,
      properties: {
        title: "Drill alarms",
        alarms: evidence.alarms.map((a) => a.arn),
      },
    },
  ];
}

/**
 * One cross-region overview. It lives in the secondary region so it stays readable when the
 * primary is the region in trouble.
 */
export class OverviewDashboard extends Construct {
  public readonly dashboard: CloudwatchDashboard;

  constructor(scope: Construct, id: string, props: OverviewDashboardProps) {
    super(scope, id);
    const both = [props.primary, props.secondary];
    const widgets: object[] = [
      {
        type: "text",
        width: 24,
        height: 2,
        properties: {
          markdown: `## payments-dr ${props.naming.suffix}: both regions\n${both.map((r) => r.region).join(" / ")}`,
        },
      },
      widget(
        "Active region (1 = takes writes)",
        props.secondary.region,
        both.map((r) => [
          METRICS.namespace,
          METRICS.activeRegion,
          "Region",
          r.region,
          { stat: "Maximum", region: r.region, label: r.region },
        ]),
      ),
      widget(
        `Prober view of ${props.prober.probedRegion} (1 = healthy)`,
        props.prober.region,
        [
          [
            METRICS.namespace,
            METRICS.probeHealthy,
            "Region",
            props.prober.probedRegion,
            { stat: "Minimum", period: 10 },
          ],
        ],
        { period: 10 },
      ),
      widget(
        "Aurora global replication lag (ms), both clusters",
        props.secondary.region,
        both.map((r) => [
          "AWS/RDS",
          "AuroraGlobalDBReplicationLag",
          "DBClusterIdentifier",
          r.clusterIdentifier,
          { stat: "Maximum", region: r.region, label: r.region },
        ]),
      ),
      widget(
        "Payment API requests and 5xx, both regions",
        props.secondary.region,
        both.flatMap((r) => [
          [
            "AWS/ApiGateway",
            "Count",
            "ApiId",
            r.apiId,
            "Stage",
            "$default",
            { stat: "Sum", region: r.region, label: `${r.region} requests` },
          ],
          [
            "AWS/ApiGateway",
            "5xx",
            "ApiId",
            r.apiId,
            "Stage",
            "$default",
            { stat: "Sum", region: r.region, label: `${r.region} 5xx` },
          ],
        ]),
      ),
      widget(
        "Readiness, as each region's evaluator sees it (0 ok, 1 warn, 2 unknown, 3 fail)",
        props.secondary.region,
        both.map((r) => [
          METRICS.namespace,
          METRICS.readiness,
          "Region",
          r.region,
          { stat: "Maximum", region: r.region, label: r.region, period: 1800 },
        ]),
        { period: 1800, yAxis: { left: { min: 0, max: 3 } } },
      ),
      widget(
        "Failover workflow executions",
        props.secondary.region,
        both.map((r) => [
          METRICS.namespace,
          METRICS.rto,
          "Workflow",
          "failover",
          { stat: "Maximum", region: r.region, label: `RTO (s), run from ${r.region}` },
        ]),
      ),
    ];
    if (props.evidence) {
      widgets.push(
        ...evidenceWidgets(
          props.secondary.region,
          both.map((r) => r.region),
          props.evidence,
        ),
      );
    }
    this.dashboard = new CloudwatchDashboard(this, "dashboard", {
      provider: props.provider,
      dashboardName: props.naming.name("dashboard", "dr-overview"),
      dashboardBody: JSON.stringify({ widgets }),
    });
  }
}

export interface ProberAlarmsProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly topic: AlertTopic;
  /** Where the prober runs and the alarms live (the secondary region). */
  readonly region: string;
  readonly probedRegion: string;
  readonly routing: RoutingConfig;
  /** The secondary cluster, whose replication stalls when the writer is gone. */
  readonly secondaryClusterIdentifier: string;
}

/**
 * Failure detection that does not depend on the primary region: Route 53's health-check metrics
 * exist only in us-east-1, so the prober in the secondary region publishes its own, and these
 * alarms in the secondary region fire on it.
 */
export class ProberAlarms extends Construct {
  /** Fires when the probed region's /health failed in M of the last N probe periods. */
  public readonly primaryUnhealthy: CloudwatchMetricAlarm;
  /** Fires when the writer stopped replicating to the secondary. */
  public readonly writerUnavailable: CloudwatchMetricAlarm;
  /** Pages when the prober itself stops reporting (never starts a failover). */
  public readonly proberSilent: CloudwatchMetricAlarm;
  /**
   * Pages when the prober's probes keep getting 429 (no PrimaryHealthy datapoint): detection is
   * blind (never starts a failover).
   */
  public readonly probeInconclusive: CloudwatchMetricAlarm;
  /**
   * Pages when the writer heartbeat stands still while the writer answers healthy: the database
   * proof of a failover would not count (never starts a failover).
   */
  public readonly writerHeartbeatStale: CloudwatchMetricAlarm;
  /**
   * Pages when the peer lease the writer's replica holds is older than PEER_LEASE.warnSeconds:
   * at PEER_LEASE.seconds its payment functions refuse writes (never starts a failover).
   */
  public readonly peerLeaseAging: CloudwatchMetricAlarm;
  /**
   * Notifies when the prober's lease renewals failed in every minute for RENEWAL_FAILING_MINUTES,
   * armed or not (review 22 M3). Not a failover trigger.
   */
  public readonly peerLeaseRenewalFailing: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: ProberAlarmsProps) {
    super(scope, id);
    const { routing } = props;
    const probe = {
      namespace: METRICS.namespace,
      metricName: METRICS.probeHealthy,
      dimensions: { Region: props.probedRegion },
      period: routing.probeIntervalSeconds,
    };
    this.primaryUnhealthy = pagingAlarm(this, "primary-unhealthy", props, {
      alarmDescription: `The prober in ${props.region} saw ${props.probedRegion} /health fail in ${routing.probeAlarmDatapoints} of ${routing.probeAlarmEvaluationPeriods} periods of ${routing.probeIntervalSeconds} s. Starts the failover workflow.`,
      ...probe,
      statistic: "Maximum",
      evaluationPeriods: routing.probeAlarmEvaluationPeriods,
      datapointsToAlarm: routing.probeAlarmDatapoints,
      threshold: 1,
      comparisonOperator: "LessThanThreshold",
      // Missing probes mean the prober is broken, not the primary: never fail over on silence.
      treatMissingData: "notBreaching",
    });
    this.proberSilent = pagingAlarm(this, "prober-silent", props, {
      alarmDescription: `The prober in ${props.region} stopped reporting its heartbeat: failure detection is blind.`,
      namespace: METRICS.namespace,
      metricName: METRICS.proberHeartbeat,
      dimensions: { Region: props.region },
      period: 60,
      statistic: "Sum",
      evaluationPeriods: 3,
      threshold: 1,
      comparisonOperator: "LessThanThreshold",
      treatMissingData: "breaching",
    });
    // Review 22b-18 M1': a 429 publishes no PrimaryHealthy datapoint, and primary-unhealthy treats
    // missing data as not breaching, so a probe that only ever meets a throttle (the stage's
    // route bucket above 500/s, or the account's 10,000/s shared by every API in the region:
    // https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html) would hide an
    // outage. Three minutes running with inconclusive probes pages.
    this.probeInconclusive = pagingAlarm(this, "probe-inconclusive", props, {
      alarmDescription: `The prober in ${props.region} got only throttled (429) answers from ${props.probedRegion} /health in some probes of 3 minutes running: those probes publish no health datapoint, so the primary-unhealthy alarm cannot see an outage behind them. Look at ${props.probedRegion}'s API Gateway 4xx and account throttling (a flood of /health, or the account's request quota), at the writer-unavailable and writer-heartbeat alarms, and fail over by hand (trigger "console") if ${props.probedRegion} is down.`,
      namespace: METRICS.namespace,
      metricName: METRICS.probeInconclusive,
      dimensions: { Region: props.probedRegion },
      period: 60,
      statistic: "Sum",
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      // Published only for an inconclusive probe: a minute without one is fine.
      treatMissingData: "notBreaching",
    });
    this.writerHeartbeatStale = pagingAlarm(this, "writer-heartbeat-stale", props, {
      alarmDescription: `The writer heartbeat (pg_cron job payments-writer-heartbeat) that ${props.secondaryClusterIdentifier} holds stood still while ${props.probedRegion} answered healthy: its job is not running (pg_cron not loaded: reboot the writer and run the migrate function; job unscheduled or failing: cron.job, cron.job_run_details). Until it beats again a failover cannot use the database proof and needs the old region's confirmation or on-call's word.`,
      namespace: METRICS.namespace,
      metricName: METRICS.writerHeartbeatStale,
      dimensions: { Region: props.region },
      period: 60,
      statistic: "Maximum",
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      // Nothing is published while this region is active or nothing is probed.
      treatMissingData: "notBreaching",
    });
    this.peerLeaseAging = pagingAlarm(this, "peer-lease-aging", props, {
      alarmDescription: `The peer lease (PEER_LEASE) that ${props.region}'s prober renews was more than ${PEER_LEASE.warnSeconds} s old in ${props.probedRegion}'s replica of the active-region flag; at ${PEER_LEASE.seconds} s ${props.probedRegion}'s payment functions refuse writes (503 peer_lease_lapsed). Look at the prober's logs in ${props.region} ("could not renew the peer lease") and at DynamoDB global table replication (ReplicationLatency) between the regions.`,
      namespace: METRICS.namespace,
      metricName: METRICS.peerLeaseAge,
      dimensions: { Region: props.probedRegion },
      period: 60,
      statistic: "Maximum",
      evaluationPeriods: 1,
      threshold: PEER_LEASE.warnSeconds,
      comparisonOperator: "GreaterThanThreshold",
      // Published only while the lease is armed and the writer's replica answers: a writer that
      // does not answer is the probes' alarm.
      treatMissingData: "notBreaching",
    });
    // Review 22 M3: a renewer that keeps failing while the lease is disarmed publishes no age,
    // so the aging alarm cannot see it, and re-protect then waits its 300 s
    // (LEASE_WAIT_CAP_SECONDS) and completes unarmed. Sustained failure only: a renewal that
    // fails now and then is covered by the next (the lease outlasts two rounds), so one bad
    // minute must not notify; failures in every minute of RENEWAL_FAILING_MINUTES (as long as
    // re-protect's wait to arm) mean the renewer is broken (IAM, throttling, its DynamoDB).
    this.peerLeaseRenewalFailing = pagingAlarm(this, "peer-lease-renewal-failing", props, {
      alarmDescription: `The prober in ${props.region} failed to renew the peer lease (PEER_LEASE) on ${props.region}'s replica of the active-region flag in every minute for ${RENEWAL_FAILING_MINUTES} minutes, whether or not the lease is armed. Armed: ${props.probedRegion}'s payment functions refuse writes once it lapses (the peer-lease-aging alarm pages first). Disarmed: nothing else shows it, and a re-protect cannot arm the lease (it completes "peer lease NOT armed"). Look at the prober's logs in ${props.region} ("could not renew the peer lease": AccessDenied means the RenewPeerLease IAM statement, throttling means the control table's capacity). Not a failover trigger.`,
      namespace: METRICS.namespace,
      metricName: METRICS.peerLeaseRenewalFailed,
      dimensions: { Region: props.region },
      period: 60,
      statistic: "Sum",
      evaluationPeriods: RENEWAL_FAILING_MINUTES,
      datapointsToAlarm: RENEWAL_FAILING_MINUTES,
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      // Published only when a renewal fails: silence is success, or nothing to renew (this
      // region active, a move in progress). A silent prober is the prober-silent alarm's.
      treatMissingData: "notBreaching",
    });
    this.writerUnavailable = pagingAlarm(this, "writer-unavailable", props, {
      alarmDescription: `The writer in ${props.probedRegion} is not keeping ${props.secondaryClusterIdentifier} within 60 s for 3 minutes. Starts the failover workflow, which refuses to run while the primary still answers healthy.`,
      namespace: "AWS/RDS",
      metricName: "AuroraGlobalDBReplicationLag",
      dimensions: { DBClusterIdentifier: props.secondaryClusterIdentifier },
      statistic: "Maximum",
      period: 60,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      threshold: REPLICATION_LAG_THRESHOLD_MS,
      comparisonOperator: "GreaterThanThreshold",
      // After a failover this cluster is the writer and reports no lag: that is not an outage.
      treatMissingData: "notBreaching",
    });
  }
}
