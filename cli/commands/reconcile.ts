// `payments-dr reconcile`: after an unplanned failover, list every payment the old primary
// committed after the fork that the new primary lacks (runbooks/reconcile.md). Dry run by
// default: it reads both databases in read-only transactions and writes only the report.
// --notify publishes payments.lost; --replay restores the replayable payments through the
// payment write cores with their original keys (and publishes payments.lost/replayed).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GetFunctionConfigurationCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { DescribeDBClusterSnapshotsCommand, RDSClient } from "@aws-sdk/client-rds";
import type { DBClusterSnapshot } from "@aws-sdk/client-rds";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { Client } from "pg";
import { LIVE_ENDPOINT_PARAMETERS } from "../../infra/lib/reconcile-iam";
import { Naming } from "../../infra/naming";
import { LEDGER, REPORTS_ENV } from "../../functions/common/contract";
import { LambdaReports } from "../../functions/dr/shared/aws/reports";
import { Database } from "../../functions/payments/shared/database";
import { PostgresPaymentStore } from "../../functions/payments/shared/postgres-store";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { eventBridgePublisher } from "../../functions/payments/shared/aws/eventbridge";
import type { OutboxEvent } from "../../functions/payments/shared/ports";
import { ledgerId } from "../../functions/reports/shared/model";
import type { LedgerFork } from "../../functions/reports/shared/model";
import { findLostWrites, validateFork } from "../../functions/reconcile/diff";
import {
  publishReconciliationEvents,
  reconciliationEvents,
} from "../../functions/reconcile/events";
import type { ForkPoint, Reconciliation } from "../../functions/reconcile/model";
import { ReconcileInputError } from "../../functions/reconcile/model";
import { replayLostWrites } from "../../functions/reconcile/replay";
import {
  financeCsv,
  financeJson,
  reconcileRunReport,
  storeReconciliation,
  summarize,
  summaryLine,
} from "../../functions/reconcile/report";
import { CLI_CLIENT_SETTINGS } from "../aws";
import type { CommandContext } from "../context";
import { CliError, explainAwsError, isUnreachable } from "../errors";

export interface ReconcileFlags {
  readonly oldUrl?: string;
  readonly newUrl?: string;
  /** The failover run whose ledger row holds the fork. */
  readonly run?: string;
  /** A JSON file with the fork (ForkPoint), instead of --run. */
  readonly fork?: string;
  /** The new primary's region. @default the secondary */
  readonly region?: string;
  readonly replay: boolean;
  readonly notify: boolean;
  readonly scanMargin?: string;
  /** Local folder for the CSV and JSON. @default out/reconcile/<runId> */
  readonly out?: string;
  /** Do not hand the report to the region's report writer (no AWS at all with --fork). */
  readonly noStore: boolean;
}

function usage(problem: string, fix: string): never {
  throw new CliError(problem, fix, 2);
}

async function forkFromLedger(
  ctx: CommandContext,
  region: string,
  runId: string,
): Promise<ForkPoint> {
  const naming = new Naming(ctx.deployment.suffix);
  const table = naming.name("dynamodbTable", "dr-ledger");
  const id = ledgerId("failover", region, runId);
  let item: Record<string, unknown> | undefined;
  try {
    const out = await ctx.clients
      .dynamo(region)
      .send(new GetCommand({ TableName: table, Key: { [LEDGER.partitionKey]: id } }));
    item = out.Item;
  } catch (error) {
    throw explainAwsError(error, { doing: `read the ledger row ${id} of ${table}`, region });
  }
  const fork = item?.fork as LedgerFork | undefined;
  if (!fork) {
    throw new CliError(
      `the ledger has no fork for failover run ${runId} in ${region} (${item ? "the run recorded none: not an unplanned failover, or it halted before Promote" : "no such run"})`,
      "pass the fork yourself with --fork fork.json (oldRegion, oldCluster, lastReplicatedAt, failoverAt), from the run's report",
      2,
    );
  }
  return { ...fork, failoverRunId: runId };
}

function readFork(path: string): ForkPoint {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ForkPoint;
  } catch (error) {
    return usage(
      `--fork ${path} is not a readable JSON file: ${(error as Error).message}`,
      'write the fork as JSON: {"oldRegion":..., "oldCluster":..., "lastReplicatedAt":..., "failoverAt":...}',
    );
  }
}

async function connect(url: string, flag: string): Promise<Client> {
  const client = new Client({
    connectionString: url,
    application_name: "payments-dr-reconcile",
    statement_timeout: 300_000,
  });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new CliError(
      `cannot connect with ${flag}: ${(error as Error).message}`,
      `check ${flag} (postgres://user:password@host:5432/database) and that this machine reaches it`,
      1,
    );
  }
  return client;
}

/**
 * The deployment's live cluster endpoints (SSM, both regions): never accepted as the old copy.
 * A region that does not answer (the failed one) has none to give and is skipped with a
 * warning; any other error (no credentials, access denied) stops the command, because a check
 * that silently compared with nothing would let the live cluster pass as the copy.
 */
async function liveHosts(ctx: CommandContext): Promise<string[]> {
  const { GetParameterCommand } = await import("@aws-sdk/client-ssm");
  const hosts: string[] = [];
  for (const region of ctx.deployment.regions) {
    // The operator's policy allows these three only (infra/lib/reconcile-iam.ts).
    for (const key of LIVE_ENDPOINT_PARAMETERS) {
      const name = ctx.deployment.names.parameter(key);
      try {
        const out = await ctx.clients.ssm(region).send(new GetParameterCommand({ Name: name }));
        if (out.Parameter?.Value) hosts.push(out.Parameter.Value);
      } catch (error) {
        if (!isUnreachable(error)) {
          throw explainAwsError(error, {
            doing: `read the live endpoint ${name}`,
            region,
            profile: ctx.deployment.profile,
          });
        }
        ctx.io.err(
          `warning: ${region} did not answer for ${name}; the old copy is compared with the other region's endpoints only`,
        );
        break;
      }
    }
  }
  return hosts;
}

/** What the old region holds of the point-of-failure snapshot (runbooks/reconcile.md step 1). */
export type SnapshotCheck =
  /** The runbook's manual copy exists: no retention period deletes it. */
  | { readonly status: "preserved"; readonly snapshot: string }
  /** Only AWS's system snapshot: it expires with the old cluster's backup retention. */
  | { readonly status: "unpreserved"; readonly snapshot: string }
  /** Neither: AWS's attempt failed or the snapshot expired; the copy's origin is unproven. */
  | { readonly status: "missing" }
  /** The old region did not answer, or the run is offline (--fork with --no-store). */
  | { readonly status: "unchecked"; readonly reason: string };

/**
 * Looks for the point-of-failure snapshot of the old cluster: AWS's system snapshot
 * `rds:unplanned-global-failover-<old cluster>-<timestamp>`, "listed in the information
 * returned by the DescribeDBClusterSnapshots API operation" (aurora-global-database-disaster-
 * recovery), or the runbook's manual copy `payments-lost-<suffix>-<execution id>`. Without a
 * SnapshotType both automated and manual snapshots are returned (DescribeDBClusterSnapshots).
 */
async function checkSnapshot(
  ctx: CommandContext,
  fork: ForkPoint,
  scanFrom: Date,
): Promise<SnapshotCheck> {
  const region = fork.oldRegion;
  const rds = new RDSClient({ region, ...CLI_CLIENT_SETTINGS });
  const system = `rds:unplanned-global-failover-${fork.oldCluster}-`;
  const kept = `${new Naming(ctx.deployment.suffix).name("dbClusterIdentifier", "lost")}-`;
  const snapshots: DBClusterSnapshot[] = [];
  try {
    let marker: string | undefined;
    do {
      const out = await rds.send(
        new DescribeDBClusterSnapshotsCommand({
          DBClusterIdentifier: fork.oldCluster,
          ...(marker ? { Marker: marker } : {}),
        }),
      );
      snapshots.push(...(out.DBClusterSnapshots ?? []));
      marker = out.Marker;
    } while (marker);
  } catch (error) {
    if (isUnreachable(error))
      return { status: "unchecked", reason: `${region} did not answer (${(error as Error).name})` };
    const name = (error as { name?: string }).name ?? "";
    // A role without this one read (the on-call operator role has it) still gets its report:
    // the check is a warning it could not make, not a reason to stop a reconciliation.
    if (/AccessDenied|UnauthorizedOperation/.test(name))
      return {
        status: "unchecked",
        reason: `not allowed to call rds:DescribeDBClusterSnapshots (${name}): use the on-call operator role`,
      };
    throw explainAwsError(error, {
      doing: `look for the point-of-failure snapshot of ${fork.oldCluster}`,
      region,
      profile: ctx.deployment.profile,
    });
  } finally {
    rds.destroy();
  }
  // Only this incident's. AWS does not document which moment SnapshotCreateTime carries for the
  // point-of-failure snapshot (the failure, or the old primary's return), so it is not compared
  // with the failover's time: a snapshot dated before the window the diff scans (from
  // scanMarginSeconds before the fork) cannot hold a write the reconciliation looks for, and an
  // earlier incident's snapshot or copy of the same cluster is older than that. The newest of
  // each kind wins. (Re-protect, which copies the snapshot, uses no time window: it matches on
  // the name, the source cluster and SourceDBClusterSnapshotArn; functions/dr/rebuild/core.ts.)
  const since = scanFrom.getTime();
  const newest = (prefix: string) =>
    snapshots
      .filter((s) => s.DBClusterSnapshotIdentifier?.startsWith(prefix))
      .filter((s) => !s.SnapshotCreateTime || s.SnapshotCreateTime.getTime() >= since)
      .sort(
        (a, b) => (b.SnapshotCreateTime?.getTime() ?? 0) - (a.SnapshotCreateTime?.getTime() ?? 0),
      )[0]?.DBClusterSnapshotIdentifier;
  const copy = newest(kept);
  if (copy) return { status: "preserved", snapshot: copy };
  const original = newest(system);
  if (original) return { status: "unpreserved", snapshot: original };
  return { status: "missing" };
}

function reportSnapshot(ctx: CommandContext, fork: ForkPoint, check: SnapshotCheck): void {
  const where = `${fork.oldCluster} in ${fork.oldRegion}`;
  if (check.status === "unpreserved")
    ctx.io.err(
      `warning: the point-of-failure snapshot ${check.snapshot} is not preserved: it expires with ${fork.oldCluster}'s backup retention; run the reconcile runbook (it copies it to a manual snapshot first)`,
    );
  else if (check.status === "missing")
    ctx.io.err(
      `the point-of-failure snapshot of ${where} is missing (no rds:unplanned-global-failover-${fork.oldCluster}-* and no manual copy): the old copy's origin is unproven, so writes it lacks are unknown losses; report the fork window to finance (runbooks/reconcile.md step 1)`,
    );
  else if (check.status === "unchecked")
    ctx.io.err(
      `warning: the point-of-failure snapshot of ${where} was not checked: ${check.reason}`,
    );
}

export async function reconcileCommand(
  ctx: CommandContext,
  flags: ReconcileFlags,
): Promise<number> {
  const { io } = ctx;
  if (!flags.oldUrl)
    usage(
      "reconcile needs --old-url: the old primary's copy (a cluster restored from the point-of-failure snapshot)",
      "run the reconcile runbook (runbooks/reconcile.md) to restore it, then pass its endpoint",
    );
  if (!flags.newUrl)
    usage(
      "reconcile needs --new-url: the new primary",
      "pass the new primary's writer endpoint as a postgres:// URL",
    );
  if ((flags.run === undefined) === (flags.fork === undefined))
    usage(
      "reconcile needs exactly one of --run <failover run id> and --fork <file>",
      "pass the failover's run id (its report names it)",
    );
  const region = flags.region ?? ctx.deployment.secondary;
  if (!ctx.deployment.regions.includes(region))
    usage(
      `--region ${region} is not a region of this deployment`,
      `use ${ctx.deployment.regions.join(" or ")}`,
    );
  const margin = flags.scanMargin === undefined ? undefined : Number(flags.scanMargin);
  const recorded =
    flags.run !== undefined ? await forkFromLedger(ctx, region, flags.run) : readFork(flags.fork!);
  const startedAt = io.now();
  const runId = `reconcile-${startedAt.toISOString().replace(/[:.]/g, "-")}`;
  const offline = flags.noStore && flags.fork !== undefined;
  // Checked before anything is read or written: a bad fork or margin names its field here.
  const { scanFrom } = validateFork(
    recorded,
    margin !== undefined ? { scanMarginSeconds: margin } : {},
  );
  const snapshot: SnapshotCheck = offline
    ? { status: "unchecked", reason: "offline (--fork with --no-store)" }
    : await checkSnapshot(ctx, recorded, scanFrom);
  if (!offline) reportSnapshot(ctx, recorded, snapshot);
  // The report names the snapshot the copy can have come from (a --fork file may name it).
  const fork: ForkPoint =
    "snapshot" in snapshot && recorded.snapshot === undefined
      ? { ...recorded, snapshot: snapshot.snapshot }
      : recorded;
  const hosts = offline ? [] : await liveHosts(ctx);
  const options = {
    ...(margin !== undefined ? { scanMarginSeconds: margin } : {}),
    copyHost: new URL(flags.oldUrl).hostname,
    liveHosts: hosts,
  };
  const oldCopy = await connect(flags.oldUrl, "--old-url");
  const newPrimary = await connect(flags.newUrl, "--new-url");
  let result: Reconciliation;
  // A missing point-of-failure snapshot: the report is written (it is right about the copy it
  // read), but the command fails so no one files it as the complete list.
  let failures = snapshot.status === "missing" ? 1 : 0;
  let database: Database | undefined;
  try {
    try {
      if (flags.replay) {
        database = new Database({
          settings: async () => ({ kind: "url", connectionString: flags.newUrl! }),
          applicationName: "payments-dr-reconcile",
        });
        const run = await replayLostWrites(
          oldCopy,
          newPrimary,
          fork,
          { store: new PostgresPaymentStore(database), region },
          options,
        );
        result = run.after;
        failures = run.failures.length;
        for (const f of run.failures)
          io.err(`replay of payment ${f.paymentId} (event ${f.eventId}) failed: ${f.reason}`);
      } else {
        result = await findLostWrites(oldCopy, newPrimary, fork, options);
      }
    } catch (error) {
      if (error instanceof ReconcileInputError)
        throw new CliError(error.message, "fix the fork or --scan-margin", 2);
      if (
        error instanceof Error &&
        ["LiveClusterError", "CopyIncompleteError", "InvalidRowError"].includes(error.name)
      ) {
        throw new CliError(
          `${error.name}: ${error.message}`,
          "nothing was written; restore a complete copy of the point-of-failure snapshot (runbooks/reconcile.md) and run again",
          1,
        );
      }
      throw error;
    }
  } finally {
    await oldCopy.end().catch(() => undefined);
    await newPrimary.end().catch(() => undefined);
    await database?.end().catch(() => undefined);
  }

  let published = 0;
  if (flags.replay || flags.notify) {
    const events = reconciliationEvents(result, { region, at: io.now() });
    const naming = new Naming(ctx.deployment.suffix);
    const bus = naming.name("eventBus", "events");
    const publish = eventBridgePublisher(
      new EventBridgeClient({ region, ...CLI_CLIENT_SETTINGS }),
      bus,
    );
    const outcomes = await publishReconciliationEvents(events, (batch) =>
      publish(batch as unknown as OutboxEvent[]),
    );
    published = outcomes.filter((o) => o.ok).length;
    for (const o of outcomes.filter((x) => !x.ok))
      io.err(
        `event ${o.eventId} not published: ${o.error}${/AccessDenied|not authorized/i.test(String(o.error)) ? ` (run reconcile as the reconciler role ${ctx.deployment.names.reconcilerRole})` : ""}`,
      );
    failures += outcomes.length - published;
  }

  const summary = summarize(result);
  const out = flags.out ?? join("out", "reconcile", runId);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "lost.csv"), financeCsv(result));
  writeFileSync(join(out, "lost.json"), `${JSON.stringify(financeJson(result), null, 2)}\n`);
  const context = {
    runId,
    region,
    startedAt: startedAt.toISOString(),
    endedAt: io.now().toISOString(),
    mode: flags.replay ? ("replay" as const) : ("dry-run" as const),
    by: null,
    reason: `reconciliation after failover ${fork.failoverRunId ?? fork.failoverAt}`,
    failures,
  };
  let reportUri: string | null = null;
  if (!flags.noStore) {
    const naming = new Naming(ctx.deployment.suffix);
    const writer = naming.name("lambdaFunction", "report-writer");
    const lambda = new LambdaClient({ region, ...CLI_CLIENT_SETTINGS });
    try {
      const conf = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: writer }));
      const bucket = conf.Environment?.Variables?.[REPORTS_ENV.bucket];
      if (!bucket) throw new Error(`${writer} has no ${REPORTS_ENV.bucket}`);
      const s3 = new S3Client({ region, ...CLI_CLIENT_SETTINGS });
      const stored = await storeReconciliation(result, context, {
        bucket,
        store: {
          put: async (key, body, contentType) => {
            await s3.send(
              new PutObjectCommand({
                Bucket: bucket,
                Key: key,
                Body: body,
                ContentType: contentType,
              }),
            );
            return true;
          },
        },
        submit: (report) => new LambdaReports(lambda, writer, bucket, region).submit(report),
      });
      reportUri = stored.report.htmlUri;
    } catch (error) {
      const denied = /AccessDenied|not authorized/i.test(
        `${(error as Error).name} ${(error as Error).message}`,
      );
      io.err(
        `the report was not stored with the run reports (${(error as Error).message}); it is in ${out}${denied ? `; run reconcile as the reconciler role ${ctx.deployment.names.reconcilerRole}, which may store it` : ""}`,
      );
      failures += 1;
    }
  } else {
    writeFileSync(
      join(out, "report.json"),
      `${JSON.stringify(reconcileRunReport(result, context), null, 2)}\n`,
    );
  }

  if (ctx.json) {
    io.out(
      JSON.stringify({
        type: "reconcile",
        mode: context.mode,
        summary,
        published,
        failures,
        out,
        report: reportUri,
        snapshot,
        lost: result.lost,
        lostRecords: result.lostRecords,
      }),
    );
  } else {
    io.out(
      `${summaryLine(summary)}${summary.pending ? `, pending ${summary.pending}` : ""} (${context.mode})`,
    );
    for (const [currency, t] of Object.entries(summary.byCurrency)) {
      io.out(
        `  ${currency}: ${t.payments} payment(s), authorized ${t.authorized}, captured ${t.captured}, refunded ${t.refunded} (minor units)`,
      );
    }
    if (summary.window)
      io.out(`  lost writes committed ${summary.window.from} .. ${summary.window.to}`);
    for (const l of result.lost.filter((x) => x.outcome === "conflict"))
      io.out(`  conflict ${l.paymentId}: ${l.reason}`);
    io.out(`  finance: ${join(out, "lost.csv")}${reportUri ? `; report: ${reportUri}` : ""}`);
    if (!flags.replay && summary.pending > 0)
      io.out("  dry run: nothing was written. Replay with --replay (second runs change nothing).");
  }
  return failures > 0 ? 1 : 0;
}
