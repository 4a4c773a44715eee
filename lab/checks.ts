// What the lab measures and checks once a scenario is over, from the clients' records and both
// databases (their rows and the commit timestamps PostgreSQL replicates with them):
// - RTO: first failed payment -> first payment accepted in the new region; the workflow's phases.
// - RPO: payments acknowledged to clients that the new primary does not have (count, window).
// - Single writer: the writes only the old primary has and the writes only the new one has never
//   overlap in time, and no payment was changed on both sides of the fork.
// - Nothing lost beyond the RPO, nothing doubled: every acknowledged payment is in the new primary
//   or inside the loss window at the fault; one key never made two payments.
// Pure: the data in, the verdicts out; every check can fail (test/lab plants a second writer).
import { PAYMENT_EVENTS } from "../functions/common/contract";
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
    /**
     * When the old primary committed the lost writes (its own commit timestamps): the window the
     * RPO bound is about. Null when nothing was lost or the old primary could not be read.
     */
    readonly commitWindow: {
      readonly first: number;
      readonly last: number;
      readonly seconds: number;
    } | null;
    /** Acknowledged writes that neither database holds: lost beyond any RPO. */
    readonly vanished: readonly Ack[];
    /** Requests refused because they acted on a lost payment (a consequence of the RPO). */
    readonly refusedForLost: readonly Attempt[];
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
  /**
   * How late the modelled guard may block after the lag passed the RPO (Aurora: "after a short
   * delay", unquantified; the lab's model samples the lag periodically), lab ms.
   */
  readonly guardDelayMs: number;
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
  // Nothing lost beyond the RPO. rds.global_db_rpo blocks commits once the oldest commit the
  // secondary lacks is older than the RPO, so everything the old primary committed and the new
  // one lacks lies within one RPO (plus the guard's delay) of the first such commit, wherever the
  // fault falls: before it (a region that died with a replication lag) or after it (a partition
  // that leaves the old primary taking payments until the guard stops it). Judged on the old
  // primary's own commit timestamps, not on when clients heard back (a retry can be answered
  // from the idempotency record long after the commit).
  const tooOld = lost.filter((a) => a.at < input.faultAt - input.rpoBoundSeconds * 1000);
  const commitTimes: number[] = [];
  const vanished: Ack[] = [];
  for (const a of lost) {
    const row = oldPrimary?.payments.get(a.paymentId);
    const event =
      a.op === "capture"
        ? [...(oldPrimary?.events.values() ?? [])].find(
            (e) => e.paymentId === a.paymentId && e.type === PAYMENT_EVENTS.captured,
          )
        : undefined;
    const at = a.op === "capture" ? event?.committedAt : row?.committedAt;
    if (at !== undefined && at > 0) commitTimes.push(at);
    else if (oldPrimary && !row) vanished.push(a);
  }
  const commitWindow =
    commitTimes.length > 0
      ? {
          first: Math.min(...commitTimes),
          last: Math.max(...commitTimes),
          seconds: (Math.max(...commitTimes) - Math.min(...commitTimes)) / 1000,
        }
      : null;
  const boundMs = input.rpoBoundSeconds * 1000 + input.guardDelayMs;
  const beyond = commitWindow !== null && commitWindow.last - commitWindow.first > boundMs;
  const lostOk = tooOld.length === 0 && !beyond && vanished.length === 0;
  checks.push({
    name: "nothing-lost-beyond-rpo",
    ok: lostOk,
    detail: lostOk
      ? `${lost.length} acknowledged writes lost${commitWindow ? `, committed by the old primary within ${commitWindow.seconds.toFixed(1)} s` : ""}: inside ${input.rpoBoundSeconds} s (rds.global_db_rpo) + ${(input.guardDelayMs / 1000).toFixed(1)} s (the guard's delay)`
      : vanished.length > 0
        ? `${vanished.length} acknowledged writes are in neither database, e.g. ${vanished[0]!.paymentId}`
        : tooOld.length > 0
          ? `${tooOld.length} acknowledged writes older than the ${input.rpoBoundSeconds} s bound at the fault are missing, e.g. ${tooOld[0]!.paymentId}`
          : `the old primary committed lost writes over ${commitWindow!.seconds.toFixed(1)} s, beyond ${input.rpoBoundSeconds} s (rds.global_db_rpo) + ${(input.guardDelayMs / 1000).toFixed(1)} s`,
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
    // A capture the old primary committed but never answered, retried by its client under the
    // same key in the new region, is one request on both sides of the fork, not two writers'
    // changes: the same changes, an attempt of that key in the new region, and one that got no
    // answer from the old one (the reconciliation restores it).
    const types = (rows: readonly EventRow[], id: string) =>
      rows
        .filter((r) => r.paymentId === id)
        .map((r) => r.type)
        .sort()
        .join(",");
    const retriedAcrossFork = (id: string) => {
      if (types(oldOnlyRows, id) !== types(newOnlyRows, id)) return false;
      // The load's capture key is its authorization's key + "-capture" (load.ts); the retry's
      // answer may never have reached the client (the load stops, aborting it), so its attempt
      // to the new region counts, answered or not.
      const auth = input.acks.find((a) => a.op === "authorize" && a.paymentId === id);
      if (!auth) return false;
      const key = `${auth.key}-capture`;
      const tries = input.attempts.filter((t) => t.key === key);
      return (
        tries.some((t) => t.region === input.targetRegion) &&
        tries.some((t) => t.region !== input.targetRegion && (t.status === 0 || t.status >= 500))
      );
    };
    for (const r of newOnlyRows) {
      if (
        oldIds.has(r.paymentId) &&
        !conflicts.includes(r.paymentId) &&
        !retriedAcrossFork(r.paymentId)
      )
        conflicts.push(r.paymentId);
    }
  }
  const overlap = oldOnly !== null && newOnly !== null && oldOnly.last >= newOnly.first;
  // Without the old primary's rows there is nothing to prove one writer with: it fails (it
  // used to pass, and a partition run whose old primary timed out looked clean).
  checks.push({
    name: "single-writer",
    ok: oldPrimary !== null && !overlap,
    detail: overlap
      ? `both databases committed payments between +${((newOnly!.first - input.faultAt) / 1000).toFixed(1)} s and +${((oldOnly!.last - input.faultAt) / 1000).toFixed(1)} s: ${oldOnly!.count} writes only in ${oldOnly!.region}, ${newOnly!.count} only in ${newOnly!.region}`
      : oldPrimary
        ? `no instant with two writers (${oldOnly ? `${oldOnly.count} writes only in the old primary, last +${((oldOnly.last - input.faultAt) / 1000).toFixed(1)} s` : "the old primary has nothing the new one lacks"}; ${newOnly ? `new primary's own writes from +${((newOnly.first - input.faultAt) / 1000).toFixed(1)} s` : "no writes of its own"})`
        : "the old primary's data could not be read: one writer is unproven",
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

  // A capture of a payment the failover lost is refused (404) by the new primary: that is the
  // RPO's consequence, counted there, not a client error. Any other 4xx fails.
  const lostKeys = new Set(lostPayments.map((a) => a.key));
  const refusedForLost = input.unexpected.filter(
    (u) => u.op === "capture" && u.status === 404 && lostKeys.has(u.key.replace(/-capture$/, "")),
  );
  const refused = input.unexpected.filter((u) => !refusedForLost.includes(u));
  checks.push({
    name: "clients-got-no-4xx",
    ok: refused.length === 0,
    detail:
      (refused.length === 0
        ? "no request was refused as invalid"
        : `${refused.length} requests refused, e.g. ${refused[0]!.status} ${refused[0]!.code}`) +
      (refusedForLost.length > 0
        ? `; ${refusedForLost.length} captures of lost payments answered 404 (counted in the RPO)`
        : ""),
  });
  checks.push({
    name: "workflow-completed",
    ok: input.workflowCompleted,
    detail: input.workflowDetail,
  });

  // RTO: first failed payment -> first payment accepted in the new region. A failure counts from
  // when its request was sent, not from when it gave up: a commit held by rds.global_db_rpo
  // fails only at the statement timeout, which put the start of the outage minutes late.
  const failures = input.attempts.filter(
    (a) => a.sentAt >= input.faultAt && (a.status === 0 || a.status >= 500),
  );
  const firstFailureAt = failures.length ? Math.min(...failures.map((a) => a.sentAt)) : null;
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
    rpo: {
      lostPayments,
      lostCaptures,
      windowStart,
      windowEnd,
      seconds: rpoSeconds,
      commitWindow,
      vanished,
      refusedForLost,
    },
    rto: { firstFailureAt, recoveredAt, seconds: rtoSeconds },
    forkWrites: { oldOnly, newOnly },
    conflicts,
    doubled,
    forkDuplicates,
    checks,
  };
}

/**
 * The peer lease lapsed only when it should have (review 23 M1): a write refused on a lapsed
 * lease before the Fence, while the standby's prober was renewing and the regions could see each
 * other, is the lab's own stall (its event loop carries the renewals), not the lease doing its
 * job; it would start a drill's RTO with a failure the drill did not cause. After a partition the
 * renewals cannot arrive and the lapse is owed; after the Fence the flag no longer names the old
 * region.
 */
export function leaseLapseCheck(
  lapses: readonly { region: string; at: number; ageSeconds: number | null }[],
  window: {
    readonly fenceAt: number | null;
    readonly renewer: { startedAt?: number; stoppedAt?: number; partitionedAt?: number };
    readonly faultAt: number;
  },
): Check {
  const { renewer } = window;
  const spurious = lapses.filter(
    (l) =>
      renewer.startedAt !== undefined &&
      l.at >= renewer.startedAt &&
      l.at < (renewer.stoppedAt ?? Infinity) &&
      l.at < (renewer.partitionedAt ?? Infinity) &&
      l.at < (window.fenceAt ?? Infinity),
  );
  const first = spurious[0];
  const at = (ms: number) =>
    `${ms >= window.faultAt ? "+" : ""}${((ms - window.faultAt) / 1000).toFixed(1)} s`;
  return {
    name: "lease-held-while-renewed",
    ok: spurious.length === 0,
    detail: first
      ? `${spurious.length} writes refused on a lapsed lease before the Fence while the standby renewed it, first in ${first.region} at ${at(first.at)} (renewal ${first.ageSeconds ?? "never"} s old): the lab stalled, not the lease`
      : `no write refused on a lapsed lease while the standby renewed it (${lapses.length} refusals in all)`,
  };
}

/**
 * The old region's payment path went quiet within the settle the DR tasks waited (review 25-13i
 * H1): no payment event the old primary committed from its own region's handlers later than the
 * first Fence written plus the longer of the two settles (the flag's replication and the fence
 * settle; the peer lease's settle, which holds whether the fence arrives or not). The settle
 * times count the handlers' write window (infra/lib/fence-bound.ts, lab/write-path.ts); a commit
 * past them means the window was longer than counted, even where no instant had two writers (a
 * planned move demotes the old writer after the target caught up, so such a commit is not lost).
 * Judged on the old primary's own commit timestamps. With no Fence (the planted second writer)
 * there is nothing to hold the old region to.
 */
export function quietAfterSettleCheck(
  oldPrimary: DatabaseContents | null,
  window: { readonly fencedAt: number | null; readonly settleMs: number; readonly faultAt: number },
): Check {
  const name = "old-region-quiet-after-settle";
  if (window.fencedAt === null) {
    return { name, ok: true, detail: "no Fence ran: the old region was never held to a settle" };
  }
  if (!oldPrimary) {
    return { name, ok: false, detail: "the old primary's data could not be read: unproven" };
  }
  const bound = window.fencedAt + window.settleMs;
  const own = [...oldPrimary.events.values()].filter((e) => e.originRegion === oldPrimary.region);
  const late = own.filter((e) => e.committedAt > bound);
  const last = own.length ? Math.max(...own.map((e) => e.committedAt)) : null;
  const at = (ms: number) =>
    `${ms >= window.faultAt ? "+" : ""}${((ms - window.faultAt) / 1000).toFixed(1)} s`;
  return {
    name,
    ok: late.length === 0,
    detail: late.length
      ? `${late.length} payment events committed in ${oldPrimary.region} after the settle ended at ${at(bound)} (Fence written at ${at(window.fencedAt)} + ${window.settleMs / 1000} s), the last at ${at(Math.max(...late.map((e) => e.committedAt)))}: the handlers' write window is longer than the settle counts`
      : `${oldPrimary.region}'s own last commit at ${last === null ? "-" : at(last)}, inside the settle that ended at ${at(bound)} (Fence written at ${at(window.fencedAt)} + ${window.settleMs / 1000} s)`,
  };
}
