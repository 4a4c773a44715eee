import { STAR_ONLY_WRITE_ACTIONS } from "../../infra/constructs/dr-iam";
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

  it("has a DR automation role in each region that both regions' automation can assume", () => {
    for (const [role, peerCode] of [
      ["primary", "usw2"],
      ["secondary", "use1"],
    ] as const) {
      const created = findResource(json, "aws_iam_role", `dr-iam_${role}-automation_`);
      expect(created.name).toBe(
        `payments-dr-automation-${role === "primary" ? "use1" : "usw2"}-dev`,
      );
      const trust = policyStatements(json, `dr-iam_${role}-automation-trust`);
      expect(trust[0]!.principals![0]!.identifiers).toEqual(
        expect.arrayContaining([
          "states.amazonaws.com",
          "lambda.amazonaws.com",
          "ssm.amazonaws.com",
        ]),
      );
      expect(trust[1]!.condition).toEqual([
        {
          test: "ArnEquals",
          variable: "aws:PrincipalArn",
          values: [
            expect.stringMatching(new RegExp(`:role/payments-dr-automation-${peerCode}-dev$`)),
          ],
        },
      ]);
    }
  });

  it("lets automation fail over, switch over and detach the global database, and describe it", () => {
    const statements = policyStatements(json, "dr-iam_primary-automation-permissions");
    const promote = statements.find((s) => s.sid === "PromoteTheGlobalDatabase")!;
    expect(promote.actions).toEqual([
      "rds:FailoverGlobalCluster",
      "rds:SwitchoverGlobalCluster",
      "rds:RemoveFromGlobalCluster",
    ]);
    expect(promote.resources).toEqual([
      expect.stringMatching(/^arn:aws:rds::.*:global-cluster:\$\{aws_rds_global_cluster\./),
      expect.stringContaining("database_primary-cluster"),
      expect.stringContaining("database_secondary-cluster"),
    ]);
    expect(statements.find((s) => s.sid === "ReadTheGlobalDatabase")!.actions).toEqual([
      "rds:Describe*",
    ]);
    const ssm = statements.find((s) => s.sid === "Endpoints")!;
    expect(ssm.actions).toContain("ssm:PutParameter");
    expect(ssm.resources).toEqual([
      expect.stringMatching(/^arn:aws:ssm:us-east-1:.*:parameter\/payments\/dev\/\*$/),
      expect.stringMatching(/^arn:aws:ssm:us-west-2:.*:parameter\/payments\/dev\/\*$/),
    ]);
    const control = statements.find((s) => s.sid === "FlagAndLock")!;
    expect(control.resources).toEqual([
      expect.stringMatching(/^arn:aws:dynamodb:us-east-1:.*:table\/payments-control-dev$/),
      expect.stringMatching(/^arn:aws:dynamodb:us-west-2:.*:table\/payments-control-dev$/),
    ]);
    expect(statements.find((s) => s.sid === "SwapFailoverRecords")!.resources).toEqual([
      expect.stringMatching(/^arn:aws:route53:::hostedzone\//),
    ]);
    expect(statements.find((s) => s.sid === "RunWorkflows")!.resources).toHaveLength(6);
  });

  it("lets on-call start and approve failovers but change no data", () => {
    const statements = policyStatements(json, "dr-iam_operator-permissions");
    const actions = statements.flatMap((s) => s.actions ?? []);
    expect(actions).toEqual(
      expect.arrayContaining(["states:StartExecution", "states:SendTaskSuccess"]),
    );
    const dataChanges = actions.filter((a) =>
      /^(dynamodb:(Put|Update|Delete|BatchWrite)|rds:(Failover|Switchover|Remove|Modify|Delete)|ssm:(Put|Delete)|s3:(Put|Delete)|route53:Change)/.test(
        a,
      ),
    );
    expect(dataChanges).toEqual([]);
    // Decrypting is allowed only to read reports and the ledger, never the SSM secrets.
    for (const s of statements.filter((s) => s.actions?.includes("kms:Decrypt"))) {
      const via = s.condition?.find((c) => c.variable === "kms:ViaService")?.values ?? [];
      expect(via.length).toBeGreaterThan(0);
      expect(via.every((v) => /^(s3|dynamodb)\./.test(v))).toBe(true);
    }
    const trust = policyStatements(json, "dr-iam_operator-trust");
    expect(trust[0]!.condition).toEqual([
      { test: "Bool", variable: "aws:MultiFactorAuthPresent", values: ["true"] },
    ]);
  });

  it('never grants "Action": "*" and allows "Resource": "*" only for reads and AWS-wide write actions', () => {
    const offenders: string[] = [];
    const readOnly = /^[a-z0-9-]+:(Describe|Get|List)/;
    for (const { name, statements } of allPolicies()) {
      for (const s of statements) {
        // A Deny of a whole service (the buckets' TLS-only rule) grants nothing.
        if ((s as { effect?: string }).effect === "Deny") continue;
        if ((s.actions ?? []).some((a) => a === "*" || a.endsWith(":*"))) {
          // Only key policies may grant kms:* (to the account root, as AWS requires).
          if (!(name.includes("platform-key") && s.actions!.every((a) => a === "kms:*")))
            offenders.push(`${name}: ${s.actions}`);
        }
        if ((s.resources ?? []).includes("*") && !name.includes("platform-key")) {
          const writes = (s.actions ?? []).filter(
            (a) => !readOnly.test(a) && !(STAR_ONLY_WRITE_ACTIONS as readonly string[]).includes(a),
          );
          if (writes.length) offenders.push(`${name}: ${writes.join(",")} on *`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it("scopes metric writes on * to our namespace", () => {
    const statements = policyStatements(json, "dr-iam_secondary-automation-permissions");
    expect(
      statements.find((s) => s.actions?.includes("cloudwatch:PutMetricData"))!.condition,
    ).toEqual([{ test: "StringEquals", variable: "cloudwatch:namespace", values: ["PaymentsDR"] }]);
  });

  it("lets automation start the drill runbook and pass itself to SSM, nothing wider", () => {
    const statements = policyStatements(json, "dr-iam_secondary-automation-permissions");
    expect(statements.find((s) => s.sid === "StartDrills")).toMatchObject({
      actions: ["ssm:StartAutomationExecution"],
      resources: [
        expect.stringMatching(
          /^arn:aws:ssm:us-east-1:.*:automation-definition\/payments-dr-drill-dev:\*$/,
        ),
        expect.stringMatching(
          /^arn:aws:ssm:us-west-2:.*:automation-definition\/payments-dr-drill-dev:\*$/,
        ),
      ],
    });
    expect(statements.find((s) => s.sid === "RunDrillsAsThisRole")).toMatchObject({
      actions: ["iam:PassRole"],
      resources: [
        expect.stringMatching(/:role\/payments-dr-automation-use1-dev$/),
        expect.stringMatching(/:role\/payments-dr-automation-usw2-dev$/),
      ],
      condition: [
        { test: "StringEquals", variable: "iam:PassedToService", values: ["ssm.amazonaws.com"] },
      ],
    });
  });

  it("builds both regions' automation roles in their own region's provider", () => {
    expect(inRegion(resourceList(json, "aws_iam_role"), "secondary").map((r) => r.name)).toContain(
      "payments-dr-automation-usw2-dev",
    );
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
