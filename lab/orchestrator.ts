// Step Functions in the lab: the real failover/switchover/failback ASL from state-machines/,
// rendered the way the infrastructure renders it (every task of the registry, functions/dr/tasks.ts,
// in place of its placeholder), executed by aws-local-stepfunctions, each Task state bound to the
// real core of the task its ARN names, in the same task shell as the deployed handler
// (taskHandler), with the lab's DrDeps. Nothing of the workflows is copied here: a change on main
// to the ASL, a core or the registry is what the lab runs.
// Timing: Wait states and retry intervals run at lab speed (divided by the fast factor); at
// production timings nothing is overridden (jitter and backoff as written). A Wait with a
// SecondsPath (`$.steps.<Task>.<field>`: the promotion polls, the look for the old writer's stop)
// waits what that task last returned in that field, on the lab clock. Task TimeoutSeconds are
// enforced by the library in real seconds.
// Not modelled: Step Functions' own latency between states, execution history limits, redrive.
import "./polyfill";
import { StateMachine } from "aws-local-stepfunctions";
import { readAsl, renderAsl } from "../infra/lib/asl";
import type { WorkflowName } from "../infra/lib/asl";
import type { DrDeps } from "../functions/dr/shared/deps";
import { taskHandler } from "../functions/dr/shared/task";
import type { KeyedLog } from "../functions/common/logger";
import { DR_TASK_NAMES, drTask, taskPlaceholder, workflowTasks } from "../functions/dr/tasks";
import type { LabClock } from "./world/clock";

export function labFunctionArn(region: string, placeholder: string): string {
  return `arn:aws:lambda:${region}:123456789012:function:payments-dr-${placeholder.replace(/FunctionArn$/, "")}-lab`;
}

interface StateDef {
  readonly Type: string;
  readonly Resource?: string;
  readonly Seconds?: number;
  readonly SecondsPath?: string;
  readonly ResultPath?: string;
  readonly Parameters?: { readonly FunctionName?: string };
  readonly Retry?: readonly {
    readonly IntervalSeconds?: number;
    readonly MaxAttempts?: number;
    readonly BackoffRate?: number;
    readonly MaxDelaySeconds?: number;
  }[];
}

/**
 * Lab-speed waits: `Seconds` scaled once; a `SecondsPath` read when the Wait starts (the library
 * reads each override as the state runs) from the output of the task whose ResultPath it names.
 */
function waitOverrides(
  states: Record<string, StateDef>,
  lastOutput: ReadonlyMap<string, unknown>,
  clock: LabClock,
): Record<string, number> {
  const overrides: Record<string, number> = {};
  for (const [name, state] of Object.entries(states)) {
    if (state.Type !== "Wait") continue;
    if (typeof state.Seconds === "number") {
      overrides[name] = clock.real(state.Seconds * 1000);
      continue;
    }
    const match = /^\$\.steps\.(\w+)\.(\w+)$/.exec(state.SecondsPath ?? "");
    const source = Object.entries(states).find(
      ([, s]) => s.Type === "Task" && match && s.ResultPath === `$.steps.${match[1]}`,
    )?.[0];
    if (!match || !source) {
      throw new Error(
        `Wait state ${name}: the lab cannot scale ${state.SecondsPath ?? "its wait"} (only Seconds or $.steps.<Task>.<field> of a task with that ResultPath)`,
      );
    }
    const field = match[2]!;
    Object.defineProperty(overrides, name, {
      enumerable: true,
      get: () => {
        const value = (lastOutput.get(source) as Record<string, unknown> | undefined)?.[field];
        return clock.real((typeof value === "number" ? value : 0) * 1000);
      },
    });
  }
  return overrides;
}

export function renderFor(workflow: WorkflowName, region: string): Record<string, unknown> {
  const substitutions = Object.fromEntries(
    workflowTasks(workflow).map((task) => [
      taskPlaceholder(task),
      labFunctionArn(region, taskPlaceholder(task)),
    ]),
  );
  return JSON.parse(renderAsl(readAsl(workflow), substitutions)) as Record<string, unknown>;
}

export interface StateRecord {
  readonly name: string;
  readonly type: string;
  /** Lab epoch ms. */
  readonly enteredAt: number;
  exitedAt?: number;
  output?: unknown;
  error?: string;
}

export interface ExecutionRecord {
  readonly workflow: WorkflowName;
  readonly name: string;
  readonly region: string;
  readonly input: unknown;
  readonly startedAt: number;
  endedAt?: number;
  status: "RUNNING" | "SUCCEEDED" | "FAILED";
  error?: string;
  cause?: string;
  /** The end state (Completed, Rejected, InputRejected, Halted, ...). */
  endState?: string;
  output?: unknown;
  readonly states: StateRecord[];
  readonly retries: { state: string; at: number }[];
  readonly logs: { at: number; level: string; message: string; extra?: unknown }[];
}

export interface OrchestratorOptions {
  readonly clock: LabClock;
  /** DrDeps of the task functions deployed in `region` (where the state machine runs). */
  readonly deps: (region: string) => DrDeps;
  readonly onState?: (
    execution: ExecutionRecord,
    state: StateRecord,
    event: "entered" | "exited" | "failed" | "retried",
  ) => void;
  readonly onEnd?: (execution: ExecutionRecord) => void;
}

export class Orchestrator {
  readonly executions: ExecutionRecord[] = [];
  private readonly running = new Set<Promise<ExecutionRecord>>();
  private readonly aborts = new Set<() => void>();

  constructor(private readonly options: OrchestratorOptions) {}

  /** StartExecution of `workflow`'s state machine in `region`. */
  start(
    workflow: WorkflowName,
    region: string,
    input: Record<string, unknown>,
    name: string,
  ): Promise<ExecutionRecord> {
    const promise = this.run(workflow, region, input, name);
    this.running.add(promise);
    void promise.finally(() => this.running.delete(promise));
    return promise;
  }

  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  abortAll(): void {
    for (const abort of this.aborts) abort();
  }

  private async run(
    workflow: WorkflowName,
    region: string,
    input: Record<string, unknown>,
    name: string,
  ): Promise<ExecutionRecord> {
    const { clock } = this.options;
    const definition = renderFor(workflow, region);
    const states = definition.States as Record<string, StateDef>;
    const record: ExecutionRecord = {
      workflow,
      name,
      region,
      input,
      startedAt: clock.nowMs(),
      status: "RUNNING",
      states: [],
      retries: [],
      logs: [],
    };
    this.executions.push(record);
    const deps = this.options.deps(region);
    const logger = taskLogger(record, clock);
    // What each task state last returned: the Wait states with a SecondsPath read it.
    const lastOutput = new Map<string, unknown>();
    const byArn = new Map(
      DR_TASK_NAMES.map((task) => [labFunctionArn(region, taskPlaceholder(task)), drTask(task)]),
    );
    const handlers: Record<string, (input: never) => Promise<unknown>> = {};
    for (const [stateName, state] of Object.entries(states)) {
      if (state.Type !== "Task") continue;
      const callback = state.Resource?.endsWith(".waitForTaskToken") ?? false;
      const arn = callback ? state.Parameters?.FunctionName : state.Resource;
      const task = arn === undefined ? undefined : byArn.get(arn);
      if (!task) throw new Error(`state ${stateName} of ${workflow} runs no registered task`);
      const handler = taskHandler(task, deps, logger);
      const run = async (event: never) => {
        const output = await handler(event);
        lastOutput.set(stateName, output);
        return output;
      };
      handlers[stateName] = callback
        ? async (payload: { Payload: unknown }) => {
            // The lab runs automatic mode; an approval state is answered as on-call would approve.
            await run(payload.Payload as never);
            return { approved: true };
          }
        : (event: never) => run(event);
    }
    const factor = clock.factor;
    const overrides =
      factor === 1
        ? { taskResourceLocalHandlers: handlers }
        : {
            taskResourceLocalHandlers: handlers,
            waitTimeOverrides: waitOverrides(states, lastOutput, clock),
            retryIntervalOverrides: Object.fromEntries(
              Object.entries(states)
                .filter(([, s]) => s.Retry)
                .map(([n, s]) => [n, s.Retry!.map((r) => clock.real(meanRetryIntervalMs(r)))]),
            ),
          };
    // The ASL is validated by the test suite (asl-validator); validating it again on every start
    // would add seconds to the measured decision time.
    const machine = new StateMachine(
      definition as never,
      { validationOptions: { noValidate: true } } as never,
    );
    const execution = machine.run(input as never, {
      overrides: overrides as never,
      context: {
        Execution: {
          Id: `arn:aws:states:${region}:123456789012:execution:payments-${workflow}-lab:${name}`,
          Name: name,
          StartTime: new Date(record.startedAt).toISOString(),
        },
        StateMachine: {
          Id: `arn:aws:states:${region}:123456789012:stateMachine:payments-${workflow}-lab`,
        },
        Task: { Token: `lab-token-${name}` },
      } as never,
    });
    this.aborts.add(execution.abort);
    const consumed = (async () => {
      for await (const event of execution.eventLogs) {
        const e = event as {
          type: string;
          timestamp: number;
          state?: { name: string; type: string; output?: unknown };
          Error?: string;
        };
        const at = clock.toLab(e.timestamp);
        if (e.type === "StateEntered" && e.state) {
          const s: StateRecord = { name: e.state.name, type: e.state.type, enteredAt: at };
          record.states.push(s);
          this.options.onState?.(record, s, "entered");
        } else if ((e.type === "StateExited" || e.type === "StateFailed") && e.state) {
          const s = [...record.states]
            .reverse()
            .find((x) => x.name === e.state!.name && x.exitedAt === undefined);
          if (s) {
            s.exitedAt = at;
            if (e.type === "StateExited") s.output = e.state.output;
            this.options.onState?.(record, s, e.type === "StateExited" ? "exited" : "failed");
          }
        } else if (e.type === "StateRetried" && e.state) {
          record.retries.push({ state: e.state.name, at });
          const s = [...record.states].reverse().find((x) => x.name === e.state!.name);
          if (s) this.options.onState?.(record, s, "retried");
        }
      }
    })();
    try {
      record.output = await execution.result;
      record.status = "SUCCEEDED";
    } catch (error) {
      const cause = (error as { cause?: Error }).cause;
      record.status = "FAILED";
      record.error = cause?.name ?? (error as Error).name;
      record.cause = cause?.message ?? (error as Error).message;
    }
    await consumed.catch(() => undefined);
    this.aborts.delete(execution.abort);
    record.endedAt = clock.nowMs();
    record.endState = record.states.at(-1)?.name;
    this.options.onEnd?.(record);
    return record;
  }
}

/**
 * The library takes one fixed interval per retrier when overridden: the mean of the retrier's
 * backoff series (Step Functions defaults: 1 s, 3 attempts, rate 2), so the whole retry budget of
 * a state keeps its lab duration.
 */
export function meanRetryIntervalMs(r: {
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
}): number {
  const attempts = Math.max(1, r.MaxAttempts ?? 3);
  let total = 0;
  for (let i = 0; i < attempts; i++) {
    const interval = (r.IntervalSeconds ?? 1) * Math.pow(r.BackoffRate ?? 2, i);
    total += Math.min(interval, r.MaxDelaySeconds ?? Infinity);
  }
  return (total / attempts) * 1000;
}

function taskLogger(record: ExecutionRecord, clock: LabClock): KeyedLog {
  const write = (level: string) => (message: string, extra?: Record<string, unknown>) => {
    record.logs.push({ at: clock.nowMs(), level, message, ...(extra ? { extra } : {}) });
  };
  return {
    resetKeys: () => undefined,
    appendKeys: () => undefined,
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
  };
}
