// Lost-write reconciliation (issue 16) on two real PostgreSQL servers built by the migrations:
// the old primary's point-of-failure copy and the new primary, written through the payment API's
// own cores. The incident: payments written before the fork reached the new side; after it the
// old side went on alone (the writes an unplanned failover loses: "Managed failover doesn't wait
// for data to synchronize", aurora-global-database-disaster-recovery.html); then the new side
// took traffic, including a merchant reusing a key with another body and one retrying a key.
import { RECONCILIATION_EVENTS } from "../../../functions/common/contract";
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import type { PaymentStore } from "../../../functions/payments/shared/ports";
import { findLostWrites } from "../../../functions/reconcile/diff";
import { reconciliationEvents } from "../../../functions/reconcile/events";
import type { ForkPoint, Reconciliation } from "../../../functions/reconcile/model";
import { replayLostWrites } from "../../../functions/reconcile/replay";
import { csvCell, financeCsv, summarize, summaryLine } from "../../../functions/reconcile/report";
import type { Client } from "pg";
import { NEW_REGION, OLD_REGION, Side, replicate, servers as runServers } from "./support/fork";
import type { Servers } from "./support/fork";

let servers: Servers;
let old: Side;
let fresh: Side;
let oldConn: Client;
let newConn: Client;

// Two hours ago: the copy's heartbeat must look like a stopped writer's, not a live one.
const T = new Date(Math.floor(Date.now() / 1000) * 1000 - 2 * 3_600_000);
const at = (seconds: number) => new Date(T.getTime() + seconds * 1000);
const FORK: ForkPoint = {
  oldRegion: OLD_REGION,
  oldCluster: "payments-db-east-test",
  lastReplicatedAt: at(20).toISOString(),
  failoverAt: at(60).toISOString(),
  failoverRunId: "failover-test-1",
};

/** What the incident wrote, by name. */
const ids: Record<string, string> = {};
const original: Record<string, unknown> = {};

beforeAll(() => {
  servers = runServers();
});

afterAll(async () => {
  await closeAllDatabases();
});

/** Builds the incident on fresh databases of both servers. */
async function setUp(): Promise<void> {
  old = await Side.create(servers.old, OLD_REGION);
  fresh = await Side.create(servers.new, NEW_REGION);
  // Before the fork: replicated.
  for (const name of ["A", "B", "C", "D"]) {
    const a = await old.authorize(at(1), `k-${name}`, {
      cardToken: "tok_visa_4242",
      amount: 2500,
      currency: "EUR",
    });
    ids[name] = a.id;
  }
  await old.capture(at(5), ids.D!, "k-D-cap");
  await old.setHeartbeat(at(20));
  await replicate(old, fresh);

  // After the fork, on the old primary only.
  const p1 = await old.authorize(at(25), "k-P1", {
    cardToken: "tok_visa_4242",
    amount: 1000,
    currency: "EUR",
    reference: "order-1",
    metadata: { cart: "42" },
  });
  ids.P1 = p1.id;
  original.P1 = p1.body;
  await old.capture(at(26), ids.B!, "k-B-cap", { amount: 1000, finalCapture: false });
  ids.P3 = (
    await old.authorize(at(27), "k-P3", {
      cardToken: "tok_visa_4242",
      amount: 500,
      currency: "USD",
    })
  ).id;
  ids.P4 = (
    await old.authorize(at(28), "k-P4", {
      cardToken: "tok_visa_4242",
      amount: 1200,
      currency: "JPY",
    })
  ).id;
  await old.capture(at(29), ids.C!, "k-C-cap");
  await old.refund(at(30), ids.A!, "k-A-ref", { amount: 100 }); // refused: nothing captured
  ids.P6 = (
    await old.authorize(at(31), "k-P6", { cardToken: "tok_mc_5555", amount: 9000, currency: "GBP" })
  ).id;
  await old.capture(at(32), ids.P6!, "k-P6-cap", {});
  await old.refund(at(33), ids.P6!, "k-P6-ref", { amount: 2500, reference: "rma-7" });
  await old.setHeartbeat(at(45));

  // After the failover, on the new primary.
  await fresh.authorize(at(120), "k-P3", {
    cardToken: "tok_visa_4242",
    amount: 700,
    currency: "USD",
  });
  ids.P4retry = (
    await fresh.authorize(at(121), "k-P4", {
      cardToken: "tok_visa_4242",
      amount: 1200,
      currency: "JPY",
    })
  ).id;
  await fresh.void(at(122), ids.C!, "k-C-void");
  await fresh.authorize(at(123), "k-new", {
    cardToken: "tok_visa_4242",
    amount: 300,
    currency: "EUR",
  });

  oldConn = await old.connect();
  newConn = await fresh.connect();
}

async function tearDown(): Promise<void> {
  await oldConn?.end();
  await newConn?.end();
  await old?.drop(servers.old);
  await fresh?.drop(servers.new);
}

/** Tests that only read share one incident; tests that write or break it get their own. */
function perTest(): void {
  beforeEach(setUp, 60_000);
  afterEach(tearDown);
}
function shared(): void {
  beforeAll(setUp, 60_000);
  afterAll(tearDown);
}

const byId = (r: Reconciliation) => new Map(r.lost.map((l) => [l.paymentId, l]));

describe("finding the lost writes", () => {
  shared();
  it("lists every payment the old primary committed after the fork that the new primary lacks or holds differently", async () => {
    const result = await findLostWrites(oldConn, newConn, FORK);
    const lost = byId(result);
    expect(new Set(lost.keys())).toEqual(new Set([ids.P1, ids.B, ids.P3, ids.P4, ids.C, ids.P6]));
    expect(lost.get(ids.P1!)).toMatchObject({
      merchantId: "merchant-1",
      amount: 1000,
      currency: "EUR",
      status: "authorized",
      idempotencyKey: "k-P1",
      committedAt: at(25).toISOString(),
      newPrimary: null,
      newPrimaryHas: "nothing (no such payment)",
      outcome: "replayable",
    });
    expect(lost.get(ids.B!)).toMatchObject({
      status: "partially_captured",
      capturedAmount: 1000,
      idempotencyKey: "k-B-cap",
      newPrimary: { status: "authorized", version: 1 },
      outcome: "replayable",
    });
    expect(lost.get(ids.B!)!.changes.map((c) => [c.type, c.state])).toEqual([
      ["payments.captured", "missing"],
    ]);
    expect(lost.get(ids.P6!)!.changes.map((c) => c.type)).toEqual([
      "payments.authorized",
      "payments.captured",
      "payments.partially_refunded",
    ]);
    // Pre-fork payments the new primary holds as they were are not listed.
    expect(lost.has(ids.D!)).toBe(false);
    expect(lost.has(ids.A!)).toBe(false);
    // The refusal the old primary recorded, lost without a payment change.
    expect(result.lostRecords).toEqual([
      expect.objectContaining({
        idempotencyKey: "k-A-ref",
        operation: "refund",
        responseStatus: 409,
        newPrimaryHas: "nothing",
      }),
    ]);
  });

  it("lists conflicts for a human with the reason: a key reused with another body, a key retried, a state that moved on", async () => {
    const lost = byId(await findLostWrites(oldConn, newConn, FORK));
    expect(lost.get(ids.P3!)).toMatchObject({ outcome: "conflict" });
    expect(lost.get(ids.P3!)!.reason).toMatch(
      /k-P3 was reused on the new primary with another request/,
    );
    expect(lost.get(ids.P4!)).toMatchObject({ outcome: "conflict" });
    expect(lost.get(ids.P4!)!.reason).toMatch(
      /retried key k-P4 .* payment .*charge the customer twice/,
    );
    expect(lost.get(ids.P4!)!.newPrimaryHas).toContain(ids.P4retry);
    expect(lost.get(ids.C!)).toMatchObject({
      outcome: "conflict",
      newPrimary: { status: "voided", version: 2 },
    });
    expect(lost.get(ids.C!)!.reason).toMatch(
      /state moved on: at version 2 the new primary has payments.voided/,
    );
  });

  it("reads both sides without writing anything", async () => {
    const before = [await old.counts(), await fresh.counts()];
    await findLostWrites(oldConn, newConn, FORK);
    expect([await old.counts(), await fresh.counts()]).toEqual(before);
  });
});

describe("the scan window", () => {
  perTest();

  it("finds a write committed after the fork even when its writer's clock put it before the fork", async () => {
    // created_at is taken before COMMIT: a slow write can carry a time before the fork and
    // still miss replication. The margin before the fork covers it.
    const late = await old.authorize(at(15), "k-late", {
      cardToken: "tok_visa_4242",
      amount: 400,
      currency: "EUR",
    });
    const lost = byId(await findLostWrites(oldConn, newConn, FORK));
    expect(lost.get(late.id)).toMatchObject({
      outcome: "replayable",
      committedAt: at(15).toISOString(),
    });
  });
});

describe("a retry with a new key", () => {
  perTest();

  it("lists a lost authorization as a possible duplicate, not replayable, when the new primary took the same card and amount again", async () => {
    // The merchant gave up on k-P1 and sent the order again with a new key after the failover.
    const twin = await fresh.authorize(at(125), "k-P1-again", {
      cardToken: "tok_visa_4242",
      amount: 1000,
      currency: "EUR",
      reference: "order-1",
    });
    const lost = byId(await findLostWrites(oldConn, newConn, FORK)).get(ids.P1!)!;
    expect(lost.outcome).toBe("conflict");
    expect(lost.reason).toMatch(
      new RegExp(`possible duplicate: .* payment ${twin.id} .*charge the customer twice`),
    );
    const run = await replayLostWrites(oldConn, newConn, FORK, {
      store: fresh.store,
      region: NEW_REGION,
    });
    expect(run.replayed.map((s) => s.paymentId)).not.toContain(ids.P1);
    expect(await fresh.store.find("merchant-1", ids.P1!)).toBeUndefined();
  });
});

describe("replay", () => {
  perTest();
  it("restores the replayable payments through the payment path with their original keys, ids and answers", async () => {
    const run = await replayLostWrites(oldConn, newConn, FORK, {
      store: fresh.store,
      region: NEW_REGION,
    });
    expect(run.failures).toEqual([]);
    expect(run.replayed.map((s) => s.idempotencyKey).sort()).toEqual(
      ["k-B-cap", "k-P1", "k-P6", "k-P6-cap", "k-P6-ref"].sort(),
    );
    expect(run.replayed.every((s) => s.sameAnswer && !s.alreadyRecorded)).toBe(true);
    // The merchant's payment id and the answer they were given hold on the new primary.
    expect(await fresh.store.find("merchant-1", ids.P1!)).toEqual(original.P1);
    const p6 = await fresh.store.find("merchant-1", ids.P6!);
    expect(p6).toMatchObject({
      status: "partially_refunded",
      capturedAmount: 9000,
      refundedAmount: 2500,
    });
    expect(summaryLine(summarize(run.after))).toBe("lost 6, reconciled 6, replayed 3, conflicts 3");
    // Restored writes wait in the outbox for the relay, like any payment event.
    const { rows } = await fresh.sql.query(
      `SELECT count(*)::int AS n FROM payment_events
       WHERE published_at IS NULL AND origin_region = $2 AND payment_id = ANY($1::uuid[])`,
      [[ids.P1, ids.B, ids.P6], NEW_REGION],
    );
    expect(rows[0].n).toBe(5);
  });

  it("never replays a conflict", async () => {
    await replayLostWrites(oldConn, newConn, FORK, { store: fresh.store, region: NEW_REGION });
    expect(await fresh.store.find("merchant-1", ids.P3!)).toBeUndefined();
    expect(await fresh.store.find("merchant-1", ids.P4!)).toBeUndefined();
    expect(await fresh.store.find("merchant-1", ids.C!)).toMatchObject({ status: "voided" });
    expect((await fresh.store.recordedAnswer("merchant-1", "k-P3"))!.body).toMatchObject({
      amount: 700,
    });
  });

  it("changes nothing the second time", async () => {
    await replayLostWrites(oldConn, newConn, FORK, { store: fresh.store, region: NEW_REGION });
    const once = await fresh.counts();
    const again = await replayLostWrites(oldConn, newConn, FORK, {
      store: fresh.store,
      region: NEW_REGION,
    });
    expect(again.replayed).toEqual([]);
    expect(await fresh.counts()).toEqual(once);
    expect(summaryLine(summarize(again.after))).toBe(
      "lost 6, reconciled 6, replayed 3, conflicts 3",
    );
  });

  it("resumes a replay that died half-way", async () => {
    let calls = 0;
    const dying: PaymentStore = {
      ...fresh.store,
      recordedAnswer: (m, k) => fresh.store.recordedAnswer(m, k),
      find: (m, p) => fresh.store.find(m, p),
      list: (q) => fresh.store.list(q),
      authorize: async (input) => {
        if (++calls > 1) throw new Error("connection terminated");
        return fresh.store.authorize(input);
      },
      transition: (input) => fresh.store.transition(input),
    };
    const first = await replayLostWrites(oldConn, newConn, FORK, {
      store: dying,
      region: NEW_REGION,
    });
    expect(first.failures).toHaveLength(1);
    expect(summarize(first.after)).toMatchObject({ replayed: 2, pending: 1 });
    const second = await replayLostWrites(oldConn, newConn, FORK, {
      store: fresh.store,
      region: NEW_REGION,
    });
    expect(second.failures).toEqual([]);
    expect(summarize(second.after)).toMatchObject({
      lost: 6,
      replayed: 3,
      conflicts: 3,
      pending: 0,
    });
  });

  it("does not record a refusal under the original key when the new primary refuses the change", async () => {
    // The merchant voided B on the new primary between the diff and the replay.
    const store: PaymentStore = {
      ...fresh.store,
      recordedAnswer: (m, k) => fresh.store.recordedAnswer(m, k),
      find: (m, p) => fresh.store.find(m, p),
      list: (q) => fresh.store.list(q),
      authorize: (input) => fresh.store.authorize(input),
      transition: async (input) => {
        if (input.idempotencyKey === "k-B-cap") await fresh.void(at(130), ids.B!, "k-B-void-race");
        return fresh.store.transition(input);
      },
    };
    const run = await replayLostWrites(oldConn, newConn, FORK, { store, region: NEW_REGION });
    expect(run.failures).toEqual([
      expect.objectContaining({
        paymentId: ids.B,
        reason: expect.stringMatching(/IllegalTransition/),
      }),
    ]);
    expect(await fresh.store.recordedAnswer("merchant-1", "k-B-cap")).toBeUndefined();
  });
});

describe("bad data and the wrong database", () => {
  perTest();
  it("rejects a copy with a currency the API never accepted, naming the field, the value and what is allowed", async () => {
    await old.raw(async (c) => {
      await c.query("UPDATE payments SET currency = 'XXQ' WHERE id = $1", [ids.P1]);
      await c.query("UPDATE payment_events SET currency = 'XXQ' WHERE payment_id = $1", [ids.P1]);
    });
    await expect(findLostWrites(oldConn, newConn, FORK)).rejects.toThrow(
      /old copy: payment_events .*: currency="XXQ" is not allowed: an ISO 4217 code the payment API accepts/,
    );
  });

  it("rejects a copy whose events were truncated instead of reporting less", async () => {
    await old.raw((c) =>
      c
        .query("DELETE FROM payment_events WHERE payment_id = $1 AND payment_version = 3", [ids.P6])
        .then(() => undefined),
    );
    await expect(findLostWrites(oldConn, newConn, FORK)).rejects.toThrow(
      new RegExp(`payment ${ids.P6} is at version 3 but its events are versions \\[1, 2\\]`),
    );
  });

  it("rejects a copy missing idempotency records its events were written with", async () => {
    await old.raw((c) =>
      c.query("DELETE FROM idempotency_keys WHERE idempotency_key = 'k-P1'").then(() => undefined),
    );
    await expect(findLostWrites(oldConn, newConn, FORK)).rejects.toThrow(
      /has no idempotency record, which is written in the same transaction/,
    );
  });

  it("rejects a copy restored between 005 and 006, whose older events are not numbered yet", async () => {
    // 006 backfills in batches outside a transaction and is recorded only once all committed
    // (shared/migrator.ts): a snapshot taken mid-backfill has no record of it.
    await old.raw((c) =>
      c.query("DELETE FROM schema_migrations WHERE version = 6").then(() => undefined),
    );
    await expect(findLostWrites(oldConn, newConn, FORK)).rejects.toThrow(
      /old copy has not completed migration 006/,
    );
  });

  it("rejects a copy that lacks rows the new primary received from the old one (a truncated copy)", async () => {
    // A copy restored from an older snapshot, or cut: pre-fork rows are gone, post-fork ones too.
    await old.raw(async (c) => {
      await c.query("DELETE FROM idempotency_keys WHERE created_at >= $1", [at(0)]);
      await c.query("DELETE FROM payment_events WHERE created_at >= $1", [at(0)]);
      await c.query("DELETE FROM payments WHERE created_at >= $1", [at(0)]);
    });
    const before = [await old.counts(), await fresh.counts()];
    await expect(findLostWrites(oldConn, newConn, FORK)).rejects.toThrow(
      /CopyIncomplete|before the fork|truncated/,
    );
    expect([await old.counts(), await fresh.counts()]).toEqual(before);
  });

  it("rejects a copy that ends before the fork, which would otherwise report nothing lost", async () => {
    await old.raw(async (c) => {
      await c.query("DELETE FROM idempotency_keys WHERE created_at > $1", [at(10)]);
      await c.query("DELETE FROM payment_events WHERE created_at > $1", [at(10)]);
      await c.query("DELETE FROM payments WHERE created_at > $1", [at(10)]);
      await c.query(
        "UPDATE payments SET status = 'authorized', captured_minor = 0, version = 1 WHERE id <> $1",
        [ids.D],
      );
    });
    await old.setHeartbeat(at(10));
    await expect(findLostWrites(oldConn, newConn, FORK)).rejects.toThrow(
      /ends at .* before the fork/,
    );
  });

  it("rejects the new primary given as the old copy", async () => {
    const again = await fresh.connect();
    try {
      await expect(findLostWrites(again, newConn, FORK)).rejects.toThrow(
        /is the new primary itself/,
      );
    } finally {
      await again.end();
    }
  });

  it("rejects a copy that is a live writer (its heartbeat is fresh)", async () => {
    await old.setHeartbeat(new Date());
    await expect(findLostWrites(oldConn, newConn, FORK)).rejects.toThrow(/live writer, not a copy/);
  });

  it("rejects a copy on a live cluster endpoint of the deployment", async () => {
    await expect(
      findLostWrites(oldConn, newConn, FORK, {
        copyHost: "payments-db-east.cluster-abc.us-east-1.rds.amazonaws.com",
        liveHosts: ["payments-db-east.cluster-abc.us-east-1.rds.amazonaws.com"],
      }),
    ).rejects.toThrow(/live cluster endpoint/);
  });

  it("rejects a fork it cannot use, naming the field", async () => {
    await expect(
      findLostWrites(oldConn, newConn, { ...FORK, failoverAt: "yesterday" }),
    ).rejects.toThrow('fork.failoverAt="yesterday" is not allowed: an ISO 8601 timestamp');
    await expect(
      findLostWrites(oldConn, newConn, { ...FORK, lastReplicatedAt: at(90).toISOString() }),
    ).rejects.toThrow(/fork.lastReplicatedAt=.* not after fork.failoverAt/);
    await expect(findLostWrites(oldConn, newConn, FORK, { scanMarginSeconds: 5 })).rejects.toThrow(
      "scanMarginSeconds=5 is not allowed: a whole number of seconds from 30 to 604800",
    );
  });
});

describe("events and the finance report", () => {
  perTest();
  it("emits payments.lost per lost payment with the event ids it invalidates, and payments.replayed once restored", async () => {
    const dry = reconciliationEvents(await findLostWrites(oldConn, newConn, FORK), {
      region: NEW_REGION,
      at: at(200),
    });
    expect(dry.filter((e) => e.type === RECONCILIATION_EVENTS.lost)).toHaveLength(6);
    expect(dry.filter((e) => e.type === RECONCILIATION_EVENTS.replayed)).toHaveLength(0);
    const p6 = dry.find((e) => JSON.parse(e.detail).paymentId === ids.P6)!;
    const detail = JSON.parse(p6.detail);
    expect(detail).toMatchObject({
      schemaVersion: 1,
      eventId: p6.eventId,
      type: "payments.lost",
      originRegion: NEW_REGION,
      merchantId: "merchant-1",
      currency: "GBP",
      authorizedAmount: 9000,
      capturedAmount: 9000,
      refundedAmount: 2500,
      resolution: { outcome: "replayable", reason: null },
    });
    const { rows } = await oldConn.query(
      "SELECT event_id FROM payment_events WHERE payment_id = $1 ORDER BY payment_version",
      [ids.P6],
    );
    expect(detail.invalidatedEventIds).toEqual(rows.map((r) => r.event_id));

    const run = await replayLostWrites(oldConn, newConn, FORK, {
      store: fresh.store,
      region: NEW_REGION,
    });
    const after = reconciliationEvents(run.after, { region: NEW_REGION, at: at(300) });
    const replayed = after
      .filter((e) => e.type === RECONCILIATION_EVENTS.replayed)
      .map((e) => JSON.parse(e.detail));
    expect(replayed.map((d) => d.paymentId).sort()).toEqual([ids.P1, ids.B, ids.P6].sort());
    const restored = replayed.find((d) => d.paymentId === ids.P6);
    expect(restored.replacesEventIds).toEqual(detail.invalidatedEventIds);
    expect(restored.replayedEventIds).toHaveLength(3);
    expect(restored.replayedEventIds).not.toContain(detail.invalidatedEventIds[0]);
    // The same incident and payment give the same event id on every run: consumers dedupe.
    expect(
      after.find((e) => e.type === "payments.lost" && JSON.parse(e.detail).paymentId === ids.P6)!
        .eventId,
    ).toBe(p6.eventId);
  });

  it("writes the finance CSV with one row per lost payment, amounts in the currency's units, and totals by currency", async () => {
    const result = await findLostWrites(oldConn, newConn, FORK);
    const csv = financeCsv(result).trim().split("\r\n");
    expect(csv[0]).toBe(
      "payment_id,merchant_id,amount_minor,amount,currency,state,captured_minor,refunded_minor,idempotency_key,committed_at,new_primary_has,outcome,reason,lost_changes,invalidated_event_ids",
    );
    expect(csv).toHaveLength(7);
    expect(csv.find((l) => l.startsWith(ids.P4!))).toContain(",1200,1200,JPY,authorized,");
    expect(csv.find((l) => l.startsWith(ids.P1!))).toContain(
      ",1000,10.00,EUR,authorized,0,0,k-P1,",
    );
    const summary = summarize(result);
    expect(summary.byCurrency).toEqual({
      EUR: { payments: 3, authorized: 1000 + 2500 + 2500, captured: 1000 + 2500, refunded: 0 },
      USD: { payments: 1, authorized: 500, captured: 0, refunded: 0 },
      JPY: { payments: 1, authorized: 1200, captured: 0, refunded: 0 },
      GBP: { payments: 1, authorized: 9000, captured: 9000, refunded: 2500 },
    });
    expect(summary.window).toEqual({ from: at(25).toISOString(), to: at(33).toISOString() });
    expect(summary.lossSeconds).toBe(13);
  });

  it("keeps a merchant's text a text in the spreadsheet", () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell("a,b")).toBe('"a,b"');
    expect(csvCell(-5)).toBe("-5");
  });
});
