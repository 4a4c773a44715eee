// `payments-dr approve | reject [--execution <arn|name>]`: finds the failover waiting in
// RequestApproval (in either region), shows what approving does, and answers its task token:
// SendTaskSuccess {"approved": true} or SendTaskFailure ApprovalRejected, in the execution's region.
import { SendTaskFailureCommand, SendTaskSuccessCommand } from "@aws-sdk/client-sfn";
import type { CommandContext } from "../context";
import { CliError, explainAwsError, RegionUnreachableError } from "../errors";
import { executionHistory, follow, listExecutions, pendingApproval } from "../executions";
import type { PendingApproval } from "../executions";
import { parseExecutionArn } from "../target";

export interface ApproveFlags {
  readonly execution?: string;
  readonly reason?: string;
  readonly watch: boolean;
}

async function findPending(ctx: CommandContext, wanted?: string): Promise<PendingApproval[]> {
  const { deployment, clients, io } = ctx;
  const { account } = await ctx.identity();
  const found: PendingApproval[] = [];
  const arnOf = parseExecutionArn(wanted ?? "");
  const regions = arnOf ? [arnOf.region] : deployment.regions;
  for (const region of regions) {
    let running;
    try {
      running = await listExecutions(clients, deployment, region, account, "failover", {
        running: true,
        limit: 20,
      });
    } catch (error) {
      if (error instanceof RegionUnreachableError) {
        io.err(`${region} did not answer; looking in the other region`);
        continue;
      }
      throw error;
    }
    for (const execution of running) {
      if (wanted && execution.executionArn !== wanted && execution.name !== wanted) continue;
      try {
        const events = await executionHistory(clients.sfn(region), execution.executionArn);
        const pending = pendingApproval(events, execution.executionArn);
        if (pending) found.push(pending);
      } catch (error) {
        throw explainAwsError(error, {
          region,
          doing: `read the history of ${execution.name}`,
          profile: deployment.profile,
        });
      }
    }
  }
  return found;
}

function summary(pending: PendingApproval): string[] {
  const request = (pending.state.request ?? {}) as Record<string, unknown>;
  const steps = (pending.state.steps ?? {}) as Record<string, Record<string, unknown>>;
  const lag = steps.Preflight?.replicationLagMs;
  return [
    `failover ${String(request.sourceRegion ?? "?")} -> ${String(request.targetRegion ?? pending.region)}, run ${String(request.failoverId ?? "?")}, waiting since ${pending.since}`,
    `reason: ${String(request.reason ?? "?")}   trigger: ${String(request.trigger ?? "?")}`,
    `replication lag of the target: ${typeof lag === "number" ? `${lag} ms (writes from the last ~${lag} ms may be lost)` : "unknown"}`,
  ];
}

export async function approveCommand(
  ctx: CommandContext,
  decision: "approve" | "reject",
  flags: ApproveFlags,
): Promise<number> {
  const { deployment, clients, io } = ctx;
  const pending = await findPending(ctx, flags.execution);
  if (pending.length === 0) {
    throw new CliError(
      flags.execution
        ? `nothing to ${decision}: execution ${flags.execution} is not waiting for approval in ${deployment.regions.join(" or ")}`
        : `nothing to ${decision}: no failover is waiting for approval in ${deployment.regions.join(" or ")}`,
      "`payments-dr status` lists running executions; only a failover started in approval mode (FAILOVER_MODE=approval or --approval) waits for one",
    );
  }
  if (pending.length > 1) {
    throw new CliError(
      `${pending.length} failovers are waiting for approval: ${pending.map((p) => p.executionArn).join(", ")}`,
      `pass --execution <arn> to say which one to ${decision}`,
      2,
    );
  }
  const target = pending[0]!;
  const { arn: caller } = await ctx.identity(target.region);
  if (!ctx.yes) {
    if (!io.interactive) {
      throw new CliError(
        `refusing to ${decision} without confirmation: stdin is not a terminal`,
        "run it in a terminal, or pass --yes",
        2,
      );
    }
    for (const line of summary(target)) io.err(line);
    if (decision === "approve") {
      io.err("Approving fences the old region and promotes the target with AllowDataLoss.");
    }
    if (!(await io.confirm(`${decision === "approve" ? "Approve" : "Reject"} this failover?`))) {
      io.err("no answer sent");
      return 1;
    }
  }
  const sfn = clients.sfn(target.region);
  try {
    if (decision === "approve") {
      await sfn.send(
        new SendTaskSuccessCommand({
          taskToken: target.taskToken,
          output: JSON.stringify({ approved: true, approvedBy: caller }),
        }),
      );
    } else {
      await sfn.send(
        new SendTaskFailureCommand({
          taskToken: target.taskToken,
          error: "ApprovalRejected",
          cause:
            `${flags.reason?.trim() || "rejected with payments-dr reject"} (by ${caller})`.slice(
              0,
              32_000,
            ),
        }),
      );
    }
  } catch (error) {
    const name = (error as Error).name;
    if (name === "TaskTimedOut" || name === "TaskDoesNotExist" || name === "InvalidToken") {
      throw new CliError(
        `the approval of ${target.executionArn} is no longer pending (${name}): it timed out, or someone answered first`,
        `see what happened with \`payments-dr watch ${target.executionArn}\``,
      );
    }
    throw explainAwsError(error, {
      region: target.region,
      doing: `${decision} the failover (states:SendTask${decision === "approve" ? "Success" : "Failure"})`,
      profile: deployment.profile,
    });
  }
  if (ctx.json) {
    io.out(
      JSON.stringify({
        type: decision === "approve" ? "approved" : "rejected",
        executionArn: target.executionArn,
        by: caller,
      }),
    );
  } else {
    io.out(`${decision === "approve" ? "approved" : "rejected"}: ${target.executionArn}`);
  }
  if (decision === "reject" || !flags.watch) return 0;
  const outcome = await follow(clients, deployment, target.executionArn, io, {
    intervalMs: ctx.intervalMs,
    json: ctx.json,
  });
  return outcome.status === "SUCCEEDED" ? 0 : 1;
}
