// The lab's reconciliation checks (lab/reconcile.ts, issue 16) on two real PostgreSQL servers: the
// old primary's copy and the new primary, forked as an unplanned failover forks them ("Managed
// failover doesn't wait for data to synchronize", aurora-global-database-disaster-recovery.html).
// The checks hold the real reconciliation to what the lab measured as lost; here the test is the
// lab, and it plants discrepancies between the two (a lost payment hidden from the copy, a payment
// added to it) to see each check fail, saying which payment differs.
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import type { ForkPoint } from "../../../functions/reconcile/model";
import { reconcileAgainstCopy } from "../../../lab/reconcile";
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
