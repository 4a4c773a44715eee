// The drill runbooks' report step (write_drill_report.py) with a fake boto3: what it reads, the
// report it hands the writer, and that the writer accepts it.
import { validateReportInput } from "../../functions/reports/shared/model";
import { writeReport } from "../../functions/reports/writer/core";
import { testWriter } from "../reports/support/samples";
import { hasPython, runStep } from "./python";

const pythonIt = hasPython() || process.env.CI === "true" ? it : it.skip;

const EXECUTION_ID = "5f1c2d3e-aaaa-bbbb-cccc-123456789012";
const ROLE = "arn:aws:iam::123456789012:role/payments-dr-automation-usw2-dev";

const events = {
  Path: "passed",
  Kind: "failover-drill",
  Title: "DR drill: switchover to us-west-2 and back",
  ExecutionId: EXECUTION_ID,
  Region: "us-west-2",
  WriterFunction: "payments-report-writer-dev",
  PlannedSteps:
    "CheckReadiness,AnnounceStart,MoveToSecondary,Hold,ShouldFailBack,FailBackToPrimary",
  StateMachinePrefix: "payments-",
  Suffix: "dev",
  OutboundKind: "switchover",
  OutboundRegion: "us-west-2",
  OutboundExecution: `drill-${EXECUTION_ID}-out`,
  BackKind: "failback",
  BackRegion: "us-east-1",
  BackExecution: `drill-${EXECUTION_ID}-back`,
};

const t = (minute: number, second = 0) =>
  new Date(Date.UTC(2026, 10, 10, 15, minute, second)).toISOString();

function step(name: string, from: number, to: number, status = "Success", failure?: string) {
  return {
    StepName: name,
    StepStatus: status,
    ExecutionStartTime: t(from),
    ExecutionEndTime: t(to),
    ...(failure ? { FailureMessage: failure } : {}),
  };
}

function automation(
  steps: object[],
  executedBy = `arn:aws:sts::123456789012:assumed-role/payments-dr-automation-usw2-dev/${EXECUTION_ID}`,
) {
  return {
    AutomationExecution: {
      AutomationExecutionId: EXECUTION_ID,
      DocumentName: "payments-dr-drill-dev",
      DocumentVersion: "3",
      ExecutionStartTime: t(0),
      ExecutedBy: executedBy,
      Parameters: {
        AutomationAssumeRole: [ROLE],
        Workflow: ["switchover"],
        HoldDuration: ["PT10M"],
        FailBack: ["true"],
      },
      StepExecutions: steps,
    },
  };
}

const completed = (rto: number, lagMs: number) => ({
  status: "SUCCEEDED",
  output: JSON.stringify({ steps: { RecordTimeline: { rtoSeconds: rto, rpoEstimateMs: lagMs } } }),
});

const writerAnswer = {
  StatusCode: 200,
  Payload: JSON.stringify({
    written: true,
    location: {
      consoleUrl: "https://us-west-2.console.aws.amazon.com/s3/object/b?prefix=r.html",
      htmlUri: "s3://b/r.html",
    },
  }),
};

const passedSteps = [
  step("CheckReadiness", 0, 0),
  step("AnnounceStart", 0, 0),
  step("MoveToSecondary", 0, 3),
  step("Hold", 3, 13),
  step("ShouldFailBack", 13, 13),
  step("FailBackToPrimary", 13, 16),
  { StepName: "WriteReport", StepStatus: "InProgress", ExecutionStartTime: t(16) },
];

function sentReport(result: ReturnType<typeof runStep>): Record<string, unknown> {
  const invoke = result.calls.find((c) => c.call === "lambda.invoke")!;
  expect(invoke).toMatchObject({
    region: "us-west-2",
    args: { FunctionName: "payments-report-writer-dev", InvocationType: "RequestResponse" },
  });
  return (JSON.parse(String(invoke.args.Payload)) as { report: Record<string, unknown> }).report;
}

describe("the drill's report step", () => {
  pythonIt(
    "reports a passed drill with its steps, its runs' RTO and RPO, and who started it",
    () => {
      const result = runStep("WriteDrillReport", "write_drill_report", events, {
        "ssm.get_automation_execution": automation(passedSteps),
        "sts.get_caller_identity": { Account: "123456789012" },
        "stepfunctions.describe_execution": [completed(131.4, 120), completed(95.2, 40)],
        "lambda.invoke": writerAnswer,
      });
      expect(result.error).toBeUndefined();
      expect(result.ok).toEqual({
        Outcome: "succeeded",
        ReportUrl: "https://us-west-2.console.aws.amazon.com/s3/object/b?prefix=r.html",
        ReportUri: "s3://b/r.html",
      });
      expect(
        result.calls
          .filter((c) => c.call === "stepfunctions.describe_execution")
          .map((c) => [c.region, c.args.executionArn]),
      ).toEqual([
        [
          "us-west-2",
          `arn:aws:states:us-west-2:123456789012:execution:payments-switchover-dev:drill-${EXECUTION_ID}-out`,
        ],
        [
          "us-east-1",
          `arn:aws:states:us-east-1:123456789012:execution:payments-failback-dev:drill-${EXECUTION_ID}-back`,
        ],
      ]);
      const report = sentReport(result);
      expect(report).toMatchObject({
        kind: "failover-drill",
        runId: EXECUTION_ID,
        region: "us-west-2",
        outcome: "succeeded",
        startedAt: t(0),
        trigger: { kind: "schedule", reason: "monthly DR drill" },
        rtoSeconds: 131.4,
        rpoSeconds: 0.12,
        config: {
          Workflow: "switchover",
          HoldDuration: "PT10M",
          FailBack: "true",
          document: "payments-dr-drill-dev",
          documentVersion: "3",
        },
        runs: [
          {
            kind: "switchover",
            runId: `drill-${EXECUTION_ID}-out`,
            region: "us-west-2",
            outcome: "succeeded",
            rtoSeconds: 131.4,
            rpoSeconds: 0.12,
          },
          {
            kind: "failback",
            runId: `drill-${EXECUTION_ID}-back`,
            region: "us-east-1",
            outcome: "succeeded",
            rtoSeconds: 95.2,
            rpoSeconds: 0.04,
          },
        ],
      });
      expect(
        (report.steps as Array<{ name: string; startedAt: string; status: string }>).map((s) => [
          s.name,
          s.startedAt,
          s.status,
        ]),
      ).toEqual([
        ["CheckReadiness", t(0), "succeeded"],
        ["AnnounceStart", t(0), "succeeded"],
        ["MoveToSecondary", t(0), "succeeded"],
        ["Hold", t(3), "succeeded"],
        ["ShouldFailBack", t(13), "succeeded"],
        ["FailBackToPrimary", t(13), "succeeded"],
      ]);
      // The role it ran as is not configuration worth showing.
      expect(report.config).not.toHaveProperty("AutomationAssumeRole");
    },
  );

  pythonIt(
    "reports a run's capacity warning, which its own report and page came too early to carry",
    () => {
      // RestoreCapacity runs after the failback's RecordTimeline: its warning is only in the
      // execution's output (review 22, M1).
      const back = JSON.parse(completed(95.2, 40).output) as Record<string, unknown>;
      const result = runStep("WriteDrillReport", "write_drill_report", events, {
        "ssm.get_automation_execution": automation(passedSteps),
        "sts.get_caller_identity": { Account: "123456789012" },
        "stepfunctions.describe_execution": [
          completed(131.4, 120),
          {
            status: "SUCCEEDED",
            output: JSON.stringify({
              ...back,
              warnings: {
                RestoreCapacity: {
                  Error: "CapacityTimeoutError",
                  Cause: "RestoreCapacity still waited after 30 minutes",
                },
              },
            }),
          },
        ],
        "lambda.invoke": writerAnswer,
      });
      expect(result.error).toBeUndefined();
      const report = sentReport(result);
      expect(report.outcome).toBe("succeeded");
      expect(report.warnings).toEqual([
        `failback run drill-${EXECUTION_ID}-back in us-east-1: capacity not restored (CapacityTimeoutError: RestoreCapacity still waited after 30 minutes); README, Capacity after a failover.`,
      ]);
      expect(() => validateReportInput(report)).not.toThrow();
    },
  );

  pythonIt(
    "reports a failed drill: the failed step, the ones that never ran, a run that halted",
    () => {
      const result = runStep(
        "WriteDrillReport",
        "write_drill_report",
        { ...events, Path: "failed" },
        {
          "ssm.get_automation_execution": automation(
            [
              step("CheckReadiness", 0, 0),
              step("AnnounceStart", 0, 0),
              step(
                "MoveToSecondary",
                0,
                9,
                "Failed",
                "Exception: payments-switchover-dev ended FAILED: arn:...",
              ),
            ],
            "arn:aws:sts::123456789012:assumed-role/oncall/jane@acme-payments.io",
          ),
          "sts.get_caller_identity": { Account: "123456789012" },
          "stepfunctions.describe_execution": [
            { status: "FAILED" },
            { raise: "ExecutionDoesNotExist" },
          ],
          "lambda.invoke": writerAnswer,
        },
      );
      expect(result.ok).toMatchObject({ Outcome: "failed" });
      const report = sentReport(result);
      expect(report).toMatchObject({
        outcome: "failed",
        summary:
          "The drill failed at MoveToSecondary: Exception: payments-switchover-dev ended FAILED: arn:....",
        trigger: {
          kind: "operator",
          by: "arn:aws:sts::123456789012:assumed-role/oncall/jane@acme-payments.io",
        },
        rtoSeconds: null,
        runs: [
          { kind: "switchover", outcome: "failed", detail: "execution FAILED" },
          { kind: "failback", outcome: "unknown", detail: "not started" },
        ],
      });
      expect(
        (report.steps as Array<{ name: string; status: string }>).map(
          (s) => `${s.name}:${s.status}`,
        ),
      ).toEqual([
        "CheckReadiness:succeeded",
        "AnnounceStart:succeeded",
        "MoveToSecondary:failed",
        "Hold:skipped",
        "ShouldFailBack:skipped",
        "FailBackToPrimary:skipped",
      ]);
      expect(report.warnings).toEqual([
        "switchover run drill-" + EXECUTION_ID + "-out in us-west-2: execution FAILED.",
      ]);
    },
  );

  pythonIt("fails the step with the writer's own error when the writer refuses the report", () => {
    const result = runStep("WriteDrillReport", "write_drill_report", events, {
      "ssm.get_automation_execution": automation(passedSteps),
      "sts.get_caller_identity": { Account: "123456789012" },
      "stepfunctions.describe_execution": [completed(131.4, 120), completed(95.2, 40)],
      "lambda.invoke": {
        StatusCode: 200,
        FunctionError: "Unhandled",
        Payload: JSON.stringify({
          errorType: "InvalidReportError",
          errorMessage: "report field region=...",
        }),
      },
    });
    expect(result.error).toBe(
      "the report writer failed: InvalidReportError: report field region=...",
    );
  });

  pythonIt("sends a report the writer accepts and stores, as the writer checks it", async () => {
    const result = runStep("WriteDrillReport", "write_drill_report", events, {
      "ssm.get_automation_execution": automation(passedSteps),
      "sts.get_caller_identity": { Account: "123456789012" },
      "stepfunctions.describe_execution": [completed(131.4, 120), completed(95.2, 40)],
      "lambda.invoke": writerAnswer,
    });
    const report = sentReport(result);
    expect(() => validateReportInput(report)).not.toThrow();
    const writer = testWriter();
    const stored = await writeReport(report, writer);
    expect(stored).toMatchObject({
      written: true,
      outcome: "succeeded",
      ledgerId: `failover-drill/us-west-2/${EXECUTION_ID}`,
    });
  });
});
