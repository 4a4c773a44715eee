// Two runs started in different regions within DynamoDB's replication delay. The control table
// is an MREC global table: "Conditional writes evaluate the condition expression against the
// version of the item in the Region", replication is asynchronous ("typically within a second or
// less", no SLA) and concurrent writes end "last writer wins"
// (V2globaltables_HowItWorks.html; the model: world/dynamodb.ts, delays drawn up to the run's
// maximum). A lock taken only in each run's own copy lets both runs through. AcquireLock claims
// both copies and settles a tie the same way in both runs (functions/dr/acquire-lock/core.ts):
// at most one run gets past it, and once replication settles both copies name that run.
// Every seed is printed in the test name and reproduces its run.
import { CONTROL } from "../../functions/common/contract";
import { acquireLock } from "../../functions/dr/acquire-lock/core";
import type { LockItem } from "../../functions/dr/shared/ports";
import type { WorkflowState } from "../../functions/dr/shared/types";
import { ChaosWorld, EAST, WEST } from "./world/world";

const realImmediate = setImmediate;
const flush = () => new Promise<void>((resolve) => realImmediate(resolve));

interface Start {
  readonly workflow: "reprotect" | "failover" | "switchover";
  readonly targetRegion: string;
  readonly at: number;
}

/** Starts each run's AcquireLock at its time, drives the world until both ended, then 60 s. */
async function race(
  seed: number,
  maxDelaySeconds: number,
  starts: readonly Start[],
  mutate?: (world: ChaosWorld) => void,
) {
  const world = new ChaosWorld({
    seed,
    start: Date.UTC(2026, 10, 30, 3, 0, 0),
    ddbMaxDelaySeconds: maxDelaySeconds,
    promotionSeconds: () => 60,
    rpoSeconds: 30,
    afterFailover: true,
    lagMetricWhileCut: "grows",
  });
  mutate?.(world);
  const outcomes: (string | undefined)[] = starts.map(() => undefined);
  const runs: Promise<void>[] = [];
  starts.forEach((start, i) => {
    const failoverId = `run-${i}-${start.workflow}-to-${start.targetRegion}`;
    const sourceRegion = start.targetRegion === EAST ? WEST : EAST;
    const state = {
      request: {
        workflow: start.workflow,
        failoverId,
        targetRegion: start.targetRegion,
        sourceRegion,
        ignoreCooldown: true,
      },
      steps: {},
    } as unknown as WorkflowState;
    world.clock.at(start.at, () => {
      const inv = {
        region: start.targetRegion,
        execution: failoverId,
        workflow: start.workflow,
        sourceRegion,
        killed: false,
      };
      runs.push(
        acquireLock(state, world.deps(inv)).then(
          () => void (outcomes[i] = "acquired"),
          (error: Error) => void (outcomes[i] = error.name),
        ),
      );
    });
  });
  const settleBy = Math.max(...starts.map((s) => s.at)) + 60_000;
  const t0 = world.clock.now;
  for (;;) {
    await flush();
    if (outcomes.every((o) => o !== undefined) && world.clock.now - t0 >= settleBy) break;
    const timer = world.clock.next();
    if (!timer) break;
    await timer.fn();
    await flush();
  }
  await Promise.all(runs);
  const copy = (region: string) =>
    world.table.read(region, CONTROL.lockItem) as unknown as LockItem | undefined;
  return { outcomes, east: copy(EAST)?.owner, west: copy(WEST)?.owner, world, starts };
}

const SEEDS = Array.from({ length: 25 }, (_, i) => 9100 + i);

describe("the failover lock across the two copies of the control table", () => {
  it.each(SEEDS)(
    "lets only one of a re-protect in us-west-2 and a failover to us-east-1 started within the replication delay through (seed %i)",
    async (seed) => {
      // Replication delays up to 5 s; the second start 0-900 ms after the first, so it lands
      // before the first run's lock reached its copy in most seeds.
      const gap = (seed * 37) % 900;
      const first = seed % 2 === 0;
      const { outcomes, east, west } = await race(seed, 5, [
        { workflow: "reprotect", targetRegion: WEST, at: first ? 0 : gap },
        { workflow: "failover", targetRegion: EAST, at: first ? gap : 0 },
      ]);
      expect(outcomes.filter((o) => o === "acquired")).toHaveLength(1);
      expect(outcomes.filter((o) => o !== "acquired")).toEqual(["LockHeldError"]);
      // Both copies converge on the run that went ahead.
      const winner = outcomes[0] === "acquired" ? 0 : 1;
      expect(east).toBe(west);
      expect(east).toMatch(new RegExp(`^run-${winner}-`));
    },
    30_000,
  );

  it("lets exactly one of two simultaneous switchovers to opposite regions through", async () => {
    const { outcomes, east, west } = await race(77, 2, [
      { workflow: "switchover", targetRegion: EAST, at: 0 },
      { workflow: "switchover", targetRegion: WEST, at: 0 },
    ]);
    expect(outcomes.filter((o) => o === "acquired")).toHaveLength(1);
    expect(east).toBe(west);
  });

  it("takes the lock in its own copy only, and says so, when the other region does not answer", async () => {
    // The unplanned case: a failover to us-west-2 with us-east-1 down. One best-effort claim of
    // us-east-1's copy times out; the lock stands in us-west-2's copy with its scope recorded.
    const { outcomes, world } = await race(
      5,
      1,
      [{ workflow: "failover", targetRegion: WEST, at: 0 }],
      (w) =>
        w.network.add({
          kind: "down",
          region: EAST,
          from: w.clock.now,
          to: w.clock.now + 3600_000,
        }),
    );
    expect(outcomes).toEqual(["acquired"]);
    const lock = world.table.read(WEST, CONTROL.lockItem) as unknown as LockItem;
    expect(lock.owner).toBe("run-0-failover-to-us-west-2");
    expect(String(lock.facts.lockScope)).toMatch(/^us-west-2 only: us-east-1 did not answer/);
    // Only the best-effort profile reached for the region that is down.
    expect(world.calls.filter((c) => c.region === EAST).map((c) => [c.op, c.profile])).toEqual([
      ["dynamodb:PutItem failover-lock", "bestEffort"],
    ]);
  });
});
