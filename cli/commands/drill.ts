// `payments-dr drill [--restore]`: starts the drill automation (runbooks/dr-drill.yaml, or with
// --restore the restore drill's document) and follows its steps until it ends.
import {
  GetAutomationExecutionCommand,
  StartAutomationExecutionCommand,
} from "@aws-sdk/client-ssm";
import type { AutomationExecution } from "@aws-sdk/client-ssm";
import type { CommandContext } from "../context";
import { CliError, explainAwsError } from "../errors";

export interface DrillFlags {
  readonly restore: boolean;
  readonly region?: string;
  /** Workflow=switchover|failover (the failover drill only). */
  readonly workflow?: string;
  /** HoldDuration, ISO 8601 (PT10M). */
  readonly hold?: string;
  /** FailBack=false keeps production in the secondary region after the drill. */
  readonly noFailBack: boolean;
  readonly watch: boolean;
}

const FINAL = new Set([
  "Success",
  "Failed",
  "Cancelled",
  "TimedOut",
  "CompletedWithFailure",
  "CompletedWithSuccess",
  "Rejected",
]);

export function drillParameters(flags: DrillFlags): Record<string, string[]> {
  if (flags.restore) return {};
  if (flags.workflow !== undefined && !["switchover", "failover"].includes(flags.workflow)) {
    throw new CliError(
      `--workflow must be switchover or failover, got ${JSON.stringify(flags.workflow)}`,
      "pass --workflow switchover (the monthly drill, no data loss) or --workflow failover (AllowDataLoss)",
      2,
    );
  }
  // The document's own allowedPattern (runbooks/dr-drill.yaml): whole minutes, 1 to 59.
  if (flags.hold !== undefined && !/^PT([1-9]|[1-5][0-9])M$/.test(flags.hold)) {
    throw new CliError(
      `--hold must be PT<minutes>M with 1 to 59 minutes, got ${JSON.stringify(flags.hold)}`,
      "pass --hold PT15M",
      2,
    );
  }
  return {
    ...(flags.workflow ? { Workflow: [flags.workflow] } : {}),
    ...(flags.hold ? { HoldDuration: [flags.hold] } : {}),
    ...(flags.noFailBack ? { FailBack: ["false"] } : {}),
  };
}

export async function drillCommand(ctx: CommandContext, flags: DrillFlags): Promise<number> {
  const { deployment, clients, io } = ctx;
  const region = flags.region ?? deployment.secondary;
  if (!deployment.regions.includes(region)) {
    throw new CliError(
      `--region ${JSON.stringify(region)} is not a region of this deployment`,
      `pass --region ${deployment.regions.join(" or --region ")}`,
      2,
    );
  }
  const document = flags.restore
    ? deployment.names.restoreDrillDocument
    : deployment.names.drillDocument;
  const parameters = drillParameters(flags);
  await ctx.identity(region);
  if (!ctx.yes) {
    if (!io.interactive) {
      throw new CliError(
        "refusing to start a drill without confirmation: stdin is not a terminal",
        "run it in a terminal, or pass --yes",
        2,
      );
    }
    io.err(
      flags.restore
        ? `The restore drill restores the latest backups into scratch resources in ${region}, checks them and deletes them.`
        : `The drill moves production: ${parameters.Workflow?.[0] ?? "switchover"} to ${deployment.secondary}, hold ${parameters.HoldDuration?.[0] ?? "PT10M"}, ` +
            `${flags.noFailBack ? "NO failback" : `then failback to ${deployment.primary}`}. On-call is paged at start and end.`,
    );
    if (!(await io.confirm(`Start ${document} in ${region}?`))) {
      io.err("not started");
      return 1;
    }
  }
  let id: string;
  try {
    const out = await clients
      .ssm(region)
      .send(
        new StartAutomationExecutionCommand({ DocumentName: document, Parameters: parameters }),
      );
    id = out.AutomationExecutionId ?? "";
  } catch (error) {
    const name = (error as Error).name;
    if (name === "InvalidDocument" || name === "InvalidDocumentVersion") {
      throw new CliError(
        `no automation document ${document} in ${region}`,
        flags.restore
          ? "the restore drill is deployed with its own runbook; apply a stack version that has it, or run the failover drill without --restore"
          : `check --suffix (now ${deployment.suffix}) and --region, and that the stack is applied`,
      );
    }
    if (name === "InvalidAutomationExecutionParametersException") {
      throw new CliError(
        `${document} refused the parameters ${JSON.stringify(parameters)}: ${(error as Error).message}`,
        "see runbooks/dr-drill.md for the allowed values",
        2,
      );
    }
    throw explainAwsError(error, {
      region,
      doing: `start ${document}`,
      profile: deployment.profile,
    });
  }
  const console = `https://${region}.console.aws.amazon.com/systems-manager/automation/execution/${id}?region=${region}`;
  if (ctx.json)
    io.out(
      JSON.stringify({ type: "started", document, region, automationExecutionId: id, console }),
    );
  else {
    io.out(`started ${document} in ${region}: ${id}`);
    io.out(`  console: ${console}`);
  }
  if (!flags.watch) return 0;
  const execution = await followAutomation(ctx, region, id);
  return execution.AutomationExecutionStatus === "Success" ? 0 : 1;
}

/** Polls an automation execution until it ends, printing each step's status change. */
export async function followAutomation(
  ctx: CommandContext,
  region: string,
  id: string,
): Promise<AutomationExecution> {
  const { io, clients, deployment } = ctx;
  const reported = new Map<string, string>();
  let failedPolls = 0;
  for (;;) {
    let execution: AutomationExecution;
    try {
      const out = await clients
        .ssm(region)
        .send(new GetAutomationExecutionCommand({ AutomationExecutionId: id }));
      execution = out.AutomationExecution ?? {};
      failedPolls = 0;
    } catch (error) {
      const explained = explainAwsError(error, {
        region,
        doing: `read automation ${id}`,
        profile: deployment.profile,
      });
      if (++failedPolls >= 12) throw explained;
      io.err(`drill: ${explained.problem}; retrying`);
      await io.sleep(ctx.intervalMs);
      continue;
    }
    const started = execution.ExecutionStartTime
      ? new Date(execution.ExecutionStartTime).getTime()
      : io.now().getTime();
    for (const step of execution.StepExecutions ?? []) {
      const name = step.StepName ?? "?";
      const status = step.StepStatus ?? "Pending";
      if (status === "Pending" || reported.get(name) === status) continue;
      reported.set(name, status);
      const at = step.ExecutionEndTime ?? step.ExecutionStartTime;
      const elapsed = at ? Math.round((new Date(at).getTime() - started) / 1000) : 0;
      const outputs = Object.entries(step.Outputs ?? {}).map(([k, v]) => `${k}=${v.join(",")}`);
      if (ctx.json) {
        io.out(
          JSON.stringify({
            type: "step",
            step: name,
            status,
            elapsedSeconds: elapsed,
            outputs: step.Outputs ?? {},
            ...(step.FailureMessage ? { failure: step.FailureMessage } : {}),
          }),
        );
      } else {
        io.out(
          `${String(elapsed).padStart(5)} s  ${name} ${status}${outputs.length ? ` (${outputs.join(" ")})` : ""}${step.FailureMessage ? `: ${step.FailureMessage}` : ""}`,
        );
      }
    }
    const status = execution.AutomationExecutionStatus ?? "Pending";
    if (FINAL.has(status)) {
      if (ctx.json) {
        io.out(
          JSON.stringify({
            type: "result",
            automationExecutionId: id,
            status,
            ...(execution.FailureMessage ? { failure: execution.FailureMessage } : {}),
            outputs: execution.Outputs ?? {},
          }),
        );
      } else {
        io.out(`drill ${status}${execution.FailureMessage ? `: ${execution.FailureMessage}` : ""}`);
        if (status !== "Success") {
          io.out(
            "a halted workflow pages on its own with how to resume; `payments-dr status` shows which region is active",
          );
        }
      }
      return execution;
    }
    await io.sleep(ctx.intervalMs);
  }
}
