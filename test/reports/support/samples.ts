// Reports and ledger rows as producers send them, for the report tests.
import type { LedgerEntry, RunReportInput, Targets } from "../../../functions/reports/shared/model";
import type { WriterDeps } from "../../../functions/reports/writer/core";
import { MemoryLedger, MemoryReportStore } from "../../../functions/reports/shared/memory";
import type { ExecutionHistory } from "../../../functions/reports/shared/ports";

export const TARGETS: Targets = {
  rtoTargetSeconds: 900,
  rtoGoalSeconds: 180,
  rpoTargetSeconds: 300,
};
export const RESTORE_TARGETS: Targets = {
  rtoTargetSeconds: 7200,
  rtoGoalSeconds: 7200,
  rpoTargetSeconds: 172_800,
};

const at = (seconds: number) =>
  new Date(Date.UTC(2026, 10, 10, 15, 0, 0) + seconds * 1000).toISOString();

/** A completed switchover to us-west-2, as RecordTimeline reports it. */
export function switchoverReport(overrides: Partial<RunReportInput> = {}): RunReportInput {
  return {
    kind: "switchover",
    runId: "drill-5f1c-out",
    region: "us-west-2",
    title: "switchover to us-west-2",
    outcome: "succeeded",
    summary: "us-west-2 is the active region; its synthetic payment went through.",
    startedAt: at(0),
    endedAt: at(140),
    trigger: { kind: "drill", by: "payments-dr-drill-dev", reason: "scheduled DR drill" },
    rtoSeconds: 131.4,
    rpoSeconds: 0.12,
    rpoBasis: "replication lag when the run began",
    steps: [
      { name: "ValidateInput", startedAt: at(0), endedAt: at(1), status: "succeeded" },
      { name: "Preflight", startedAt: at(1), endedAt: at(3), status: "succeeded" },
      { name: "Fence", startedAt: at(4), endedAt: at(5), status: "succeeded" },
      { name: "Switchover", startedAt: at(11), endedAt: at(13), status: "succeeded" },
      { name: "CheckPromotion", startedAt: at(13), endedAt: at(100), status: "succeeded" },
      {
        name: "ShiftTraffic",
        startedAt: at(101),
        endedAt: at(104),
        status: "warning",
        detail: "Route 53 did not answer",
      },
      { name: "Verify", startedAt: at(104), endedAt: at(131), status: "succeeded" },
    ],
    warnings: ["ShiftTraffic failed (TransientError: Route 53 did not answer)."],
    config: { mode: "automatic", cooldownMinutes: 30, forceDetach: false },
    ...overrides,
  };
}

export function entry(
  overrides: Partial<LedgerEntry> & Pick<LedgerEntry, "kind" | "endedAt">,
): LedgerEntry {
  const runId = overrides.runId ?? `run-${overrides.endedAt}`;
  return {
    id: `${overrides.kind}/us-west-2/${runId}`,
    runId,
    region: "us-west-2",
    environment: "dev",
    outcome: "succeeded",
    summary: "done",
    startedAt: overrides.endedAt,
    trigger: "drill",
    rtoSeconds: 120,
    rpoSeconds: 0.5,
    targets: TARGETS,
    warnings: 0,
    reportUri: `s3://bucket/${runId}.html`,
    consoleUrl: `https://us-west-2.console.aws.amazon.com/s3/object/bucket?prefix=${runId}`,
    ...overrides,
  };
}

export interface TestWriter extends WriterDeps {
  readonly store: MemoryReportStore;
  readonly ledger: MemoryLedger;
  histories: Record<string, ExecutionHistory | null>;
}

export function testWriter(
  region = "us-west-2",
  bucket = "payments-dr-reports-usw2-dev-abc",
): TestWriter {
  const writer: TestWriter = {
    settings: {
      environment: "dev",
      region,
      bucket,
      targets: { default: TARGETS, "restore-drill": RESTORE_TARGETS },
    },
    store: new MemoryReportStore(),
    ledger: new MemoryLedger(new Date(Date.UTC(2026, 9, 1))),
    histories: {},
    executions: { history: async (arn) => writer.histories[arn] ?? null },
    now: () => new Date(Date.UTC(2026, 10, 10, 16, 0, 0)),
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
  };
  return writer;
}
