// Reading Step Functions executions: their history (every page), the steps they went through,
// a pending approval's task token, and following a run until it ends.
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
} from "@aws-sdk/client-sfn";
import type { DescribeExecutionCommandOutput, HistoryEvent, SFNClient } from "@aws-sdk/client-sfn";
import { shellQuote } from "../functions/dr/shared/format";
import type { AwsClients } from "./aws";
import { CliError, explainAwsError } from "./errors";
import type { Io } from "./io";
import type { Deployment, WorkflowName } from "./target";
import { parseExecutionArn, WORKFLOWS } from "./target";

/** Every event of an execution, oldest first. */
export async function executionHistory(
  sfn: SFNClient,
  executionArn: string,
): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 1000,
        includeExecutionData: true,
        ...(nextToken ? { nextToken } : {}),
      }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

export interface StepRecord {
  readonly name: string;
  readonly enteredAt: string;
  readonly exitedAt?: string;
  readonly seconds?: number;
}

export interface PendingApproval {
  readonly executionArn: string;
  readonly region: string;
  readonly taskToken: string;
  readonly since: string;
  /** The workflow state the approval request carries (request, Preflight's lag). */
  readonly state: Record<string, unknown>;
}

/** State entered/exited pairs, in order; a state visited twice (polls) appears twice. */
export function stepsOf(events: readonly HistoryEvent[]): StepRecord[] {
  const steps: StepRecord[] = [];
  const open = new Map<string, number>();
  for (const event of events) {
    const at = event.timestamp ? new Date(event.timestamp).toISOString() : "";
    if (event.stateEnteredEventDetails?.name) {
      open.set(event.stateEnteredEventDetails.name, steps.length);
      steps.push({ name: event.stateEnteredEventDetails.name, enteredAt: at });
    } else if (event.stateExitedEventDetails?.name) {
      const index = open.get(event.stateExitedEventDetails.name);
      if (index === undefined) continue;
      open.delete(event.stateExitedEventDetails.name);
      const step = steps[index]!;
      steps[index] = {
        ...step,
        exitedAt: at,
        seconds: Math.round((Date.parse(at) - Date.parse(step.enteredAt)) / 100) / 10,
      };
    }
  }
  return steps;
}

/** The task token of a RequestApproval state still waiting, from the execution's history. */
export function pendingApproval(
  events: readonly HistoryEvent[],
  executionArn: string,
): PendingApproval | null {
  let pending: { since: string; token?: string; state?: Record<string, unknown> } | null = null;
  for (const event of events) {
    if (event.stateEnteredEventDetails?.name === "RequestApproval") {
      pending = { since: event.timestamp ? new Date(event.timestamp).toISOString() : "" };
    } else if (event.stateExitedEventDetails?.name === "RequestApproval") {
      pending = null;
    } else if (pending && event.taskScheduledEventDetails?.parameters) {
      // The resolved Parameters of the waitForTaskToken task: Payload.taskToken is $$.Task.Token.
      try {
        const parameters = JSON.parse(event.taskScheduledEventDetails.parameters) as {
          Payload?: { taskToken?: unknown; state?: Record<string, unknown> };
        };
        if (typeof parameters.Payload?.taskToken === "string") {
          pending.token = parameters.Payload.taskToken;
          pending.state = parameters.Payload.state ?? {};
        }
      } catch {
        // Not JSON: not ours.
      }
    }
  }
  if (!pending?.token) return null;
  return {
    executionArn,
    region: parseExecutionArn(executionArn)?.region ?? "",
    taskToken: pending.token,
    since: pending.since,
    state: pending.state ?? {},
  };
}

export interface ExecutionSummary {
  readonly executionArn: string;
  readonly name: string;
  readonly workflow: WorkflowName;
  readonly region: string;
  readonly status: string;
  readonly startDate: string;
  readonly stopDate?: string;
}

/** Executions of one workflow in one region, newest first. */
export async function listExecutions(
  clients: AwsClients,
  deployment: Deployment,
  region: string,
  account: string,
  workflow: WorkflowName,
  options: { running?: boolean; limit: number },
): Promise<ExecutionSummary[]> {
  const stateMachineArn = `arn:aws:states:${region}:${account}:stateMachine:${deployment.names.stateMachine(workflow)}`;
  let out;
  try {
    out = await clients.sfn(region).send(
      new ListExecutionsCommand({
        stateMachineArn,
        maxResults: options.limit,
        ...(options.running ? { statusFilter: "RUNNING" } : {}),
      }),
    );
  } catch (error) {
    if ((error as Error).name === "StateMachineDoesNotExist") {
      throw noStateMachine(deployment, region, workflow);
    }
    throw explainAwsError(error, {
      region,
      doing: `list the ${workflow} executions`,
      profile: deployment.profile,
    });
  }
  return (out.executions ?? []).map((e) => ({
    executionArn: e.executionArn ?? "",
    name: e.name ?? "",
    workflow,
    region,
    status: e.status ?? "UNKNOWN",
    startDate: e.startDate ? new Date(e.startDate).toISOString() : "",
    ...(e.stopDate ? { stopDate: new Date(e.stopDate).toISOString() } : {}),
  }));
}

export function noStateMachine(
  deployment: Deployment,
  region: string,
  workflow: WorkflowName,
): CliError {
  return new NoStateMachineError(deployment, region, workflow);
}

export class NoStateMachineError extends CliError {
  constructor(deployment: Deployment, region: string, workflow: WorkflowName) {
    super(
      `no state machine ${deployment.names.stateMachine(workflow)} in ${region} for this account`,
      `check --suffix (now ${deployment.suffix}) and --primary-region/--secondary-region (now ${deployment.regions.join(", ")}), and that the stack is applied in this account`,
    );
  }
}

/** The workflow a state machine name belongs to. */
export function workflowOf(deployment: Deployment, stateMachine: string): WorkflowName | null {
  return WORKFLOWS.find((w) => deployment.names.stateMachine(w) === stateMachine) ?? null;
}

export interface RunOutcome {
  readonly executionArn: string;
  readonly status: string;
  /** The Fail state the run ended in (Halted, Rejected, InputRejected, NotApproved, ...). */
  readonly endState: string | null;
  readonly error?: string;
  readonly cause?: string;
  readonly steps: readonly StepRecord[];
  readonly warnings: Readonly<Record<string, unknown>>;
  readonly rtoSeconds: number | null;
  readonly rpoEstimateMs: number | null;
  readonly elapsedSeconds: number;
  /** What to run next, when the run stopped in a resumable state. */
  readonly resumeCommand?: string;
  readonly advice?: string;
}

function endStateOf(events: readonly HistoryEvent[]): string | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i]!;
    if (event.type === "FailStateEntered" || event.type === "SucceedStateEntered") {
      return event.stateEnteredEventDetails?.name ?? null;
    }
  }
  return null;
}

const ADVICE: Readonly<Record<string, string>> = {
  InputRejected: "the input was refused before anything changed: fix it and start again",
  Rejected:
    "another run holds the lock, the cooldown runs, or the prober did not confirm the alarm: nothing changed. Wait, pass --ignore-cooldown, or start by hand if the region really is down",
  NotApproved: "on-call rejected or did not answer: nothing changed and the lock is released",
};

/** What a finished execution did, from DescribeExecution and its history. */
export function outcomeOf(
  described: DescribeExecutionCommandOutput,
  events: readonly HistoryEvent[],
  deployment: Deployment,
): RunOutcome {
  const executionArn = described.executionArn ?? "";
  const status = described.status ?? "UNKNOWN";
  const output = parseJson(described.output);
  const steps = (output.steps ?? {}) as Record<string, Record<string, unknown>>;
  const timeline = steps.RecordTimeline ?? {};
  const lockFacts = (steps.AcquireLock?.facts ?? {}) as Record<string, unknown>;
  const lag = lockFacts.replicationLagMs ?? steps.Preflight?.replicationLagMs;
  const started = described.startDate ? new Date(described.startDate).getTime() : Date.now();
  const stopped = described.stopDate ? new Date(described.stopDate).getTime() : Date.now();
  const endState = endStateOf(events);
  const resumable =
    status === "ABORTED" ||
    status === "TIMED_OUT" ||
    (status === "FAILED" && (endState === "Halted" || endState === "HaltedWithoutPage"));
  return {
    executionArn,
    status,
    endState,
    ...(described.error ? { error: described.error } : {}),
    ...(described.cause ? { cause: described.cause } : {}),
    steps: stepsOf(events),
    warnings: (output.warnings ?? {}) as Record<string, unknown>,
    rtoSeconds: typeof timeline.rtoSeconds === "number" ? timeline.rtoSeconds : null,
    rpoEstimateMs:
      typeof timeline.rpoEstimateMs === "number"
        ? timeline.rpoEstimateMs
        : typeof lag === "number"
          ? lag
          : null,
    elapsedSeconds: Math.round((stopped - started) / 100) / 10,
    ...(resumable ? { resumeCommand: resumeCommand(described, deployment) } : {}),
    ...(status === "FAILED" && endState && ADVICE[endState] ? { advice: ADVICE[endState] } : {}),
  };
}

/** The CLI command that resumes a halted run: the same input plus resumeFailoverId. */
export function resumeCommand(
  described: DescribeExecutionCommandOutput,
  deployment: Deployment,
): string {
  const input = parseJson(described.input);
  const parsed = parseExecutionArn(described.executionArn ?? "");
  const workflow = parsed ? workflowOf(deployment, parsed.stateMachine) : null;
  const runId =
    typeof input.resumeFailoverId === "string" ? input.resumeFailoverId : (parsed?.name ?? "");
  const words = [
    "npx payments-dr",
    workflow ?? "failover",
    "--to",
    String(input.targetRegion ?? parsed?.region ?? ""),
    "--reason",
    shellQuote(String(input.reason ?? "resume")),
    "--resume",
    runId,
  ];
  if (input.mode === "approval") words.push("--approval");
  if (input.forceDetach === true) words.push("--force-detach");
  if (input.ignoreCooldown === true) words.push("--ignore-cooldown");
  if (input.allowUnknownLag === true) words.push("--allow-unknown-lag");
  if (input.assumeOldWriterStopped === true) words.push("--assume-old-writer-stopped");
  if (deployment.suffix !== "dev") words.push("--suffix", deployment.suffix);
  if (deployment.primary !== "us-east-1") words.push("--primary-region", deployment.primary);
  if (deployment.secondary !== "us-west-2") words.push("--secondary-region", deployment.secondary);
  if (deployment.profile) words.push("--profile", deployment.profile);
  return words.join(" ");
}

export function parseJson(text: string | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export interface FollowOptions {
  /** Milliseconds between polls. */
  readonly intervalMs: number;
  readonly json: boolean;
}

/**
 * Polls an execution until it ends, printing each step as it finishes (or, with --json, one
 * JSON line per step), retries and warnings as they happen, and the outcome. A poll that fails
 * is reported and retried: the run goes on whether we watch it or not.
 */
export async function follow(
  clients: AwsClients,
  deployment: Deployment,
  executionArn: string,
  io: Io,
  options: FollowOptions,
): Promise<RunOutcome> {
  const region = parseExecutionArn(executionArn)?.region ?? deployment.secondary;
  const sfn = clients.sfn(region);
  let seen = 0;
  let failedPolls = 0;
  for (;;) {
    let described: DescribeExecutionCommandOutput;
    let events: HistoryEvent[];
    try {
      described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      events = await executionHistory(sfn, executionArn);
      failedPolls = 0;
    } catch (error) {
      const explained = explainAwsError(error, {
        region,
        doing: "read the execution",
        profile: deployment.profile,
      });
      if (error instanceof Error && error.name === "ExecutionDoesNotExist") {
        throw new CliError(
          `no execution ${executionArn} in ${region}`,
          "list recent runs with `payments-dr history`",
          2,
        );
      }
      failedPolls += 1;
      if (failedPolls >= 12) throw explained;
      io.err(`watch: ${explained.problem}; retrying`);
      await io.sleep(options.intervalMs);
      continue;
    }
    const started = described.startDate
      ? new Date(described.startDate).getTime()
      : io.now().getTime();
    for (const event of events.slice(seen)) report(event, started, io, options.json);
    seen = events.length;
    if (described.status !== "RUNNING") {
      const outcome = outcomeOf(described, events, deployment);
      if (options.json) io.out(JSON.stringify({ type: "result", ...outcome }));
      else printOutcome(outcome, io);
      return outcome;
    }
    await io.sleep(options.intervalMs);
  }
}

function report(event: HistoryEvent, startedMs: number, io: Io, json: boolean): void {
  const at = event.timestamp ? new Date(event.timestamp).getTime() : startedMs;
  const elapsed = `${Math.round((at - startedMs) / 1000)
    .toString()
    .padStart(4)} s`;
  const entered = event.stateEnteredEventDetails?.name;
  const exited = event.stateExitedEventDetails?.name;
  const failure =
    event.lambdaFunctionFailedEventDetails ??
    event.taskFailedEventDetails ??
    event.lambdaFunctionTimedOutEventDetails ??
    event.taskTimedOutEventDetails;
  if (json) {
    if (entered || exited || failure) {
      io.out(
        JSON.stringify({
          type: entered ? "entered" : exited ? "exited" : "attemptFailed",
          state: entered ?? exited ?? null,
          at: new Date(at).toISOString(),
          elapsedSeconds: Math.round((at - startedMs) / 100) / 10,
          ...(failure ? { error: failure.error, cause: causeText(failure.cause) } : {}),
        }),
      );
    }
    return;
  }
  if (entered && event.type?.startsWith("Task")) io.out(`${elapsed}  -> ${entered}`);
  else if (entered && event.type === "WaitStateEntered") io.out(`${elapsed}  .. ${entered}`);
  else if (exited && event.type?.startsWith("Task")) {
    const warnings = parseJson(event.stateExitedEventDetails?.output).warnings as
      Record<string, { Error?: string; Cause?: string }> | undefined;
    const warning = warnings?.[exited];
    io.out(`${elapsed}  ${warning ? "!!" : "ok"} ${exited}`);
    if (warning) {
      io.out(
        `        warning: ${exited} failed (${warning.Error}: ${causeText(warning.Cause)}); the run goes on`,
      );
    }
  } else if (failure) {
    io.out(
      `${elapsed}  !! attempt failed: ${failure.error ?? "error"}: ${causeText(failure.cause)}`,
    );
  }
}

function causeText(cause: string | undefined): string {
  const parsed = parseJson(cause);
  return typeof parsed.errorMessage === "string" ? parsed.errorMessage : (cause ?? "");
}

export function printOutcome(outcome: RunOutcome, io: Io): void {
  const timed = outcome.steps.filter((s) => s.seconds !== undefined);
  const byStep = new Map<string, number>();
  for (const step of timed) byStep.set(step.name, (byStep.get(step.name) ?? 0) + step.seconds!);
  io.out("");
  io.out("step durations:");
  for (const [name, seconds] of byStep) {
    if (seconds >= 0.05) io.out(`  ${name.padEnd(24)} ${seconds.toFixed(1).padStart(7)} s`);
  }
  for (const [step, warning] of Object.entries(outcome.warnings)) {
    const w = warning as { Error?: string; Cause?: string };
    io.out(`warning: ${step}: ${w.Error ?? ""} ${causeText(w.Cause)}`.trimEnd());
  }
  if (outcome.status === "SUCCEEDED") {
    io.out(
      `completed in ${outcome.elapsedSeconds} s; RTO ${outcome.rtoSeconds ?? "not recorded"}${outcome.rtoSeconds === null ? "" : " s"}; ` +
        `RPO estimate ${outcome.rpoEstimateMs === null ? "unknown" : `${outcome.rpoEstimateMs} ms`}`,
    );
    return;
  }
  io.out(
    `${outcome.status}${outcome.endState ? ` in ${outcome.endState}` : ""} after ${outcome.elapsedSeconds} s` +
      (outcome.error ? `: ${outcome.error}` : "") +
      (outcome.cause ? ` (${causeText(outcome.cause)})` : ""),
  );
  if (outcome.advice) io.out(outcome.advice);
  if (outcome.resumeCommand) {
    io.out(
      "the run stopped in a safe state and keeps its lock; to resume once the cause is fixed:",
    );
    io.out(`  ${outcome.resumeCommand}`);
  }
}
