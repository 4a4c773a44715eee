import type { ExecutionStatusChange } from "../../functions/reports/writer/core";
import {
  collapseLoops,
  handleWriterEvent,
  recordEndedExecution,
  workflowKind,
  writeReport,
} from "../../functions/reports/writer/core";
import { switchoverReport, testWriter } from "./support/samples";

const EXECUTION =
  "arn:aws:states:us-west-2:123456789012:execution:payments-failover-dev:alarm-7c2d";

function ended(
  status: string,
  extra: Partial<ExecutionStatusChange["detail"]> = {},
): ExecutionStatusChange {
  return {
    source: "aws.states",
    "detail-type": "Step Functions Execution Status Change",
    region: "us-west-2",
    detail: {
      executionArn: EXECUTION,
      stateMachineArn: "arn:aws:states:us-west-2:123456789012:stateMachine:payments-failover-dev",
      name: "alarm-7c2d",
      status,
      startDate: Date.UTC(2026, 10, 10, 3, 2, 0),
      stopDate: Date.UTC(2026, 10, 10, 3, 4, 30),
      input: JSON.stringify({
        targetRegion: "us-west-2",
        reason: "alarm primary-unhealthy entered ALARM",
        trigger: "alarm",
      }),
      output: null,
      ...extra,
    },
  };
}

const at = (s: string) => `2026-11-10T03:${s}.000Z`;

describe("the report writer", () => {
  it("stores the report as JSON and HTML, then indexes it in the ledger", async () => {
    const writer = testWriter();
    const result = await writeReport(switchoverReport(), writer);
    expect(result).toEqual({
      written: true,
      ledgerId: "switchover/us-west-2/drill-5f1c-out",
      outcome: "succeeded",
      location: expect.objectContaining({
        htmlKey: "reports/switchover/2026-11/drill-5f1c-out.html",
      }),
    });
    expect([...writer.store.objects.keys()]).toEqual([
      "reports/switchover/2026-11/drill-5f1c-out.json",
      "reports/switchover/2026-11/drill-5f1c-out.html",
    ]);
    const json = JSON.parse(
      writer.store.objects.get("reports/switchover/2026-11/drill-5f1c-out.json")!.body,
    );
    expect(json).toMatchObject({
      schemaVersion: 1,
      environment: "dev",
      targets: { rtoTargetSeconds: 900, rtoGoalSeconds: 180, rpoTargetSeconds: 300 },
      writtenAt: "2026-11-10T16:00:00.000Z",
      rtoSeconds: 131.4,
    });
    expect(
      writer.store.objects.get("reports/switchover/2026-11/drill-5f1c-out.html")!.contentType,
    ).toBe("text/html; charset=utf-8");
    expect(await writer.ledger.get("switchover/us-west-2/drill-5f1c-out")).toMatchObject({
      outcome: "succeeded",
      rtoSeconds: 131.4,
      reportUri:
        "s3://payments-dr-reports-usw2-dev-abc/reports/switchover/2026-11/drill-5f1c-out.html",
    });
  });

  it("holds each kind of run to its own targets", async () => {
    const writer = testWriter();
    await writeReport(switchoverReport({ kind: "restore-drill", runId: "r-1" }), writer);
    expect((await writer.ledger.get("restore-drill/us-west-2/r-1"))!.targets.rtoTargetSeconds).toBe(
      7200,
    );
  });

  it("rejects a report of another region, and a malformed one, writing nothing", async () => {
    const writer = testWriter();
    await expect(writeReport(switchoverReport({ region: "us-east-1" }), writer)).rejects.toThrow(
      'report field region="us-east-1" is not allowed: this writer stores us-west-2\'s reports; send it to the writer in us-east-1',
    );
    await expect(writeReport({ ...switchoverReport(), steps: "all fine" }, writer)).rejects.toThrow(
      /^report field steps="all fine" is not allowed/,
    );
    expect(writer.store.objects.size).toBe(0);
    expect(writer.ledger.entries.size).toBe(0);
  });

  it("fills a drill's runs from their own ledger rows", async () => {
    const writer = testWriter();
    await writeReport(switchoverReport(), writer);
    await writeReport(
      switchoverReport({
        kind: "failover-drill",
        runId: "5f1c",
        runs: [
          { kind: "switchover", runId: "drill-5f1c-out", region: "us-west-2", outcome: "unknown" },
          {
            kind: "failback",
            runId: "drill-5f1c-back",
            region: "us-east-1",
            outcome: "failed",
            detail: "never started",
          },
        ],
      }),
      writer,
    );
    const drill = JSON.parse(
      writer.store.objects.get("reports/failover-drill/2026-11/5f1c.json")!.body,
    );
    expect(drill.runs).toEqual([
      {
        kind: "switchover",
        runId: "drill-5f1c-out",
        region: "us-west-2",
        outcome: "succeeded",
        rtoSeconds: 131.4,
        rpoSeconds: 0.12,
        reportUrl: expect.stringMatching(
          /^https:\/\/us-west-2\.console\.aws\.amazon\.com\/s3\/object\//,
        ),
      },
      {
        kind: "failback",
        runId: "drill-5f1c-back",
        region: "us-east-1",
        outcome: "failed",
        rtoSeconds: null,
        rpoSeconds: null,
        detail: "never started",
      },
    ]);
  });

  it("rejects an event that is neither a report nor an execution status change", async () => {
    await expect(handleWriterEvent({ hello: "world" } as never, testWriter())).rejects.toThrow(
      /^event must be \{"action":"write","report":\{\.\.\.\}\} or a Step Functions execution status change/,
    );
  });
});

describe("a workflow run that ended without its own report", () => {
  it("gets one from its execution history when on-call stopped it mid-run", async () => {
    const writer = testWriter();
    writer.histories[EXECUTION] = {
      states: [
        { name: "ValidateInput", type: "Task", enteredAt: at("02:00"), exitedAt: at("02:01") },
        { name: "ApprovalRequired", type: "Choice", enteredAt: at("02:01"), exitedAt: at("02:01") },
        { name: "Fence", type: "Task", enteredAt: at("02:01"), exitedAt: at("02:02") },
        { name: "WaitForFence", type: "Wait", enteredAt: at("02:02"), exitedAt: at("02:08") },
        { name: "Promote", type: "Task", enteredAt: at("02:08") },
      ],
      error: "States.Aborted",
    };
    const result = await recordEndedExecution(ended("ABORTED"), writer);
    expect(result).toMatchObject({
      written: true,
      outcome: "failed",
      ledgerId: "failover/us-west-2/alarm-7c2d",
    });
    const report = JSON.parse(
      writer.store.objects.get("reports/failover/2026-11/alarm-7c2d.json")!.body,
    );
    expect(report.summary).toMatch(/^The failover was stopped \(StopExecution\) in Promote\./);
    expect(report.trigger).toEqual({
      kind: "alarm",
      by: null,
      reason: "alarm primary-unhealthy entered ALARM",
    });
    expect(report.steps).toEqual([
      { name: "ValidateInput", startedAt: at("02:00"), endedAt: at("02:01"), status: "succeeded" },
      { name: "Fence", startedAt: at("02:01"), endedAt: at("02:02"), status: "succeeded" },
      { name: "WaitForFence", startedAt: at("02:02"), endedAt: at("02:08"), status: "succeeded" },
      {
        name: "Promote",
        startedAt: at("02:08"),
        endedAt: at("04:30"),
        status: "failed",
        detail: "ended ABORTED",
      },
    ]);
  });

  it("calls a run refused before it changed anything rejected, not failed", async () => {
    const writer = testWriter();
    writer.histories[EXECUTION] = {
      states: [
        { name: "ValidateInput", type: "Task", enteredAt: at("02:00"), exitedAt: at("02:01") },
        {
          name: "AcquireLock",
          type: "Task",
          enteredAt: at("02:01"),
          exitedAt: at("02:02"),
          error: "CooldownActiveError",
        },
        { name: "Rejected", type: "Fail", enteredAt: at("02:02") },
      ],
      error: "CooldownActiveError",
      cause: "a run ended 4 minutes ago",
    };
    const result = await recordEndedExecution(ended("FAILED"), writer);
    expect(result).toMatchObject({ outcome: "rejected" });
    const row = await writer.ledger.get("failover/us-west-2/alarm-7c2d");
    expect(row!.summary).toBe(
      "The failover was refused before it changed anything (Rejected: CooldownActiveError: a run ended 4 minutes ago).",
    );
  });

  it("leaves a run that wrote its own report alone, whichever arrives first", async () => {
    const writer = testWriter();
    writer.histories[EXECUTION] = { states: [] };
    const own = switchoverReport({
      kind: "failover",
      runId: "alarm-7c2d",
      startedAt: at("02:00"),
      endedAt: at("04:00"),
    });
    await writeReport(own, writer);
    expect(await recordEndedExecution(ended("FAILED"), writer)).toEqual({
      ignored: "the run has its own report",
    });

    // The history's report came first: the run's own report still replaces it.
    const other = testWriter();
    other.histories[EXECUTION] = { states: [] };
    await recordEndedExecution(ended("SUCCEEDED"), other);
    await writeReport(own, other);
    expect((await other.ledger.get("failover/us-west-2/alarm-7c2d"))!.summary).toBe(own.summary);
    expect(other.store.objects.get("reports/failover/2026-11/alarm-7c2d.json")!.body).toContain(
      own.summary,
    );
  });

  it("still reports a run whose history cannot be read, saying what is missing", async () => {
    const writer = testWriter();
    const result = await recordEndedExecution(ended("TIMED_OUT"), writer);
    expect(result).toMatchObject({ written: true, outcome: "failed" });
    const report = JSON.parse(
      writer.store.objects.get("reports/failover/2026-11/alarm-7c2d.json")!.body,
    );
    expect(report.steps).toEqual([]);
    expect(report.warnings[0]).toMatch(/execution history could not be read/);
  });

  it("ignores state machines of other environments and executions still running", async () => {
    expect(
      workflowKind("arn:aws:states:us-west-2:1:stateMachine:payments-failover-prod", "dev"),
    ).toBeNull();
    expect(
      workflowKind("arn:aws:states:us-west-2:1:stateMachine:payments-reprotect-dev", "dev"),
    ).toBe("reprotect");
    const writer = testWriter();
    expect(await recordEndedExecution(ended("RUNNING"), writer)).toEqual({
      ignored: "execution still RUNNING",
    });
  });
});

describe("a poll loop in an execution history", () => {
  it("is one step from its first entry to its last exit", () => {
    const loop = ["10", "15", "19"].map((minute) => ({
      name: "CheckPromotion",
      startedAt: at(`${minute}:00`),
      endedAt: at(`${minute}:01`),
      status: "succeeded" as const,
    }));
    const steps = collapseLoops([
      { name: "Promote", startedAt: at("09:00"), endedAt: at("09:30"), status: "succeeded" },
      ...loop,
      {
        name: "CheckPromotion",
        startedAt: at("20:00"),
        endedAt: at("20:02"),
        status: "failed",
        detail: "States.Timeout",
      },
    ]);
    expect(steps).toEqual([
      { name: "Promote", startedAt: at("09:00"), endedAt: at("09:30"), status: "succeeded" },
      {
        name: "CheckPromotion",
        startedAt: loop[0]!.startedAt,
        endedAt: at("20:02"),
        status: "failed",
        detail: "4 times; States.Timeout",
      },
    ]);
  });
});
