// The run report: what one workflow run or drill did, as data. Everything that writes a report
// (the workflow tasks, the drill runbooks, the lab) produces a `RunReport`; the writer stores it
// as JSON beside the HTML page render.ts makes from it, and indexes it in the ledger. Pure: no
// AWS imports, no I/O, so the lab can share it.

/**
 * What kind of run: a workflow (`failover`, `switchover`, `failback`, `reprotect`, ...) or a
 * drill (`failover-drill`, `restore-drill`). Open-ended on purpose: a new workflow writes its
 * reports without a change here. Lowercase kebab-case, 2 to 32 characters.
 */
export type RunKind = string;

export const DRILL_KINDS = ["failover-drill", "restore-drill"] as const;
export type DrillKind = (typeof DRILL_KINDS)[number];

export function isDrill(kind: RunKind): kind is DrillKind {
  return (DRILL_KINDS as readonly string[]).includes(kind);
}

/**
 * "rejected": a workflow run that stopped before changing anything (its input was refused, the
 * lock or cooldown turned it away, on-call did not approve): correct behaviour, not a failure.
 */
export type Outcome = "succeeded" | "failed" | "rejected";

export type StepStatus = "succeeded" | "failed" | "skipped" | "warning";

/** One step of the run, for the timeline chart and table. */
export interface ReportStep {
  readonly name: string;
  /** ISO 8601; absent for a step that never started (skipped, or failed before it ran). */
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly status: StepStatus;
  /** What happened, e.g. the error of a failed step or the result of a check. */
  readonly detail?: string;
}

/** One check the run made, e.g. a restored database's row count against the live one. */
export interface ReportCheck {
  readonly name: string;
  readonly expected: string;
  readonly actual: string;
  readonly passed: boolean;
  /** What the expected value is, and where it comes from. */
  readonly basis?: string;
}

/** A measured figure beyond RTO and RPO (a restore time, a backup's age, ...). */
export interface ReportMeasurement {
  readonly name: string;
  readonly value: number;
  readonly unit: "s" | "ms" | "h" | "count";
  /** The limit it is held to, same unit; shown beside it. */
  readonly limit?: number;
}

/** A run started by this one (a drill's switchover and failback). */
export interface ChildRun {
  readonly kind: RunKind;
  readonly runId: string;
  readonly region: string;
  readonly outcome: Outcome | "unknown";
  readonly rtoSeconds?: number | null;
  readonly rpoSeconds?: number | null;
  /** Where its own report is, when known. */
  readonly reportUrl?: string;
  readonly detail?: string;
}

export interface Targets {
  readonly rtoTargetSeconds: number;
  readonly rtoGoalSeconds: number;
  readonly rpoTargetSeconds: number;
}

export interface Trigger {
  /** alarm, console, drill, schedule, operator, ... */
  readonly kind: string;
  /** Who or what: an alarm name, an IAM principal, the drill that started it. */
  readonly by: string | null;
  readonly reason: string | null;
}

export interface Link {
  readonly label: string;
  readonly url: string;
}

/** What a producer hands the writer. */
export interface RunReportInput {
  readonly kind: RunKind;
  /** Unique per kind and region: an execution name, an automation execution id. */
  readonly runId: string;
  /** Groups several executions of one logical run (a halted failover and its resume). */
  readonly groupId?: string;
  readonly region: string;
  readonly title: string;
  readonly outcome: Outcome;
  /** One line: what happened. */
  readonly summary: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly trigger: Trigger;
  /** Measured recovery time, seconds: null when the run did not get that far. */
  readonly rtoSeconds: number | null;
  /**
   * When the RTO clock started, if not at `startedAt` (a drill's RTO is its outbound run's,
   * which starts after the drill's own checks).
   */
  readonly rtoStartedAt?: string;
  /** Estimated data loss window, seconds: null when unknown. */
  readonly rpoSeconds: number | null;
  /** How the RPO figure was obtained (it differs between failovers and restores). */
  readonly rpoBasis?: string;
  readonly steps: readonly ReportStep[];
  readonly checks?: readonly ReportCheck[];
  readonly measurements?: readonly ReportMeasurement[];
  readonly runs?: readonly ChildRun[];
  readonly warnings?: readonly string[];
  /** The settings and inputs it ran with. */
  readonly config: Readonly<Record<string, string | number | boolean | null>>;
  readonly links?: readonly Link[];
}

/** Where a report is stored. */
export interface ReportLocation {
  readonly bucket: string;
  readonly region: string;
  readonly jsonKey: string;
  readonly htmlKey: string;
  /** s3:// URI of the HTML page. */
  readonly htmlUri: string;
  /** The S3 console page of the HTML object (Open shows it). */
  readonly consoleUrl: string;
}

/** A stored report: the input, completed by the writer. */
export interface RunReport extends RunReportInput {
  readonly schemaVersion: 1;
  readonly environment: string;
  /** The targets in force when the report was written. */
  readonly targets: Targets;
  readonly writtenAt: string;
  readonly location: ReportLocation;
}

/** One row of the ledger: the last N drills and runs, for the dashboard, the CLI and alarms. */
export interface LedgerEntry {
  /** `<kind>/<region>/<runId>`: the ledger table's key. */
  readonly id: string;
  readonly kind: RunKind;
  readonly runId: string;
  readonly groupId?: string;
  readonly region: string;
  readonly environment: string;
  readonly outcome: Outcome;
  readonly summary: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly trigger: string;
  readonly rtoSeconds: number | null;
  readonly rpoSeconds: number | null;
  readonly targets: Targets;
  readonly warnings: number;
  readonly reportUri: string;
  readonly consoleUrl: string;
  /** Extra figures (a restore's time, a backup's age), by name. */
  readonly measurements?: Readonly<Record<string, number>>;
  /**
   * An unplanned failover's data fork (the report's `fork*` config), what the lost-write
   * reconciliation starts from: `payments-dr reconcile --run <runId>` reads it here.
   */
  readonly fork?: LedgerFork;
}

export interface LedgerFork {
  readonly oldRegion: string;
  readonly oldCluster: string;
  readonly lastReplicatedAt: string | null;
  readonly failoverAt: string;
  readonly snapshotPrefix: string;
}

/** The fork an unplanned failover's report records in its config, if any. */
export function forkOf(config: RunReportInput["config"]): LedgerFork | undefined {
  const {
    forkOldRegion,
    forkOldCluster,
    forkLastReplicatedAt,
    forkFailoverAt,
    forkSnapshotPrefix,
  } = config;
  if (
    typeof forkOldRegion !== "string" ||
    typeof forkOldCluster !== "string" ||
    typeof forkFailoverAt !== "string" ||
    typeof forkSnapshotPrefix !== "string"
  ) {
    return undefined;
  }
  return {
    oldRegion: forkOldRegion,
    oldCluster: forkOldCluster,
    lastReplicatedAt: typeof forkLastReplicatedAt === "string" ? forkLastReplicatedAt : null,
    failoverAt: forkFailoverAt,
    snapshotPrefix: forkSnapshotPrefix,
  };
}

export class InvalidReportError extends Error {
  override name = "InvalidReportError";
}

const KIND = /^[a-z][a-z0-9-]{1,31}$/;
/** Step Functions execution names ([A-Za-z0-9_-]) and SSM execution ids; no leading dot. */
const RUN_ID = /^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}$/;
const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const STEP_STATUSES: readonly StepStatus[] = ["succeeded", "failed", "skipped", "warning"];
const OUTCOMES: readonly Outcome[] = ["succeeded", "failed", "rejected"];
const UNITS = ["s", "ms", "h", "count"];
/** Text fields are shown to people: long enough for a cause, short enough for a page. */
const MAX_TEXT = 4000;
const MAX_STEPS = 500;

function fail(field: string, value: unknown, allowed: string): never {
  const shown = JSON.stringify(value);
  throw new InvalidReportError(
    `report field ${field}=${shown === undefined ? "undefined" : shown.slice(0, 120)} is not allowed: ${allowed}`,
  );
}

function text(field: string, value: unknown, optional = false): string | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== "string" || value === "" || value.length > MAX_TEXT) {
    fail(field, value, `a non-empty string of at most ${MAX_TEXT} characters`);
  }
  return value;
}

function time(field: string, value: unknown, optional = false): string | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== "string" || !ISO.test(value) || Number.isNaN(Date.parse(value))) {
    fail(field, value, "an ISO 8601 timestamp such as 2026-11-10T15:00:00.000Z");
  }
  return value;
}

function seconds(field: string, value: unknown): number | null {
  if (value === null) return null;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    fail(field, value, "a number of seconds, 0 or more, or null");
  }
  return value;
}

function list<T>(field: string, value: unknown, max: number, each: (v: unknown, f: string) => T) {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > max) fail(field, value, `a list of at most ${max}`);
  return value.map((v, i) => each(v, `${field}[${i}]`));
}

function object(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(field, value, "an object");
  }
  return value as Record<string, unknown>;
}

/**
 * Checks a producer's report and returns it normalised (unknown fields dropped). Throws
 * InvalidReportError naming the field, the value and what is allowed; nothing is written then.
 */
export function validateReportInput(raw: unknown): RunReportInput {
  const r = object("report", raw);
  const kind = text("kind", r.kind)!;
  if (!KIND.test(kind)) fail("kind", kind, "lowercase kebab-case, 2 to 32 characters");
  const runId = text("runId", r.runId)!;
  if (!RUN_ID.test(runId)) {
    fail("runId", runId, "letters, digits and _ . : - (1 to 128, not starting with a dot)");
  }
  const groupId = text("groupId", r.groupId, true);
  const region = text("region", r.region)!;
  if (!REGION.test(region)) fail("region", region, "an AWS region code such as us-west-2");
  if (!OUTCOMES.includes(r.outcome as Outcome)) fail("outcome", r.outcome, OUTCOMES.join(", "));
  const startedAt = time("startedAt", r.startedAt)!;
  const endedAt = time("endedAt", r.endedAt)!;
  if (Date.parse(endedAt) < Date.parse(startedAt)) {
    fail("endedAt", endedAt, `not before startedAt (${startedAt})`);
  }
  const trigger = object("trigger", r.trigger);
  const nullableText = (field: string, value: unknown) =>
    value === null || value === undefined ? null : text(field, value)!;
  const config = object("config", r.config);
  for (const [key, value] of Object.entries(config)) {
    if (!["string", "number", "boolean"].includes(typeof value) && value !== null) {
      fail(`config.${key}`, value, "a string, number, boolean or null");
    }
  }
  const steps = list("steps", r.steps ?? fail("steps", r.steps, "a list"), MAX_STEPS, (v, f) => {
    const s = object(f, v);
    if (!STEP_STATUSES.includes(s.status as StepStatus)) {
      fail(`${f}.status`, s.status, STEP_STATUSES.join(", "));
    }
    const step: ReportStep = {
      name: text(`${f}.name`, s.name)!,
      status: s.status as StepStatus,
      ...(s.startedAt !== undefined ? { startedAt: time(`${f}.startedAt`, s.startedAt)! } : {}),
      ...(s.endedAt !== undefined ? { endedAt: time(`${f}.endedAt`, s.endedAt)! } : {}),
      ...(s.detail !== undefined ? { detail: text(`${f}.detail`, s.detail)! } : {}),
    };
    if (step.startedAt && step.endedAt && Date.parse(step.endedAt) < Date.parse(step.startedAt)) {
      fail(`${f}.endedAt`, step.endedAt, `not before its startedAt (${step.startedAt})`);
    }
    return step;
  })!;
  const checks = list("checks", r.checks, 200, (v, f) => {
    const c = object(f, v);
    if (typeof c.passed !== "boolean") fail(`${f}.passed`, c.passed, "true or false");
    return {
      name: text(`${f}.name`, c.name)!,
      expected: String(c.expected ?? ""),
      actual: String(c.actual ?? ""),
      passed: c.passed,
      ...(c.basis !== undefined ? { basis: text(`${f}.basis`, c.basis)! } : {}),
    };
  });
  const measurements = list("measurements", r.measurements, 50, (v, f) => {
    const m = object(f, v);
    if (typeof m.value !== "number" || !Number.isFinite(m.value)) {
      fail(`${f}.value`, m.value, "a finite number");
    }
    if (!UNITS.includes(m.unit as string)) fail(`${f}.unit`, m.unit, UNITS.join(", "));
    if (m.limit !== undefined && (typeof m.limit !== "number" || !Number.isFinite(m.limit))) {
      fail(`${f}.limit`, m.limit, "a finite number");
    }
    return {
      name: text(`${f}.name`, m.name)!,
      value: m.value,
      unit: m.unit as ReportMeasurement["unit"],
      ...(m.limit !== undefined ? { limit: m.limit as number } : {}),
    };
  });
  const runs = list("runs", r.runs, 20, (v, f) => {
    const c = object(f, v);
    if (![...OUTCOMES, "unknown"].includes(c.outcome as string)) {
      fail(`${f}.outcome`, c.outcome, `${OUTCOMES.join(", ")} or unknown`);
    }
    return {
      kind: text(`${f}.kind`, c.kind)!,
      runId: text(`${f}.runId`, c.runId)!,
      region: text(`${f}.region`, c.region)!,
      outcome: c.outcome as ChildRun["outcome"],
      rtoSeconds: c.rtoSeconds === undefined ? null : seconds(`${f}.rtoSeconds`, c.rtoSeconds),
      rpoSeconds: c.rpoSeconds === undefined ? null : seconds(`${f}.rpoSeconds`, c.rpoSeconds),
      ...(c.reportUrl !== undefined ? { reportUrl: text(`${f}.reportUrl`, c.reportUrl)! } : {}),
      ...(c.detail !== undefined ? { detail: text(`${f}.detail`, c.detail)! } : {}),
    };
  });
  const warnings = list("warnings", r.warnings, 100, (v, f) => text(f, v)!);
  const links = list("links", r.links, 20, (v, f) => {
    const l = object(f, v);
    const url = text(`${f}.url`, l.url)!;
    if (!/^(https:\/\/|s3:\/\/)\S+$/.test(url)) fail(`${f}.url`, url, "an https:// or s3:// URL");
    return { label: text(`${f}.label`, l.label)!, url };
  });
  return {
    kind,
    runId,
    ...(groupId !== undefined ? { groupId } : {}),
    region,
    title: text("title", r.title)!,
    outcome: r.outcome as Outcome,
    summary: text("summary", r.summary)!,
    startedAt,
    endedAt,
    trigger: {
      kind: text("trigger.kind", trigger.kind)!,
      by: nullableText("trigger.by", trigger.by),
      reason: nullableText("trigger.reason", trigger.reason),
    },
    rtoSeconds: seconds("rtoSeconds", r.rtoSeconds),
    ...(r.rtoStartedAt !== undefined
      ? { rtoStartedAt: time("rtoStartedAt", r.rtoStartedAt)! }
      : {}),
    rpoSeconds: seconds("rpoSeconds", r.rpoSeconds),
    ...(r.rpoBasis !== undefined ? { rpoBasis: text("rpoBasis", r.rpoBasis)! } : {}),
    steps,
    ...(checks ? { checks } : {}),
    ...(measurements ? { measurements } : {}),
    ...(runs ? { runs } : {}),
    ...(warnings ? { warnings } : {}),
    config: config as RunReportInput["config"],
    ...(links ? { links } : {}),
  };
}

/** The ledger key of a run: `<kind>/<region>/<runId>`. */
export function ledgerId(kind: RunKind, region: string, runId: string): string {
  return `${kind}/${region}/${runId}`;
}

/** A key-safe form of a run id (S3 keys are fine with it, people can still read it). */
function keySafe(runId: string): string {
  return runId.replace(/[^A-Za-z0-9_.-]/g, "_");
}

/**
 * Where the report of a run lives: `reports/<kind>/<yyyy-mm>/<runId>.{json,html}` in the
 * region's report bucket, by the month the run started. Deterministic, so a workflow can link a
 * report it has just asked the writer to store.
 */
export function reportLocation(
  bucket: string,
  region: string,
  kind: RunKind,
  runId: string,
  startedAt: string,
): ReportLocation {
  const month = new Date(Date.parse(startedAt)).toISOString().slice(0, 7);
  const base = `reports/${kind}/${month}/${keySafe(runId)}`;
  const htmlKey = `${base}.html`;
  return {
    bucket,
    region,
    jsonKey: `${base}.json`,
    htmlKey,
    htmlUri: `s3://${bucket}/${htmlKey}`,
    consoleUrl: `https://${region}.console.aws.amazon.com/s3/object/${bucket}?region=${region}&bucketType=general&prefix=${encodeURIComponent(htmlKey)}`,
  };
}

/** The ledger row of a stored report. */
export function ledgerEntryOf(report: RunReport): LedgerEntry {
  const measurements = Object.fromEntries(
    (report.measurements ?? []).map((m) => [m.name, m.value]),
  );
  return {
    id: ledgerId(report.kind, report.region, report.runId),
    kind: report.kind,
    runId: report.runId,
    ...(report.groupId ? { groupId: report.groupId } : {}),
    region: report.region,
    environment: report.environment,
    outcome: report.outcome,
    summary: report.summary,
    startedAt: report.startedAt,
    endedAt: report.endedAt,
    trigger: report.trigger.kind,
    rtoSeconds: report.rtoSeconds,
    rpoSeconds: report.rpoSeconds,
    targets: report.targets,
    warnings: report.warnings?.length ?? 0,
    reportUri: report.location.htmlUri,
    consoleUrl: report.location.consoleUrl,
    ...(Object.keys(measurements).length > 0 ? { measurements } : {}),
    ...(forkOf(report.config) ? { fork: forkOf(report.config)! } : {}),
  };
}
