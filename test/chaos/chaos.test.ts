// The seeded fault injector, bounded for `npm test`: CHAOS_RUNS schedules (200 by default) of
// the real ASL and the real task cores over the chaos world (test/chaos/world/), every invariant
// checked as the world moves (test/chaos/invariants.ts). The seed is printed; a failure prints
// it with fast-check's path and the shrunk schedule, and `npm run chaos -- --schedule '<json>'`
// shows what the world saw. Longer runs: `npm run chaos -- --runs N --seed S`.
import fc from "fast-check";
import { Invariants, Violations } from "./invariants";
import { describeRun, runSchedule } from "./runner";
import { scheduleArbitrary } from "./schedule";
import type { Schedule } from "./schedule";
import type { PaymentCommit } from "./world/payments";
import type { ChaosWorld } from "./world/world";

const RUNS = Number(process.env.CHAOS_RUNS ?? 200);
const SEED = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe("the seeded fault injector", () => {
  it(`keeps every invariant over ${RUNS} random schedules (seed ${SEED})`, async () => {
    process.stdout.write(
      `chaos: ${RUNS} schedules, seed ${SEED} (CHAOS_SEED=${SEED} replays them)\n`,
    );
    await fc.assert(
      fc.asyncProperty(scheduleArbitrary, async (schedule) => {
        const report = await runSchedule(schedule);
        if (report.violations.length > 0) throw new Error(describeRun(report));
      }),
      { numRuns: RUNS, seed: SEED },
    );
    // Seconds, on this 2-core machine; a failure shrinks its schedule first, which takes longer.
  }, 600_000);

  // A test that cannot fail proves nothing: the same world, with the database's proof taken
  // without the writer heartbeat (the old primary idle when the partition began), must show the
  // split brain the heartbeat exists to prevent.
  it("catches two writers when the old primary had nothing unreplicated (no heartbeat) and is promoted past", async () => {
    const schedule: Schedule = {
      seed: 7,
      story: "partition",
      incidentAt: 60,
      incidentSeconds: 900,
      trigger: "console",
      mode: "automatic",
      approval: { afterSeconds: 60, approved: true },
      rpoSeconds: 20,
      ddbMaxDelaySeconds: 1,
      paymentsPerSecond: { "us-east-1": 1, "us-west-2": 0.1 },
      quietShare: 0,
      lagMetricWhileCut: "missing",
      faults: [],
      refusal: null,
      death: null,
      secondTrigger: null,
      consoleDelay: 30,
    };
    const report = await runSchedule(schedule, {
      heartbeat: false,
      quietEastAfterIncident: 240,
    });
    expect(report.violations.join("\n")).toMatch(/two writers: a payment committed on us-east-1/);
    expect(await runSchedule(schedule)).toMatchObject({ violations: [] });
  }, 60_000);
});

describe("the invariant checks", () => {
  const world = (changes: unknown[] = []) =>
    ({ aurora: { changes }, services: {}, clock: { now: 0 } }) as unknown as ChaosWorld;
  const commit = (region: string, at: number) =>
    ({ region, at, commit: { id: at }, synthetic: false, token: 0 }) as unknown as PaymentCommit;

  it("flag a failover's call to the region it fails away from with the critical profile", () => {
    const violations = new Violations();
    const invariants = new Invariants(world(), violations, 0);
    const call = {
      at: 5000,
      execution: "failover-1",
      workflow: "failover",
      sourceRegion: "us-east-1",
      op: "dynamodb:GetItem active-region",
    };
    invariants.onCall({ ...call, region: "us-east-1", profile: "bestEffort" });
    invariants.onCall({ ...call, region: "us-west-2", profile: "critical" });
    expect(violations.found).toEqual([]);
    invariants.onCall({ ...call, region: "us-east-1", profile: "critical" });
    expect(violations.found).toEqual([
      expect.stringContaining(
        "in the region it fails away from (us-east-1) with the critical profile",
      ),
    ]);
  });

  it("flag payments on the old writer after the divergence, and writers that interleave", () => {
    const violations = new Violations();
    const change = {
      kind: "failover",
      from: "us-east-1",
      to: "us-west-2",
      at: 100_000,
      readOnlyAt: null,
    };
    const invariants = new Invariants(world([change]), violations, 0);
    invariants.onCommit(commit("us-east-1", 90_000));
    invariants.onCommit(commit("us-west-2", 160_000));
    expect(violations.found).toEqual([]);
    invariants.onCommit(commit("us-east-1", 170_000));
    expect(violations.found).toEqual([
      expect.stringContaining(
        "two writers: a payment committed on us-east-1's cluster 70.0 s after the failover",
      ),
      expect.stringContaining(
        "writers interleave: us-east-1 committed a payment after us-west-2 did",
      ),
    ]);
  });
});
