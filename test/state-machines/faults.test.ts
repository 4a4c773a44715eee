// The fault matrix: every Lambda task of every workflow, under throttling, a task timeout, an
// AccessDenied and a timeout that never clears.
import type { WorkflowName } from "../../infra/lib/asl";
import { AccessDeniedError, TransientError } from "../../functions/dr/shared/errors";
import { EAST, FakeWorld, TOPOLOGY, WEST } from "../functions/dr/support/fake-world";
import type { Fault, RunOptions } from "./support/harness";
import { lambdaTaskStates, named, runWorkflow } from "./support/harness";

interface Scenario {
  readonly world: () => FakeWorld;
  readonly input: Record<string, unknown>;
  readonly region: string;
  readonly options?: Partial<RunOptions>;
  /** Where the run ends without a fault. */
  readonly normally: { status: "SUCCEEDED" } | { status: "FAILED"; error: string };
}

const failoverInput = { targetRegion: WEST, reason: "drill", trigger: "drill" };
const base: Record<Exclude<WorkflowName, "reprotect">, Omit<Scenario, "normally">> = {
  failover: { world: () => new FakeWorld(), input: failoverInput, region: WEST },
  switchover: { world: () => new FakeWorld(), input: failoverInput, region: WEST },
  failback: {
    world: () => FakeWorld.afterFailoverToWest(),
    input: { targetRegion: EAST, reason: "drill", trigger: "drill" },
    region: EAST,
  },
};

/** How to reach a state at all: approval mode for the approval states, a failure for the page. */
function scenario(workflow: Exclude<WorkflowName, "reprotect">, state: string): Scenario {
  const s = base[workflow];
  const role = workflow === "failover" ? "Promote" : "Switchover";
  switch (state) {
    case "RequestApproval":
      return { ...s, input: { ...s.input, mode: "approval" }, normally: { status: "SUCCEEDED" } };
    case "ReleaseLockNotApproved":
      return {
        ...s,
        input: { ...s.input, mode: "approval" },
        options: { approval: () => ({ approved: false }) },
        normally: { status: "FAILED", error: "ApprovalNotGranted" },
      };
    case "PageSlowPromotion": {
      // Reached only when the promotion is slower than expected.
      const slow = () => {
        const world = s.world();
        world.promotionSeconds = 5 * 60;
        return world;
      };
      return { ...s, world: slow, normally: { status: "SUCCEEDED" } };
    }
    case "PageCapacity":
      // Reached only when the capacity loop ends in a warning (here a refused RestoreCapacity).
      return {
        ...s,
        options: {
          faults: {
            RestoreCapacity: { before: () => new AccessDeniedError("denied"), times: 99 },
          },
        },
        normally: { status: "SUCCEEDED" },
      };
    case "PageOnCall":
      return {
        ...s,
        options: {
          faults: { [role]: { before: () => new AccessDeniedError("denied"), times: 99 } },
        },
        normally: { status: "FAILED", error: "AccessDeniedError" },
      };
    default:
      return { ...s, normally: { status: "SUCCEEDED" } };
  }
}

const NON_BLOCKING = ["ShiftTraffic", "RestoreCapacity", "RecordTimeline", "NotifyCompleted"];
const BEFORE_LOCK = ["ValidateInput", "CheckRejoin", "Preflight", "AcquireLock"];
const BEFORE_PROMOTION = [...BEFORE_LOCK, "RequestApproval", "ReleaseLockNotApproved", "Fence"];

async function runWith(workflow: Exclude<WorkflowName, "reprotect">, state: string, fault: Fault) {
  const s = scenario(workflow, state);
  const world = s.world();
  const faults = { ...s.options?.faults, [state]: fault };
  const result = await runWorkflow(workflow, s.input as never, {
    ...s.options,
    world,
    region: s.region,
    faults,
    executionName: "run-1",
  });
  return { s, world, result };
}

describe.each(["failover", "switchover", "failback"] as const)("%s under faults", (workflow) => {
  const states = lambdaTaskStates(workflow);

  it.each(states)("retries throttling in %s and carries on", async (state) => {
    const { s, result } = await runWith(workflow, state, {
      before: () => new TransientError("ThrottlingException: Rate exceeded"),
    });
    expect(result.retries).toContain(state);
    expect(result).toMatchObject(s.normally);
  });

  it.each(states)("retries a task timeout in %s and carries on", async (state) => {
    const { s, result } = await runWith(workflow, state, { before: () => named("States.Timeout") });
    if (state === "RequestApproval") {
      // For the approval, a timeout means nobody answered: abandoned, not retried.
      expect(result).toMatchObject({ status: "FAILED", error: "ApprovalNotGranted" });
      return;
    }
    expect(result.retries).toContain(state);
    expect(result).toMatchObject(s.normally);
  });

  it.each([
    ["AccessDenied", () => new AccessDeniedError("User is not authorized to perform this action")],
    ["a timeout that never clears", () => named("States.Timeout")],
  ])("stops safely and pages on %s, in every task", async (_, error) => {
    for (const state of states) {
      const { s, world, result } = await runWith(workflow, state, { before: error, times: 99 });
      const name = error().name;
      const context = { state, status: result.status, error: result.error };
      if (NON_BLOCKING.includes(state)) {
        expect(context).toEqual({ state, status: "SUCCEEDED", error: undefined });
        expect(result.output!.warnings![state]).toMatchObject({ Error: name });
        continue;
      }
      if (state === "PageSlowPromotion") {
        // The slow-promotion page failing changes nothing: the run keeps polling.
        expect(context).toEqual({ state, status: "SUCCEEDED", error: undefined });
        expect(result.output!).toMatchObject({ slowPromotionPage: { Error: name } });
        continue;
      }
      if (state === "PageCapacity") {
        // The capacity page failing changes nothing: the run has completed already.
        expect(context).toEqual({ state, status: "SUCCEEDED", error: undefined });
        expect(result.output!).toMatchObject({ capacityPage: { Error: name } });
        continue;
      }
      if (state === "PageOnCall") {
        expect(context).toEqual({ state, status: "FAILED", error: "PageFailed" });
        continue;
      }
      if (state === "RequestApproval" && name === "States.Timeout") {
        expect(context).toEqual({ state, status: "FAILED", error: "ApprovalNotGranted" });
        continue;
      }
      expect(context).toEqual({ state, status: "FAILED", error: name });
      expect(result.states.slice(-2)).toEqual(["PageOnCall", "Halted"]);
      const page = world.messages[s.region]!.at(-1);
      expect({ state, subject: page?.subject }).toEqual({
        state,
        subject: expect.stringContaining(`HALTED at ${state}`),
      });
      expect({ state, lockHeld: world.lock() !== undefined }).toEqual({
        state,
        lockHeld: !BEFORE_LOCK.includes(state),
      });
      if (BEFORE_PROMOTION.includes(state)) {
        expect({ state, promoted: world.endState().promotionRequests }).toEqual({
          state,
          promoted: 0,
        });
      }
    }
  });
});

describe("every client of the failed region throwing", () => {
  it("still completes the failover, with its target region untouched by the outage", async () => {
    const world = new FakeWorld();
    world.failRegion(EAST);
    const result = await runWorkflow("failover", failoverInput, { world });
    expect(result.status).toBe("SUCCEEDED");
    expect(result.retries).toEqual([]);
    expect(world.calls.filter((c) => c.region === EAST && c.profile === "critical")).toEqual([]);
    void TOPOLOGY;
  });
});
