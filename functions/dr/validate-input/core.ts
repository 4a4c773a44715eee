// Checks the execution input before anything is touched and turns it into a DrRequest.
// Reads only the active-region flag, in the target region.
import { FENCE_PHASE } from "../../common/contract";
import {
  AutomaticFailbackRefusedError,
  InvalidInputError,
  TargetAlreadyActiveError,
  WrongRegionError,
} from "../shared/errors";
import type { DrDeps } from "../shared/deps";
import { deployedPrimary, otherRegion, regionOf } from "../shared/topology";
import type { DrRequest, ExecutionContext, Mode, Trigger, Workflow } from "../shared/types";
import { keysFrom } from "../shared/task";
import type { DrTaskDefinition } from "../shared/task";

export interface ValidateInputEvent {
  readonly workflow: Workflow;
  readonly input: unknown;
  readonly context: ExecutionContext;
}

export interface ValidatedInput {
  readonly input: unknown;
  readonly request: DrRequest;
}

const FIELDS: Readonly<Record<Workflow, readonly string[]>> = {
  failover: [
    "targetRegion",
    "reason",
    "trigger",
    "mode",
    "forceDetach",
    "ignoreCooldown",
    "allowUnknownLag",
    "assumeOldWriterStopped",
    "drillId",
    "resumeFailoverId",
  ],
  switchover: [
    "targetRegion",
    "reason",
    "trigger",
    "ignoreCooldown",
    "drillId",
    "resumeFailoverId",
  ],
  failback: ["targetRegion", "reason", "trigger", "ignoreCooldown", "drillId", "resumeFailoverId"],
  reprotect: ["targetRegion", "reason", "trigger", "resumeFailoverId"],
};

const TRIGGERS: Readonly<Record<Workflow, readonly Trigger[]>> = {
  failover: ["alarm", "console", "drill"],
  // Planned moves are started by people; an alarm never starts one (no automatic failback).
  switchover: ["console", "drill"],
  failback: ["console", "drill"],
  // Rebuilding the other region is a deliberate act after an incident.
  reprotect: ["console"],
};

const MODES: readonly Mode[] = ["automatic", "approval"];
const RUN_ID = /^[A-Za-z0-9_-]{1,80}$/;

export async function validateInput(
  event: ValidateInputEvent,
  deps: DrDeps,
): Promise<ValidatedInput> {
  const { workflow, context } = event;
  const raw = event.input;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new InvalidInputError(`the input must be a JSON object, got ${JSON.stringify(raw)}`);
  }
  const input = raw as Record<string, unknown>;
  const allowed = FIELDS[workflow];
  const unknown = Object.keys(input).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      `unknown input field(s) ${unknown.join(", ")}; a ${workflow} accepts ${allowed.join(", ")}`,
    );
  }

  const regions = Object.keys(deps.topology.regions);
  const targetRegion = input.targetRegion;
  if (typeof targetRegion !== "string" || !regions.includes(targetRegion)) {
    throw new InvalidInputError(
      `targetRegion must be one of ${regions.join(", ")}, got ${JSON.stringify(targetRegion)}`,
    );
  }
  const reason = typeof input.reason === "string" ? input.reason.trim() : "";
  if (reason === "") {
    throw new InvalidInputError("reason is required: say why this run is started");
  }
  if (reason.length > 500) {
    throw new InvalidInputError(`reason must be at most 500 characters, got ${reason.length}`);
  }
  const trigger = input.trigger as Trigger;
  if (!TRIGGERS[workflow].includes(trigger)) {
    throw new InvalidInputError(
      `trigger must be one of ${TRIGGERS[workflow].join(", ")} for a ${workflow}, got ${JSON.stringify(input.trigger)}`,
    );
  }
  const mode = (input.mode ?? "automatic") as Mode;
  if (!MODES.includes(mode)) {
    throw new InvalidInputError(
      `mode must be one of ${MODES.join(", ")}, got ${JSON.stringify(input.mode)}`,
    );
  }
  const flag = (name: string): boolean => {
    const value = input[name] ?? false;
    if (typeof value !== "boolean") {
      throw new InvalidInputError(`${name} must be true or false, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const forceDetach = flag("forceDetach");
  // A re-protect follows a failover by design: the cooldown that stops re-triggered failovers
  // does not apply to it (and it moves no active region, so it writes none either).
  const ignoreCooldown = workflow === "reprotect" || flag("ignoreCooldown");
  const allowUnknownLag = flag("allowUnknownLag");
  const assumeOldWriterStopped = flag("assumeOldWriterStopped");
  if (assumeOldWriterStopped && trigger !== "console") {
    throw new InvalidInputError(
      `assumeOldWriterStopped is on-call's word that the old region cannot take payments: only with trigger "console", got ${JSON.stringify(trigger)}`,
    );
  }
  const drillId = input.drillId;
  if (drillId !== undefined) {
    if (typeof drillId !== "string" || !RUN_ID.test(drillId)) {
      throw new InvalidInputError(
        `drillId must be the drill's id (1-80 letters, digits, - or _), got ${JSON.stringify(drillId)}`,
      );
    }
    if (trigger !== "drill") {
      throw new InvalidInputError(
        `drillId belongs to runs a drill starts: only with trigger "drill", got ${JSON.stringify(trigger)}`,
      );
    }
  }
  const resumeFailoverId = input.resumeFailoverId;
  if (
    resumeFailoverId !== undefined &&
    (typeof resumeFailoverId !== "string" || !RUN_ID.test(resumeFailoverId))
  ) {
    throw new InvalidInputError(
      `resumeFailoverId must be the run id (1-80 letters, digits, - or _) of the run to resume, got ${JSON.stringify(resumeFailoverId)}`,
    );
  }

  if (targetRegion !== deps.executionRegion) {
    throw new WrongRegionError(
      `this state machine runs in ${deps.executionRegion} and only moves the active region to ${deps.executionRegion}; start the ${workflow} state machine in ${targetRegion} instead`,
    );
  }
  const role = regionOf(deps.topology, targetRegion).role;
  if (workflow === "failover" && trigger === "alarm" && role === "primary") {
    throw new AutomaticFailbackRefusedError(
      `an alarm may not move the active region back to the deployed primary ${targetRegion}; fail back with the failback workflow after checking replication has caught up`,
    );
  }
  if (workflow === "failback" && role !== "primary") {
    throw new InvalidInputError(
      `a failback returns to the deployed primary ${deployedPrimary(deps.topology)}, got targetRegion ${targetRegion}; use the switchover workflow to move elsewhere`,
    );
  }

  const failoverId = resumeFailoverId ?? context.executionName;
  const current = await deps.ports(targetRegion, "critical").control.getActiveRegion();
  const activeRegion = current?.activeRegion ?? deployedPrimary(deps.topology);
  if (workflow === "reprotect") {
    // Re-protect rebuilds the other region around the writer: it runs where writes are taken,
    // once the role change that put them there is complete.
    if (activeRegion !== targetRegion) {
      throw new InvalidInputError(
        `re-protect runs in the active region, which is ${activeRegion}, not ${targetRegion}: start the reprotect state machine in ${activeRegion} with targetRegion ${activeRegion}`,
      );
    }
    if (current?.phase === FENCE_PHASE.fenced) {
      throw new InvalidInputError(
        `the move to ${targetRegion} (run ${current.updatedBy}) is still fenced, not complete: resume that run first, then re-protect`,
      );
    }
  } else if (activeRegion === targetRegion) {
    const ours = resumeFailoverId !== undefined && current?.updatedBy === resumeFailoverId;
    if (!ours) {
      const how = current
        ? `fencing token ${current.fencingToken}, set by ${current.updatedBy} at ${current.updatedAt}`
        : "the deployed primary; the flag was never written";
      throw new TargetAlreadyActiveError(
        `${targetRegion} is already the active region (${how}): nothing to ${workflow}`,
      );
    }
  }

  const request: DrRequest = {
    workflow,
    failoverId,
    resumed: resumeFailoverId !== undefined,
    executionId: context.executionId,
    executionName: context.executionName,
    stateMachineArn: context.stateMachineArn,
    startedAt: context.startTime,
    targetRegion,
    sourceRegion: otherRegion(deps.topology, targetRegion),
    reason,
    trigger,
    mode,
    forceDetach,
    ignoreCooldown,
    allowUnknownLag,
    assumeOldWriterStopped,
    ...(drillId !== undefined ? { drillId } : {}),
  };
  deps.log.info("input accepted", { failoverId, workflow, sourceRegion: request.sourceRegion });
  return { input: raw, request };
}

/** The ValidateInput task (functions/dr/tasks.ts). */
export const VALIDATE_INPUT_TASK: DrTaskDefinition<ValidateInputEvent, ValidatedInput> = {
  step: "ValidateInput",
  description: "Checks the execution input before anything is touched",
  workflows: ["failover", "switchover", "failback", "reprotect"],
  permissions: { control: ["getActiveRegion"] },
  invocation: "task",
  keys: (event) =>
    keysFrom(
      event?.context?.executionId,
      (event?.input as { targetRegion?: unknown } | undefined)?.targetRegion,
    ),
  run: validateInput,
};
