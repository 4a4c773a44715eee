import { METRICS } from "../../functions/common/contract";
import type { CloudWatchClient, PutMetricDataCommandInput } from "@aws-sdk/client-cloudwatch";
import type { PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { CloudWatchMetrics } from "../../functions/dr/shared/aws/cloudwatch";
import { AccessDeniedError } from "../../functions/dr/shared/errors";
import { EAST, FakeWorld, WEST } from "../functions/dr/support/fake-world";
import { runWorkflow } from "../state-machines/support/harness";
import { LEASE_WAIT_CAP_SECONDS } from "../../functions/dr/check-rejoin/core";
import { DR_TASK_NAMES } from "../../functions/dr/tasks";
import { WRITER_MOVED_ENV } from "../../infra/lib/addresses";
import { RENEWAL_FAILING_MINUTES } from "../../infra/constructs/observability";
import { STAR_ONLY_ACTIONS } from "../../infra/lib/policy-pack";
import {
  CUSTOM_ENV,
  FULL_ENV,
  findResource,
  inRegion,
  policyStatements,
  resourceList,
  synth,
} from "./helpers";
import type { PolicyStatement } from "./helpers";

type Widget = {
  type: string;
  properties: { title?: string; metrics?: unknown[][]; region?: string };
};

function dashboard(json: ReturnType<typeof synth>["json"], name: string): Widget[] {
  const found = resourceList(json, "aws_cloudwatch_dashboard").find(
    (d) => d.dashboard_name === name,
  );
  if (!found) throw new Error(`no dashboard ${name}`);
  return (JSON.parse(String(found.dashboard_body)) as { widgets: Widget[] }).widgets;
}

const metricNames = (widgets: Widget[]) =>
  widgets.flatMap((w) => (w.properties.metrics ?? []).map((m) => `${m[0]}/${m[1]}`));

describe("CloudWatch dashboards", () => {
  const { json } = synth(FULL_ENV);

  it.each([
    ["primary", "payments-dr-use1-dev"],
    ["secondary", "payments-dr-usw2-dev"],
  ])(
    "shows the %s region's database, functions, tables, prober and active region",
    (_role, name) => {
      const names = metricNames(dashboard(json, name));
      expect(names).toEqual(
        expect.arrayContaining([
          "AWS/RDS/AuroraGlobalDBReplicationLag",
          "AWS/RDS/CPUUtilization",
          "AWS/RDS/DatabaseConnections",
          "AWS/RDS/CommitLatency",
          "AWS/Lambda/Invocations",
          "AWS/Lambda/Errors",
          "AWS/Lambda/Duration",
          "AWS/Lambda/Throttles",
          "AWS/DynamoDB/ConsumedReadCapacityUnits",
          "AWS/DynamoDB/ConsumedWriteCapacityUnits",
          "AWS/DynamoDB/ReplicationLatency",
          "AWS/DynamoDB/ReadThrottleEvents",
          "PaymentsDR/PrimaryHealthy",
          "PaymentsDR/ActiveRegion",
        ]),
      );
      const widgets = dashboard(json, name);
      const p99 = widgets.find((w) => w.properties.title === "Lambda p99 duration (ms)")!;
      expect(
        p99.properties.metrics!.every((m) => (m.at(-1) as { stat: string }).stat === "p99"),
      ).toBe(true);
    },
  );

  it("adds one cross-region overview, kept in the secondary region", () => {
    const overview = resourceList(json, "aws_cloudwatch_dashboard").find(
      (d) => d.dashboard_name === "payments-dr-overview-dev",
    )!;
    expect(overview.provider).toBe("aws.secondary");
    const widgets = dashboard(json, "payments-dr-overview-dev");
    const regions = widgets.flatMap((w) =>
      (w.properties.metrics ?? []).map((m) => (m.at(-1) as { region?: string }).region),
    );
    expect(new Set(regions.filter(Boolean))).toEqual(new Set(["us-east-1", "us-west-2"]));
  });
});

describe("CloudWatch alarms", () => {
  const { json } = synth(FULL_ENV);
  const alarms = resourceList(json, "aws_cloudwatch_metric_alarm");
  const alarm = (name: string) => {
    const found = alarms.find((a) => a.alarm_name === name);
    if (!found) throw new Error(`no alarm ${name}: ${alarms.map((a) => a.alarm_name).join(", ")}`);
    return found;
  };

  it("alarms on replication lag above 60 s, in milliseconds", () => {
    for (const code of ["use1", "usw2"]) {
      expect(alarm(`payments-replication-lag-${code}-dev`)).toMatchObject({
        namespace: "AWS/RDS",
        metric_name: "AuroraGlobalDBReplicationLag",
        threshold: 60000,
        comparison_operator: "GreaterThanThreshold",
      });
    }
  });

  // Review 22b-18 H1': a /health flood beyond its reserved environments is Lambda throttling it.
  it("pages on the health function's own Lambda throttles in both regions, without starting a failover", () => {
    const healthIn = (role: "primary" | "secondary") =>
      inRegion(resourceList(json, "aws_lambda_function"), role)
        .map((f) => String(f.function_name))
        .filter((name) => name.startsWith("payments-health-"));
    for (const [code, role] of [
      ["use1", "primary"],
      ["usw2", "secondary"],
    ] as const) {
      expect(healthIn(role)).toEqual(["payments-health-dev"]);
      const found = alarm(`payments-health-throttles-${code}-dev`);
      expect(found).toMatchObject({
        provider: `aws.${role}`,
        namespace: "AWS/Lambda",
        metric_name: "Throttles",
        dimensions: { FunctionName: "payments-health-dev" },
        statistic: "Sum",
        threshold: 0,
        comparison_operator: "GreaterThanThreshold",
        treat_missing_data: "notBreaching",
      });
      // Pages the region's topic and nothing else: no failover rule listens to it.
      expect(found.alarm_actions).toEqual([expect.stringMatching(/^\$\{aws_sns_topic\.alerts-/)]);
    }
  });

  // Issue 17: a capacity loop that ended short (Notify's CapacityNotRestored) pages as an alarm.
  it("pages when a run's capacity is not restored, in both regions, on the metric Notify publishes by region", () => {
    for (const [code, role, region] of [
      ["use1", "primary", "us-east-1"],
      ["usw2", "secondary", "us-west-2"],
    ] as const) {
      const found = alarm(`payments-capacity-not-restored-${code}-dev`);
      // Region alone: Notify's second datum (handlers.test.ts asserts both), so one metric
      // whatever the workflow, no metric math over series that exist only after a page.
      expect(found).toMatchObject({
        provider: `aws.${role}`,
        namespace: METRICS.namespace,
        metric_name: METRICS.capacityNotRestored,
        dimensions: { Region: region },
        statistic: "Sum",
        period: 3600,
        evaluation_periods: 1,
        threshold: 1,
        comparison_operator: "GreaterThanOrEqualToThreshold",
        treat_missing_data: "notBreaching",
      });
      expect(found.metric_query).toBeUndefined();
      expect(found.alarm_actions).toEqual([expect.stringMatching(/^\$\{aws_sns_topic\.alerts-/)]);
      expect(found.ok_actions).toEqual(found.alarm_actions);
      expect(String(found.alarm_description)).toContain("README, Capacity after a failover");
    }
  });

  // Review 24-10l H1: the writer identity check failing refuses every write; it pages.
  it("pages when the write path's writer identity check fails, in both regions, on the Region-only WriterCheckFailed metric", () => {
    for (const [code, role, region] of [
      ["use1", "primary", "us-east-1"],
      ["usw2", "secondary", "us-west-2"],
    ] as const) {
      const found = alarm(`payments-writer-check-failed-${code}-dev`);
      expect(found).toMatchObject({
        provider: `aws.${role}`,
        namespace: METRICS.namespace,
        metric_name: METRICS.writerCheckFailed,
        dimensions: { Region: region },
        statistic: "Sum",
        period: 60,
        evaluation_periods: 1,
        threshold: 1,
        comparison_operator: "GreaterThanOrEqualToThreshold",
        treat_missing_data: "notBreaching",
      });
      expect(found.alarm_actions).toEqual([expect.stringMatching(/^\$\{aws_sns_topic\.alerts-/)]);
      expect(found.ok_actions).toEqual(found.alarm_actions);
      expect(String(found.alarm_description)).toContain("README, Writer identity check");
    }
  });

  // Review 24, L4: CloudWatch treats each dimension combination as its own metric
  // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Dimension),
  // so a rename on either side (e.g. TargetRegion) would leave the alarm watching a metric nobody
  // publishes. A capacity page in the workflows' fake world, through the real CloudWatch adapter,
  // must send a datum with exactly the synthesized alarm's namespace, name and dimensions, in
  // the alarm's own region (the provider's).
  it.each([
    ["failover", WEST, () => new FakeWorld()],
    [
      "failback",
      EAST,
      () => {
        // us-east-1 back with its writer only: one reader to add.
        const world = FakeWorld.afterFailoverToWest();
        const east = world.clusters[world.topology.regions[EAST]!.clusterArn]!;
        for (const id of east.instances.slice(1)) world.instances.delete(`${EAST}/${id}`);
        east.instances = east.instances.slice(0, 1);
        return world;
      },
    ],
  ] as const)(
    "fires on the datum a %s's capacity page publishes in %s",
    async (workflow, region, makeWorld) => {
      const world = makeWorld();
      const sent: { region: string; input: PutMetricDataCommandInput }[] = [];
      const fakePorts = world.ports;
      world.ports = (at, profile) => {
        const ports = fakePorts(at, profile);
        // Only the datums out go through the real adapter (the lag read stays the world's).
        const adapter = new CloudWatchMetrics({
          send: async (command: PutMetricDataCommand) => {
            sent.push({ region: at, input: command.input });
            return {};
          },
        } as unknown as CloudWatchClient);
        return { ...ports, metrics: { ...ports.metrics, put: adapter.put.bind(adapter) } };
      };
      // The new primary's reader refused for good: the loop pages in its first poll.
      world.inject(
        "rds:CreateDBInstance",
        () => new AccessDeniedError("not authorized to perform rds:CreateDBInstance"),
        99,
        region,
      );
      const result = await runWorkflow(
        workflow,
        { targetRegion: region, reason: "drill", trigger: "console", ignoreCooldown: true },
        { world },
      );
      expect(result.status).toBe("SUCCEEDED");
      expect(result.output!.warnings!.RestoreCapacity).toBeDefined();
      const providers = (json.provider as { aws: { alias: string; region: string }[] }).aws;
      const alarmsHere = alarms.filter((a) =>
        providers.some((p) => `aws.${p.alias}` === a.provider && p.region === region),
      );
      const watching = alarmsHere.filter((a) => a.metric_name === METRICS.capacityNotRestored);
      expect(watching).toHaveLength(1);
      const watched = watching[0]!;
      const datums = sent
        .filter((s) => s.region === region)
        .flatMap((s) =>
          (s.input.MetricData ?? []).map((d) => ({
            namespace: s.input.Namespace,
            metric_name: d.MetricName,
            dimensions: Object.fromEntries((d.Dimensions ?? []).map((x) => [x.Name, x.Value])),
          })),
        );
      expect(datums).toContainEqual({
        namespace: watched.namespace,
        metric_name: watched.metric_name,
        dimensions: watched.dimensions,
      });
    },
  );

  it("alarms on payment error rate, throttles, DynamoDB replication and failed backup or copy jobs in both regions", () => {
    for (const code of ["use1", "usw2"]) {
      const errors = alarm(`payments-payment-errors-${code}-dev`);
      const queries = errors.metric_query as Array<{
        id: string;
        expression?: string;
        metric?: { namespace: string; metric_name: string };
      }>;
      expect(queries[0]!.expression).toBe("IF(requests > 0, 100 * errors / requests, 0)");
      expect(
        queries.slice(1).map((q) => [q.id, q.metric!.namespace, q.metric!.metric_name]),
      ).toEqual([
        ["errors", "PaymentsDR", "PaymentApiServerErrors"],
        ["requests", "PaymentsDR", "PaymentApiRequests"],
      ]);
      const throttles = alarm(`payments-lambda-throttles-${code}-dev`);
      expect((throttles.metric_query as unknown[]).length).toBeGreaterThan(6);
      for (const table of ["sessions", "control", "idempotency"]) {
        expect(alarm(`payments-dynamodb-replication-${table}-${code}-dev`)).toMatchObject({
          metric_name: "ReplicationLatency",
          dimensions: {
            TableName: `payments-${table}-dev`,
            ReceivingRegion: code === "use1" ? "us-west-2" : "us-east-1",
          },
        });
      }
      expect(alarm(`payments-backup-jobs-failed-${code}-dev`)).toMatchObject({
        namespace: "AWS/Backup",
        metric_name: "NumberOfBackupJobsFailed",
      });
      expect(alarm(`payments-copy-jobs-failed-${code}-dev`)).toMatchObject({
        metric_name: "NumberOfCopyJobsFailed",
      });
    }
  });

  it("alarms when the writer holds more connections than the budget's safe share, wherever the writer is", () => {
    for (const [code, role] of [
      ["use1", "primary"],
      ["usw2", "secondary"],
    ]) {
      expect(alarm(`payments-db-connections-${code}-dev`)).toMatchObject({
        namespace: "AWS/RDS",
        metric_name: "DatabaseConnections",
        // A role metric: it follows the writer role across instances and regions.
        dimensions: {
          DBClusterIdentifier: expect.stringContaining(`database_${role}-cluster_`),
          Role: "WRITER",
        },
        statistic: "Maximum",
        // floor((1600 - 3) x 80%) on db.r5.large, the default class.
        threshold: 1277,
        treat_missing_data: "notBreaching",
      });
    }
  });

  // Review 22 M3: renewals failing while the lease is disarmed publish no age, so only a count
  // of failures can show them; sustained (every minute for as long as re-protect waits to arm)
  // so that an odd failed renewal, which the next one covers, never notifies.
  it.each([
    ["writer in us-east-1: the prober and its alarm in us-west-2", FULL_ENV, "usw2", "us-west-2"],
    [
      "writer moved to us-west-2: the prober and its alarm in us-east-1",
      { ...FULL_ENV, ...WRITER_MOVED_ENV },
      "use1",
      "us-east-1",
    ],
  ])(
    "notifies on peer-lease renewals failing in every minute for re-protect's wait to arm, armed or not (%s)",
    (_case, env, code, region) => {
      const found = resourceList(synth(env).json, "aws_cloudwatch_metric_alarm").filter((a) =>
        String(a.alarm_name).startsWith("payments-peer-lease-renewal-failing-"),
      );
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        alarm_name: `payments-peer-lease-renewal-failing-${code}-dev`,
        provider: code === "usw2" ? "aws.secondary" : "aws.primary",
        namespace: "PaymentsDR",
        metric_name: METRICS.peerLeaseRenewalFailed,
        // The renewer's own region, where the prober publishes the failures.
        dimensions: { Region: region },
        statistic: "Sum",
        period: 60,
        evaluation_periods: RENEWAL_FAILING_MINUTES,
        datapoints_to_alarm: RENEWAL_FAILING_MINUTES,
        threshold: 1,
        comparison_operator: "GreaterThanOrEqualToThreshold",
        treat_missing_data: "notBreaching",
      });
      expect(RENEWAL_FAILING_MINUTES * 60).toBe(LEASE_WAIT_CAP_SECONDS);
      // No Armed dimension: it counts failures whatever the lease's state.
      expect(Object.keys(found[0]!.dimensions as object)).toEqual(["Region"]);
    },
  );

  it("does not start a failover on failed renewals: the trigger watches the probes and the writer only", () => {
    const rules = resourceList(json, "aws_cloudwatch_event_rule").filter((r) =>
      String(r.name).startsWith("payments-failover-trigger-"),
    );
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(String(rule.event_pattern)).not.toContain("renewal");
  });

  it("sends every alarm to the SNS topic of its own region", () => {
    for (const a of alarms) {
      const role = String(a.provider).replace("aws.", "");
      expect(a.alarm_actions).toEqual([expect.stringContaining(`alerts-${role}_topic`)]);
    }
  });

  it("detects primary failure from the secondary region with a configurable M-of-N prober alarm", () => {
    const probe = alarm("payments-primary-unhealthy-usw2-dev");
    expect(probe).toMatchObject({
      provider: "aws.secondary",
      namespace: "PaymentsDR",
      metric_name: "PrimaryHealthy",
      dimensions: { Region: "us-east-1" },
      period: 10,
      evaluation_periods: 3,
      datapoints_to_alarm: 3,
      comparison_operator: "LessThanThreshold",
      treat_missing_data: "notBreaching",
    });
    const { json: custom } = synth(CUSTOM_ENV);
    expect(
      resourceList(custom, "aws_cloudwatch_metric_alarm").find(
        (a) => a.alarm_name === "payments-primary-unhealthy-usw2-dev",
      ),
    ).toMatchObject({
      evaluation_periods: 6,
      datapoints_to_alarm: 4,
    });
    // A heartbeat, not the probes: the prober rightly probes nothing after a failover.
    expect(alarm("payments-prober-silent-usw2-dev")).toMatchObject({
      metric_name: "ProberHeartbeat",
      dimensions: { Region: "us-west-2" },
      treat_missing_data: "breaching",
    });
    // Review 22b-18 M1': probes that only meet a throttle publish no health datapoint; persisting,
    // they page beside the prober (never a failover: no trigger listens to it).
    expect(alarm("payments-probe-inconclusive-usw2-dev")).toMatchObject({
      provider: "aws.secondary",
      namespace: "PaymentsDR",
      metric_name: "ProbeInconclusive",
      dimensions: { Region: "us-east-1" },
      statistic: "Sum",
      period: 60,
      evaluation_periods: 3,
      datapoints_to_alarm: 3,
      threshold: 1,
      comparison_operator: "GreaterThanOrEqualToThreshold",
      treat_missing_data: "notBreaching",
      alarm_actions: [expect.stringMatching(/^\$\{aws_sns_topic\.alerts-secondary/)],
    });
    expect(alarm("payments-writer-unavailable-usw2-dev")).toMatchObject({
      provider: "aws.secondary",
      metric_name: "AuroraGlobalDBReplicationLag",
      dimensions: { DBClusterIdentifier: expect.stringContaining("database_secondary-cluster") },
    });
  });

  it("rejects an M larger than N", () => {
    expect(() => synth({ PROBE_ALARM_DATAPOINTS: "4", PROBE_ALARM_PERIODS: "3" })).toThrow(
      'PROBE_ALARM_DATAPOINTS="4" is not allowed: at most PROBE_ALARM_PERIODS (3)',
    );
  });
});

describe("payment error metrics", () => {
  it("count payment requests and 5xx answers from the access logs, leaving /health out", () => {
    const { json } = synth(FULL_ENV);
    const filters = inRegion(resourceList(json, "aws_cloudwatch_log_metric_filter"), "primary");
    expect(
      filters
        .map((f) => [f.pattern, (f.metric_transformation as { name: string }).name])
        .sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
    ).toEqual([
      ['{ $.routeKey != "GET /health" }', "PaymentApiRequests"],
      ['{ ($.routeKey != "GET /health") && ($.status = "5*") }', "PaymentApiServerErrors"],
    ]);
    expect(
      filters.every((f) => String(f.log_group_name).includes("payments-primary_access-logs")),
    ).toBe(true);
  });
});

describe("SNS alert topics", () => {
  const { json } = synth(FULL_ENV);

  it("has a KMS-encrypted topic with the configured email in each region", () => {
    const topics = resourceList(json, "aws_sns_topic");
    expect(topics.map((t) => [t.provider, t.name])).toEqual([
      ["aws.primary", "payments-alerts-dev"],
      ["aws.secondary", "payments-alerts-dev"],
    ]);
    for (const topic of topics) expect(String(topic.kms_master_key_id)).toContain("platform-key-");
    const subscriptions = resourceList(json, "aws_sns_topic_subscription");
    expect(subscriptions.map((s) => [s.provider, s.protocol, s.endpoint])).toEqual([
      ["aws.primary", "email", "oncall@acme-payments.io"],
      ["aws.secondary", "email", "oncall@acme-payments.io"],
    ]);
  });
});

describe("DR IAM", () => {
  const { json } = synth(FULL_ENV);
  const allPolicies = () =>
    Object.entries(json.data?.aws_iam_policy_document ?? {}).map(([name, doc]) => ({
      name,
      statements: (doc.statement ?? []) as PolicyStatement[],
    }));
  const taskPolicy = (role: "primary" | "secondary", task: string) =>
    policyStatements(json, `orchestration-${role}_task-${task}_permissions_`);
  const actionsOf = (statements: PolicyStatement[]) => statements.flatMap((s) => s.actions ?? []);

  it.each(DR_TASK_NAMES)("runs the %s task as a role of its own in each region", (task) => {
    for (const [role, code] of [
      ["primary", "use1"],
      ["secondary", "usw2"],
    ] as const) {
      const fn = findResource(
        json,
        "aws_lambda_function",
        `orchestration-${role}_task-${task}_function_`,
      );
      expect(String(fn.role)).toContain(`orchestration-${role}_task-${task}_role_`);
      const created = findResource(
        json,
        "aws_iam_role",
        `orchestration-${role}_task-${task}_role_`,
      );
      expect(created.name).toBe(`payments-fn-dr-${task}-${code}-dev`);
    }
  });

  it("lets notify page and record, and nothing else: no database, DNS or parameter writes", () => {
    const actions = actionsOf(taskPolicy("secondary", "notify"));
    expect(actions.filter((a) => /^(rds|route53|ssm|states):/.test(a))).toEqual([]);
    // Its only Lambda call hands the run's report to this region's writer.
    expect(
      taskPolicy("secondary", "notify").find((s) => s.actions?.includes("lambda:InvokeFunction"))!
        .resources,
    ).toEqual([expect.stringMatching(/:us-west-2:.*:function:payments-report-writer-dev$/)]);
    expect(actions).toEqual(expect.arrayContaining(["sns:Publish", "dynamodb:UpdateItem"]));
  });

  it("lets only promote fail over or detach the database, and only switchover switch it over", () => {
    const holders = (action: string) =>
      DR_TASK_NAMES.filter((t) => actionsOf(taskPolicy("primary", t)).includes(action));
    expect(holders("rds:FailoverGlobalCluster")).toEqual(["promote"]);
    // Rebuild removes the detached old primary from the stale global cluster (re-protect).
    expect(holders("rds:RemoveFromGlobalCluster")).toEqual(["promote", "rebuild"]);
    expect(holders("rds:SwitchoverGlobalCluster")).toEqual(["switchover"]);
    expect(holders("route53:ChangeResourceRecordSets")).toEqual(["shift-traffic"]);
    expect(holders("ssm:PutParameter")).toEqual(["update-parameters"]);
    const failover = taskPolicy("primary", "promote").find(
      (s) => s.sid === "DatabaseFailoverGlobalCluster",
    )!;
    expect(failover.resources).toEqual([
      expect.stringMatching(/^arn:aws:rds::.*:global-cluster:\$\{aws_rds_global_cluster\./),
      expect.stringContaining("database_primary-cluster"),
      expect.stringContaining("database_secondary-cluster"),
    ]);
  });

  it("writes only the endpoint and active-region parameters, never a password or API key", () => {
    for (const role of ["primary", "secondary"] as const) {
      for (const task of DR_TASK_NAMES) {
        for (const s of taskPolicy(role, task)) {
          if (!(s.actions ?? []).includes("ssm:PutParameter")) continue;
          expect(s.resources).toEqual([
            expect.stringMatching(
              /^arn:aws:ssm:us-east-1:.*:parameter\/payments\/dev\/db\/writer-endpoint$/,
            ),
            expect.stringMatching(
              /^arn:aws:ssm:us-east-1:.*:parameter\/payments\/dev\/active-region$/,
            ),
            expect.stringMatching(
              /^arn:aws:ssm:us-west-2:.*:parameter\/payments\/dev\/db\/writer-endpoint$/,
            ),
            expect.stringMatching(
              /^arn:aws:ssm:us-west-2:.*:parameter\/payments\/dev\/active-region$/,
            ),
          ]);
        }
      }
    }
    const everything = allPolicies().flatMap((p) => p.statements);
    const secretWrites = everything.filter(
      (s) =>
        (s.actions ?? []).some((a) => /^ssm:(Put|Delete)/.test(a)) &&
        (s.resources ?? []).some((r) =>
          /(db\/password|api\/keys|api\/dr-verify-key|\/\*)$/.test(r),
        ),
    );
    expect(secretWrites).toEqual([]);
  });

  it("lets the state machines invoke their region's tasks and nothing else", () => {
    for (const [role, region] of [
      ["primary", "us-east-1"],
      ["secondary", "us-west-2"],
    ] as const) {
      const statements = policyStatements(json, `dr-iam_${role}-workflows-permissions`);
      const invoke = statements.find((s) => s.sid === "InvokeTheirTasks")!;
      expect(invoke.actions).toEqual(["lambda:InvokeFunction"]);
      expect(invoke.resources).toEqual(
        DR_TASK_NAMES.map((t) =>
          expect.stringMatching(
            new RegExp(`^arn:aws:lambda:${region}:.*:function:payments-dr-${t}-dev$`),
          ),
        ),
      );
      const other = actionsOf(statements).filter(
        (a) => !/^(lambda:InvokeFunction|logs:|xray:|kms:(Decrypt|GenerateDataKey)$)/.test(a),
      );
      expect(other).toEqual([]);
      const trust = policyStatements(json, `dr-iam_${role}-workflows-trust`);
      expect(trust[0]!.principals).toEqual([
        { type: "Service", identifiers: ["states.amazonaws.com"] },
      ]);
      expect(trust[0]!.condition!.map((c) => c.variable)).toEqual([
        "aws:SourceAccount",
        "aws:SourceArn",
      ]);
      const machines = findResource(
        json,
        "aws_sfn_state_machine",
        `orchestration-${role}_workflow-failover_`,
      );
      expect(String(machines.role_arn)).toContain(`dr-iam_${role}-workflows_`);
    }
  });

  it("lets EventBridge start only the failover workflow and the drill, for its own rules", () => {
    const statements = policyStatements(json, "dr-iam_events-permissions");
    expect(statements.find((s) => s.sid === "StartFailover")!.resources).toEqual([
      expect.stringMatching(/^arn:aws:states:us-west-2:.*:stateMachine:payments-failover-dev$/),
    ]);
    expect(statements.find((s) => s.sid === "RunDrillAsDrillRole")).toMatchObject({
      actions: ["iam:PassRole"],
      resources: [expect.stringMatching(/:role\/payments-dr-drill-usw2-dev$/)],
    });
    const trust = policyStatements(json, "dr-iam_events-trust");
    expect(trust[0]!.condition).toContainEqual({
      test: "ArnLike",
      variable: "aws:SourceArn",
      values: [
        expect.stringMatching(/:rule\/payments-failover-trigger-usw2-dev$/),
        expect.stringMatching(/:rule\/payments-dr-drill-usw2-dev$/),
      ],
    });
  });

  it("lets EventBridge start what is in the standby slot once the writer has moved", () => {
    // WRITER_REGION=us-west-2: the failover trigger and the drill schedule live in us-east-1.
    const { json: moved } = synth({ ...FULL_ENV, WRITER_REGION: "us-west-2" });
    const statements = policyStatements(moved, "dr-iam_events-permissions");
    expect(statements.find((s) => s.sid === "StartFailover")!.resources).toEqual([
      expect.stringMatching(/^arn:aws:states:us-east-1:.*:stateMachine:payments-failover-dev$/),
    ]);
    expect(statements.find((s) => s.sid === "FailoverKey")!.resources).toEqual([
      expect.stringContaining("platform-key-primary"),
    ]);
    expect(statements.find((s) => s.sid === "StartDrill")!.resources).toEqual([
      expect.stringMatching(
        /^arn:aws:ssm:us-east-1:.*:automation-definition\/payments-dr-drill-dev:\*$/,
      ),
    ]);
    expect(statements.find((s) => s.sid === "RunDrillAsDrillRole")!.resources).toEqual([
      expect.stringMatching(/:role\/payments-dr-drill-use1-dev$/),
    ]);
    const trust = policyStatements(moved, "dr-iam_events-trust");
    expect(trust[0]!.condition).toContainEqual({
      test: "ArnLike",
      variable: "aws:SourceArn",
      values: [
        expect.stringMatching(/:us-east-1:.*:rule\/payments-failover-trigger-use1-dev$/),
        expect.stringMatching(/:us-east-1:.*:rule\/payments-dr-drill-use1-dev$/),
      ],
    });
    // The rules that use the role are the ones in us-east-1.
    const targets = resourceList(moved, "aws_cloudwatch_event_target").filter((t) =>
      String(t.role_arn).includes("dr-iam_events_"),
    );
    expect(targets.map((t) => t.provider).sort()).toEqual(["aws.primary", "aws.primary"]);
  });

  it("keeps the cross-region assume-role only between the two drill roles, each named exactly", () => {
    for (const [role, peerCode] of [
      ["primary", "usw2"],
      ["secondary", "use1"],
    ] as const) {
      const trust = policyStatements(json, `dr-iam_${role}-drill-trust`);
      expect(trust.find((s) => s.sid === "PeerRegionDrill")!.condition).toEqual([
        {
          test: "ArnEquals",
          variable: "aws:PrincipalArn",
          values: [expect.stringMatching(new RegExp(`:role/payments-dr-drill-${peerCode}-dev$`))],
        },
      ]);
      expect(trust.find((s) => s.sid === "Service")!.condition!.map((c) => c.variable)).toEqual([
        "aws:SourceAccount",
        "aws:SourceArn",
      ]);
    }
    const assumers = allPolicies().filter(
      (p) => !p.name.includes("trust") && actionsOf(p.statements).includes("sts:AssumeRole"),
    );
    expect(assumers.map((p) => p.name.replace(/_[0-9A-F]{8}$/, ""))).toEqual([
      "dr-iam_primary-drill-permissions",
      "dr-iam_secondary-drill-permissions",
    ]);
  });

  it("lets on-call start and approve failovers but change no data", () => {
    const statements = policyStatements(json, "dr-iam_operator-permissions");
    const actions = actionsOf(statements);
    expect(actions).toEqual(
      expect.arrayContaining(["states:StartExecution", "states:SendTaskSuccess"]),
    );
    const dataChanges = actions.filter((a) =>
      /^(dynamodb:(Put|Update|Delete|BatchWrite)|rds:(Failover|Switchover|Remove|Modify|Delete)|ssm:(Put|Delete)|s3:(Put|Delete)|route53:Change)/.test(
        a,
      ),
    );
    expect(dataChanges).toEqual([]);
    // Decrypting only through DynamoDB or S3 (the flag, reports, the ledger) or for the state
    // machines, never the SSM secrets.
    for (const s of statements.filter((x) => (x.actions ?? []).includes("kms:Decrypt"))) {
      expect(s.condition!.map((c) => c.variable)).toEqual([
        expect.stringMatching(/^kms:(ViaService|EncryptionContext:aws:states:stateMachineArn)$/),
      ]);
      if (s.condition![0]!.variable === "kms:ViaService") {
        expect(s.condition![0]!.values.every((v) => /^(s3|dynamodb)\./.test(v))).toBe(true);
      }
    }
    const trust = policyStatements(json, "dr-iam_operator-trust");
    expect(trust[0]!.condition).toEqual([
      {
        test: "ArnLike",
        variable: "aws:PrincipalArn",
        values: [expect.stringMatching(/:role\/payments-dr-oncall-dev$/)],
      },
      { test: "Bool", variable: "aws:MultiFactorAuthPresent", values: ["true"] },
      { test: "NumericLessThan", variable: "aws:MultiFactorAuthAge", values: ["3600"] },
    ]);
  });

  it('never grants "Action": "*" and allows "Resource": "*" only for reads and actions without resource types', () => {
    const offenders: string[] = [];
    const readOnly = /^[a-z0-9-]+:(Describe|Get|List)/;
    for (const { name, statements } of allPolicies()) {
      for (const s of statements) {
        if (s.effect === "Deny") continue; // a deny on sns:* / sqs:* narrows, never widens
        // A VPC endpoint policy filters (this account only); it grants nothing by itself.
        if (name.includes("endpoint-policy")) continue;
        if ((s.actions ?? []).some((a) => a === "*" || a.endsWith(":*"))) {
          // Only key policies may grant kms:* (to the account root, as AWS requires).
          if (!(name.includes("platform-key") && s.actions!.every((a) => a === "kms:*")))
            offenders.push(`${name}: ${s.actions}`);
        }
        if ((s.resources ?? []).includes("*") && !name.includes("platform-key")) {
          const writes = (s.actions ?? []).filter(
            (a) => !readOnly.test(a) && !(a in STAR_ONLY_ACTIONS),
          );
          if (writes.length) offenders.push(`${name}: ${writes.join(",")} on *`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it("scopes metric writes on * to our namespace", () => {
    const statements = taskPolicy("secondary", "record-timeline");
    expect(
      statements.find((s) => s.actions?.includes("cloudwatch:PutMetricData"))!.condition,
    ).toEqual([{ test: "StringEquals", variable: "cloudwatch:namespace", values: ["PaymentsDR"] }]);
  });

  it("builds both regions' roles in their own region's provider", () => {
    expect(inRegion(resourceList(json, "aws_iam_role"), "secondary").map((r) => r.name)).toEqual(
      expect.arrayContaining(["payments-dr-workflows-usw2-dev", "payments-dr-drill-usw2-dev"]),
    );
  });
});

describe("the operator's principals", () => {
  it("trusts the configured principals, with recent MFA", () => {
    const { json } = synth({
      OPERATOR_PRINCIPAL_ARNS:
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_OnCall_*",
    });
    const trust = policyStatements(json, "dr-iam_operator-trust");
    expect(trust[0]!.condition![0]).toEqual({
      test: "ArnLike",
      variable: "aws:PrincipalArn",
      values: [
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_OnCall_*",
      ],
    });
  });
});

describe("DR readiness", () => {
  it("groups every payments and DR trace in an X-Ray group per region", () => {
    const { json } = synth(FULL_ENV);
    const groups = resourceList(json, "aws_xray_group");
    expect(groups.map((g) => [g.provider, g.group_name])).toEqual([
      ["aws.primary", "payments-dr-dev"],
      ["aws.secondary", "payments-dr-dev"],
    ]);
    for (const name of [
      "payments-authorize-dev",
      "payments-dr-promote-dev",
      "payments-dr-prober-dev",
    ]) {
      expect(String(groups[0]!.filter_expression)).toContain(`service("${name}")`);
    }
    expect(resourceList(json, "aws_config_config_rule")).toHaveLength(0);
  });

  it("adds AWS Config rules for PITR, encryption and backup coverage when asked", () => {
    const { json } = synth(CUSTOM_ENV);
    const rules = resourceList(json, "aws_config_config_rule");
    expect(
      inRegion(rules, "primary")
        .map((r) => (r.source as { source_identifier: string }).source_identifier)
        .sort(),
    ).toEqual([
      "AURORA_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
      "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
      "DYNAMODB_PITR_ENABLED",
      "DYNAMODB_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
      "DYNAMODB_TABLE_ENCRYPTED_KMS",
      "RDS_STORAGE_ENCRYPTED",
    ]);
    expect(inRegion(rules, "secondary")).toHaveLength(6);
    const backup = rules.find((r) => String(r.name).startsWith("payments-backup-plan-daily-use1"))!;
    expect(JSON.parse(String(backup.input_parameters))).toEqual({
      requiredFrequencyValue: "1",
      requiredFrequencyUnit: "days",
      requiredRetentionDays: "7",
    });
  });
});
