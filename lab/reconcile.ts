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
  /** The payments the lab measured as lost (sorted): what the listing must equal. */
  readonly lost: readonly string[];
  /**
   * Payments acknowledged to clients that the new primary lacks (checks.ts, from the clients'
   * records) yet the lab did not measure as lost: must be none (a lost acknowledgement is a lost
   * commit; the reverse need not hold, a commit can be lost before its answer reached a client).
   */
  readonly acknowledgedNotLost: readonly string[];
  /** The lost payments whose key the lab reused in the new region (sorted). */
  readonly planted: readonly string[];
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

/** The new primary has the payment as the old primary's copy had it. */
function sameState(o: PaymentState | undefined, n: PaymentState | undefined): boolean {
  return (
    o !== undefined &&
    n !== undefined &&
    o.status === n.status &&
    o.version === n.version &&
    o.amount === n.amount &&
    o.captured === n.captured &&
    o.merchant === n.merchant
  );
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
  const acknowledgedNotLost = sorted([...loss.acknowledged].filter((id) => !loss.lost.has(id)));
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

  // 1b. What clients were told succeeded and the new primary lacks is part of what was lost:
  // the lab's "lost N" is not smaller than the clients' own account of the loss.
  checks.push({
    name: "reconcile-acknowledged-within-lost",
    ok: acknowledgedNotLost.length === 0,
    detail:
      acknowledgedNotLost.length === 0
        ? `the ${loss.acknowledged.size} payments acknowledged to clients and missing from the new primary are all among the ${measured.lost} lost (${measured.acknowledged} of the lost acknowledged, ${measured.unacknowledged} committed but never acknowledged)`
        : `${acknowledgedNotLost.length} payments acknowledged to clients and missing from the new primary are not among the ${measured.lost} the lab measured as lost (${sample(acknowledgedNotLost)})`,
  });

  // 1c. A loss without a planted conflict leaves the conflict path unproven: every run that
  // loses payments must plant one (reconcileInLab) and see it reported.
  const plantedOk = measured.lost === 0 || measured.plantedConflicts >= 1;
  checks.push({
    name: "reconcile-conflict-planted",
    ok: plantedOk,
    detail:
      measured.lost === 0
        ? "nothing lost: no conflict to plant"
        : plantedOk
          ? `${measured.plantedConflicts} conflict planted among the ${measured.lost} lost payments (a lost key reused in ${input.region} with another body)`
          : `${measured.lost} payments lost but no conflict was planted: the conflict path went unproven`,
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
  // Replayed: the replay wrote a change for it, or the new primary now has it as the old one
  // did (a planted capture key leaves the payment there, authorized, not absent).
  const plantedReplayed = sorted(
    [...loss.plantedConflicts].filter(
      (id) =>
        (first?.replayed ?? []).some((step) => step.paymentId === id) ||
        sameState(originals.get(id), restored.get(id)),
    ),
  );
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
  const notRestored = toRestore.filter((id) => !sameState(originals.get(id), restored.get(id)));
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
    lost: sorted(loss.lost),
    acknowledgedNotLost,
    planted: sorted(loss.plantedConflicts),
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

/** A lost write's idempotency key the lab can reuse in the new region (conflictCandidates). */
export interface ConflictCandidate {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly key: string;
  /** The operation the key made on the old primary: authorize or capture. */
  readonly operation: string;
  readonly amount: number;
  readonly currency: string;
}

/**
 * The keys of lost changes the lab may reuse to plant a conflict, read from the old primary's
 * copy (the lab's own read, not the reconciliation's): each named a successful authorization or
 * capture of a lost payment, and the new primary does not hold it (a key it holds is a client's
 * retry, already a conflict or a restore of its own). Lost authorizations first: reusing one is
 * the plain case (the merchant's order system reuses a key for another order). A lost capture of
 * a replicated payment has no lost authorization key (the new primary holds that one, and reusing
 * it is refused there as Stripe's idempotency_error), so its capture key is the one reused.
 */
export async function conflictCandidates(
  oldCopyUrl: string,
  newPrimaryUrl: string,
  lost: ReadonlySet<string>,
  exclude: ReadonlySet<string>,
): Promise<ConflictCandidate[]> {
  const ids = sorted([...lost].filter((id) => !exclude.has(id)));
  if (ids.length === 0) return [];
  const copy = new Client({ connectionString: oldCopyUrl });
  await copy.connect();
  let keys: ConflictCandidate[];
  try {
    const { rows } = await copy.query<{
      payment_id: string;
      merchant_id: string;
      idempotency_key: string;
      operation: string;
      amount: string;
      currency: string;
    }>(
      `SELECT k.payment_id::text, k.merchant_id, k.idempotency_key, k.operation,
              p.amount_minor::text AS amount, p.currency
         FROM idempotency_keys k JOIN payments p ON p.id = k.payment_id
        WHERE k.payment_id = ANY($1::uuid[])
          AND k.operation IN ('authorize', 'capture')
          AND k.response_status BETWEEN 200 AND 299
          AND EXISTS (SELECT 1 FROM payment_events e
                       WHERE e.payment_id = k.payment_id AND e.request_id = k.request_id)
        ORDER BY k.payment_id, k.operation DESC`,
      [ids],
    );
    keys = rows.map((r) => ({
      paymentId: r.payment_id,
      merchantId: r.merchant_id,
      key: r.idempotency_key,
      operation: r.operation,
      amount: Number(r.amount),
      currency: r.currency,
    }));
  } finally {
    await copy.end();
  }
  if (keys.length === 0) return [];
  const fresh = new Client({ connectionString: newPrimaryUrl });
  await fresh.connect();
  try {
    const { rows } = await fresh.query<{ merchant_id: string; idempotency_key: string }>(
      `SELECT merchant_id, idempotency_key FROM idempotency_keys
        WHERE (merchant_id, idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [keys.map((k) => k.merchantId), keys.map((k) => k.key)],
    );
    const held = new Set(rows.map((r) => `${r.merchant_id}|${r.idempotency_key}`));
    const free = keys.filter((k) => !held.has(`${k.merchantId}|${k.key}`));
    const authorizations = free.filter((k) => k.operation === "authorize");
    return authorizations.length > 0 ? authorizations : free;
  } finally {
    await fresh.end();
  }
}

/**
 * On-call reuses a lost write's idempotency key in the new region with another body (another
 * amount, another card), as a merchant whose order system reuses keys would: the new primary
 * takes it as a new payment, and the reconciliation must list the lost one as a conflict.
 */
async function plantConflict(lab: Lab, region: string, pick: ConflictCandidate): Promise<boolean> {
  const base = lab.apiUrl(region);
  if (!base) return false;
  const response = await fetch(`${base}/payments`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-api-key": LAB.apiKeys[pick.merchantId]!,
      "Idempotency-Key": pick.key,
    },
    body: JSON.stringify({
      amount: pick.amount + 1,
      currency: pick.currency,
      merchantId: pick.merchantId,
      cardToken: `tok_lab_reuse_${pick.key.slice(0, 8)}`,
    }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (response.status >= 300) {
    lab.event(
      "reconcile",
      `planting a conflict on key ${pick.key} was answered ${response.status}: ${text.slice(0, 300)}`,
    );
    return false;
  }
  return true;
}

/**
 * The reconciliation step of an unplanned scenario, after the old region's return: the fork from
 * the run report, a scratch copy of the old primary's data, one planted conflict (whenever a
 * payment was lost), then reconcileAgainstCopy. Failed checks, not exceptions, report what went
 * wrong.
 */
export async function reconcileInLab(
  lab: Lab,
  input: {
    readonly findings: Findings;
    readonly oldPrimary: DatabaseContents | null;
    readonly newPrimary: DatabaseContents;
    readonly writerRegion: string;
  },
): Promise<LabReconciliation> {
  const fail = (detail: string): LabReconciliation => ({
    line: "lost ?, reconciled 0, replayed 0, conflicts 0",
    measured: { lost: 0, acknowledged: 0, unacknowledged: 0, retried: 0, plantedConflicts: 0 },
    lost: [],
    acknowledgedNotLost: [],
    planted: [],
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
    // Every run that lost payments plants one conflict (reconcile-conflict-planted fails
    // otherwise): a lost key reused in the new region, the replay must report it, not replay it.
    const planted = new Set<string>();
    const candidates = await conflictCandidates(
      node.url(LAB.database),
      lab.region(input.writerRegion).node.url(LAB.database),
      measured.lost,
      measured.retried,
    );
    // Acknowledged ones first: a merchant reuses the key of an order it believes went through.
    const acknowledged = candidates.filter((c) => measured.acknowledged.has(c.paymentId));
    const pool = acknowledged.length > 0 ? acknowledged : candidates;
    if (pool.length > 0) {
      const pick = pool[Math.floor(lab.random.get("planted-conflict").next() * pool.length)]!;
      if (await plantConflict(lab, input.writerRegion, pick)) {
        planted.add(pick.paymentId);
        lab.event(
          "reconcile",
          `PLANTED CONFLICT: ${pick.operation} key ${pick.key} of lost payment ${pick.paymentId} reused in ${input.writerRegion} with another body`,
        );
      }
    } else if (measured.lost.size > 0) {
      lab.event("reconcile", "no lost key free to reuse: no conflict planted");
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
