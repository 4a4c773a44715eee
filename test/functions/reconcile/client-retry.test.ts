// A lost write the merchant restored themselves: the old primary committed a capture but its
// answer never left the failing region, and the merchant retried the same request under the same
// idempotency key against the new primary (Stripe: retry with the same key after a network
// error, docs.stripe.com/api/idempotent_requests), which captured the payment under another
// capture id and event. Found by the lab's region-down with a lag spike (issue 16): the
// reconciliation called it a conflict ("state moved on"), sending finance a payment that is
// whole. It is restored; its old event id is invalidated (consumers may have seen it).
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import { findLostWrites } from "../../../functions/reconcile/diff";
import type { ForkPoint } from "../../../functions/reconcile/model";
import { NEW_REGION, OLD_REGION, Side, replicate, servers as runServers } from "./support/fork";
import type { Servers } from "./support/fork";

const T = new Date(Math.floor(Date.now() / 1000) * 1000 - 2 * 3_600_000);
const at = (seconds: number) => new Date(T.getTime() + seconds * 1000);
const FORK: ForkPoint = {
  oldRegion: OLD_REGION,
  oldCluster: "payments-db-use1-test",
  lastReplicatedAt: at(20).toISOString(),
  failoverAt: at(60).toISOString(),
};
const CARD = { cardToken: "tok_visa_4242", currency: "EUR" };

let servers: Servers;
const sides: Side[] = [];

beforeAll(() => {
  servers = runServers();
});

afterAll(async () => {
  for (const side of sides) await side.drop(side.region === OLD_REGION ? servers.old : servers.new);
  await closeAllDatabases();
});

describe("a lost capture the merchant retried on the new primary", () => {
  it("is restored, not a conflict, and its old event is invalidated", async () => {
    const old = await Side.create(servers.old, OLD_REGION);
    const fresh = await Side.create(servers.new, NEW_REGION);
    sides.push(old, fresh);
    const payment = await old.authorize(at(1), "k-auth", { ...CARD, amount: 2500 });
    await old.setHeartbeat(at(20));
    await replicate(old, fresh);
    const lost = await old.capture(at(25), payment.id, "k-cap");
    expect(lost.statusCode).toBe(200);
    await old.setHeartbeat(at(30));
    const retried = await fresh.capture(at(90), payment.id, "k-cap");
    expect(retried.statusCode).toBe(200);
    expect(retried.replayed).toBe(false);

    const a = await old.connect();
    const b = await fresh.connect();
    try {
      const result = await findLostWrites(a, b, FORK);
      expect(result.lost).toHaveLength(1);
      const [entry] = result.lost;
      expect(entry).toMatchObject({ paymentId: payment.id, outcome: "replayed" });
      expect(entry!.changes).toHaveLength(1);
      expect(entry!.changes[0]).toMatchObject({ type: "payments.captured", state: "replayed" });
      expect(entry!.invalidatedEventIds).toEqual([entry!.changes[0]!.eventId]);
      expect(result.replaySteps.size).toBe(0);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it("is still a conflict when the new primary's change came from another request", async () => {
    const old = await Side.create(servers.old, OLD_REGION);
    const fresh = await Side.create(servers.new, NEW_REGION);
    sides.push(old, fresh);
    const payment = await old.authorize(at(1), "k-auth", { ...CARD, amount: 2500 });
    await old.setHeartbeat(at(20));
    await replicate(old, fresh);
    await old.capture(at(25), payment.id, "k-cap");
    await old.setHeartbeat(at(30));
    // Another key: another request, a capture the old primary's merchant call never was.
    await fresh.capture(at(90), payment.id, "k-cap-other");
    const a = await old.connect();
    const b = await fresh.connect();
    try {
      const result = await findLostWrites(a, b, FORK);
      expect(result.lost.map((l) => l.outcome)).toEqual(["conflict"]);
      expect(result.lost[0]!.reason).toMatch(/^state moved on/);
    } finally {
      await a.end();
      await b.end();
    }
  });
});
