// Runs the real ASL (rendered by infra/lib/asl.ts) in aws-local-stepfunctions, with every task
// bound in-process to its real core over a FakeWorld, Wait states and retry intervals shortened
// to 0 ms; a Wait whose SecondsPath the task after it can read moves the world's clock instead.
// Faults can be injected per state: an error before the core runs (throttling, AccessDenied, a
// timeout) or a crash after it ran (the side effects happened, the result is lost).
import "../../../lab/polyfill";
import { StateMachine } from "aws-local-stepfunctions";

// Every task runs in-process: the library's Lambda client is never used, so skip loading it.
jest.mock("@aws-sdk/client-lambda", () => ({ LambdaClient: class {}, InvokeCommand: class {} }));
jest.mock("@aws-sdk/credential-providers", () => ({}));
import type { WorkflowName } from "../../../infra/lib/asl";
import type { DrDeps } from "../../../functions/dr/shared/deps";
import { taskHandler } from "../../../functions/dr/shared/task";
import { DR_TASK_NAMES, drTask, taskPlaceholder } from "../../../functions/dr/tasks";
import type { RequestApprovalEvent } from "../../../functions/dr/request-approval/core";
import type { WorkflowState } from "../../../functions/dr/shared/types";
import type { FakeWorld } from "../../functions/dr/support/fake-world";
import { fakeFunctionArn, renderedDefinition } from "./render";
import { silentLog } from "../../functions/dr/support/fake-world";
import type { Denial } from "../../functions/dr/support/permissions";
import { withPermissions } from "../../functions/dr/support/permissions";

type EventLog =
  ReturnType<StateMachine["run"]>["eventLogs"] extends AsyncGenerator<infer E> ? E : never;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** An error with the `name` Step Functions would report. */
export function named(name: string, message = name): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

export type Fault =
  /** Throws before the core runs, `times` times. */
  | { readonly before: () => Error; readonly times?: number }
  /** Runs the core (its side effects happen), then throws, `times` times. */
  | { readonly after: () => Error; readonly times?: number }
  /** Runs the core on its `on`-th invocation (polling tasks run many times), then throws once. */
  | { readonly afterCall: number; readonly error: () => Error };

export interface RunOptions {
  readonly world: FakeWorld;
  /** The region whose state machine runs (and whose Lambdas run): the target by default. */
  readonly region?: string;
  readonly executionName?: string;
  readonly faults?: Readonly<Record<string, Fault>>;
  /**
   * Called (and awaited) before the task of that state runs, e.g. to look at the world mid-run
   * or to start another execution while this one waits.
   */
  readonly observe?: Readonly<Record<string, (input: unknown) => unknown>>;
  /** What on-call answers to RequestApproval (the SendTaskSuccess output), or throws. */
  readonly approval?: (event: RequestApprovalEvent) => Json | Promise<Json>;
}

export interface RunResult {
  readonly status: "SUCCEEDED" | "FAILED";
  readonly output?: WorkflowState & Record<string, unknown>;
  /** Error and cause of a failed execution (its Fail state). */
  readonly error?: string;
  readonly cause?: string;
  /** Names of the states entered, in order. */
  readonly states: string[];
  readonly retries: string[];
  /** The input of the last state entered (for a Fail state: the data it failed with). */
  readonly last: Record<string, unknown>;
}

const machines = new Map<WorkflowName, StateMachine>();

function machine(workflow: WorkflowName): StateMachine {
  let m = machines.get(workflow);
  if (!m) {
    m = new StateMachine(renderedDefinition(workflow) as never);
    machines.set(workflow, m);
  }
  return m;
}

interface TaskState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: { readonly FunctionName?: string };
  readonly SecondsPath?: string;
  readonly Next?: string;
}

/** The Wait states of a workflow. */
function waitStates(workflow: WorkflowName): string[] {
  const states = renderedDefinition(workflow).States as Record<string, TaskState>;
  return Object.entries(states)
    .filter(([, s]) => s.Type === "Wait")
    .map(([name]) => name);
}

/** Task state -> the SecondsPath of the Wait state leading into it. */
function waitedBefore(workflow: WorkflowName): Map<string, string> {
  const states = renderedDefinition(workflow).States as Record<string, TaskState>;
  const found = new Map<string, string>();
  for (const state of Object.values(states)) {
    if (state.Type === "Wait" && state.SecondsPath && state.Next) {
      found.set(state.Next, state.SecondsPath);
    }
  }
  return found;
}

/** `$.a.b` of a JSON value. */
function atPath(value: unknown, path: string): unknown {
  return path
    .replace(/^\$\.?/, "")
    .split(".")
    .filter((k) => k !== "")
    .reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);
}

function taskStates(workflow: WorkflowName): string[] {
  const states = renderedDefinition(workflow).States as Record<string, TaskState>;
  return Object.entries(states)
    .filter(([, s]) => s.Type === "Task")
    .map(([name]) => name);
}

/**
 * Each Task state of the workflow bound to the core of the task its ASL invokes (looked up in
 * the registry by the function ARN the render put in place of its placeholder), in the same task
 * shell as the deployed handler. A callback state's result is on-call's answer.
 */
function bindings(
  workflow: WorkflowName,
  deps: DrDeps,
  approval: RunOptions["approval"],
  denials: Denial[],
): Record<string, (input: never) => Promise<unknown>> {
  const states = renderedDefinition(workflow).States as Record<string, TaskState>;
  const byArn = new Map(
    DR_TASK_NAMES.map((name) => [fakeFunctionArn(taskPlaceholder(name)), name]),
  );
  const bound: Record<string, (input: never) => Promise<unknown>> = {};
  for (const [name, state] of Object.entries(states)) {
    if (state.Type !== "Task") continue;
    const callback = state.Resource?.endsWith(".waitForTaskToken") ?? false;
    const arn = callback ? state.Parameters?.FunctionName : state.Resource;
    const task = arn === undefined ? undefined : byArn.get(arn);
    if (!task) throw new Error(`state ${name} of ${workflow} runs no registered task`);
    const definition = drTask(task);
    // Each task runs with only its declared permissions, as its own IAM role will.
    const run = taskHandler(
      definition,
      withPermissions(deps, task, definition.permissions, denials),
      silentLog,
    );
    bound[name] = callback
      ? async (input: { FunctionName: string; Payload: RequestApprovalEvent }) => {
          await run(input.Payload as never);
          return approval ? approval(input.Payload) : { approved: true };
        }
      : (input: never) => run(input);
  }
  return bound;
}

function withFault(
  handler: (input: never) => Promise<unknown>,
  fault: Fault | undefined,
): (input: never) => Promise<unknown> {
  if (!fault) return handler;
  if ("afterCall" in fault) {
    let calls = 0;
    return async (input) => {
      const result = await handler(input);
      calls += 1;
      if (calls === fault.afterCall) throw fault.error();
      return result;
    };
  }
  let left = fault.times ?? 1;
  return async (input) => {
    if ("before" in fault && left > 0) {
      left -= 1;
      throw fault.before();
    }
    const result = await handler(input);
    if ("after" in fault && left > 0) {
      left -= 1;
      throw fault.after();
    }
    return result;
  };
}

let executions = 0;

export async function runWorkflow(
  workflow: WorkflowName,
  input: Json,
  options: RunOptions,
): Promise<RunResult> {
  const target =
    typeof input === "object" && input !== null && !Array.isArray(input)
      ? (input.targetRegion as string | undefined)
      : undefined;
  const region = options.region ?? target ?? "us-west-2";
  const deps = options.world.deps(region);
  const denials: Denial[] = [];
  const all = bindings(workflow, deps, options.approval, denials);
  const states = taskStates(workflow);
  const waits = waitedBefore(workflow);
  const handlers = Object.fromEntries(
    states.map((name) => {
      const handler = withFault(all[name]!, options.faults?.[name]);
      const observe = options.observe?.[name];
      const waited = waits.get(name);
      return [
        name,
        async (input: never) => {
          // Entered again after its Wait: the world's clock moves by what the Wait waited.
          const seconds = waited ? atPath(input, waited) : undefined;
          if (typeof seconds === "number") options.world.clock += seconds * 1000;
          await observe?.(input);
          return handler(input);
        },
      ];
    }),
  );
  executions += 1;
  const name = options.executionName ?? `exec-${executions}`;
  const stateMachineArn = `arn:aws:states:${region}:123456789012:stateMachine:payments-dr-${workflow}-test`;
  const execution = machine(workflow).run(input, {
    overrides: {
      taskResourceLocalHandlers: handlers as never,
      waitTimeOverrides: Object.fromEntries(waitStates(workflow).map((w) => [w, 0])),
      retryIntervalOverrides: Object.fromEntries(states.map((s) => [s, 0])),
    },
    context: {
      Execution: {
        Id: `arn:aws:states:${region}:123456789012:execution:payments-dr-${workflow}-test:${name}`,
        Name: name,
      },
      StateMachine: { Id: stateMachineArn },
      Task: { Token: `token-${name}` },
    },
  });
  const events: EventLog[] = [];
  const consumed = (async () => {
    for await (const event of execution.eventLogs) events.push(event);
  })();
  let result: RunResult;
  try {
    const output = (await execution.result) as RunResult["output"];
    await consumed;
    result = { status: "SUCCEEDED", output, ...trace(events) };
  } catch (error) {
    await consumed;
    const cause = (error as { cause?: Error }).cause;
    result = { status: "FAILED", error: cause?.name, cause: cause?.message, ...trace(events) };
  }
  // A call outside a task's declared permissions would be AccessDenied in AWS: whatever the ASL
  // made of it, the declaration (functions/dr/<task>/core.ts) is wrong, and every workflow test
  // says so.
  if (denials.length > 0) {
    const calls = [...new Set(denials.map((d) => `${d.task}: ${d.call}`))];
    throw new Error(`tasks made calls their permissions do not declare: ${calls.join("; ")}`);
  }
  return result;
}

function trace(events: EventLog[]): Pick<RunResult, "states" | "retries" | "last"> {
  const entered = events.filter(
    (e): e is Extract<EventLog, { type: "StateEntered" }> => e.type === "StateEntered",
  );
  return {
    states: entered.map((e) => e.state.name),
    retries: events
      .filter((e): e is Extract<EventLog, { type: "StateRetried" }> => e.type === "StateRetried")
      .map((e) => e.state.name),
    last: (entered.at(-1)?.state.input ?? {}) as Record<string, unknown>,
  };
}

/** The Lambda task states of a workflow, in definition order. */
export function lambdaTaskStates(workflow: WorkflowName): string[] {
  return taskStates(workflow);
}
