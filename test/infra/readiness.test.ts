// The readiness evaluator as deployed: a function in each region on the configured schedule, a
// read-only role scoped to this environment's resources, the alarm that pages on fail, and
// settings its code accepts.
import { DR_TASK_NAMES } from "../../functions/dr/tasks";
import { loadConfig } from "../../infra/config";
import { readinessSettings, READINESS_QUOTAS } from "../../infra/constructs/readiness";
import { parseReadinessSettings } from "../../functions/monitoring/readiness/settings";
import { lambdaBudget } from "../../infra/stacks/payments-dr-stack";
import { SETTINGS } from "../functions/monitoring/support/aws-readiness-world";
import { findResource, inRegion, policyStatements, resourceList, synth } from "./helpers";

describe("the readiness evaluator", () => {
  const { json } = synth({});

  it("runs in both regions every 30 minutes by default", () => {
    const rules = resourceList(json, "aws_cloudwatch_event_rule").filter((r) =>
      String(r.name).startsWith("payments-readiness-"),
    );
    expect(rules.map((r) => [r.provider, r.name, r.schedule_expression])).toEqual([
      ["aws.primary", "payments-readiness-use1-dev", "rate(30 minutes)"],
      ["aws.secondary", "payments-readiness-usw2-dev", "rate(30 minutes)"],
    ]);
    const functions = resourceList(json, "aws_lambda_function").filter(
      (f) => f.function_name === "payments-readiness-dev",
    );
    expect(inRegion(functions, "primary")).toHaveLength(1);
    expect(inRegion(functions, "secondary")).toHaveLength(1);
    expect(functions[0]).toMatchObject({ timeout: 90, memory_size: 256 });
  });

  it("takes its schedule from READINESS_SCHEDULE_MINUTES and refuses one out of range", () => {
    const rule = findResource(
      synth({ READINESS_SCHEDULE_MINUTES: "15" }).json,
      "aws_cloudwatch_event_rule",
      "readiness-evaluator-secondary",
    );
    expect(rule.schedule_expression).toBe("rate(15 minutes)");
    expect(() => loadConfig({ READINESS_SCHEDULE_MINUTES: "2" })).toThrow(
      'READINESS_SCHEDULE_MINUTES="2" is not allowed: a whole number from 5 to 720',
    );
    expect(() => loadConfig({ READINESS_LAG_WARN_MS: "60000", RPO_TARGET_SECONDS: "30" })).toThrow(
      /READINESS_LAG_WARN_MS="60000" is not allowed: at most RPO_TARGET_SECONDS in milliseconds \(30000\)/,
    );
  });

  it("pages the region's topic when readiness fails twice in a row or stops being evaluated", () => {
    const alarm = findResource(
      json,
      "aws_cloudwatch_metric_alarm",
      "readiness-evaluator-secondary",
    );
    expect(alarm).toMatchObject({
      alarm_name: "payments-readiness-failed-usw2-dev",
      namespace: "PaymentsDR",
      metric_name: "ReadinessStatus",
      dimensions: { Region: "us-west-2" },
      statistic: "Maximum",
      period: 1800,
      evaluation_periods: 2,
      datapoints_to_alarm: 2,
      threshold: 3,
      comparison_operator: "GreaterThanOrEqualToThreshold",
      treat_missing_data: "breaching",
    });
    expect(alarm.alarm_actions).toEqual(["${aws_sns_topic.alerts-secondary_topic_D98F64D7.arn}"]);
  });

  it("may only read, but for its own metrics, its own item of the control table and its region's report writer", () => {
    const statements = policyStatements(json, "readiness-evaluator-secondary_function_permissions");
    const actions = statements.flatMap((s) => s.actions ?? []);
    const reads = /^(\w+):(Describe|Get|List|Simulate)/;
    const writes = actions.filter((a) => !reads.test(a) && !a.startsWith("logs:"));
    expect([...new Set(writes)].sort()).toEqual([
      "cloudwatch:PutMetricData",
      "dynamodb:PutItem",
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "lambda:InvokeFunction",
    ]);
    // A change of readiness goes to the report store through this region's writer only.
    const invoke = statements.find((s) => s.actions?.includes("lambda:InvokeFunction"))!;
    expect(invoke).toMatchObject({
      sid: "WriteReadinessReports",
      actions: ["lambda:InvokeFunction"],
    });
    expect(invoke.resources).toHaveLength(1);
    expect(invoke.resources![0]).toMatch(
      /^\$\{aws_lambda_function\.reports-secondary_writer.*\.arn\}$/,
    );
    const key = statements.find((s) => s.actions?.includes("kms:Encrypt"))!;
    expect(key.condition).toEqual([
      {
        test: "StringEquals",
        variable: "kms:ViaService",
        values: ["dynamodb.us-west-2.amazonaws.com"],
      },
    ]);
    const put = statements.find((s) => s.actions?.includes("dynamodb:PutItem"))!;
    expect(put.resources).toHaveLength(1);
    expect(put.resources![0]).toMatch(
      /^arn:aws:dynamodb:us-west-2:.+:table\/payments-control-dev$/,
    );
    expect(put.condition).toEqual([
      {
        test: "ForAllValues:StringEquals",
        variable: "dynamodb:LeadingKeys",
        values: ["readiness#us-west-2"],
      },
    ]);
    expect(
      statements.find((s) => s.actions?.includes("cloudwatch:PutMetricData"))!.condition,
    ).toEqual([{ test: "StringEquals", variable: "cloudwatch:namespace", values: ["PaymentsDR"] }]);
    // Star only where AWS has no resource-level permissions for the read.
    for (const s of statements.filter((x) => x.resources?.includes("*"))) {
      expect(
        s.actions!.every((a) =>
          [
            "backup:ListCopyJobs",
            "lambda:GetAccountSettings",
            "servicequotas:GetAWSDefaultServiceQuota",
            "ssm:DescribeAutomationExecutions",
            "cloudwatch:GetMetricData",
            "cloudwatch:PutMetricData",
          ].includes(a),
        ),
      ).toBe(true);
    }
    // GetServiceQuota on the compared quotas only (resource type quota).
    const quotas = statements.find((s) => s.actions?.includes("servicequotas:GetServiceQuota"))!;
    expect(quotas.resources).toHaveLength(2 * READINESS_QUOTAS.length);
    for (const r of ["us-east-1", "us-west-2"]) {
      for (const q of READINESS_QUOTAS) {
        expect(
          quotas.resources!.filter(
            (x) =>
              x.startsWith(`arn:aws:servicequotas:${r}:`) &&
              x.endsWith(`:${q.serviceCode}/${q.quotaCode}`),
          ),
        ).toHaveLength(1);
      }
    }
    // It may simulate each DR task's own role and the workflow role of both regions, no other.
    const simulate = statements.find((s) => s.actions?.includes("iam:SimulatePrincipalPolicy"))!;
    expect(simulate.resources).toHaveLength(2 * (DR_TASK_NAMES.length + 1));
    expect(simulate.resources!.every((r) => r.includes("aws_iam_role."))).toBe(true);
    expect(simulate.resources!.filter((r) => r.includes("aws_iam_role.dr-iam_"))).toHaveLength(2);
  });

  it("shows readiness on the overview (both regions) and each check on the region's dashboard", () => {
    const body = (name: string) => {
      const found = resourceList(json, "aws_cloudwatch_dashboard").find(
        (d) => d.dashboard_name === name,
      )!;
      return String(found.dashboard_body);
    };
    const overview = JSON.parse(body("payments-dr-overview-dev")) as {
      widgets: { properties: { title?: string; metrics?: unknown[][] } }[];
    };
    const widget = overview.widgets.find((w) => w.properties.title?.startsWith("Readiness"))!;
    expect(widget.properties.metrics!.map((m) => m.slice(0, 4))).toEqual([
      ["PaymentsDR", "ReadinessStatus", "Region", "us-east-1"],
      ["PaymentsDR", "ReadinessStatus", "Region", "us-west-2"],
    ]);
    expect(body("payments-dr-usw2-dev")).toContain(
      'MetricName=\\"ReadinessCheckStatus\\" Region=\\"us-west-2\\"',
    );
  });

  it("renders settings the evaluator's parser accepts", () => {
    const config = loadConfig({});
    const region = (r: string) => ({
      clusterArn: `arn:aws:rds:${r}:123456789012:cluster:payments-db-${r}-dev`,
      keyArns: [`arn:aws:kms:${r}:123456789012:key/mrk-1`, `arn:aws:kms:${r}:123456789012:key/2`],
      platformKeyArn: `arn:aws:kms:${r}:123456789012:key/2`,
      taskRoleArns: Object.fromEntries(
        DR_TASK_NAMES.map((t) => [
          t,
          `arn:aws:iam::123456789012:role/payments-fn-dr-${t}-${r}-dev`,
        ]),
      ),
      workflowRoleArn: `arn:aws:iam::123456789012:role/payments-dr-workflows-${r}-dev`,
      instanceIdentifiers: [`payments-db-1-${r}-dev`],
      backupVaultName: `payments-vault-${r}-dev`,
      controlTableArn: `arn:aws:dynamodb:${r}:123456789012:table/payments-control-dev`,
      subnetGroup: `payments-db-${r}-dev`,
      clusterParameterGroup: `payments-db-primary-${r}-dev`,
    });
    const settings = readinessSettings(
      {
        accountId: "123456789012",
        environmentSuffix: "dev",
        globalClusterIdentifier: "payments-global-dev",
        regions: { "us-east-1": region("us-east-1"), "us-west-2": region("us-west-2") },
        paymentFunctions: ["payments-authorize-dev"],
        taskFunctions: ["payments-dr-fence-dev"],
        reportWriter: "payments-report-writer-dev",
        tables: ["payments-control-dev"],
        stateMachines: ["payments-failover-dev"],
        drillDocument: "payments-dr-drill-dev",
        proberRegion: "us-west-2",
        parameterPrefix: "/payments/dev",
        database: config.database,
        monitoringRoleArn: "arn:aws:iam::123456789012:role/payments-rds-monitoring-dev",
        rpoTargetSeconds: config.failover.rpoTargetSeconds,
        lambdaBudget: lambdaBudget(config),
      },
      config.readiness,
    );
    const parsed = parseReadinessSettings(JSON.stringify(settings), ["us-east-1", "us-west-2"]);
    expect(parsed).toMatchObject({
      alarmSuffix: "-dev",
      lag: { warnMs: 1000, failMs: 300_000 },
      database: { writerInstances: 2, standbyInstances: 1 },
      quotas: READINESS_QUOTAS,
      // A new environment is not paged for evidence that cannot exist yet (README, Readiness).
      freshnessGraceHours: 48,
      // The connection budget's defaults: 1000 assumed, every database function reserved.
      lambdaBudget: {
        accountConcurrency: 1000,
        reserved: { "us-east-1": expect.any(Number), "us-west-2": expect.any(Number) },
        unreserved: [],
      },
    });
    expect(parsed.lambdaBudget.reserved["us-west-2"]).toBeGreaterThan(0);
  });

  it("rejects a grace or budget it cannot use, naming the field", () => {
    const base = { ...SETTINGS, freshnessGraceHours: -1 };
    expect(() => parseReadinessSettings(JSON.stringify(base), ["us-east-1", "us-west-2"])).toThrow(
      "READINESS_SETTINGS: freshnessGraceHours must be a whole number from 0 to 2160, got -1",
    );
    const noReserve = {
      ...SETTINGS,
      lambdaBudget: { accountConcurrency: 1000, reserved: {}, unreserved: [] },
    };
    expect(() =>
      parseReadinessSettings(JSON.stringify(noReserve), ["us-east-1", "us-west-2"]),
    ).toThrow("lambdaBudget.reserved.us-east-1 must be a whole number");
  });
});
