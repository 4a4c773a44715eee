// `payments-dr history`: the last runs and drills as the DR ledger has them (every workflow run
// and drill writes its report there: failovers, switchovers, failbacks, re-protects, failover and
// restore drills), with outcome, RTO, RPO and the report's link. `runRows` (the Step Functions
// executions themselves) is what `status` shows of runs still under way.
import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import type { CommandContext } from "../context";
import { explainAwsError, RegionUnreachableError } from "../errors";
import { executionHistory, outcomeOf } from "../executions";
import { recentRuns } from "./watch";
import { readRecent } from "../../functions/reports/shared/aws/ledger";
import { ledgerTableName } from "../../functions/reports/ledger-reader";
import type { LedgerEntry } from "../../functions/reports/ledger-reader";

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

const secs = (v: number | null) => (v === null ? "-" : `${v} s`);

/**
 * The ledger's newest runs and drills, from the first region whose replica answers (the ledger is
 * a global table: either holds all of them). The standby region first: it is the one that is up
 * when the writer's region is not.
 */
export async function historyCommand(ctx: CommandContext, limit: number): Promise<number> {
  const { io, deployment } = ctx;
  const table = ledgerTableName(deployment.suffix);
  const unreachable: string[] = [];
  let entries: LedgerEntry[] | null = null;
  let from: string | null = null;
  for (const region of [deployment.secondary, deployment.primary]) {
    try {
      entries = await readRecent(ctx.clients.dynamo(region), table, limit);
      from = region;
      break;
    } catch (error) {
      const explained = explainAwsError(error, { region, doing: `read the ledger ${table}` });
      // readRecent names a timeout or a 5xx TransientError (functions/dr/shared/aws/errors.ts).
      const down =
        explained instanceof RegionUnreachableError || (error as Error).name === "TransientError";
      if (!down) throw explained;
      unreachable.push(region);
    }
  }
  if (entries === null) {
    throw new RegionUnreachableError(
      `neither region answered for the ledger ${table} (${unreachable.join(", ")})`,
      "check the network and the credentials; the run reports are also in each region's report bucket",
    );
  }
  if (ctx.json) {
    io.out(
      JSON.stringify(
        { ledgerRegion: from, runs: entries, unreachableRegions: unreachable },
        null,
        2,
      ),
    );
    return 0;
  }
  for (const region of unreachable) io.out(`${region} did not answer: read the ledger in ${from}`);
  io.out(`runs and drills from the ledger ${table} in ${from} (newest first):`);
  if (entries.length === 0) io.out("  none");
  for (const e of entries) {
    const rpo = e.rpoSeconds === null ? "-" : `${e.rpoSeconds} s`;
    io.out(
      `  ${e.startedAt.slice(0, 19).replace("T", " ")}  ${e.kind.padEnd(14)} ${e.region.padEnd(10)} ${e.outcome.padEnd(9)} RTO ${secs(e.rtoSeconds).padEnd(8)} RPO ${rpo.padEnd(8)} ${e.trigger.padEnd(7)} ${e.runId}  ${e.consoleUrl}`,
    );
  }
  return 0;
}
