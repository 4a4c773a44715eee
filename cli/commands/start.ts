// `payments-dr failover | switchover | failback --to <region> --reason "..."`: validates the input
// with ValidateInput's own rules (functions/dr/validate-input/core.ts, against the live flag in
// the target region), asks for confirmation, starts the workflow's state machine in the target
// region and follows the run.
import { randomBytes } from "node:crypto";
import { StartExecutionCommand } from "@aws-sdk/client-sfn";
import { DrError } from "../../functions/dr/shared/errors";
import type { DrDeps } from "../../functions/dr/shared/deps";
import { NO_REPORTS } from "../../functions/dr/shared/deps";
import { DEFAULT_SETTINGS } from "../../functions/dr/shared/settings";
import { awsDns, awsPorts } from "../../functions/dr/shared/aws/ports";
import { fetchHttp } from "../../functions/dr/shared/http-client";
import { validateInput } from "../../functions/dr/validate-input/core";
import type { DrRequest } from "../../functions/dr/shared/types";
import type { CommandContext } from "../context";
import { CliError, explainAwsError } from "../errors";
import { follow } from "../executions";
import type { RunOutcome } from "../executions";
import type { WorkflowName } from "../target";
import { stateMachineArn, validationTopology } from "../target";

export interface StartFlags {
  readonly to?: string;
  readonly reason?: string;
  readonly approval?: boolean;
  readonly forceDetach?: boolean;
  readonly ignoreCooldown?: boolean;
  readonly allowUnknownLag?: boolean;
  readonly assumeOldWriterStopped?: boolean;
  readonly resume?: string;
  readonly watch: boolean;
}

/** The execution input, with only the fields the operator asked for. */
export function executionInput(flags: StartFlags): Record<string, unknown> {
  return {
    targetRegion: flags.to,
    reason: flags.reason,
    trigger: "console",
    ...(flags.approval ? { mode: "approval" } : {}),
    ...(flags.forceDetach ? { forceDetach: true } : {}),
    ...(flags.ignoreCooldown ? { ignoreCooldown: true } : {}),
    ...(flags.allowUnknownLag ? { allowUnknownLag: true } : {}),
    ...(flags.assumeOldWriterStopped ? { assumeOldWriterStopped: true } : {}),
    ...(flags.resume !== undefined ? { resumeFailoverId: flags.resume } : {}),
  };
}

/** `cli-<workflow>-<UTC time>-<random>`: a valid execution name and run id (resumeFailoverId). */
export function executionName(workflow: WorkflowName, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `cli-${workflow}-${stamp}-${randomBytes(3).toString("hex")}`;
}

const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  mode: "--approval",
  forceDetach: "--force-detach",
  allowUnknownLag: "--allow-unknown-lag",
  assumeOldWriterStopped: "--assume-old-writer-stopped",
  targetRegion: "--to",
  reason: "--reason",
  resumeFailoverId: "--resume",
};

/** ValidateInput's own check, run here so a bad input never becomes an execution. */
async function validate(
  ctx: CommandContext,
  workflow: WorkflowName,
  input: Record<string, unknown>,
  account: string,
  name: string,
  arn: string,
): Promise<DrRequest> {
  const { deployment } = ctx;
  const target = String(input.targetRegion);
  const topology = validationTopology(deployment, account);
  // The DR functions' own adapters, built on first use: ValidateInput reads the flag today and
  // may read more tomorrow (issue-by-issue), and gets real AWS calls for whatever it reads.
  const deps: DrDeps = {
    topology,
    settings: DEFAULT_SETTINGS,
    ports: awsPorts(topology),
    dns: awsDns(),
    http: fetchHttp,
    reports: NO_REPORTS,
    now: () => ctx.io.now(),
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    // The state machine runs in the target region; a target outside the topology is refused by
    // the targetRegion rule before this matters.
    executionRegion: target,
  };
  try {
    const { request } = await validateInput(
      {
        workflow,
        input,
        context: {
          executionId: `${arn.replace(":stateMachine:", ":execution:")}:${name}`,
          executionName: name,
          startTime: ctx.io.now().toISOString(),
          stateMachineArn: arn,
        },
      },
      deps,
    );
    return request;
  } catch (error) {
    if (
      error instanceof DrError &&
      error.name !== "TransientError" &&
      error.name !== "AccessDeniedError" &&
      error.name !== "DependencyError"
    ) {
      // ValidateInput names input fields; on the command line they are flags.
      const message = error.message.replace(
        /\b(targetRegion|reason|resumeFailoverId|mode|forceDetach|allowUnknownLag|assumeOldWriterStopped)\b/g,
        (field) => `${field} (${FLAG_OF_FIELD[field]})`,
      );
      throw new CliError(
        `${workflow} refused: ${message}`,
        fixFor(error.name, workflow, deployment.regions),
        2,
      );
    }
    throw explainAwsError(error, {
      region: target,
      doing: `read the active-region flag from ${deployment.names.controlTable}`,
      profile: deployment.profile,
    });
  }
}

function fixFor(errorName: string, workflow: WorkflowName, regions: readonly string[]): string {
  switch (errorName) {
    case "TargetAlreadyActiveError":
      return "nothing to do; `payments-dr status` shows both regions (pass --resume <run id> to finish a halted run)";
    case "AutomaticFailbackRefusedError":
      return "use `payments-dr failback` once replication has caught up";
    default:
      return `see \`payments-dr ${workflow} --help\`; --to is one of ${regions.join(", ")}; all fields: state-machines/README.md`;
  }
}

function describeEffect(workflow: WorkflowName, request: DrRequest): string {
  const { sourceRegion: from, targetRegion: to } = request;
  switch (workflow) {
    case "failover":
      return (
        `FAILOVER ${from} -> ${to} (unplanned): fences ${from} (it stops taking writes), then promotes ` +
        `${to}'s cluster with AllowDataLoss${request.forceDetach ? " by detaching it from the global cluster (one-way)" : ""}; ` +
        `writes from the last replication-lag window may be lost.` +
        (request.mode === "approval" ? " It pauses for approval before anything changes." : "")
      );
    case "switchover":
      return `SWITCHOVER ${from} -> ${to} (planned, no data loss): both regions must be up.`;
    case "failback":
      return `FAILBACK ${from} -> ${to} (planned switchover back to the deployed primary): waits until ${to}'s cluster has rejoined and caught up, touching nothing meanwhile.`;
    case "reprotect":
      return `RE-PROTECT ${to}: rebuilds ${from} as a secondary of ${to}'s cluster once ${from} answers (after a detach: keeps the old primary renamed, with a snapshot), then waits for it to catch up. Moves no active region.`;
  }
}

export async function startCommand(
  ctx: CommandContext,
  workflow: WorkflowName,
  flags: StartFlags,
): Promise<number> {
  const { deployment, io, clients } = ctx;
  if (!flags.to) {
    throw new CliError(
      `${workflow} needs --to <region>, the region to make active`,
      `pass --to ${workflow === "failback" ? deployment.primary : workflow === "reprotect" ? "<the active region>" : deployment.secondary} (one of ${deployment.regions.join(", ")})`,
      2,
    );
  }
  if (flags.reason === undefined || flags.reason.trim() === "") {
    throw new CliError(
      `${workflow} needs --reason "<why>": it goes into the flag, the events and the pages`,
      `pass --reason "us-east-1 API down since 03:02 UTC"`,
      2,
    );
  }
  const input = executionInput(flags);
  if (!deployment.regions.includes(flags.to)) {
    // Caught by ValidateInput's rule too, but there is no state machine to ask there.
    throw new CliError(
      `--to ${JSON.stringify(flags.to)} is not a region of this deployment`,
      `pass --to ${deployment.regions.join(" or --to ")} (or --primary-region/--secondary-region if the stack uses other regions)`,
      2,
    );
  }
  const { account } = await ctx.identity(flags.to);
  const arn = stateMachineArn(deployment, flags.to, account, workflow);
  const name = executionName(workflow, io.now());
  const request = await validate(ctx, workflow, input, account, name, arn);

  const effect = describeEffect(workflow, request);
  if (!ctx.yes) {
    if (!io.interactive) {
      throw new CliError(
        `refusing to start the ${workflow} without confirmation: stdin is not a terminal`,
        "run it in a terminal, or pass --yes after checking `payments-dr status`",
        2,
      );
    }
    io.err(effect);
    io.err(`Reason: ${request.reason}`);
    if (!(await io.confirm(`Start ${deployment.names.stateMachine(workflow)} in ${flags.to}?`))) {
      io.err("not started");
      return 1;
    }
  }

  let executionArn: string;
  try {
    const out = await clients
      .sfn(flags.to)
      .send(
        new StartExecutionCommand({ stateMachineArn: arn, name, input: JSON.stringify(input) }),
      );
    executionArn = out.executionArn ?? "";
  } catch (error) {
    if ((error as Error).name === "StateMachineDoesNotExist") {
      throw new CliError(
        `no state machine ${deployment.names.stateMachine(workflow)} in ${flags.to} (account ${account})`,
        `check --suffix (now ${deployment.suffix}) and the regions (now ${deployment.regions.join(", ")}), and that the stack is applied`,
      );
    }
    throw explainAwsError(error, {
      region: flags.to,
      doing: `start ${deployment.names.stateMachine(workflow)}`,
      profile: deployment.profile,
    });
  }
  const console = `https://${flags.to}.console.aws.amazon.com/states/home?region=${flags.to}#/v2/executions/details/${executionArn}`;
  if (ctx.json) {
    io.out(
      JSON.stringify({ type: "started", workflow, executionArn, runId: name, input, console }),
    );
  } else {
    io.out(`started ${workflow} ${name} in ${flags.to}`);
    io.out(`  execution: ${executionArn}`);
    io.out(`  console:   ${console}`);
  }
  if (!flags.watch) return 0;
  const outcome: RunOutcome = await follow(clients, deployment, executionArn, io, {
    intervalMs: ctx.intervalMs,
    json: ctx.json,
  });
  return outcome.status === "SUCCEEDED" ? 0 : 1;
}
