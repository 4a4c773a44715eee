// The report writer: the one function that stores reports and ledger rows. It takes a report
// from a workflow task (asynchronously), a drill runbook (synchronously), or builds one itself
// from the execution history of a workflow run that ended without writing its own (stopped by
// on-call, timed out, rejected). No AWS imports: the stores are passed in.
import type { Log } from "../../common/logger";
import type {
  LedgerEntry,
  ReportLocation,
  ReportStep,
  RunReport,
  RunReportInput,
  Targets,
} from "../shared/model";
import {
  InvalidReportError,
  ledgerEntryOf,
  ledgerId,
  reportLocation,
  validateReportInput,
} from "../shared/model";
import type { ExecutionHistory, ExecutionsPort, LedgerStore, ReportStore } from "../shared/ports";
import { renderReportHtml } from "../shared/render";
import type { TargetsByKind } from "../shared/settings";

export interface WriterSettings {
  readonly environment: string;
  /** The region this writer runs in: it writes that region's reports only. */
  readonly region: string;
  readonly bucket: string;
  readonly targets: TargetsByKind;
}

export interface WriterDeps {
  readonly settings: WriterSettings;
  readonly store: ReportStore;
  readonly ledger: LedgerStore;
  readonly executions: ExecutionsPort;
  readonly now: () => Date;
  readonly log: Log;
}

export interface WriteRequest {
  readonly action: "write";
  readonly report: unknown;
}

/** EventBridge "Step Functions Execution Status Change" (source aws.states). */
export interface ExecutionStatusChange {
  readonly source: "aws.states";
  readonly "detail-type": string;
  readonly region?: string;
  readonly detail: {
    readonly executionArn: string;
    readonly stateMachineArn: string;
    readonly name: string;
    readonly status: string;
    /** Epoch milliseconds. */
    readonly startDate: number;
    readonly stopDate?: number | null;
    readonly input?: string | null;
    readonly output?: string | null;
  };
}

export type WriterEvent = WriteRequest | ExecutionStatusChange;

export interface WriteResult {
  /** false when the run already had a report (an execution's own wins over its history). */
  readonly written: boolean;
  readonly ledgerId: string;
  readonly location: ReportLocation;
  readonly outcome: RunReport["outcome"];
}

export function targetsFor(settings: WriterSettings, kind: string): Targets {
  return settings.targets[kind] ?? settings.targets.default;
}

/**
 * Completes, renders and stores one report: JSON and HTML in the region's bucket, then its
 * ledger row. Idempotent: the same report rewritten lands on the same keys and row. With
 * `ifAbsent`, writes nothing when the run already has a ledger row (claimed first, so a run's
 * own report, written unconditionally, always wins over one built from its history).
 */
export async function writeReport(
  raw: unknown,
  deps: WriterDeps,
  options: { readonly ifAbsent?: boolean } = {},
): Promise<WriteResult> {
  const input = validateReportInput(raw);
  const { settings } = deps;
  if (input.region !== settings.region) {
    throw new InvalidReportError(
      `report field region=${JSON.stringify(input.region)} is not allowed: this writer stores ${settings.region}'s reports; send it to the writer in ${input.region}`,
    );
  }
  const location = reportLocation(
    settings.bucket,
    settings.region,
    input.kind,
    input.runId,
    input.startedAt,
  );
  const report: RunReport = {
    ...(await withChildReports(input, deps)),
    schemaVersion: 1,
    environment: settings.environment,
    targets: targetsFor(settings, input.kind),
    writtenAt: deps.now().toISOString(),
    location,
  };
  const entry = ledgerEntryOf(report);
  const result = { ledgerId: entry.id, location, outcome: report.outcome };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const html = renderReportHtml(report);
  if (options.ifAbsent) {
    if (!(await deps.ledger.put(entry, { ifAbsent: true }))) {
      deps.log.info("run already has a report", { ledgerId: entry.id });
      return { ...result, written: false };
    }
    await deps.store.put(location.jsonKey, json, "application/json", { ifAbsent: true });
    await deps.store.put(location.htmlKey, html, "text/html; charset=utf-8", { ifAbsent: true });
  } else {
    await deps.store.put(location.jsonKey, json, "application/json");
    await deps.store.put(location.htmlKey, html, "text/html; charset=utf-8");
    await deps.ledger.put(entry);
  }
  deps.log.info("report written", {
    ledgerId: entry.id,
    outcome: report.outcome,
    rtoSeconds: report.rtoSeconds,
    rpoSeconds: report.rpoSeconds,
    report: location.htmlUri,
  });
  return { ...result, written: true };
}

/** A drill's child runs completed from their own ledger rows (outcome, RTO, RPO, link). */
async function withChildReports(input: RunReportInput, deps: WriterDeps): Promise<RunReportInput> {
  if (!input.runs || input.runs.length === 0) return input;
  const runs = await Promise.all(
    input.runs.map(async (child) => {
      const row: LedgerEntry | null = await deps.ledger.get(
        ledgerId(child.kind, child.region, child.runId),
      );
      if (!row) return child;
      return {
        ...child,
        outcome: child.outcome === "unknown" ? row.outcome : child.outcome,
        rtoSeconds: child.rtoSeconds ?? row.rtoSeconds,
        rpoSeconds: child.rpoSeconds ?? row.rpoSeconds,
        reportUrl: child.reportUrl ?? row.consoleUrl,
      };
    }),
  );
  return { ...input, runs };
}

/** Final states that mean "refused before changing anything" in the workflows' ASL. */
export const REJECTION_STATES = ["InputRejected", "Rejected", "NotApproved"] as const;

/** State types that do work or wait; Choice, Pass and the end states are not steps. */
const STEP_TYPES = new Set(["Task", "Wait", "Map", "Parallel"]);

/** `arn:aws:states:<region>:<account>:stateMachine:payments-<kind>-<suffix>` -> kind. */
export function workflowKind(stateMachineArn: string, environment: string): string | null {
  const name = stateMachineArn.split(":").at(-1) ?? "";
  const match = /^payments-([a-z][a-z0-9-]*)-([a-z0-9]+)$/.exec(name);
  if (!match || match[2] !== environment) return null;
  return match[1]!;
}

function parseJson(text: string | null | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function str(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value.slice(0, 1000) : null;
}

/**
 * The report of a workflow execution that ended (any status), built from its execution history.
 * Written only when the run has none: a run that reached RecordTimeline or PageOnCall has
 * already asked for its own, richer one.
 */
export async function recordEndedExecution(
  event: ExecutionStatusChange,
  deps: WriterDeps,
): Promise<WriteResult | { readonly ignored: string }> {
  const { detail } = event;
  const kind = workflowKind(detail.stateMachineArn, deps.settings.environment);
  if (!kind) return { ignored: `not a payments-dr workflow: ${detail.stateMachineArn}` };
  if (!["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"].includes(detail.status)) {
    return { ignored: `execution still ${detail.status}` };
  }
  const region = detail.executionArn.split(":")[3] ?? deps.settings.region;
  const existing = await deps.ledger.get(ledgerId(kind, region, detail.name));
  if (existing) return { ignored: "the run has its own report" };

  const history = await deps.executions.history(detail.executionArn);
  const report = reportFromHistory(kind, region, event, history, deps.now());
  return writeReport(report, deps, { ifAbsent: true });
}

export function reportFromHistory(
  kind: string,
  region: string,
  event: ExecutionStatusChange,
  history: ExecutionHistory | null,
  now: Date,
): RunReportInput {
  const { detail } = event;
  const input = parseJson(detail.input);
  const output = parseJson(detail.output);
  const startedAt = new Date(detail.startDate).toISOString();
  const endedAt = new Date(detail.stopDate ?? now.getTime()).toISOString();
  const states = history?.states ?? [];
  const last = states.at(-1);
  const rejected =
    detail.status === "FAILED" &&
    last !== undefined &&
    (REJECTION_STATES as readonly string[]).includes(last.name);
  const outcome = detail.status === "SUCCEEDED" ? "succeeded" : rejected ? "rejected" : "failed";
  const error = history?.error;
  const cause = history?.cause;
  const why = [error, cause].filter(Boolean).join(": ").slice(0, 600);
  const summaries: Record<string, string> = {
    SUCCEEDED: `The ${kind} completed, but did not write its own report (its RecordTimeline step failed); this one comes from its execution history.`,
    ABORTED: `The ${kind} was stopped (StopExecution) ${last ? `in ${last.name}` : "before any state ran"}. Whatever it changed before that stays as it was: check the active-region flag and the lock before starting another run.`,
    TIMED_OUT: `The ${kind} timed out ${last ? `in ${last.name}` : ""}. Check the active-region flag and the lock before starting another run.`,
    FAILED: rejected
      ? `The ${kind} was refused before it changed anything (${last!.name}${why ? `: ${why}` : ""}).`
      : `The ${kind} failed${last ? ` in ${last.name}` : ""}${why ? ` (${why})` : ""} without writing its own report.`,
  };
  const steps = collapseLoops(
    states
      .filter((s) => STEP_TYPES.has(s.type))
      .map((s) => ({
        name: s.name,
        startedAt: s.enteredAt,
        endedAt: s.exitedAt ?? endedAt,
        status: s.error || !s.exitedAt ? ("failed" as const) : ("succeeded" as const),
        ...(s.error
          ? { detail: s.error }
          : !s.exitedAt
            ? { detail: `ended ${detail.status}` }
            : {}),
      })),
  );
  const timeline = (output.steps as Record<string, unknown> | undefined)?.RecordTimeline as
    { rtoSeconds?: number; rpoEstimateMs?: number | null } | undefined;
  return {
    kind,
    runId: detail.name,
    groupId: str(input.resumeFailoverId) ?? detail.name,
    region,
    title: `${kind} ${detail.name}`,
    outcome,
    summary: summaries[detail.status]!,
    startedAt,
    endedAt: Date.parse(endedAt) < Date.parse(startedAt) ? startedAt : endedAt,
    trigger: {
      kind: str(input.trigger) ?? "unknown",
      by: null,
      reason: str(input.reason),
    },
    rtoSeconds: typeof timeline?.rtoSeconds === "number" ? timeline.rtoSeconds : null,
    rpoSeconds: typeof timeline?.rpoEstimateMs === "number" ? timeline.rpoEstimateMs / 1000 : null,
    steps,
    warnings: [
      history
        ? "This run did not write its own report; this one was built from its Step Functions execution history (state names and times only)."
        : "This run did not write its own report and its execution history could not be read: only its start, end and status are known.",
    ],
    config: {
      status: detail.status,
      stateMachine: detail.stateMachineArn.split(":").at(-1) ?? detail.stateMachineArn,
      input: (detail.input ?? "").slice(0, 2000) || null,
      error: error ?? null,
    },
    links: [
      {
        label: "Execution in the Step Functions console",
        url: `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${detail.executionArn}`,
      },
    ],
  };
}

/**
 * A state entered again and again (a poll loop: CheckPromotion, WaitForPromotion) as one step,
 * from its first entry to its last exit, failed if any entry failed: a 15-minute promotion
 * would otherwise be 180 rows.
 */
export function collapseLoops(steps: readonly ReportStep[]): ReportStep[] {
  const byName = new Map<string, { step: ReportStep; times: number }>();
  for (const step of steps) {
    const seen = byName.get(step.name);
    if (!seen) {
      byName.set(step.name, { step, times: 1 });
      continue;
    }
    const failed = seen.step.status === "failed" || step.status === "failed";
    seen.times += 1;
    seen.step = {
      ...seen.step,
      endedAt: step.endedAt,
      status: failed ? "failed" : step.status,
      detail: [`${seen.times} times`, step.detail ?? (failed ? seen.step.detail : undefined)]
        .filter(Boolean)
        .join("; "),
    };
  }
  return [...byName.values()].map((v) => v.step);
}

/** Routes one invocation: a report to write, or a workflow execution that ended. */
export async function handleWriterEvent(
  event: WriterEvent,
  deps: WriterDeps,
): Promise<WriteResult | { readonly ignored: string }> {
  if ((event as ExecutionStatusChange).source === "aws.states") {
    return recordEndedExecution(event as ExecutionStatusChange, deps);
  }
  if ((event as WriteRequest).action === "write") {
    return writeReport((event as WriteRequest).report, deps);
  }
  throw new InvalidReportError(
    `event must be {"action":"write","report":{...}} or a Step Functions execution status change, got ${JSON.stringify(event).slice(0, 200)}`,
  );
}
