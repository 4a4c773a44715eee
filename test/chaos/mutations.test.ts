// Mutation checks of the fault injector (review M1): a world in which the application's own
// fences are never needed proves nothing about them. Each test weakens one guard and requires
// the injector to find the split brain it exists to prevent, in a focused family of schedules;
// the guard as built keeps the same family clean in the bounded run of chaos.test.ts.
import fc from "fast-check";
import { detachEvidence } from "../../functions/dr/promote/core";
import { runSchedule } from "./runner";
import { scheduleArbitrary } from "./schedule";
import type { Schedule } from "./schedule";

/** Schedules that exercise the confirmed path: on-call fails over while both regions are up. */
const busyManualFailover: fc.Arbitrary<Schedule> = scheduleArbitrary.map((s) => ({
  ...s,
  story: "manual",
  trigger: "console",
  mode: "automatic",
  paymentsPerSecond: { "us-east-1": 2, "us-west-2": 0.1 },
  quietShare: 0,
  faults: [],
  refusal: null,
  death: null,
  secondTrigger: null,
}));

async function findsViolation(
  arbitrary: fc.Arbitrary<Schedule>,
  mutate: Parameters<typeof runSchedule>[1],
  runs: number,
): Promise<string | null> {
  const out = await fc.check(
    fc.asyncProperty(arbitrary, async (schedule) => {
      const report = await runSchedule(schedule, mutate);
      return report.violations.length === 0;
    }),
    { numRuns: runs, seed: 20261130, endOnFailure: true },
  );
  return out.failed ? JSON.stringify(out.counterexample) : null;
}

describe("the fault injector sees the application's fences", () => {
  it("catches two writers when the fence settle time is cut to 1 s (defect 3's derivation)", async () => {
    const found = await findsViolation(
      busyManualFailover,
      {
        mutate: (world) => {
          world.settings = { ...world.settings, fenceSettleSeconds: 1 };
        },
      },
      30,
    );
    expect(found).not.toBeNull();
    // The same schedules with the derived settle time keep every invariant.
    expect(await findsViolation(busyManualFailover, {}, 30)).toBeNull();
  }, 120_000);

  // Defect 5: detach only when managed failover is impossible and the old primary unreachable.
  // Both regions up, RDS refusing the managed failover for a while: the run must stop and page,
  // never detach. The mutant takes any refusal as "unreachable" (what Promote did before).
  const refusedWhileHealthy: fc.Arbitrary<Schedule> = fc
    .tuple(busyManualFailover, fc.integer({ min: 0, max: 120 }), fc.integer({ min: 60, max: 600 }))
    .map(([s, at, seconds]) => ({ ...s, refusal: { at, seconds }, consoleDelay: 30 }));

  it("catches a detach on any refusal of the managed failover, the old primary healthy (defect 5)", async () => {
    const spy = jest
      .spyOn(detachEvidence, "oldPrimaryUnreachable")
      .mockResolvedValue("mutant: every refusal counts as unreachable");
    try {
      const found = await findsViolation(refusedWhileHealthy, {}, 10);
      expect(found).not.toBeNull();
      const [schedule] = JSON.parse(found!) as [Schedule];
      const report = await runSchedule(schedule);
      expect(report.violations).toContainEqual(
        expect.stringMatching(
          /detached us-west-2's cluster .* while the old primary in us-east-1 had been reachable/,
        ),
      );
    } finally {
      spy.mockRestore();
    }
    expect(await findsViolation(refusedWhileHealthy, {}, 10)).toBeNull();
  }, 120_000);
});
