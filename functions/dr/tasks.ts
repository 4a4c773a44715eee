// The one list of the DR workflow tasks: folder (functions/dr/<folder>, also the function's
// physical name `payments-dr-<folder>-<suffix>`) -> definition (step, core, workflows, settings).
// The infrastructure builds the task functions and each workflow's ASL substitutions from it, and
// the workflow test harness binds each Task state to its core through it. Adding a task means a
// folder with core.ts and handler.ts, an entry here, and its `${<Name>FunctionArn}` in the ASL.
import { ACQUIRE_LOCK_TASK } from "./acquire-lock/core";
import { CHECK_OLD_WRITER_TASK } from "./check-old-writer/core";
import { CHECK_PROMOTION_TASK } from "./check-promotion/core";
import { CHECK_REJOIN_TASK } from "./check-rejoin/core";
import { FENCE_TASK } from "./fence/core";
import { NOTIFY_TASK } from "./notify/core";
import { PREFLIGHT_TASK } from "./preflight/core";
import { PROMOTE_TASK } from "./promote/core";
import { REBUILD_TASK } from "./rebuild/core";
import { RECORD_TIMELINE_TASK } from "./record-timeline/core";
import { RELEASE_LOCK_TASK } from "./release-lock/core";
import { RESTORE_CAPACITY_TASK } from "./restore-capacity/core";
import { REQUEST_APPROVAL_TASK } from "./request-approval/core";
import type { DrTaskDefinition } from "./shared/task";
import { SHIFT_TRAFFIC_TASK } from "./shift-traffic/core";
import { SWITCHOVER_TASK } from "./switchover/core";
import { UNFENCE_TASK } from "./unfence/core";
import { UPDATE_PARAMETERS_TASK } from "./update-parameters/core";
import { VALIDATE_INPUT_TASK } from "./validate-input/core";
import { VERIFY_TASK } from "./verify/core";

// Each definition is typed by its own event and result; the registry only needs their shape.
type AnyTask = DrTaskDefinition<never, object>;

export const DR_TASKS = {
  "validate-input": VALIDATE_INPUT_TASK,
  "check-rejoin": CHECK_REJOIN_TASK,
  preflight: PREFLIGHT_TASK,
  "acquire-lock": ACQUIRE_LOCK_TASK,
  "request-approval": REQUEST_APPROVAL_TASK,
  fence: FENCE_TASK,
  "check-old-writer": CHECK_OLD_WRITER_TASK,
  promote: PROMOTE_TASK,
  switchover: SWITCHOVER_TASK,
  "check-promotion": CHECK_PROMOTION_TASK,
  rebuild: REBUILD_TASK,
  "update-parameters": UPDATE_PARAMETERS_TASK,
  "shift-traffic": SHIFT_TRAFFIC_TASK,
  verify: VERIFY_TASK,
  unfence: UNFENCE_TASK,
  "restore-capacity": RESTORE_CAPACITY_TASK,
  "record-timeline": RECORD_TIMELINE_TASK,
  notify: NOTIFY_TASK,
  "release-lock": RELEASE_LOCK_TASK,
} as const satisfies Record<string, AnyTask>;

export type DrTaskName = keyof typeof DR_TASKS;

/** The task folders, in registry order. */
export const DR_TASK_NAMES = Object.keys(DR_TASKS) as DrTaskName[];

/** The task's definition, typed loosely for generic wiring (infra, harness). */
export function drTask(name: DrTaskName): AnyTask {
  return DR_TASKS[name] as AnyTask;
}

/** `validate-input` -> `ValidateInputFunctionArn`: the task's placeholder in the ASL. */
export function taskPlaceholder(name: string): string {
  return `${name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase())}FunctionArn`;
}

/** The tasks a workflow invokes, by placeholder: the substitutions its ASL must use, exactly. */
export function workflowTasks(workflow: string): DrTaskName[] {
  return DR_TASK_NAMES.filter((name) =>
    (drTask(name).workflows as readonly string[]).includes(workflow),
  );
}
