import { ledgerTableName } from "../../functions/reports/ledger-reader";
import { loadConfig } from "../../infra/config";
import { endedExecutionsPattern } from "../../infra/constructs/reports";
import { Naming } from "../../infra/naming";
import { matches } from "./event-pattern";
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

const ROLES = [
  ["primary", "use1"],
  ["secondary", "usw2"],
] as const;

describe("report buckets", () => {
  const { json } = synth(FULL_ENV);
  const buckets = resourceList(json, "aws_s3_bucket");

  it("has one per region, named with the suffix and region, destroyable on the first try", () => {
    expect(buckets.map((b) => [b.provider, b.bucket_prefix, b.force_destroy])).toEqual([
      ["aws.primary", "payments-dr-reports-use1-dev-", true],
      ["aws.secondary", "payments-dr-reports-usw2-dev-", true],
    ]);
  });

  it.each(ROLES)("keeps the %s bucket private, TLS-only and owner-only", (role) => {
    const bucket = `reports-${role}_bucket_`;
    expect(
      findResource(json, "aws_s3_bucket_public_access_block", `reports-${role}_`),
    ).toMatchObject({
      bucket: expect.stringContaining(bucket),
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(
      findResource(json, "aws_s3_bucket_ownership_controls", `reports-${role}_`),
    ).toMatchObject({
      rule: { object_ownership: "BucketOwnerEnforced" },
    });
    const policy = policyStatements(json, `reports-${role}_policy-document`);
    expect(policy).toEqual([
      {
        sid: "DenyInsecureTransport",
        effect: "Deny",
        principals: [{ type: "*", identifiers: ["*"] }],
        actions: ["s3:*"],
        resources: [expect.stringContaining(`${bucket}`), expect.stringMatching(/\.arn\}\/\*$/)],
        condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
      },
    ]);
  });

  it.each(ROLES)("encrypts the %s bucket with its own region's key and keeps versions", (role) => {
    const sse = findResource(
      json,
      "aws_s3_bucket_server_side_encryption_configuration",
      `reports-${role}_`,
    );
    expect(sse.rule).toEqual([
      {
        apply_server_side_encryption_by_default: {
          sse_algorithm: "aws:kms",
          kms_master_key_id: expect.stringContaining(`platform-key-${role}_key_`),
        },
        bucket_key_enabled: true,
      },
    ]);
    expect(findResource(json, "aws_s3_bucket_versioning", `reports-${role}_`)).toMatchObject({
      versioning_configuration: { status: "Enabled" },
    });
  });

  it("expires reports after the configured retention, at least 12 months (PCI DSS 10.5.1)", () => {
    const lifecycle = (env: Record<string, string>) =>
      findResource(synth(env).json, "aws_s3_bucket_lifecycle_configuration", "reports-secondary_");
    expect((lifecycle(CUSTOM_ENV).rule as Array<{ expiration: unknown }>)[0]!.expiration).toEqual([
      { days: 730 },
    ]);
    expect(lifecycle(FULL_ENV).rule).toEqual([
      {
        id: "report-retention",
        status: "Enabled",
        filter: [{ prefix: "" }],
        expiration: [{ days: 400 }],
        noncurrent_version_expiration: [{ noncurrent_days: 30 }],
        abort_incomplete_multipart_upload: [{ days_after_initiation: 1 }],
      },
      {
        id: "expired-delete-markers",
        status: "Enabled",
        filter: [{ prefix: "" }],
        expiration: [{ expired_object_delete_marker: true }],
      },
    ]);
    expect(() => loadConfig({ REPORT_RETENTION_DAYS: "90" })).toThrow(
      'REPORT_RETENTION_DAYS="90" is not allowed: a whole number from 365 to 3650',
    );
  });

  it("fits the longest suffix and region code into S3's 37-character bucket prefix", () => {
    const prefix = new Naming("abcdefgh").bucketPrefix("dr-reports", "ap-southeast-2");
    expect(prefix).toBe("payments-dr-reports-aps2-abcdefgh-");
    expect(prefix.length).toBeLessThanOrEqual(37);
    expect(() => new Naming("abcdefgh").bucketPrefix("dr-reports-and-more", "us-east-1")).toThrow(
      /s3BucketPrefix name payments-dr-reports-and-more-use1-abcdefgh- is 43 characters, the limit is 37/,
    );
  });
});

describe("the ledger", () => {
  const { json } = synth(FULL_ENV);

  it("is a global table with a row per run, a by-time index and rows that expire with their reports", () => {
    const table = resourceList(json, "aws_dynamodb_table").find(
      (t) => t.name === ledgerTableName("dev"),
    )!;
    expect(table).toMatchObject({
      provider: "aws.primary",
      billing_mode: "PAY_PER_REQUEST",
      hash_key: "id",
      global_secondary_index: [
        { name: "by-time", hash_key: "ledger", range_key: "endedAt", projection_type: "ALL" },
      ],
      ttl: { attribute_name: "expiresAt", enabled: true },
      point_in_time_recovery: { enabled: true },
      server_side_encryption: {
        enabled: true,
        kms_key_arn: expect.stringContaining("platform-key-primary"),
      },
      replica: [
        {
          region_name: "us-west-2",
          kms_key_arn: expect.stringContaining("platform-key-secondary"),
          point_in_time_recovery: true,
        },
      ],
    });
  });
});

describe("the report writer", () => {
  const { json } = synth(FULL_ENV);
  const writers = resourceList(json, "aws_lambda_function").filter(
    (f) => f.function_name === "payments-report-writer-dev",
  );

  it.each(ROLES)("runs in %s, writing to its own region's bucket and the ledger", (role) => {
    const [fn] = inRegion(writers, role);
    const variables = (fn!.environment as { variables: Record<string, string> }).variables;
    expect(variables).toMatchObject({
      ENVIRONMENT_SUFFIX: "dev",
      REPORT_BUCKET: expect.stringContaining(`reports-${role}_bucket_`),
      LEDGER_TABLE: "payments-dr-ledger-dev",
      REPORT_RETENTION_DAYS: "400",
    });
    expect(JSON.parse(variables.REPORT_TARGETS!)).toEqual({
      default: { rtoTargetSeconds: 900, rtoGoalSeconds: 180, rpoTargetSeconds: 300 },
      "restore-drill": { rtoTargetSeconds: 7200, rtoGoalSeconds: 7200, rpoTargetSeconds: 172800 },
    });
  });

  it.each(ROLES)("may put reports and ledger rows in %s and nothing else", (role) => {
    const statements = policyStatements(json, `reports-${role}_writer_permissions`);
    const bySid = Object.fromEntries(statements.map((s) => [s.sid, s]));
    expect(Object.keys(bySid).sort()).toEqual(
      [
        "KeyViaDynamodb",
        "KeyViaS3",
        "KeyViaSns",
        "LedgerRows",
        "OwnLogs",
        "PageWhenAReportFails",
        "PutReports",
        "ReadEndedWorkflows",
      ].sort(),
    );
    expect(bySid.PutReports).toMatchObject({
      actions: ["s3:PutObject"],
      resources: [
        expect.stringMatching(new RegExp(`reports-${role}_bucket_\\w+\\.arn\\}/reports/\\*$`)),
      ],
    });
    expect(bySid.LedgerRows!.actions).toEqual(["dynamodb:GetItem", "dynamodb:PutItem"]);
    expect(bySid.LedgerRows!.resources).toHaveLength(1);
    expect(bySid.LedgerRows!.resources![0]).toContain(
      role === "primary" ? "ledger_table_" : ":us-west-2:",
    );
    expect(bySid.ReadEndedWorkflows!.resources).toEqual([
      expect.stringMatching(
        new RegExp(
          `^arn:aws:states:${role === "primary" ? "us-east-1" : "us-west-2"}:.*:execution:payments-\\*-dev:\\*$`,
        ),
      ),
    ]);
    expect(bySid.KeyViaS3).toMatchObject({
      actions: ["kms:GenerateDataKey"],
      condition: [
        {
          test: "StringEquals",
          variable: "kms:ViaService",
          values: [`s3.${role === "primary" ? "us-east-1" : "us-west-2"}.amazonaws.com`],
        },
      ],
    });
  });

  it.each(ROLES)("pages %s's topic when an asynchronous report cannot be written", (role) => {
    const config = findResource(
      json,
      "aws_lambda_function_event_invoke_config",
      `reports-${role}_`,
    );
    expect(config).toMatchObject({
      maximum_retry_attempts: 2,
      maximum_event_age_in_seconds: 3600,
      destination_config: {
        on_failure: { destination: expect.stringContaining(`alerts-${role}_topic_`) },
      },
    });
  });

  it("hears every end of this environment's workflows in its region, including ones added later", () => {
    const pattern = endedExecutionsPattern("us-west-2", "123456789012", "dev") as never;
    const event = (name: string, status = "ABORTED") => ({
      source: "aws.states",
      "detail-type": "Step Functions Execution Status Change",
      detail: {
        status,
        stateMachineArn: `arn:aws:states:us-west-2:123456789012:stateMachine:${name}`,
      },
    });
    expect(matches(pattern, event("payments-failover-dev"))).toBe(true);
    expect(matches(pattern, event("payments-reprotect-dev", "SUCCEEDED"))).toBe(true);
    expect(matches(pattern, event("payments-failover-prod"))).toBe(false);
    expect(matches(pattern, event("payments-failover-dev", "RUNNING"))).toBe(false);
    const rules = resourceList(json, "aws_cloudwatch_event_rule").filter((r) =>
      String(r.name).startsWith("payments-dr-run-ended-"),
    );
    expect(rules.map((r) => [r.provider, r.name])).toEqual([
      ["aws.primary", "payments-dr-run-ended-use1-dev"],
      ["aws.secondary", "payments-dr-run-ended-usw2-dev"],
    ]);
  });

  it("is what the DR tasks and the drill may invoke, in their own region's bucket", () => {
    const tasks = resourceList(json, "aws_lambda_function").filter((f) =>
      /^payments-dr-(?!prober)/.test(String(f.function_name)),
    );
    for (const task of tasks) {
      const variables = (task.environment as { variables: Record<string, string> }).variables;
      const role = String(task.provider).replace("aws.", "");
      expect(variables.REPORT_WRITER_FUNCTION).toBe("payments-report-writer-dev");
      expect(variables.REPORT_BUCKET).toContain(`reports-${role}_bucket_`);
    }
    // The tasks that hand over a run's report (their declared `reports` permission), and the
    // drill role, may invoke their own region's writer and no other.
    for (const [role, region] of [
      ["primary", "us-east-1"],
      ["secondary", "us-west-2"],
    ] as const) {
      const writer = new RegExp(
        `^arn:aws:lambda:${region}:.*:function:payments-report-writer-dev$`,
      );
      for (const task of ["record-timeline", "notify"]) {
        const statements = policyStatements(
          json,
          `orchestration-${role}_task-${task}_permissions_`,
        );
        expect(statements.find((s) => s.sid === "WriteRunReport")).toMatchObject({
          actions: ["lambda:InvokeFunction"],
          resources: [expect.stringMatching(writer)],
        });
      }
      const drill = policyStatements(json, `dr-iam_${role}-drill-permissions`);
      expect(drill.find((s) => s.sid === "WriteItsReport")).toMatchObject({
        actions: ["lambda:InvokeFunction"],
        resources: [expect.stringMatching(writer)],
      });
    }
  });
});

describe("drill results that page", () => {
  const { json } = synth(FULL_ENV);
  const alarms = resourceList(json, "aws_cloudwatch_metric_alarm");

  it("pages when a drill failed or none passed in 40 days, in the secondary region", () => {
    for (const kind of ["failover-drill", "restore-drill"]) {
      expect(
        alarms.find((a) => a.alarm_name === `payments-${kind}-overdue-usw2-dev`),
      ).toMatchObject({
        provider: "aws.secondary",
        namespace: "PaymentsDR",
        metric_name: "DrillDaysSinceSuccess",
        dimensions: { Drill: kind },
        threshold: 40,
        comparison_operator: "GreaterThanThreshold",
        evaluation_periods: 3,
        treat_missing_data: "breaching",
        alarm_actions: [expect.stringContaining("alerts-secondary_topic_")],
      });
      expect(alarms.find((a) => a.alarm_name === `payments-${kind}-failed-usw2-dev`)).toMatchObject(
        {
          metric_name: "DrillFailing",
          dimensions: { Drill: kind },
          threshold: 1,
          comparison_operator: "GreaterThanOrEqualToThreshold",
          treat_missing_data: "ignore",
        },
      );
    }
    const { json: strict } = synth(CUSTOM_ENV);
    expect(
      resourceList(strict, "aws_cloudwatch_metric_alarm").find(
        (a) => a.alarm_name === "payments-restore-drill-overdue-usw2-dev",
      )!.threshold,
    ).toBe(35);
  });

  it("runs the drill watch every 15 minutes with read-only access to the ledger", () => {
    expect(
      resourceList(json, "aws_cloudwatch_event_rule").find(
        (r) => r.name === "payments-dr-drill-watch-usw2-dev",
      ),
    ).toMatchObject({ provider: "aws.secondary", schedule_expression: "rate(15 minutes)" });
    for (const fn of ["watch", "widget"]) {
      const statements = policyStatements(json, `drill-evidence_${fn}_permissions`);
      const writes = statements
        .flatMap((s: PolicyStatement) => s.actions ?? [])
        .filter(
          (a) =>
            !/^(dynamodb:(Query|DescribeTable)|kms:Decrypt|logs:|cloudwatch:PutMetricData)/.test(a),
        );
      expect({ fn, writes }).toEqual({ fn, writes: [] });
    }
  });
});

describe("the overview dashboard's evidence", () => {
  const { json } = synth(FULL_ENV);
  const overview = resourceList(json, "aws_cloudwatch_dashboard").find(
    (d) => d.dashboard_name === "payments-dr-overview-dev",
  )!;
  const widgets = JSON.parse(String(overview.dashboard_body)).widgets as Array<{
    type: string;
    properties: Record<string, unknown>;
  }>;

  it("shows the ledger through the read-only widget function, which on-call may invoke", () => {
    const ledger = widgets.find((w) => w.type === "custom")!;
    expect(ledger.properties).toMatchObject({
      endpoint: expect.stringContaining("drill-evidence_widget_function_"),
      params: { limit: 20 },
    });
    const operator = policyStatements(json, "dr-iam_operator-permissions");
    expect(operator.find((s) => s.sid === "ViewLedgerWidget")!.resources).toEqual([
      expect.stringContaining("drill-evidence_widget_function_"),
    ]);
  });

  it("draws every run's RTO and RPO against the targets, and the drills' age against the limit", () => {
    const byTitle = (prefix: string) =>
      widgets.find((w) => String(w.properties.title).startsWith(prefix))!.properties;
    expect(byTitle("Measured RTO per run").annotations).toEqual({
      horizontal: [
        { label: "RTO goal", value: 180, color: "#1565c0" },
        { label: "RTO target", value: 900, color: "#c62828" },
      ],
    });
    expect(byTitle("RPO estimate per run").annotations).toEqual({
      horizontal: [{ label: "RPO target", value: 300000, color: "#c62828" }],
    });
    expect(byTitle("Days since each drill passed").annotations).toEqual({
      horizontal: [{ label: "pages", value: 40, color: "#c62828" }],
    });
    expect(byTitle("Drill alarms").alarms).toHaveLength(4);
  });
});

describe("drill configuration", () => {
  it("offsets the restore drill from the failover drill and refuses the same schedule", () => {
    expect(loadConfig({}).drills).toMatchObject({
      schedule: "cron(0 15 ? * TUE#2 *)",
      restoreSchedule: "cron(0 15 ? * TUE#4 *)",
      maxAgeDays: 40,
    });
    expect(() =>
      loadConfig({
        DRILL_SCHEDULE: "cron(0 9 ? * MON#1 *)",
        RESTORE_DRILL_SCHEDULE: "cron(0 9 ? * MON#1 *)",
      }),
    ).toThrow(
      'RESTORE_DRILL_SCHEDULE="cron(0 9 ? * MON#1 *)" is not allowed: a schedule other than DRILL_SCHEDULE',
    );
  });
});
