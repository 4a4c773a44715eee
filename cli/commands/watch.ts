// `payments-dr watch [execution]`: follows a run (by ARN, by name, or the one running now, in
// either region) step by step; exits 0 when it completed, 1 when it stopped, with the resume
// command for a halted run.
import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import type { CommandContext } from "../context";
import { CliError, explainAwsError, RegionUnreachableError } from "../errors";
import { follow, listExecutions } from "../executions";
import type { ExecutionSummary } from "../executions";
import { parseExecutionArn, WORKFLOWS } from "../target";

/** Runs of every workflow in both regions, newest first; a region that does not answer is skipped. */
export async function recentRuns(
  ctx: CommandContext,
  options: { running?: boolean; limit: number },
): Promise<{ runs: ExecutionSummary[]; unreachable: string[] }> {
  const { account } = await ctx.identity();
  const unreachable: string[] = [];
  const perRegion = await Promise.all(
    ctx.deployment.regions.map(async (region) => {
      try {
        const lists = await Promise.all(
          WORKFLOWS.map((w) =>
            listExecutions(ctx.clients, ctx.deployment, region, account, w, options),
          ),
        );
        return lists.flat();
      } catch (error) {
        if (error instanceof RegionUnreachableError) {
          unreachable.push(region);
          return [];
        }
        throw error;
      }
    }),
  );
  const runs = perRegion.flat().sort((a, b) => b.startDate.localeCompare(a.startDate));
  return { runs, unreachable };
}

async function resolveExecution(ctx: CommandContext, given?: string): Promise<string> {
  const { deployment, clients, io } = ctx;
  if (given && parseExecutionArn(given)) return given;
  if (given) {
    if (!/^[\w-]{1,80}$/.test(given)) {
      throw new CliError(
        `${JSON.stringify(given)} is neither an execution ARN nor an execution name`,
        "pass the ARN printed when the run started, or its name (the run id); `payments-dr history` lists them",
        2,
      );
    }
    const { account } = await ctx.identity();
    for (const region of deployment.regions) {
      for (const workflow of WORKFLOWS) {
        const arn = `arn:aws:states:${region}:${account}:execution:${deployment.names.stateMachine(workflow)}:${given}`;
        try {
          await clients.sfn(region).send(new DescribeExecutionCommand({ executionArn: arn }));
          return arn;
        } catch (error) {
          const explained = explainAwsError(error, {
            region,
            doing: `look for execution ${given}`,
            profile: deployment.profile,
          });
          // Not this one, or the region is down: try the next. Anything else (credentials,
          // permissions) would make every lookup fail the same way: say so.
          const missing = ["ExecutionDoesNotExist", "StateMachineDoesNotExist"].includes(
            (error as Error).name,
          );
          if (!missing && !(explained instanceof RegionUnreachableError)) throw explained;
        }
      }
    }
    throw new CliError(
      `no execution named ${given} in ${deployment.regions.join(" or ")}`,
      "`payments-dr history` lists recent runs with their names",
      2,
    );
  }
  const { runs, unreachable } = await recentRuns(ctx, { running: true, limit: 10 });
  for (const region of unreachable) io.err(`${region} did not answer; showing the other region`);
  if (runs.length > 1) {
    io.err(
      `${runs.length} runs are in progress; following the newest (pass an execution to choose)`,
    );
  }
  if (runs[0]) return runs[0].executionArn;
  const { runs: recent } = await recentRuns(ctx, { limit: 1 });
  if (!recent[0]) {
    throw new CliError(
      `no failover, switchover or failback has run in ${deployment.regions.join(" or ")}`,
      "start one with `payments-dr failover --to <region> --reason ...`",
    );
  }
  io.err(`nothing is running; showing the last run, ${recent[0].name}`);
  return recent[0].executionArn;
}

export async function watchCommand(ctx: CommandContext, execution?: string): Promise<number> {
  const arn = await resolveExecution(ctx, execution);
  if (!ctx.json) ctx.io.out(`watching ${arn}`);
  const outcome = await follow(ctx.clients, ctx.deployment, arn, ctx.io, {
    intervalMs: ctx.intervalMs,
    json: ctx.json,
  });
  return outcome.status === "SUCCEEDED" ? 0 : 1;
}
