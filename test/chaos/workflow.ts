// Runs the real ASL of a workflow in aws-local-stepfunctions over the chaos world, with each Task
// bound to its real core (through the task registry, in the deployed task shell) and Lambda's
// semantics around it: an invoke overhead and sometimes a cold start, the function's timeout
// (the state's TimeoutSeconds less 2 s, as infra derives it) after which the invocation is
// killed mid-flight (its later calls do not happen) and the state sees Sandbox.Timedout. Wait
// states, retry intervals with their jitter, and task timeouts run on the virtual clock
// (world/clock.ts), with the library's own code: nothing is overridden.
// An execution can be made to die at its n-th task invocation, before the task ran or after it
// did its work but before its result was recorded (StopExecution, or a redeploy mid-run: AWS does
// not cancel an invoked Lambda, so its work may land).
import "../../lab/polyfill";
import { StateMachine } from "aws-local-stepfunctions";
import type { RequestApprovalEvent } from "../../functions/dr/request-approval/core";
import { taskHandler } from "../../functions/dr/shared/task";
import type { KeyedLog } from "../../functions/common/logger";
import { DR_TASK_NAMES, drTask, taskPlaceholder } from "../../functions/dr/tasks";
import { STATE_HEADROOM_SECONDS } from "../../infra/constructs/orchestration";
import type { WorkflowName } from "../../infra/lib/asl";
import { fakeFunctionArn, renderedDefinition } from "../state-machines/support/render";
import type { ChaosWorld, Invocation } from "./world/world";

type EventLog =
  ReturnType<StateMachine["run"]>["eventLogs"] extends AsyncGenerator<infer E> ? E : never;

interface TaskState {
  readonly Type: string;
  readonly Resource?: string;
  readonly TimeoutSeconds?: number;
  readonly Parameters?: { readonly FunctionName?: string };
}

export interface ExecutionRecord {
  readonly name: string;
  readonly workflow: WorkflowName;
  readonly input: Record<string, unknown>;
  readonly region: string;
  readonly startedAt: number;
  endedAt?: number;
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "DIED";
  error?: string;
  cause?: string;
  /** The last state entered (a Fail state names the outcome). */
  lastState?: string;
  readonly states: string[];
  invocations: number;
  /** Settles when the execution ends (or dies). */
  done: Promise<void>;
}

export interface ExecutionOptions {
  readonly workflow: WorkflowName;
  readonly input: Record<string, unknown>;
  readonly name: string;
  readonly region: string;
  /** Dies at its n-th task invocation (1-based), before or after that task's work. */
  readonly dieAt?: { readonly invocation: number; readonly afterWork: boolean };
  /** What on-call answers to RequestApproval, and when; none: nobody answers. */
  readonly approval?: { readonly afterSeconds: number; readonly approved: boolean };
}

const machines = new Map<WorkflowName, StateMachine>();
const definitions = new Map<WorkflowName, Record<string, TaskState>>();

function statesOf(workflow: WorkflowName): Record<string, TaskState> {
  let states = definitions.get(workflow);
  if (!states) {
    states = renderedDefinition(workflow).States as Record<string, TaskState>;
    definitions.set(workflow, states);
  }
  return states;
}
const silent: KeyedLog = {
  resetKeys: () => undefined,
  appendKeys: () => undefined,
  info: () => undefined,
  error: () => undefined,
  warn: () => undefined,
};

function machine(workflow: WorkflowName): StateMachine {
  let m = machines.get(workflow);
  if (!m) {
    // Validated once by test/state-machines/asl.test.ts (asl-validator); compiling the
    // library's own schema again per worker costs seconds.
    m = new StateMachine(renderedDefinition(workflow) as never, {
      validationOptions: { noValidate: true },
    });
    machines.set(workflow, m);
  }
  return m;
}

function named(name: string, message = name): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

const never = <T>() => new Promise<T>(() => undefined);

export function startExecution(world: ChaosWorld, options: ExecutionOptions): ExecutionRecord {
  const { workflow, name, region } = options;
  const states = statesOf(workflow);
  const byArn = new Map(
    DR_TASK_NAMES.map((task) => [fakeFunctionArn(taskPlaceholder(task)), drTask(task)]),
  );
  const record: ExecutionRecord = {
    name,
    workflow,
    input: options.input,
    region,
    startedAt: world.clock.now,
    status: "RUNNING",
    states: [],
    invocations: 0,
    done: Promise.resolve(),
  };
  let dead = false;
  // Set once ValidateInput has named the source region (for the "no call to the failed region"
  // invariant): every invocation after it knows it.
  let sourceRegion: string | undefined;
  let abort: () => void = () => undefined;
  const die = () => {
    dead = true;
    record.status = "DIED";
    record.endedAt = world.clock.now;
    abort();
  };

  const handlers: Record<string, (input: never) => Promise<unknown>> = {};
  for (const [stateName, state] of Object.entries(states)) {
    if (state.Type !== "Task") continue;
    const callback = state.Resource?.endsWith(".waitForTaskToken") ?? false;
    const definition = byArn.get((callback ? state.Parameters?.FunctionName : state.Resource)!)!;
    const lambdaTimeoutMs = callback
      ? 10_000
      : Math.max(3, (state.TimeoutSeconds ?? 60) - STATE_HEADROOM_SECONDS) * 1000;
    handlers[stateName] = async (raw: never) => {
      if (dead) return never();
      record.invocations += 1;
      const dying = options.dieAt?.invocation === record.invocations ? options.dieAt : undefined;
      if (dying && !dying.afterWork) {
        die();
        return never();
      }
      let input = (callback ? (raw as { Payload: unknown }).Payload : raw) as Record<
        string,
        unknown
      >;
      if (stateName === "ValidateInput") {
        // The library stamps $$.Execution.StartTime with the real clock: use the run's.
        const context = input.context as Record<string, unknown>;
        input = {
          ...input,
          context: { ...context, startTime: new Date(record.startedAt).toISOString() },
        };
      }
      const invocation: Invocation = {
        region,
        execution: name,
        workflow,
        sourceRegion,
        killed: false,
      };
      // Invoke overhead; now and then a cold start.
      await world.clock.sleep(
        world.random.chance(0.1) ? world.random.uniform(300, 1500) : world.random.uniform(5, 40),
      );
      if (dead) return never();
      const run = taskHandler(definition, world.deps(invocation), silent);
      let timer: { id: number } | undefined;
      const killed = new Promise<never>((_, reject) => {
        timer = world.clock.at(
          lambdaTimeoutMs,
          () => {
            invocation.killed = true;
            reject(named("Sandbox.Timedout", `Task timed out after ${lambdaTimeoutMs / 1000} s`));
          },
          false,
        );
      });
      const work = run(input as never);
      work.catch(() => undefined);
      let result: unknown;
      try {
        result = await Promise.race([work, killed]);
      } finally {
        world.clock.cancel(timer?.id);
      }
      if (stateName === "ValidateInput") {
        sourceRegion = (result as { request?: { sourceRegion?: string } }).request?.sourceRegion;
      }
      if (dying) {
        die();
        return never();
      }
      if (dead) return never();
      if (!callback) return result;
      // A callback: the function published the token; the state's result is on-call's answer.
      const answer = options.approval;
      if (!answer) return never();
      await world.clock.sleep(answer.afterSeconds * 1000);
      if (dead) return never();
      if (!answer.approved) throw named("ApprovalRejected", "not now");
      return { approved: true, approvedBy: "on-call" };
    };
  }

  const execution = machine(workflow).run(options.input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never },
    context: {
      Execution: {
        Id: `arn:aws:states:${region}:123456789012:execution:payments-${workflow}-chaos:${name}`,
        Name: name,
      },
      StateMachine: {
        Id: `arn:aws:states:${region}:123456789012:stateMachine:payments-${workflow}-chaos`,
      },
      Task: { Token: `token-${name}` },
    },
  });
  abort = execution.abort;
  const consumed = (async () => {
    for await (const event of execution.eventLogs as AsyncGenerator<EventLog>) {
      // A dead execution's library loop may still walk through its Catch states: not a run.
      if (event.type === "StateEntered" && !dead) {
        record.states.push(event.state.name);
        record.lastState = event.state.name;
      }
    }
  })();
  record.done = (async () => {
    try {
      await execution.result;
      if (!dead) {
        record.status = "SUCCEEDED";
        record.endedAt = world.clock.now;
      }
    } catch (error) {
      if (!dead) {
        const cause = (error as { cause?: Error }).cause;
        record.status = "FAILED";
        record.error = cause?.name;
        record.cause = cause?.message;
        record.endedAt = world.clock.now;
      }
    }
    if (!dead) await consumed;
  })();
  return record;
}

export type { RequestApprovalEvent };
