// What the lab measures and checks once a scenario is over, from the clients' records and both
// databases (their rows and the commit timestamps PostgreSQL replicates with them):
// - RTO: first failed payment -> first payment accepted in the new region; the workflow's phases.
// - RPO: payments acknowledged to clients that the new primary does not have (count, window).
// - Single writer: the writes only the old primary has and the writes only the new one has never
//   overlap in time, and no payment was changed on both sides of the fork.
// - Nothing lost beyond the RPO, nothing doubled: every acknowledged payment is in the new primary
//   or inside the loss window at the fault; one key never made two payments.
// Pure: the data in, the verdicts out; every check can fail (test/lab plants a second writer).
import type { Ack, Attempt } from "./load";

export interface PaymentRow {
  readonly id: string;
  readonly merchantId: string;
  readonly cardToken: string;
  readonly status: string;
  readonly capturedMinor: string;
  readonly version: number;
  /** Lab epoch ms of the commit that wrote this version. */
  readonly committedAt: number;
}

export interface EventRow {
  readonly eventId: string;
  readonly paymentId: string;
  readonly type: string;
  readonly originRegion: string;
  readonly committedAt: number;
}

export interface DatabaseContents {
  readonly region: string;
  /** How it was read: the live server, or its folder started aside after the fault. */
  readonly source: string;
  readonly payments: ReadonlyMap<string, PaymentRow>;
  readonly events: ReadonlyMap<string, EventRow>;
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface WriterInterval {
  readonly region: string;
  readonly first: number;
  readonly last: number;
  readonly count: number;
}

export interface Findings {
  readonly rpo: {
    readonly lostPayments: readonly Ack[];
    readonly lostCaptures: readonly Ack[];
    readonly windowStart: number | null;
    readonly windowEnd: number | null;
    readonly seconds: number;
  };
  readonly rto: {
    readonly firstFailureAt: number | null;
    readonly recoveredAt: number | null;
    readonly seconds: number | null;
  };
  readonly forkWrites: {
    readonly oldOnly: WriterInterval | null;
    readonly newOnly: WriterInterval | null;
  };
  readonly conflicts: readonly string[];
  readonly doubled: readonly string[];
  readonly forkDuplicates: readonly string[];
  readonly checks: readonly Check[];
}

export interface CheckInput {
  readonly acks: readonly Ack[];
  readonly attempts: readonly Attempt[];
  readonly unexpected: readonly Attempt[];
  readonly abandoned: readonly { key: string; op: string; since: number }[];
  readonly newPrimary: DatabaseContents;
  readonly oldPrimary: DatabaseContents | null;
  /** Lab ms of the fault (or of the planned workflow's start). */
  readonly faultAt: number;
  /** Region the traffic moved to. */
  readonly targetRegion: string;
  readonly planned: boolean;
  /** rds.global_db_rpo, seconds: the most an unplanned failover may lose. */
  readonly rpoBoundSeconds: number;
  readonly workflowCompleted: boolean;
  readonly workflowDetail: string;
}

function interval(region: string, rows: readonly EventRow[]): WriterInterval | null {
  if (rows.length === 0) return null;
  const times = rows.map((r) => r.committedAt);
  return { region, first: Math.min(...times), last: Math.max(...times), count: rows.length };
}

export function evaluate(input: CheckInput): Findings {
  const { newPrimary, oldPrimary } = input;
  const checks: Check[] = [];

  // RPO: acknowledged, yet not in the new primary.
  const lostPayments = input.acks.filter(
    (a) => a.op === "authorize" && !newPrimary.payments.has(a.paymentId),
  );
  const lostCaptures = input.acks.filter((a) => {
    if (a.op !== "capture") return false;
    const row = newPrimary.payments.get(a.paymentId);
    return row !== undefined && row.capturedMinor === "0";
  });
  const lost = [...lostPayments, ...lostCaptures];
  const windowStart = lost.length ? Math.min(...lost.map((a) => a.at)) : null;
  const windowEnd = lost.length ? Math.max(...lost.map((a) => a.at)) : null;
  const rpoSeconds =
    windowStart === null || windowEnd === null
      ? 0
      : (input.faultAt > windowStart
          ? Math.max(windowEnd, input.faultAt) - windowStart
          : windowEnd - windowStart) / 1000;
  if (input.planned) {
    checks.push({
      name: "rpo-zero",
      ok: lost.length === 0,
      detail:
        lost.length === 0
          ? "no acknowledged payment or capture is missing (planned move)"
          : `${lost.length} acknowledged writes missing after a planned move`,
    });
  }
  // Nothing lost beyond the RPO: a lost write must be younger than the bound at the fault.
  const tooOld = lost.filter((a) => a.at < input.faultAt - input.rpoBoundSeconds * 1000);
  checks.push({
    name: "nothing-lost-beyond-rpo",
    ok: tooOld.length === 0,
    detail:
      tooOld.length === 0
        ? `${lost.length} acknowledged writes lost, all within ${input.rpoBoundSeconds} s (rds.global_db_rpo) of the fault`
        : `${tooOld.length} acknowledged writes older than the ${input.rpoBoundSeconds} s bound are missing, e.g. ${tooOld[0]!.paymentId}`,
  });

  // Single writer.
  let oldOnly: WriterInterval | null = null;
  let newOnly: WriterInterval | null = null;
  const conflicts: string[] = [];
  if (oldPrimary) {
    const oldOnlyRows = [...oldPrimary.events.values()].filter(
      (e) => !newPrimary.events.has(e.eventId),
    );
    const newOnlyRows = [...newPrimary.events.values()].filter(
      (e) => !oldPrimary.events.has(e.eventId),
    );
    oldOnly = interval(oldPrimary.region, oldOnlyRows);
    newOnly = interval(newPrimary.region, newOnlyRows);
    const oldIds = new Set(oldOnlyRows.map((r) => r.paymentId));
    for (const r of newOnlyRows) {
      if (oldIds.has(r.paymentId) && !conflicts.includes(r.paymentId)) conflicts.push(r.paymentId);
    }
  }
  const overlap = oldOnly !== null && newOnly !== null && oldOnly.last >= newOnly.first;
  checks.push({
    name: "single-writer",
    ok: !overlap,
    detail: overlap
      ? `both databases committed payments between +${((newOnly!.first - input.faultAt) / 1000).toFixed(1)} s and +${((oldOnly!.last - input.faultAt) / 1000).toFixed(1)} s: ${oldOnly!.count} writes only in ${oldOnly!.region}, ${newOnly!.count} only in ${newOnly!.region}`
      : oldPrimary
        ? `no instant with two writers (${oldOnly ? `${oldOnly.count} writes only in the old primary, last +${((oldOnly.last - input.faultAt) / 1000).toFixed(1)} s` : "the old primary has nothing the new one lacks"}; ${newOnly ? `new primary's own writes from +${((newOnly.first - input.faultAt) / 1000).toFixed(1)} s` : "no writes of its own"})`
        : "the old primary's data could not be read",
  });
  checks.push({
    name: "no-payment-changed-on-both-sides",
    ok: conflicts.length === 0,
    detail:
      conflicts.length === 0
        ? "no payment id committed in both with different content"
        : `${conflicts.length} payments changed in both regions, e.g. ${conflicts[0]}`,
  });

  // Nothing doubled: one key, one payment (the lab's card token carries the key).
  const byToken = new Map<string, string[]>();
  for (const p of newPrimary.payments.values()) {
    const list = byToken.get(p.cardToken) ?? [];
    list.push(p.id);
    byToken.set(p.cardToken, list);
  }
  const doubled = [...byToken.entries()]
    .filter(([, ids]) => ids.length > 1)
    .map(([token]) => token);
  const mismatched = input.acks.filter((a) => {
    if (a.op !== "authorize") return false;
    const ids = byToken.get(`tok_lab_${a.key.slice(0, 8)}`) ?? [];
    return ids.length > 0 && !ids.includes(a.paymentId);
  });
  checks.push({
    name: "nothing-doubled",
    ok: doubled.length === 0 && mismatched.length === 0,
    detail:
      doubled.length === 0 && mismatched.length === 0
        ? "every idempotency key made at most one payment, the one its client was told"
        : `${doubled.length} keys made two payments, ${mismatched.length} clients told another id than the database holds`,
  });
  const forkDuplicates: string[] = [];
  if (oldPrimary) {
    for (const p of oldPrimary.payments.values()) {
      if (newPrimary.payments.has(p.id)) continue;
      const ids = byToken.get(p.cardToken);
      if (ids && ids.length > 0) forkDuplicates.push(p.id);
    }
  }

  checks.push({
    name: "clients-got-no-4xx",
    ok: input.unexpected.length === 0,
    detail:
      input.unexpected.length === 0
        ? "no request was refused as invalid"
        : `${input.unexpected.length} requests refused, e.g. ${input.unexpected[0]!.status} ${input.unexpected[0]!.code}`,
  });
  checks.push({
    name: "workflow-completed",
    ok: input.workflowCompleted,
    detail: input.workflowDetail,
  });

  // RTO: first failed payment -> first payment accepted in the new region.
  const failures = input.attempts.filter(
    (a) => a.at >= input.faultAt && (a.status === 0 || a.status >= 500),
  );
  const firstFailureAt = failures.length ? Math.min(...failures.map((a) => a.at)) : null;
  const recovered = input.acks
    .filter((a) => a.region === input.targetRegion && a.at >= (firstFailureAt ?? input.faultAt))
    .map((a) => a.at);
  const recoveredAt = recovered.length ? Math.min(...recovered) : null;
  const rtoSeconds =
    firstFailureAt === null
      ? recoveredAt === null
        ? null
        : 0
      : recoveredAt === null
        ? null
        : (recoveredAt - firstFailureAt) / 1000;
  checks.push({
    name: "payments-accepted-in-new-region",
    ok: recoveredAt !== null,
    detail:
      recoveredAt !== null
        ? `first payment accepted in ${input.targetRegion} ${rtoSeconds?.toFixed(1)} s after the first failure`
        : `no payment was accepted in ${input.targetRegion}`,
  });

  return {
    rpo: { lostPayments, lostCaptures, windowStart, windowEnd, seconds: rpoSeconds },
    rto: { firstFailureAt, recoveredAt, seconds: rtoSeconds },
    forkWrites: { oldOnly, newOnly },
    conflicts,
    doubled,
    forkDuplicates,
    checks,
  };
}
