// The lab's reconciliation checks (lab/reconcile.ts, issue 16) on two real PostgreSQL servers: the
// old primary's copy and the new primary, forked as an unplanned failover forks them ("Managed
// failover doesn't wait for data to synchronize", aurora-global-database-disaster-recovery.html).
// The checks hold the real reconciliation to what the lab measured as lost; here the test is the
// lab, and it plants discrepancies between the two (a lost payment hidden from the copy, a payment
// added to it) to see each check fail, saying which payment differs.
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import type { ForkPoint } from "../../../functions/reconcile/model";
import { conflictCandidates, reconcileAgainstCopy } from "../../../lab/reconcile";
import type { LabLoss } from "../../../lab/reconcile";
import { NEW_REGION, OLD_REGION, Side, replicate, servers as runServers } from "./support/fork";
import type { Servers } from "./support/fork";

jest.setTimeout(60_000);

let servers: Servers;
const sides: Side[] = [];

// Two hours ago: the copy's heartbeat must look like a stopped writer's, not a live one.
const T = new Date(Math.floor(Date.now() / 1000) * 1000 - 2 * 3_600_000);
const at = (seconds: number) => new Date(T.getTime() + seconds * 1000);
const FORK: ForkPoint = {
  oldRegion: OLD_REGION,
  oldCluster: "payments-db-use1-lab",
  lastReplicatedAt: at(20).toISOString(),
  failoverAt: at(60).toISOString(),
  failoverRunId: "alarm-1",
};
const CARD = { cardToken: "tok_visa_4242", currency: "EUR" };

beforeAll(() => {
  servers = runServers();
});

afterEach(async () => {
  for (const side of sides.splice(0))
    await side.drop(side.region === OLD_REGION ? servers.old : servers.new);
});

afterAll(async () => {
  await closeAllDatabases();
});

/**
 * The incident as the lab sees it: two payments replicated; after the fork the old primary
 * acknowledged three authorizations and a capture of a replicated one; after the failover the
 * new region took a payment under one lost payment's key with another body (the planted
 * conflict). The lab measured four payments lost.
 */
async function incident() {
  const old = await Side.create(servers.old, OLD_REGION);
  const fresh = await Side.create(servers.new, NEW_REGION);
  sides.push(old, fresh);
  const a = await old.authorize(at(1), "k-A", { ...CARD, amount: 2500 });
  const b = await old.authorize(at(2), "k-B", { ...CARD, amount: 4000 });
  await old.setHeartbeat(at(20));
  await replicate(old, fresh);
  const lost = [];
  for (const [i, key] of ["k-L1", "k-L2", "k-L3"].entries())
    lost.push(await old.authorize(at(25 + i), key, { ...CARD, amount: 1000 + i }));
  await old.capture(at(30), b.id, "k-B-cap");
  await old.setHeartbeat(at(30));
  const reused = await fresh.authorize(at(90), "k-L3", { ...CARD, amount: 9999 });
  expect(reused.statusCode).toBe(201);
  const loss: LabLoss = {
    lost: new Set([...lost.map((l) => l.id), b.id]),
    acknowledged: new Set([...lost.map((l) => l.id), b.id]),
    retried: new Set(),
    plantedConflicts: new Set([lost[2]!.id]),
  };
  return { old, fresh, a, b, lost, loss };
}

async function run(old: Side, fresh: Side, loss: LabLoss) {
  return reconcileAgainstCopy({
    oldCopyUrl: old.url,
    newPrimaryUrl: fresh.url,
    fork: FORK,
    region: NEW_REGION,
    loss,
  });
}

const check = (r: Awaited<ReturnType<typeof run>>, name: string) =>
  r.checks.find((c) => c.name === name)!;

describe("the lab's reconciliation checks", () => {
  it("pass when the reconciliation lists, replays and reports exactly what the lab measured", async () => {
    const { old, fresh, b, lost, loss } = await incident();
    const result = await run(old, fresh, loss);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.line).toBe("lost 4, reconciled 4, replayed 3, conflicts 1");
    expect(result.listed).toEqual([...loss.lost].sort());
    expect(result.conflicts.map((c) => c.paymentId)).toEqual([lost[2]!.id]);
    expect(result.secondReplaySteps).toBe(0);
    // Restored on the new primary as the old one had them; the conflict is not.
    const { rows } = await fresh.sql.query<{ id: string; status: string }>(
      "SELECT id::text, status FROM payments WHERE id = ANY($1::uuid[]) ORDER BY id",
      [[...loss.lost]],
    );
    expect(rows.map((r) => r.id)).toEqual([lost[0]!.id, lost[1]!.id, b.id].sort());
    expect(rows.find((r) => r.id === b.id)?.status).toBe("captured");
  });

  it("fails when a lost payment is hidden from the copy, naming it", async () => {
    const { old, fresh, lost, loss } = await incident();
    const hidden = lost[1]!.id;
    // The copy lacks every row of one lost payment: consistent, so only the lab can tell.
    await old.raw(async (c) => {
      await c.query("DELETE FROM idempotency_keys WHERE payment_id = $1", [hidden]);
      await c.query("DELETE FROM payment_events WHERE payment_id = $1", [hidden]);
      await c.query("DELETE FROM payments WHERE id = $1", [hidden]);
    });
    const result = await run(old, fresh, loss);
    const listing = check(result, "reconcile-lists-exactly-the-lost");
    expect(listing.ok).toBe(false);
    expect(listing.detail).toBe(
      `listed 3 payments, the lab measured 4 as lost: 1 lost but not listed (${hidden}), 0 listed but not lost (none)`,
    );
    expect(check(result, "reconcile-replay-restores").ok).toBe(false);
    expect(check(result, "reconcile-counts-match-the-lab").detail).toContain(
      "the reconciliation says lost 3, reconciled 3, replayed 2, conflicts 1",
    );
  });

  it("fails when the copy holds a lost payment the lab did not measure, naming it", async () => {
    const { old, fresh, loss } = await incident();
    const extra = await old.authorize(at(31), "k-X", { ...CARD, amount: 777 });
    const result = await run(old, fresh, loss);
    const listing = check(result, "reconcile-lists-exactly-the-lost");
    expect(listing.ok).toBe(false);
    expect(listing.detail).toBe(
      `listed 5 payments, the lab measured 4 as lost: 0 lost but not listed (none), 1 listed but not lost (${extra.id})`,
    );
    expect(check(result, "reconcile-counts-match-the-lab").ok).toBe(false);
  });

  it("fails when payments were lost and no conflict was planted", async () => {
    const { old, fresh, lost, loss } = await incident();
    // The run lost four payments and planted nothing: the conflict path went unproven (here the
    // key reuse happened anyway, so the reconciliation also reports a conflict nobody expected).
    const result = await run(old, fresh, { ...loss, plantedConflicts: new Set() });
    const planted = check(result, "reconcile-conflict-planted");
    expect(planted.ok).toBe(false);
    expect(planted.detail).toBe(
      "4 payments lost but no conflict was planted: the conflict path went unproven",
    );
    expect(check(result, "reconcile-reports-conflicts").detail).toContain(
      `reported but not expected ${lost[2]!.id}`,
    );
  });

  it("fails when a payment acknowledged to a client and missing from the new primary is not in the lost set, naming it", async () => {
    const { old, fresh, loss } = await incident();
    // The clients' account has a payment the lab's own reads did not count as lost.
    const unseen = "00000000-0000-4000-8000-00000000abcd";
    const result = await run(old, fresh, {
      ...loss,
      acknowledged: new Set([...loss.acknowledged, unseen]),
    });
    const subset = check(result, "reconcile-acknowledged-within-lost");
    expect(subset.ok).toBe(false);
    expect(subset.detail).toBe(
      `1 payments acknowledged to clients and missing from the new primary are not among the 4 the lab measured as lost (${unseen})`,
    );
    expect(result.acknowledgedNotLost).toEqual([unseen]);
    // The other checks still pass: only the clients' account disagrees.
    expect(result.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([
      "reconcile-acknowledged-within-lost",
    ]);
  });

  it("says how many of the lost were acknowledged, and passes when every acknowledged one is lost", async () => {
    const { old, fresh, lost, b, loss } = await incident();
    // One lost authorization was committed but its answer never reached the client.
    const result = await run(old, fresh, {
      ...loss,
      acknowledged: new Set([lost[0]!.id, lost[2]!.id, b.id]),
    });
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.measured).toMatchObject({ lost: 4, acknowledged: 3, unacknowledged: 1 });
    expect(check(result, "reconcile-acknowledged-within-lost").detail).toBe(
      "the 3 payments acknowledged to clients and missing from the new primary are all among the 4 lost (3 of the lost acknowledged, 1 committed but never acknowledged)",
    );
  });

  it("offers lost authorization keys the new primary does not hold for a planted conflict, else a lost capture's key", async () => {
    const { old, fresh, b, lost, loss } = await incident();
    // k-L3 is already taken in the new region; b's capture is lost but its authorization is not.
    const offered = await conflictCandidates(old.url, fresh.url, loss.lost, new Set());
    expect(offered.map((c) => [c.paymentId, c.operation, c.key]).sort()).toEqual(
      [
        [lost[0]!.id, "authorize", "k-L1"],
        [lost[1]!.id, "authorize", "k-L2"],
      ].sort(),
    );
    expect(offered.find((c) => c.key === "k-L1")).toMatchObject({ amount: 1000, currency: "EUR" });
    // Excluded (a client's retry) and held keys are never offered; with only the capture left,
    // its key is.
    const onlyCapture = await conflictCandidates(
      old.url,
      fresh.url,
      new Set([b.id, lost[2]!.id]),
      new Set([lost[0]!.id]),
    );
    expect(onlyCapture.map((c) => [c.paymentId, c.operation, c.key])).toEqual([
      [b.id, "capture", "k-B-cap"],
    ]);
  });

  it("reports a planted conflict on a lost capture's key as one, not replayed", async () => {
    const old = await Side.create(servers.old, OLD_REGION);
    const fresh = await Side.create(servers.new, NEW_REGION);
    sides.push(old, fresh);
    const b = await old.authorize(at(2), "k-B", { ...CARD, amount: 4000 });
    await old.setHeartbeat(at(20));
    await replicate(old, fresh);
    await old.capture(at(30), b.id, "k-B-cap");
    await old.setHeartbeat(at(30));
    // The only lost write is the capture: its key is reused in the new region for a new order.
    const reused = await fresh.authorize(at(90), "k-B-cap", { ...CARD, amount: 4001 });
    expect(reused.statusCode).toBe(201);
    const result = await run(old, fresh, {
      lost: new Set([b.id]),
      acknowledged: new Set([b.id]),
      retried: new Set(),
      plantedConflicts: new Set([b.id]),
    });
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.line).toBe("lost 1, reconciled 1, replayed 0, conflicts 1");
    expect(result.conflicts[0]?.reason).toMatch(/k-B-cap was reused on the new primary/);
    // Still authorized in the new region: the capture was not replayed.
    const { rows } = await fresh.sql.query<{ status: string }>(
      "SELECT status FROM payments WHERE id = $1",
      [b.id],
    );
    expect(rows[0]?.status).toBe("authorized");
  });

  it("fails when a planted conflict is not reported as one", async () => {
    const { old, fresh, lost, loss } = await incident();
    // The lab believes another payment's key was reused: the reconciliation rightly disagrees.
    const result = await run(old, fresh, {
      ...loss,
      plantedConflicts: new Set([lost[0]!.id, lost[2]!.id]),
    });
    const conflicts = check(result, "reconcile-reports-conflicts");
    expect(conflicts.ok).toBe(false);
    expect(conflicts.detail).toContain(`not reported ${lost[0]!.id}`);
  });
});
