// A crash right after each step (its side effects happened, its result was lost) must converge
// to the same end state as an undisturbed run: whether Step Functions retries the task, or the
// run stops and on-call resumes it with resumeFailoverId. No double promotion, no extra
// fencing-token bump, one synthetic payment.
import type { WorkflowName } from "../../infra/lib/asl";
import { EAST, FakeWorld, WEST } from "../functions/dr/support/fake-world";
import { named, runWorkflow } from "./support/harness";

/** Slow promotions, so a resumed run finds its promotion still under way. */
function slow(world: FakeWorld): FakeWorld {
  world.promotionSeconds = 20;
  return world;
}

type Moving = Exclude<WorkflowName, "reprotect">;

const cases: Record<Moving, { world: () => FakeWorld; input: Record<string, unknown> }> = {
  failover: {
    world: () => slow(new FakeWorld()),
    input: { targetRegion: WEST, reason: "primary down", trigger: "alarm" },
  },
  switchover: {
    world: () => slow(new FakeWorld()),
    input: { targetRegion: WEST, reason: "drill", trigger: "drill" },
  },
  failback: {
    world: () => slow(FakeWorld.afterFailoverToWest()),
    input: { targetRegion: EAST, reason: "back home", trigger: "console" },
  },
};

const STEPS: Record<Moving, string[]> = {
  failover: [
    "ValidateInput",
    "Preflight",
    "AcquireLock",
    "Fence",
    "CheckOldWriter",
    "Promote",
    "CheckPromotion",
    "UpdateParameters",
    "ShiftTraffic",
    "Verify",
    "Unfence",
    "RestoreCapacity",
    "RecordTimeline",
    "NotifyCompleted",
    "ReleaseLock",
  ],
  switchover: [],
  failback: [],
};
STEPS.switchover = STEPS.failover.map((s) => (s === "Promote" ? "Switchover" : s));
STEPS.failback = ["ValidateInput", "CheckRejoin", ...STEPS.switchover.slice(1)];

describe.each(["failover", "switchover", "failback"] as const)("%s after a crash", (workflow) => {
  const { world: makeWorld, input } = cases[workflow];
  let baseline: Record<string, unknown>;

  beforeAll(async () => {
    const world = makeWorld();
    const result = await runWorkflow(workflow, input as never, { world, executionName: "run-1" });
    expect(result.status).toBe("SUCCEEDED");
    baseline = world.endState();
    expect(baseline).toMatchObject({ promotionRequests: 1, paymentsCreated: 1, lockHeld: false });
  });

  it.each(STEPS[workflow])(
    "converges when the Lambda of %s times out after its work and is retried",
    async (step) => {
      const world = makeWorld();
      const result = await runWorkflow(workflow, input as never, {
        world,
        executionName: "run-1",
        faults: { [step]: { after: () => named("Sandbox.Timedout") } },
      });
      expect(result.status).toBe("SUCCEEDED");
      expect(result.retries).toContain(step);
      expect(world.endState()).toEqual(baseline);
      expect(Object.values(world.events).flat()).toHaveLength(1);
    },
  );

  it.each(STEPS[workflow])(
    "converges when a run that crashed after %s is resumed",
    async (step) => {
      const world = makeWorld();
      await runWorkflow(workflow, input as never, {
        world,
        executionName: "run-1",
        faults: { [step]: { after: () => named("RuntimeCrash") } },
      });
      const resumed = await runWorkflow(
        workflow,
        { ...input, resumeFailoverId: "run-1" } as never,
        { world, executionName: "run-1-resume" },
      );
      expect(resumed.status).toBe("SUCCEEDED");
      expect(world.endState()).toEqual(baseline);
    },
  );
});
