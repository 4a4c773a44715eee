// `payments-dr readiness`: the readiness evaluation of both regions, each check with its fix.
// By default the last evaluation each region's evaluator stored (`readiness#<region>` in the
// control table); `--now` asks both evaluators to evaluate now (lambda:Invoke, synchronous) and
// shows what they return. A region that does not answer is said so, and its last evaluation is
// read from the other region's replica of the control table (a DynamoDB global table), so during
// an outage on-call still sees what the lost region last knew. Exit 1 when a shown evaluation
// fails or a region has none at all.
import { InvokeCommand } from "@aws-sdk/client-lambda";
import type { ReadinessRecord } from "../../functions/common/contract";
import { DynamoControlTable } from "../../functions/dr/shared/aws/control-table";
import type { CommandContext } from "../context";
import { explainAwsError, RegionUnreachableError } from "../errors";

/** READINESS_SCHEDULE_MINUTES's default, for records written before they carried theirs. */
export const DEFAULT_SCHEDULE_MINUTES = 30;
/** Slack past two periods: the schedule's start, the evaluation's own duration (< 90 s). */
export const STALE_MARGIN_MINUTES = 5;

/**
 * An evaluation is stale once two scheduled runs should have replaced it, plus a margin: one
 * missed run is a blip (the paging alarm also waits two periods), two are a stopped evaluator.
 * Derived from the schedule the evaluator records in each evaluation (READINESS_SCHEDULE_MINUTES).
 */
export function staleAfterMinutes(evaluation: Pick<ReadinessRecord, "scheduleMinutes">): number {
  return 2 * (evaluation.scheduleMinutes ?? DEFAULT_SCHEDULE_MINUTES) + STALE_MARGIN_MINUTES;
}

export interface RegionReadiness {
  readonly region: string;
  /** False when this region did not answer (then `evaluation` may come from the other's replica). */
  readonly answered: boolean;
  /** Where the evaluation shown comes from. */
  readonly source: "run" | "stored" | "replica" | null;
  readonly evaluation: ReadinessRecord | null;
  /** What went wrong reading or running it, with the region named. */
  readonly problems: readonly string[];
  readonly stale: boolean;
}

interface Attempt<T> {
  readonly value?: T;
  readonly problem?: string;
  readonly unreachable?: boolean;
}

async function attempt<T>(
  ctx: CommandContext,
  region: string,
  doing: string,
  fn: () => Promise<T>,
): Promise<Attempt<T>> {
  try {
    return { value: await fn() };
  } catch (error) {
    const explained = explainAwsError(error, { region, doing, profile: ctx.deployment.profile });
    return {
      problem: explained.problem,
      unreachable: explained instanceof RegionUnreachableError,
    };
  }
}

/** The evaluator's answer (functions/monitoring/readiness/handler.ts returns the Evaluation). */
function parseInvoke(region: string, out: { FunctionError?: string; Payload?: Uint8Array }) {
  const text = out.Payload ? Buffer.from(out.Payload).toString("utf8") : "";
  if (out.FunctionError) {
    let message = text;
    try {
      message = (JSON.parse(text) as { errorMessage?: string }).errorMessage ?? text;
    } catch {
      // not JSON: show it as it came
    }
    throw new Error(`the evaluator in ${region} failed: ${message}`);
  }
  const evaluation = JSON.parse(text) as ReadinessRecord;
  if (typeof evaluation?.overall !== "string" || !Array.isArray(evaluation.checks)) {
    throw new Error(`the evaluator in ${region} returned no evaluation: ${text.slice(0, 200)}`);
  }
  return evaluation;
}

export async function readinessReport(
  ctx: CommandContext,
  options: { run: boolean },
): Promise<RegionReadiness[]> {
  const { deployment, clients, io } = ctx;
  const stored = (from: string, of: string) =>
    attempt(ctx, from, `read readiness#${of} (dynamodb:GetItem)`, () =>
      new DynamoControlTable(clients.dynamo(from), deployment.names.controlTable).getReadiness(of),
    );
  return Promise.all(
    deployment.regions.map(async (region): Promise<RegionReadiness> => {
      const other = deployment.regions.find((r) => r !== region)!;
      const problems: string[] = [];
      let answered = true;
      let evaluation: ReadinessRecord | null = null;
      let source: RegionReadiness["source"] = null;
      if (options.run) {
        const ran = await attempt(ctx, region, "run the readiness evaluator (lambda:Invoke)", () =>
          clients
            .lambda(region)
            .send(
              new InvokeCommand({
                FunctionName: deployment.names.readinessFunction,
                InvocationType: "RequestResponse",
                Payload: Buffer.from("{}"),
              }),
            )
            .then((out) => parseInvoke(region, out)),
        );
        if (ran.value) {
          evaluation = ran.value;
          source = "run";
        } else {
          problems.push(ran.problem!);
          answered = !ran.unreachable;
        }
      }
      if (!evaluation && answered) {
        const own = await stored(region, region);
        if (own.value !== undefined) {
          evaluation = own.value;
          source = own.value ? "stored" : null;
          if (!own.value) problems.push(`${region} has no stored evaluation yet`);
        } else {
          problems.push(own.problem!);
          answered = !own.unreachable;
        }
      }
      if (!evaluation && !answered) {
        // The control table is global: the other region holds a copy of this region's last result.
        const replica = await stored(other, region);
        if (replica.value) {
          evaluation = replica.value;
          source = "replica";
        } else if (replica.problem) {
          problems.push(replica.problem);
        }
      }
      const stale =
        evaluation !== null &&
        io.now().getTime() - new Date(evaluation.at).getTime() >
          staleAfterMinutes(evaluation) * 60_000;
      return { region, answered, source, evaluation, problems, stale };
    }),
  );
}

function ago(ctx: CommandContext, at: string): string {
  const minutes = Math.round((ctx.io.now().getTime() - new Date(at).getTime()) / 60_000);
  return minutes < 120 ? `${minutes} min ago` : `${Math.round(minutes / 60)} h ago`;
}

export async function readinessCommand(
  ctx: CommandContext,
  options: { run: boolean },
): Promise<number> {
  const regions = await readinessReport(ctx, options);
  const failing = regions.filter((r) => r.evaluation?.overall === "fail");
  const missing = regions.filter((r) => r.evaluation === null);
  const code = failing.length > 0 || missing.length > 0 ? 1 : 0;
  if (ctx.json) {
    ctx.io.out(
      JSON.stringify({
        type: "readiness",
        environment: ctx.deployment.suffix,
        ok: code === 0,
        regions,
      }),
    );
    return code;
  }
  for (const r of regions) {
    if (!r.answered) ctx.io.out(`${r.region}: did not answer`);
    for (const p of r.problems) ctx.io.out(`  ${p}`);
    if (!r.evaluation) {
      ctx.io.out(`${r.region}: no readiness evaluation to show`);
      continue;
    }
    const e = r.evaluation;
    const from = {
      run: "evaluated now",
      stored: "last scheduled evaluation",
      replica: `last evaluation, read from ${ctx.deployment.regions.find((x) => x !== r.region)}'s replica`,
    }[r.source!];
    ctx.io.out(
      `${r.region}: ${e.overall.toUpperCase()} (${from}, ${e.at}, ${ago(ctx, e.at)}; writer in ${e.activeRegion ?? "unknown"})${r.stale ? `, STALE: over ${staleAfterMinutes(e)} min old, check the evaluator's schedule and errors` : ""}`,
    );
    for (const c of e.checks) {
      ctx.io.out(`  ${c.status.padEnd(7)} ${c.id}: ${c.reason}`);
      if (c.status !== "ok" && c.fix) ctx.io.out(`          fix: ${c.fix}`);
    }
  }
  if (code !== 0) {
    ctx.io.err(
      `payments-dr: not ready: ${[
        ...failing.map((r) => `${r.region} fails`),
        ...missing.map((r) => `${r.region} has no evaluation`),
      ].join("; ")}`,
    );
  }
  return code;
}
