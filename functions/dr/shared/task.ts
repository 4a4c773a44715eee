// The thin shell around every DR core invoked by a state machine: log lines carry executionId,
// step and targetRegion; the result carries the step's startedAt/endedAt (the timeline); errors
// are logged and rethrown with their `name` intact, since that is what Retry/Catch match.
import type { KeyedLog } from "../../common/logger";
import type { DrDeps } from "./deps";
import type { TaskPermissions } from "./permissions";
import type { StepTimes, Workflow, WorkflowState } from "./types";

export interface TaskKeys {
  readonly executionId: string;
  readonly targetRegion: string;
}

export interface TaskOptions<E> {
  /** The state name in the ASL, e.g. "Fence". */
  readonly step: string;
  readonly logger: KeyedLog;
  readonly keys: (event: E) => TaskKeys;
  readonly now?: () => Date;
}

/** Keys of a task that receives the whole workflow state. */
export function stateKeys(state: WorkflowState): TaskKeys {
  return keysFrom(state?.request?.executionId, state?.request?.targetRegion);
}

export function keysFrom(executionId: unknown, targetRegion: unknown): TaskKeys {
  return {
    executionId: typeof executionId === "string" ? executionId : "unknown",
    targetRegion: typeof targetRegion === "string" ? targetRegion : "unknown",
  };
}

/**
 * Runs `run`, stamping its result with the step's start and end times (a result's own
 * `startedAt` wins: CheckPromotion carries the first poll's).
 */
export function task<E, R extends object>(
  options: TaskOptions<E>,
  run: (event: E) => Promise<R>,
): (event: E) => Promise<R & StepTimes> {
  const now = options.now ?? (() => new Date());
  const { logger } = options;
  return async (event) => {
    logger.resetKeys();
    logger.appendKeys({ ...options.keys(event), step: options.step });
    const startedAt = now().toISOString();
    logger.info("step started");
    try {
      const result = await run(event);
      const endedAt = now().toISOString();
      logger.info("step succeeded", { result });
      return { startedAt, ...result, endedAt };
    } catch (error) {
      const failure =
        error instanceof Error ? error : new Error(`non-Error thrown: ${String(error)}`);
      logger.error("step failed", { errorName: failure.name, error: failure.message });
      throw failure;
    }
  };
}

/**
 * One DR task: what its Lambda runs and where the workflows use it. Every task folder exports
 * one from its core.ts; functions/dr/tasks.ts lists them all, and the infrastructure (functions,
 * ASL substitutions, timeouts) and the workflow test harness are built from that list.
 */
export interface DrTaskDefinition<E = never, R extends object = object> {
  /** Step name in the task's log lines, e.g. "Fence". */
  readonly step: string;
  /** What the function does, for its Lambda description. */
  readonly description: string;
  /** The workflows whose ASL invokes this task (through its `${<Name>FunctionArn}`). */
  readonly workflows: readonly Workflow[];
  /**
   * "task": a plain Task state runs the function and takes its result. "callback": a
   * `lambda:invoke.waitForTaskToken` state; the function publishes the token and returns, and
   * the state's result is what on-call sends back.
   */
  readonly invocation: "task" | "callback";
  /** The log keys of one event. */
  readonly keys: (event: E, deps: DrDeps) => TaskKeys;
  readonly run: (event: E, deps: DrDeps) => Promise<R>;
  /**
   * Every AWS call the core makes (through its ports), which becomes the task's own IAM role:
   * exactly these calls, on the exact resources. Required, so a task cannot be added without it.
   */
  readonly permissions: TaskPermissions;
  /** @default - DR_MEMORY_MB */
  readonly memoryMb?: number;
  /**
   * Gets DR_DATABASE (how Terraform builds each cluster). Only the tasks that rebuild one: the
   * Lambda environment is limited to 4 KB in all. @default false
   */
  readonly needsDatabaseSpec?: boolean;
}

/** A task that receives the whole workflow state (most of them). */
export function stateTask<R extends object>(
  definition: Omit<DrTaskDefinition<WorkflowState, R>, "keys" | "invocation">,
): DrTaskDefinition<WorkflowState, R> {
  return { ...definition, invocation: "task", keys: (state) => stateKeys(state) };
}

/** The handler of one task: the definition's core wrapped in the task shell. */
export function taskHandler<E, R extends object>(
  definition: DrTaskDefinition<E, R>,
  deps: DrDeps,
  logger: KeyedLog,
): (event: E) => Promise<R & StepTimes> {
  return task(
    {
      step: definition.step,
      logger,
      keys: (event: E) => definition.keys(event, deps),
      now: deps.now,
    },
    (event: E) => definition.run(event, deps),
  );
}
