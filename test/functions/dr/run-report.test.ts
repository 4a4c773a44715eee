// A workflow run as a report: the mapping from the workflow state (pure).
import { reportSteps, workflowReport } from "../../../functions/dr/shared/run-report";
import type { DrRequest, WorkflowState } from "../../../functions/dr/shared/types";
import { validateReportInput } from "../../../functions/reports/shared/model";
import { FakeWorld, WEST } from "./support/fake-world";

const at = (s: number) => new Date(Date.UTC(2026, 10, 10, 3, 2, s)).toISOString();
const request: DrRequest = {
  workflow: "failover",
  failoverId: "alarm-7c2d",
  resumed: true,
  executionId:
    "arn:aws:states:us-west-2:123456789012:execution:payments-failover-test:alarm-7c2d-r1",
  executionName: "alarm-7c2d-r1",
  stateMachineArn: "arn:aws:states:us-west-2:123456789012:stateMachine:payments-failover-test",
  startedAt: at(40),
  targetRegion: WEST,
  sourceRegion: "us-east-1",
  reason: "alarm payments-primary-unhealthy-usw2-test entered ALARM at 2026-11-10T03:01:50Z",
  trigger: "alarm",
  mode: "automatic",
  forceDetach: false,
  ignoreCooldown: false,
  allowUnknownLag: false,
  assumeOldWriterStopped: false,
};
const times = (from: number, to: number) => ({ startedAt: at(from), endedAt: at(to) });

function state(extra: Partial<WorkflowState> = {}): WorkflowState {
  return {
    input: {},
    request,
    steps: {
      ValidateInput: times(40, 41),
      Preflight: {
        ...times(41, 42),
        targetClusterStatus: "available",
        replicationLagMs: 310,
        replicationLagAt: at(41),
        alreadyPromoted: false,
        alreadyFenced: false,
      },
      AcquireLock: {
        ...times(42, 43),
        owner: "alarm-7c2d",
        operation: "failover",
        acquiredAt: at(5),
        expiresAt: 1,
        facts: { replicationLagMs: 250 },
      },
    },
    ...extra,
  };
}

describe("a workflow run's report", () => {
  const deps = () => ({ ...new FakeWorld().deps(WEST), now: () => new Date(at(59)) });

  it("names the alarm that started it, and counts a resumed run's RTO from its first attempt", () => {
    const report = workflowReport(
      state(),
      "completed",
      { rtoSeconds: 112, rpoEstimateMs: 250, rtoStartedAt: at(5) },
      deps(),
    );
    expect(report).toMatchObject({
      kind: "failover",
      runId: "alarm-7c2d-r1",
      groupId: "alarm-7c2d",
      outcome: "succeeded",
      trigger: { kind: "alarm", by: "payments-primary-unhealthy-usw2-test" },
      rtoSeconds: 112,
      rtoStartedAt: at(5),
      rpoSeconds: 0.25,
      startedAt: at(40),
      endedAt: at(59),
      config: { resumed: true, failoverId: "alarm-7c2d", cooldownMinutes: 30 },
    });
    expect(report.rpoBasis).not.toMatch(/lost nothing/);
    expect(() => validateReportInput(report)).not.toThrow();
  });

  it("says a planned move lost nothing, whatever the lag was", () => {
    const planned = workflowReport(
      state({
        request: {
          ...request,
          workflow: "switchover",
          trigger: "drill",
          reason: "scheduled DR drill drill-5f1c-out",
        },
      }),
      "completed",
      { rtoSeconds: 90, rpoEstimateMs: 250 },
      deps(),
    );
    expect(planned.rpoBasis).toMatch(
      /a switchover waits until the secondary has caught up, so this run itself lost nothing$/,
    );
    expect(planned.trigger.by).toBe("drill-5f1c-out");
    expect(planned).not.toHaveProperty("rtoStartedAt");
  });

  it("marks the step a run halted at, a step that failed without stopping it, and the steps that never ran", () => {
    const steps = reportSteps(
      state({
        steps: { ...state().steps, ShiftTraffic: undefined },
        failures: {
          Fence: {
            Error: "FencingConflictError",
            Cause: JSON.stringify({ errorMessage: "flag changed" }),
          },
        },
        warnings: { ShiftTraffic: { Error: "TransientError", Cause: "Route 53 did not answer" } },
      }),
    );
    expect(steps.map((s) => [s.name, s.status, s.detail ?? ""])).toEqual([
      ["ValidateInput", "succeeded", ""],
      ["Preflight", "succeeded", ""],
      ["AcquireLock", "succeeded", ""],
      ["Fence", "failed", "FencingConflictError: flag changed"],
      ["CheckOldWriter", "skipped", ""],
      ["Promote", "skipped", ""],
      ["CheckPromotion", "skipped", ""],
      ["UpdateParameters", "skipped", ""],
      ["ShiftTraffic", "warning", "TransientError: Route 53 did not answer"],
      ["Verify", "skipped", ""],
      ["Unfence", "skipped", ""],
    ]);
  });
});
