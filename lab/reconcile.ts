// Issue 16 in the lab: after an unplanned failover and the old region's return, the lost-write
// reconciliation runs (the real cores `payments-dr reconcile` runs: functions/reconcile) against a
// copy of the old primary's data, never the live new primary, and is held to the lab's own
// measurement of what was lost:
// - it must list exactly the payments the lab measured as lost, no more and no fewer;
// - its replay must restore them through the payment write cores with their original keys, and
//   a second replay must change nothing;
// - a key the lab reuses in the new region with another body (a planted conflict) is reported,
//   never replayed.
// The lab's measurement never calls the reconciliation's code: it is what the lab itself read of
// both databases (checks.ts) and what the clients were told (load.ts).
//
// Where the copy comes from, as on AWS: Aurora keeps the old primary's volume as the point-of-
// failure snapshot when it rejoins (lab/world/aurora.ts keeps its folder); a region that never
// came back left its folder. Either is copied into a scratch folder and started aside, the way
// runbooks/reconcile.yaml restores the snapshot into a scratch cluster: the snapshot itself stays
// as it was (finance's evidence).
import { cpSync } from "node:fs";
import { basename, join } from "node:path";
import { Client } from "pg";
import { WRITER_HEARTBEAT } from "../functions/common/contract";
import { Database } from "../functions/payments/shared/database";
import { PostgresPaymentStore } from "../functions/payments/shared/postgres-store";
import { findLostWrites } from "../functions/reconcile/diff";
import type { ForkPoint, Reconciliation } from "../functions/reconcile/model";
import { replayLostWrites } from "../functions/reconcile/replay";
import type { ReplayRun } from "../functions/reconcile/replay";
import { financeCsv, financeJson, summarize, summaryLine } from "../functions/reconcile/report";
import type { ReconciliationSummary } from "../functions/reconcile/report";
import { forkOf } from "../functions/reports/shared/model";
import type { Check, DatabaseContents, Findings } from "./checks";
import type { Lab } from "./lab";
import { freePort, LAB } from "./lab";
import { giveToServer, PgNode } from "./world/postgres";

/** What the lab itself measured as lost, from its own reads of both databases and its clients. */
export interface LabLoss {
  /** Payments with a write the old primary committed and the new one lacks (by event id). */
  readonly lost: ReadonlySet<string>;
  /** Of the lost, those a client was told succeeded (checks.ts: lostPayments, lostCaptures). */
  readonly acknowledged: ReadonlySet<string>;
  /** Of the lost, those whose client retried the same key in the new region and got another id. */
  readonly retried: ReadonlySet<string>;
  /** Of the lost, those whose key the lab reused in the new region with another body. */
  readonly plantedConflicts: ReadonlySet<string>;
}

export interface LabReconciliation {
  /** "lost N, reconciled N, replayed M, conflicts K": N lost as the lab measured it. */
  readonly line: string;
  readonly measured: {
    readonly lost: number;
    readonly acknowledged: number;
    readonly unacknowledged: number;
    readonly retried: number;
    readonly plantedConflicts: number;
  };
  /** Where the copy came from. */
  readonly copy: string;
  readonly fork: ForkPoint | null;
  /** The dry run (before any replay) and the state after the replay. */
  readonly dryRun: ReconciliationSummary | null;
  readonly after: ReconciliationSummary | null;
  readonly listed: readonly string[];
  readonly conflicts: readonly { readonly paymentId: string; readonly reason: string }[];
  /** Changes the first replay wrote, and the second (must be 0). */
  readonly replayedSteps: number;
  readonly secondReplaySteps: number;
  readonly failures: readonly string[];
  readonly checks: readonly Check[];
  /** Finance's files (functions/reconcile/report.ts), written beside the lab's report. */
  readonly finance: { readonly csv: string; readonly json: unknown } | null;
}

/** The lab's measurement: pure, from what checks.ts read and found. */
export function measureLoss(
  oldPrimary: DatabaseContents,
  newPrimary: DatabaseContents,
  findings: Pick<Findings, "rpo" | "forkDuplicates">,
): Omit<LabLoss, "plantedConflicts"> {
  const lost = new Set<string>();
  for (const e of oldPrimary.events.values())
    if (!newPrimary.events.has(e.eventId)) lost.add(e.paymentId);
  const acknowledged = new Set(
    [...findings.rpo.lostPayments, ...findings.rpo.lostCaptures].map((a) => a.paymentId),
  );
  const retried = new Set(findings.forkDuplicates.filter((id) => lost.has(id)));
  return { lost, acknowledged, retried };
}

const sorted = (ids: Iterable<string>) => [...ids].sort();
const sample = (ids: readonly string[]) =>
  ids.length === 0 ? "none" : `${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", ..." : ""}`;

/** The new primary's payment tables, summed up: a replay that writes anything changes it. */
async function fingerprint(url: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ f: string }>(
      `SELECT concat_ws(' ',
         (SELECT count(*) FROM payments), (SELECT count(*) FROM payment_events),
         (SELECT count(*) FROM idempotency_keys),
         (SELECT md5(string_agg(id::text || status || version || captured_minor, ',' ORDER BY id)) FROM payments),
         (SELECT md5(string_agg(event_id::text, ',' ORDER BY event_id)) FROM payment_events)) AS f`,
    );
    return rows[0]!.f;
  } finally {
    await client.end();
  }
}

interface PaymentState {
  readonly status: string;
  readonly version: number;
  readonly amount: string;
  readonly captured: string;
  readonly merchant: string;
}

async function paymentStates(
  url: string,
  ids: readonly string[],
): Promise<Map<string, PaymentState>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{
      id: string;
      status: string;
      version: number;
      amount: string;
      captured: string;
      merchant: string;
    }>(
      `SELECT id::text, status, version, amount_minor::text AS amount, captured_minor::text AS captured,
              merchant_id AS merchant FROM payments WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map(({ id, ...r }) => [id, r]));
  } finally {
    await client.end();
  }
}

/**
 * Runs the reconciliation (dry run, replay, second replay) between `oldCopyUrl` and
 * `newPrimaryUrl` and holds it to `loss`. Never throws for a reconciliation that fails: every
 * failure is a failed check that says what differed.
 */
export async function reconcileAgainstCopy(input: {
  readonly oldCopyUrl: string;
  readonly newPrimaryUrl: string;
  readonly fork: ForkPoint;
  /** The new primary's region: what the replay writes as its origin. */
  readonly region: string;
  readonly loss: LabLoss;
  readonly copy?: string;
}): Promise<LabReconciliation> {
  const { loss } = input;
  const measured = {
    lost: loss.lost.size,
    acknowledged: [...loss.acknowledged].filter((id) => loss.lost.has(id)).length,
    unacknowledged: [...loss.lost].filter((id) => !loss.acknowledged.has(id)).length,
    retried: loss.retried.size,
    plantedConflicts: loss.plantedConflicts.size,
  };
  const checks: Check[] = [];
  const failures: string[] = [];
  const oldCopy = new Client({
    connectionString: input.oldCopyUrl,
    application_name: "payments-dr-reconcile",
  });
  const newPrimary = new Client({
    connectionString: input.newPrimaryUrl,
    application_name: "payments-dr-reconcile",
  });
  const database = new Database({
    settings: async () => ({ kind: "url", connectionString: input.newPrimaryUrl }),
    applicationName: "payments-dr-reconcile",
  });
  let dryRun: Reconciliation | null = null;
  let first: ReplayRun | null = null;
  let second: ReplayRun | null = null;
  let before = "";
  let afterSecond = "";
  let restored = new Map<string, PaymentState>();
  let originals = new Map<string, PaymentState>();
  try {
    await oldCopy.connect();
    await newPrimary.connect();
    const deps = { store: new PostgresPaymentStore(database), region: input.region };
    dryRun = await findLostWrites(oldCopy, newPrimary, input.fork);
    first = await replayLostWrites(oldCopy, newPrimary, input.fork, deps);
    failures.push(
      ...first.failures.map((f) => `payment ${f.paymentId} (event ${f.eventId}): ${f.reason}`),
    );
    const ids = first.after.lost.map((l) => l.paymentId);
    originals = await paymentStates(input.oldCopyUrl, ids);
    restored = await paymentStates(input.newPrimaryUrl, ids);
    before = await fingerprint(input.newPrimaryUrl);
    second = await replayLostWrites(oldCopy, newPrimary, input.fork, deps);
    afterSecond = await fingerprint(input.newPrimaryUrl);
  } catch (error) {
    const e = error as Error;
    failures.push(`${e.name}: ${e.message}`);
  } finally {
    await oldCopy.end().catch(() => undefined);
    await newPrimary.end().catch(() => undefined);
    await database.end().catch(() => undefined);
  }

  // 1. Exactly the lost payments, no more and no fewer.
  const listed = sorted(dryRun?.lost.map((l) => l.paymentId) ?? []);
  const missing = sorted([...loss.lost].filter((id) => !listed.includes(id)));
  const extra = listed.filter((id) => !loss.lost.has(id));
  checks.push({
    name: "reconcile-lists-exactly-the-lost",
    ok: dryRun !== null && missing.length === 0 && extra.length === 0,
    detail:
      dryRun === null
        ? `the reconciliation did not run: ${failures.join("; ")}`
        : missing.length === 0 && extra.length === 0
          ? `listed ${listed.length} payments, the ${measured.lost} the lab measured as lost (${measured.acknowledged} acknowledged to clients, ${measured.unacknowledged} committed but never acknowledged)`
          : `listed ${listed.length} payments, the lab measured ${measured.lost} as lost: ${missing.length} lost but not listed (${sample(missing)}), ${extra.length} listed but not lost (${sample(extra)})`,
  });

  // 2. Conflicts: the planted reuses and the clients' own retries, reported and never replayed.
  const after = first?.after ?? null;
  const conflicts = (after?.lost ?? [])
    .filter((l) => l.outcome === "conflict")
    .map((l) => ({ paymentId: l.paymentId, reason: l.reason ?? "" }));
  const expectedConflicts = new Set([...loss.plantedConflicts, ...loss.retried]);
  const conflictIds = conflicts.map((c) => c.paymentId);
  const unreported = sorted([...expectedConflicts].filter((id) => !conflictIds.includes(id)));
  const unexpected = sorted(conflictIds.filter((id) => !expectedConflicts.has(id)));
  const plantedReplayed = sorted([...loss.plantedConflicts].filter((id) => restored.has(id)));
  const plantedWithoutReason = conflicts.filter(
    (c) => loss.plantedConflicts.has(c.paymentId) && !/reused on the new primary/.test(c.reason),
  );
  const conflictsOk =
    after !== null &&
    unreported.length === 0 &&
    unexpected.length === 0 &&
    plantedReplayed.length === 0 &&
    plantedWithoutReason.length === 0;
  checks.push({
    name: "reconcile-reports-conflicts",
    ok: conflictsOk,
    detail: conflictsOk
      ? `${conflicts.length} conflicts reported, not replayed: ${measured.plantedConflicts} planted (key reused in ${input.region} with another body), ${measured.retried} retried by their clients under the same key`
      : `expected ${expectedConflicts.size} conflicts (${measured.plantedConflicts} planted, ${measured.retried} retried), got ${conflicts.length}: not reported ${sample(unreported)}; reported but not expected ${sample(unexpected)}; planted yet replayed ${sample(plantedReplayed)}; planted without the key-reuse reason ${sample(plantedWithoutReason.map((c) => c.paymentId))}`,
  });

  // 3. The replay restores every lost payment that is not a conflict, as the old primary had it.
  const toRestore = sorted([...loss.lost].filter((id) => !expectedConflicts.has(id)));
  const notRestored = toRestore.filter((id) => {
    const o = originals.get(id);
    const n = restored.get(id);
    return (
      !o ||
      !n ||
      o.status !== n.status ||
      o.version !== n.version ||
      o.amount !== n.amount ||
      o.captured !== n.captured ||
      o.merchant !== n.merchant
    );
  });
  const summaryAfter = after ? summarize(after) : null;
  const replayOk =
    first !== null &&
    failures.length === 0 &&
    notRestored.length === 0 &&
    summaryAfter !== null &&
    summaryAfter.pending === 0 &&
    summaryAfter.replayed === toRestore.length;
  checks.push({
    name: "reconcile-replay-restores",
    ok: replayOk,
    detail: replayOk
      ? `replay restored ${toRestore.length} payments with their original keys (${first!.replayed.length} changes written), each now as the old primary had it (status, version, amount, captured)`
      : `of ${toRestore.length} payments to restore, ${notRestored.length} differ from the old primary's copy (${sample(notRestored)}); ${summaryAfter ? `replayed ${summaryAfter.replayed}, pending ${summaryAfter.pending}` : "no replay"}; failures: ${failures.join("; ") || "none"}`,
  });

  // 4. A second replay changes nothing.
  const secondOk = second !== null && second.replayed.length === 0 && before === afterSecond;
  checks.push({
    name: "reconcile-second-replay-changes-nothing",
    ok: secondOk,
    detail: secondOk
      ? "a second replay wrote nothing: the new primary's payments, events and keys are unchanged"
      : second === null
        ? "the second replay did not run"
        : `the second replay wrote ${second.replayed.length} changes; the new primary ${before === afterSecond ? "is unchanged" : `changed (${before} -> ${afterSecond})`}`,
  });

  // 5. The line's counts agree with the lab's.
  const line = `lost ${measured.lost}, reconciled ${summaryAfter?.reconciled ?? 0}, replayed ${summaryAfter?.replayed ?? 0}, conflicts ${summaryAfter?.conflicts ?? 0}`;
  const countsOk =
    summaryAfter !== null &&
    summaryAfter.lost === measured.lost &&
    summaryAfter.reconciled === measured.lost &&
    summaryAfter.conflicts === expectedConflicts.size;
  checks.push({
    name: "reconcile-counts-match-the-lab",
    ok: countsOk,
    detail: countsOk
      ? `${line} (the reconciliation's own line: ${summaryLine(summaryAfter!)})`
      : `${line}: the reconciliation says ${summaryAfter ? summaryLine(summaryAfter) : "nothing"}, the lab measured lost ${measured.lost} with ${expectedConflicts.size} conflicts`,
  });

  return {
    line,
    measured,
    copy: input.copy ?? input.oldCopyUrl,
    fork: input.fork,
    dryRun: dryRun ? summarize(dryRun) : null,
    after: summaryAfter,
    listed,
    conflicts,
    replayedSteps: first?.replayed.length ?? 0,
    secondReplaySteps: second?.replayed.length ?? 0,
    failures,
    checks,
    finance: after ? { csv: financeCsv(after), json: financeJson(after) } : null,
  };
}

/** A lab ISO time (the DR cores run on the lab clock) as the databases' real time. */
function realIso(lab: Lab, iso: string): string {
  return new Date(lab.clock.toReal(Date.parse(iso))).toISOString();
}

/**
 * The fork the failover run recorded (its run report's `fork*` config, the ledger row
 * `payments-dr reconcile --run` reads), moved from the lab clock onto the databases' clock.
 */
export function labFork(lab: Lab): ForkPoint | null {
  for (const report of lab.runReports) {
    const fork = forkOf(report.config);
    if (!fork || report.kind !== "failover") continue;
    return {
      oldRegion: fork.oldRegion,
      oldCluster: fork.oldCluster,
      lastReplicatedAt: fork.lastReplicatedAt === null ? null : realIso(lab, fork.lastReplicatedAt),
      failoverAt: realIso(lab, fork.failoverAt),
      failoverRunId: report.runId,
    };
  }
  return null;
}

/**
 * On-call reuses a lost payment's idempotency key in the new region with another body (another
 * amount, another card), as a merchant whose order system reuses keys would: the new primary
 * takes it as a new payment, and the reconciliation must list the lost one as a conflict.
 */
async function plantConflict(
  lab: Lab,
  region: string,
  ack: { key: string; merchantId: string; amount: number; currency: string },
): Promise<boolean> {
  const base = lab.apiUrl(region);
  if (!base) return false;
  const response = await fetch(`${base}/payments`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-api-key": LAB.apiKeys[ack.merchantId]!,
      "Idempotency-Key": ack.key,
    },
    body: JSON.stringify({
      amount: ack.amount + 1,
      currency: ack.currency,
      merchantId: ack.merchantId,
      cardToken: `tok_lab_reuse_${ack.key.slice(0, 8)}`,
    }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (response.status >= 300) {
    lab.event(
      "reconcile",
      `planting a conflict on key ${ack.key} was answered ${response.status}: ${text.slice(0, 300)}`,
    );
    return false;
  }
  return true;
}

/**
 * The reconciliation step of an unplanned scenario, after the old region's return: the fork from
 * the run report, a scratch copy of the old primary's data, one planted conflict (when an
 * acknowledged authorization was lost and another lost payment is left to replay), then
 * reconcileAgainstCopy. Failed checks, not
 * exceptions, report what went wrong.
 */
export async function reconcileInLab(
  lab: Lab,
  input: {
    readonly findings: Findings;
    readonly oldPrimary: DatabaseContents | null;
    readonly newPrimary: DatabaseContents;
    readonly writerRegion: string;
    readonly acks: readonly {
      key: string;
      op: string;
      paymentId: string;
      merchantId: string;
      amount: number;
      currency: string;
    }[];
  },
): Promise<LabReconciliation> {
  const fail = (detail: string): LabReconciliation => ({
    line: "lost ?, reconciled 0, replayed 0, conflicts 0",
    measured: { lost: 0, acknowledged: 0, unacknowledged: 0, retried: 0, plantedConflicts: 0 },
    copy: "none",
    fork: null,
    dryRun: null,
    after: null,
    listed: [],
    conflicts: [],
    replayedSteps: 0,
    secondReplaySteps: 0,
    failures: [detail],
    checks: [{ name: "reconcile-lists-exactly-the-lost", ok: false, detail }],
    finance: null,
  });
  const fork = labFork(lab);
  if (!fork) return fail("no failover run recorded a data fork: nothing to reconcile from");
  if (!input.oldPrimary)
    return fail("the old primary's data could not be read: no copy to reconcile");
  const oldRegion = lab.other(input.writerRegion);
  const old = lab.region(oldRegion);
  // Aurora's background work (a rejoin renames the old folder into the snapshot) ends here: the
  // scenario is over, and the copy must not move while it is taken.
  const deadline = Date.now() + 30_000;
  const snapshotOf = () => lab.aurora.snapshots.find((s) => s.region === oldRegion);
  while (!snapshotOf() && old.node.running && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 200));
  lab.aurora.cancel();
  const snapshot = snapshotOf();
  if (!snapshot && old.node.running)
    return fail(
      `${oldRegion}'s old primary is still running and was never fenced: no copy can be taken`,
    );
  const source = snapshot?.dataDir ?? old.node.options.dataDir;
  const copyDir = join(lab.root, `${oldRegion}-reconcile-copy`);
  // The whole folder, WAL included (copyDataDir leaves pg_wal empty for a standby that streams
  // it): a killed primary's last commits are only in its WAL until crash recovery replays them.
  cpSync(source, copyDir, {
    recursive: true,
    filter: (path) =>
      !["postmaster.pid", "postmaster.opts", "standby.signal"].includes(basename(path)),
  });
  giveToServer(copyDir);
  const node = new PgNode({
    name: `${oldRegion}-reconcile-copy`,
    dataDir: copyDir,
    port: await freePort(),
    logFile: join(lab.root, `${oldRegion}-reconcile-copy.log`),
  });
  try {
    await node.start();
    const copy = snapshot
      ? "a copy of the point-of-failure snapshot, started aside"
      : old.alive
        ? "a copy of the fenced old primary's folder (before its rejoin), started aside"
        : "a copy of the dead primary's folder, started aside";
    lab.event("reconcile", `old primary's data: ${copy}`);
    // A copy whose writer heartbeat is fresh looks like a live writer to the reconciliation
    // (functions/reconcile/read.ts, assertNotLive: 3 beats in real time). A restore from a
    // snapshot takes minutes on AWS; the lab's fast clock can get here sooner, so it waits.
    const [beat] = await node.sql<{ age: number | null }>(
      `SELECT extract(epoch FROM now() - max(beat_at))::float8 AS age FROM ${WRITER_HEARTBEAT.table}`,
      [],
      LAB.database,
    );
    const needed = WRITER_HEARTBEAT.intervalSeconds * 3 + 1;
    if (beat?.age !== null && beat?.age !== undefined && beat.age < needed)
      await new Promise((r) => setTimeout(r, (needed - beat.age!) * 1000));

    const measured = measureLoss(input.oldPrimary, input.newPrimary, input.findings);
    // One planted conflict among the acknowledged lost authorizations.
    // Its authorization must be what was lost (a lost capture's payment holds its key on the
    // new primary, and reusing that is refused there as Stripe's idempotency_error).
    const candidates = input.acks.filter(
      (a) =>
        a.op === "authorize" &&
        measured.lost.has(a.paymentId) &&
        !input.newPrimary.payments.has(a.paymentId) &&
        !measured.retried.has(a.paymentId),
    );
    const planted = new Set<string>();
    // Only when another lost payment is left to replay: the replay must be exercised too.
    if (candidates.length >= 1 && measured.lost.size - measured.retried.size >= 2) {
      const pick = candidates[Math.floor(lab.random.next() * candidates.length)]!;
      if (await plantConflict(lab, input.writerRegion, pick)) {
        planted.add(pick.paymentId);
        lab.event(
          "reconcile",
          `PLANTED CONFLICT: key ${pick.key} of lost payment ${pick.paymentId} reused in ${input.writerRegion} with another body`,
        );
      }
    }
    const result = await reconcileAgainstCopy({
      oldCopyUrl: node.url(LAB.database),
      newPrimaryUrl: lab.region(input.writerRegion).node.url(LAB.database),
      fork,
      region: input.writerRegion,
      loss: { ...measured, plantedConflicts: planted },
      copy,
    });
    lab.event("reconcile", result.line);
    return result;
  } finally {
    await node.stop();
  }
}
