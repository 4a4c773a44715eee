// `payments-dr reconcile` end to end on two real PostgreSQL servers: dry run by default (reads
// only, writes the finance files), --replay restores and publishes payments.lost/replayed
// (EventBridge mocked at the SDK), a second replay changes nothing, a live "copy" is refused.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import { run, terminal } from "../../cli/support";
import type { Side } from "./support/fork";
import { dropFork, forkWithOneLost, NEW_REGION, OLD_REGION } from "./support/fork";

const T = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
const at = (s: number) => new Date(T.getTime() + s * 1000);
const eventBridge = mockClient(EventBridgeClient);

let old: Side;
let fresh: Side;
let dir: string;
let forkFile: string;
let lostId: string;

beforeAll(async () => {
  ({ old, fresh, lostId } = await forkWithOneLost(at));
  await old.authorize(at(13), "k-reused", {
    cardToken: "tok_visa_4242",
    amount: 100,
    currency: "EUR",
  });
  await old.setHeartbeat(at(15));
  await fresh.authorize(at(60), "k-reused", {
    cardToken: "tok_visa_4242",
    amount: 999,
    currency: "EUR",
  });
  dir = mkdtempSync(join(tmpdir(), "reconcile-cli-"));
  forkFile = join(dir, "fork.json");
  writeFileSync(
    forkFile,
    JSON.stringify({
      oldRegion: OLD_REGION,
      oldCluster: "payments-db-use1-prod",
      lastReplicatedAt: at(10).toISOString(),
      failoverAt: at(30).toISOString(),
    }),
  );
}, 60_000);

afterAll(async () => {
  await dropFork(old, fresh);
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  eventBridge.reset();
  eventBridge.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
    FailedEntryCount: 0,
    Entries: input.Entries.map((_, i) => ({ EventId: `eb-${i}` })),
  }));
});

const args = (...extra: string[]) => [
  "reconcile",
  "--old-url",
  old.url,
  "--new-url",
  fresh.url,
  "--fork",
  forkFile,
  "--region",
  NEW_REGION,
  "--no-store",
  ...extra,
];

describe("payments-dr reconcile", () => {
  it("is a dry run by default: it lists the lost payments and writes nothing to either database", async () => {
    const before = [await old.counts(), await fresh.counts()];
    const out = join(dir, "dry");
    const result = await run(args("--out", out, "--json"), terminal());
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.out);
    expect(doc.summary).toMatchObject({
      lost: 2,
      reconciled: 1,
      replayed: 0,
      conflicts: 1,
      pending: 1,
    });
    expect([await old.counts(), await fresh.counts()]).toEqual(before);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
    const csv = readFileSync(join(out, "lost.csv"), "utf8");
    expect(csv).toContain(`${lostId},merchant-1,4200,42.00,USD,authorized,0,0,k-lost,`);
    expect(JSON.parse(readFileSync(join(out, "report.json"), "utf8"))).toMatchObject({
      kind: "reconcile",
      region: NEW_REGION,
    });
  });

  it("replays with --replay, publishes payments.lost and payments.replayed, and a second replay changes nothing", async () => {
    const result = await run(args("--out", join(dir, "replay"), "--replay"), terminal());
    expect(result.code).toBe(0);
    expect(result.out).toContain("lost 2, reconciled 2, replayed 1, conflicts 1 (replay)");
    const entries = eventBridge
      .commandCalls(PutEventsCommand)
      .flatMap((c) => c.args[0].input.Entries ?? []);
    expect(entries.map((e) => e.DetailType).sort()).toEqual([
      "payments.lost",
      "payments.lost",
      "payments.replayed",
    ]);
    expect(
      entries.every((e) => e.Source === "payments" && e.EventBusName === "payments-events-prod"),
    ).toBe(true);
    expect(await fresh.store.find("merchant-1", lostId)).toMatchObject({
      amount: 4200,
      status: "authorized",
    });

    const once = await fresh.counts();
    const again = await run(args("--out", join(dir, "again"), "--replay"), terminal());
    expect(again.out).toContain("lost 2, reconciled 2, replayed 1, conflicts 1 (replay)");
    expect(await fresh.counts()).toEqual(once);
  });

  it("refuses the new primary as the old copy and says nothing was written", async () => {
    const result = await run(
      [
        "reconcile",
        "--old-url",
        fresh.url,
        "--new-url",
        fresh.url,
        "--fork",
        forkFile,
        "--no-store",
        "--out",
        join(dir, "x"),
      ],
      terminal(),
    );
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/LiveClusterError: the old copy .* is the new primary itself/);
    expect(result.err).toContain("nothing was written");
  });

  it("rejects a call without the old copy", async () => {
    const result = await run(["reconcile", "--new-url", fresh.url, "--fork", forkFile], terminal());
    expect(result.code).toBe(2);
    expect(result.err).toContain("reconcile needs --old-url");
  });
});
