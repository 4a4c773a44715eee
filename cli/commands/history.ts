// `payments-dr history`: the last failovers, switchovers, failbacks and drills in both regions,
// with outcome, RTO and RPO estimate (from each run's RecordTimeline result).
import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import { DescribeAutomationExecutionsCommand } from "@aws-sdk/client-ssm";
import type { CommandContext } from "../context";
import { explainAwsError, RegionUnreachableError } from "../errors";
import { executionHistory, outcomeOf } from "../executions";
import { recentRuns } from "./watch";

export interface RunRow {
  readonly kind: "workflow";
  readonly workflow: string;
  readonly region: string;
  readonly name: string;
  readonly executionArn: string;
  readonly status: string;
  readonly outcome: string;
  readonly startDate: string;
  readonly stopDate?: string;
  readonly trigger?: string;
  readonly reason?: string;
  readonly rtoSeconds: number | null;
  readonly rpoEstimateMs: number | null;
}

export interface DrillRow {
  readonly kind: "drill";
  readonly document: string;
  readonly region: string;
  readonly automationExecutionId: string;
  readonly status: string;
  readonly startDate: string;
  readonly endDate?: string;
  /** The workflow executions the drill ran (drill-<id>-out / -back), with their RTO/RPO. */
  readonly runs: readonly {
    name: string;
    rtoSeconds: number | null;
    rpoEstimateMs: number | null;
  }[];
}

export async function runRows(
  ctx: CommandContext,
  limit: number,
): Promise<{ rows: RunRow[]; unreachable: string[] }> {
  const { runs, unreachable } = await recentRuns(ctx, { limit });
  const rows = await Promise.all(
    runs.slice(0, limit).map(async (run): Promise<RunRow> => {
      const sfn = ctx.clients.sfn(run.region);
      try {
        const described = await sfn.send(
          new DescribeExecutionCommand({ executionArn: run.executionArn }),
        );
        // The end state (Halted, Rejected, ...) is only in the history; running ones have none.
        const events =
          run.status === "RUNNING" || run.status === "SUCCEEDED"
            ? []
            : await executionHistory(sfn, run.executionArn);
        const outcome = outcomeOf(described, events, ctx.deployment);
        const input = JSON.parse(described.input ?? "{}") as Record<string, unknown>;
        return {
          kind: "workflow",
          workflow: run.workflow,
          region: run.region,
          name: run.name,
          executionArn: run.executionArn,
          status: run.status,
          outcome: run.status === "SUCCEEDED" ? "Completed" : (outcome.endState ?? run.status),
          startDate: run.startDate,
          ...(run.stopDate ? { stopDate: run.stopDate } : {}),
          ...(typeof input.trigger === "string" ? { trigger: input.trigger } : {}),
          ...(typeof input.reason === "string" ? { reason: input.reason } : {}),
          rtoSeconds: outcome.rtoSeconds,
          rpoEstimateMs: outcome.rpoEstimateMs,
        };
      } catch (error) {
        throw explainAwsError(error, {
          region: run.region,
          doing: `describe ${run.name}`,
          profile: ctx.deployment.profile,
        });
      }
    }),
  );
  return { rows, unreachable };
}

async function drillRows(
  ctx: CommandContext,
  limit: number,
  runs: readonly RunRow[],
): Promise<{ rows: DrillRow[]; unreachable: string[] }> {
  const { deployment, clients } = ctx;
  const unreachable: string[] = [];
  const perRegion = await Promise.all(
    deployment.regions.map(async (region) => {
      try {
        const out = await clients.ssm(region).send(
          new DescribeAutomationExecutionsCommand({
            Filters: [{ Key: "DocumentNamePrefix", Values: [deployment.names.drillDocument] }],
            MaxResults: limit,
          }),
        );
        return (out.AutomationExecutionMetadataList ?? []).map((m): DrillRow => {
          const id = m.AutomationExecutionId ?? "";
          return {
            kind: "drill",
            document: m.DocumentName ?? deployment.names.drillDocument,
            region,
            automationExecutionId: id,
            status: m.AutomationExecutionStatus ?? "Unknown",
            startDate: m.ExecutionStartTime ? new Date(m.ExecutionStartTime).toISOString() : "",
            ...(m.ExecutionEndTime ? { endDate: new Date(m.ExecutionEndTime).toISOString() } : {}),
            // runbooks/dr-drill.yaml names its executions drill-<automation id>-out and -back.
            runs: runs
              .filter((r) => r.name.startsWith(`drill-${id}-`))
              .map((r) => ({
                name: r.name,
                rtoSeconds: r.rtoSeconds,
                rpoEstimateMs: r.rpoEstimateMs,
              })),
          };
        });
      } catch (error) {
        const explained = explainAwsError(error, {
          region,
          doing: "list the drill executions",
          profile: deployment.profile,
        });
        if (explained instanceof RegionUnreachableError) {
          unreachable.push(region);
          return [];
        }
        throw explained;
      }
    }),
  );
  return {
    rows: perRegion
      .flat()
      .sort((a, b) => b.startDate.localeCompare(a.startDate))
      .slice(0, limit),
    unreachable,
  };
}

const secs = (v: number | null) => (v === null ? "-" : `${v} s`);
const ms = (v: number | null) => (v === null ? "-" : `${v} ms`);

export async function historyCommand(ctx: CommandContext, limit: number): Promise<number> {
  const { io } = ctx;
  const { rows, unreachable } = await runRows(ctx, limit);
  const drills = await drillRows(ctx, limit, rows);
  const silent = [...new Set([...unreachable, ...drills.unreachable])];
  if (ctx.json) {
    io.out(
      JSON.stringify({ runs: rows, drills: drills.rows, unreachableRegions: silent }, null, 2),
    );
    return 0;
  }
  for (const region of silent) io.out(`${region} did not answer: its runs are missing below`);
  io.out("runs (newest first):");
  if (rows.length === 0) io.out("  none");
  for (const r of rows) {
    io.out(
      `  ${r.startDate.slice(0, 19).replace("T", " ")}  ${r.workflow.padEnd(10)} -> ${r.region.padEnd(10)} ${r.outcome.padEnd(17)} RTO ${secs(r.rtoSeconds).padEnd(8)} RPO ${ms(r.rpoEstimateMs).padEnd(9)} ${r.trigger ?? ""}  ${r.name}`,
    );
  }
  io.out("drills (newest first):");
  if (drills.rows.length === 0) io.out("  none");
  for (const d of drills.rows) {
    const runs = d.runs
      .map((r) => `${r.name} RTO ${secs(r.rtoSeconds)} RPO ${ms(r.rpoEstimateMs)}`)
      .join("; ");
    io.out(
      `  ${d.startDate.slice(0, 19).replace("T", " ")}  ${d.region.padEnd(10)} ${d.status.padEnd(10)} ${d.automationExecutionId}${runs ? `  ${runs}` : ""}`,
    );
  }
  return 0;
}
