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
import { releaseLock } from "../../functions/dr/release-lock/core";
import { withVirtualTime } from "./world/clock";
import type { LockItem } from "../../functions/dr/shared/ports";
import type { WorkflowState } from "../../functions/dr/shared/types";
import { ChaosWorld, EAST, WEST } from "./world/world";

const realImmediate = setImmediate;
const flush = () => new Promise<void>((resolve) => realImmediate(resolve));

interface Start {
  readonly workflow: "reprotect" | "failover" | "switchover" | "failback";
  readonly targetRegion: string;
  readonly at: number;
  /** When this run, having acquired the lock, completes and releases it (ReleaseLock). */
  readonly releaseAt?: number;
  /** Starts `delayMs` after run `of`'s ReleaseLock returned, instead of at `at`. */
  readonly afterRelease?: { readonly of: number; readonly delayMs: number };
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
  const settles = starts.map(() => 0);
  const t0 = world.clock.now;
  const runs: Promise<void>[] = [];
  const begins: (() => void)[] = [];
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
    const begin = () => {
      const inv = {
        region: start.targetRegion,
        execution: failoverId,
        workflow: start.workflow,
        sourceRegion,
        killed: false,
      };
      runs.push(
        acquireLock(state, world.deps(inv)).then(
          () => {
            outcomes[i] = start.releaseAt === undefined ? "acquired" : "releasing";
            if (start.releaseAt === undefined) return;
            // A completed run (Unfence done) ends: cooldown, then the lock in both copies.
            world.clock.at(start.releaseAt - world.clock.now + t0, () => {
              const done = { ...state, steps: { Unfence: {} } } as unknown as WorkflowState;
              runs.push(
                releaseLock(done, world.deps(inv)).then(
                  () => {
                    outcomes[i] = "released";
                    starts.forEach((next, j) => {
                      if (next.afterRelease?.of === i)
                        world.clock.at(next.afterRelease.delayMs, begins[j]!);
                    });
                  },
                  (error: Error) => void (outcomes[i] = `release ${error.name}`),
                ),
              );
            });
          },
          (error: Error) => {
            // The failover's ASL Retry for LockSettlingError (failover.asl.json: IntervalSeconds
            // 3, BackoffRate 1, MaxAttempts 31): the same input, a new invocation.
            if (error.name === "LockSettlingError" && settles[i]! < 31) {
              settles[i] = settles[i]! + 1;
              world.clock.at(3000, begin);
              return;
            }
            outcomes[i] = error.name;
          },
        ),
      );
    };
    begins.push(begin);
    if (!start.afterRelease) world.clock.at(start.at, begin);
  });
  const settleBy =
    Math.max(
      ...starts.map((s) => Math.max(s.at, s.releaseAt ?? 0) + (s.afterRelease?.delayMs ?? 0)),
    ) + 60_000;
  // The cores' own waits (a planned run's retry backoff, best-effort caps) and jitter follow the
  // virtual clock and the seed.
  await withVirtualTime(
    world.clock,
    () => world.random.next(),
    async () => {
      for (;;) {
        await flush();
        if (
          outcomes.every((o) => o !== undefined && o !== "releasing") &&
          world.clock.now - t0 >= settleBy
        )
          break;
        const timer = world.clock.next();
        if (!timer) break;
        await timer.fn();
        await flush();
      }
      await Promise.all(runs);
    },
  );
  const copy = (region: string) =>
    world.table.read(region, CONTROL.lockItem) as unknown as LockItem | undefined;
  return { outcomes, settles, east: copy(EAST)?.owner, west: copy(WEST)?.owner, world, starts };
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

  // Review H1: a failover's claim of the other copy fails once (an error answer from a healthy
  // region) and it goes ahead on its own copy; a switchover started in the other region just
  // before it cannot reach that copy for a moment. Its claim lands after the failover recorded
  // its scope, and it would win the tie-break (it started first): it must not write over a run
  // that went ahead, nor go ahead on its own copy.
  const LATE_SEEDS = Array.from({ length: 12 }, (_, i) => 9300 + i);
  it.each(LATE_SEEDS)(
    "lets only one run through when a takeover would land after the other run recorded its scope (seed %i)",
    async (seed) => {
      const gap = 300 + ((seed * 53) % 200);
      const { outcomes, east, west, world } = await race(
        seed,
        1 + (seed % 5),
        [
          { workflow: "switchover", targetRegion: WEST, at: 0 },
          { workflow: "failover", targetRegion: EAST, at: gap },
        ],
        (w) => {
          // us-east-1's Lambdas get 500s from us-west-2's DynamoDB for 3 s, and us-west-2's
          // from us-east-1's for 1.2 s (a cross-region path failing; each region's own calls work).
          w.network.add({
            kind: "error",
            region: WEST,
            service: "dynamodb",
            caller: EAST,
            share: 1,
            from: w.clock.now,
            to: w.clock.now + 3000,
          });
          w.network.add({
            kind: "error",
            region: EAST,
            service: "dynamodb",
            caller: WEST,
            share: 1,
            from: w.clock.now,
            to: w.clock.now + 1200,
          });
        },
      );
      expect(outcomes.filter((o) => o === "acquired")).toHaveLength(1);
      expect(outcomes.filter((o) => o !== "acquired")).toEqual(["LockHeldError"]);
      const winner =
        outcomes[0] === "acquired"
          ? "run-0-switchover-to-us-west-2"
          : "run-1-failover-to-us-east-1";
      // Once replication settles, both copies name the run that went ahead.
      expect(east).toBe(winner);
      expect(west).toBe(winner);
      if (winner.includes("failover")) {
        // The case under test: the failover recorded its scope before the switchover's claim
        // reached its copy (when replication is quick, the failover meets the switchover's lock
        // at its own put instead, and is simply refused).
        const scoped = world.table.history.find(
          (h) =>
            h.region === EAST &&
            (h.item?.facts as Record<string, unknown> | undefined)?.lockScope !== undefined,
        );
        const lateClaim = world.calls
          .filter((c) => c.execution.includes("switchover") && c.region === EAST)
          .at(-1);
        expect(lateClaim!.at).toBeGreaterThan(scoped!.at);
      }
    },
    30_000,
  );

  it("retries a switchover's claim of the other copy and confirms both, never going ahead on one", async () => {
    // us-west-2's Lambdas get 500s from us-east-1's DynamoDB for 400 ms: the first claim fails.
    const { outcomes, world } = await race(
      11,
      1,
      [{ workflow: "switchover", targetRegion: WEST, at: 0 }],
      (w) =>
        w.network.add({
          kind: "error",
          region: EAST,
          service: "dynamodb",
          caller: WEST,
          share: 1,
          from: w.clock.now,
          to: w.clock.now + 400,
        }),
    );
    expect(outcomes).toEqual(["acquired"]);
    const lock = world.table.read(WEST, CONTROL.lockItem) as unknown as LockItem;
    expect(lock.facts.lockScope).toBe(`${WEST} and ${EAST}`);
    const claims = world.calls.filter(
      (c) => c.region === EAST && c.op === "dynamodb:PutItem failover-lock",
    );
    expect(claims.length).toBeGreaterThan(1);
  });

  it.each(["switchover", "failback"] as const)(
    "stops a %s whose claim never answers, releases its lock in both copies, and a failover from the other region then proceeds",
    async (workflow) => {
      // Every call from us-east-1's Lambdas to us-west-2's DynamoDB lands but its answer is lost
      // for 60 s: the claim took us-west-2's copy, and the run cannot know it.
      const { outcomes, world } = await race(
        21,
        2,
        [
          { workflow, targetRegion: EAST, at: 0 },
          // 20 s later, well inside the 6 h TTL the planned run's lock would have had.
          { workflow: "failover", targetRegion: WEST, at: 20_000 },
        ],
        (w) =>
          w.network.add({
            kind: "lost",
            region: WEST,
            service: "dynamodb",
            caller: EAST,
            share: 1,
            from: w.clock.now,
            to: w.clock.now + 60_000,
          }),
      );
      expect(outcomes).toEqual(["LockUnconfirmedError", "acquired"]);
      // Its claim had landed in us-west-2's copy before the release.
      expect(
        world.table.history.some(
          (h) => h.region === WEST && h.item?.owner === `run-0-${workflow}-to-us-east-1`,
        ),
      ).toBe(true);
      const lock = world.table.read(WEST, CONTROL.lockItem) as unknown as LockItem;
      expect(lock.owner).toBe("run-1-failover-to-us-west-2");
      expect(lock.facts.lockScope).toBe(`${WEST} and ${EAST}`);
      expect((world.table.read(EAST, CONTROL.lockItem) as unknown as LockItem).owner).toBe(
        "run-1-failover-to-us-west-2",
      );
    },
    30_000,
  );

  // Item 5 of session 22: a run started in the other region within about a second of another
  // run's release. ReleaseLock deletes the other region's copy, then its own; a run starting
  // there meanwhile finds its own copy free, puts its lock, and its claim meets the releasing
  // run's lock, still in that run's copy for a few hundred milliseconds.
  const RELEASE_SEEDS = Array.from({ length: 12 }, (_, i) => 9500 + i);
  it.each(RELEASE_SEEDS)(
    "lets a run started just after another's release in the other region through, and leaves no ghost of the released lock (seed %i)",
    async (seed) => {
      const releaseAt = 30_000;
      const delta = (seed * 37) % 1000;
      const { outcomes, east, west } = await race(seed, 1, [
        { workflow: "switchover", targetRegion: EAST, at: 0, releaseAt },
        {
          workflow: "failover",
          targetRegion: WEST,
          at: 0,
          afterRelease: { of: 0, delayMs: delta },
        },
      ]);
      expect({ outcomes, east, west }).toEqual({
        outcomes: ["released", "acquired"],
        east: "run-1-failover-to-us-west-2",
        west: "run-1-failover-to-us-west-2",
      });
      // Both copies name the new run: the released lock was not written back anywhere.
      expect(west).toBe("run-1-failover-to-us-west-2");
      expect(east).toBe("run-1-failover-to-us-west-2");
    },
    30_000,
  );

  // The window inside a release: ReleaseLock deletes the other region's copy, then its own; the
  // second call answers in milliseconds, or up to a second or more when it is throttled and
  // retried. A run started in the first region in between finds its copy free, and its claim
  // meets the releasing run's lock, older than any run started at the same moment.
  it.each(RELEASE_SEEDS)(
    "lets a run started between the two deletes of another's release through (seed %i)",
    async (seed) => {
      const releaseAt = 30_000;
      const secondDeleteMs = 300 + ((seed * 131) % 900);
      const { outcomes, east, west } = await race(
        seed,
        1,
        [
          { workflow: "switchover", targetRegion: EAST, at: 0 },
          { workflow: "failover", targetRegion: WEST, at: releaseAt + 20 + ((seed * 7) % 100) },
        ],
        (w) => {
          // ReleaseLock's two conditional deletes of run 0's lock (release-lock/core.ts).
          const release = (region: string) => () =>
            void w.table.write(region, CONTROL.lockItem, (current) =>
              current?.owner === "run-0-switchover-to-us-east-1" ? undefined : false,
            );
          w.clock.at(releaseAt, release(WEST));
          w.clock.at(releaseAt + secondDeleteMs, release(EAST));
        },
      );
      expect({ outcomes, east, west }).toEqual({
        outcomes: ["acquired", "acquired"],
        east: "run-1-failover-to-us-west-2",
        west: "run-1-failover-to-us-west-2",
      });
    },
    30_000,
  );
});

// Review H1 (session 22): a switchover and the alarm-started failover, both to EAST, while WEST's
// DynamoDB answers 500 to every caller (a degrading region: the reason on-call started the
// switchover, and the reason the alarm starts the failover). The switchover's claim of WEST's
// copy cannot succeed and it gives up; the failover must not be refused by its unconfirmed lock.
// DynamoDB's advice for 5xx is to retry, then give up
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.RetryAndBackoff).
const SETTLE_SEEDS = Array.from({ length: 20 }, (_, i) => 7100 + i);
describe("an unplanned failover meeting a planned run's unconfirmed lock", () => {
  it.each(SETTLE_SEEDS)(
    "waits for a switchover's doomed claim to give up, then fails over (seed %i)",
    async (seed) => {
      const startsAfterMs = (seed * 397) % 6000;
      const { outcomes, east } = await race(
        seed,
        1,
        [
          { workflow: "switchover", targetRegion: EAST, at: 0 },
          { workflow: "failover", targetRegion: EAST, at: startsAfterMs },
        ],
        (w) =>
          w.network.add({
            kind: "error",
            region: WEST,
            service: "dynamodb",
            share: 1,
            from: w.clock.now,
            to: w.clock.now + 600_000,
          }),
      );
      expect({ outcomes, east }).toEqual({
        outcomes: ["LockUnconfirmedError", "acquired"],
        east: "run-1-failover-to-us-east-1",
      });
    },
    30_000,
  );

  it("is refused once a healthy switchover confirms its lock, having waited for it", async () => {
    const { outcomes, settles, east, west } = await race(7200, 1, [
      { workflow: "switchover", targetRegion: EAST, at: 0 },
      { workflow: "failover", targetRegion: EAST, at: 5 },
    ]);
    expect({ outcomes, east, west }).toEqual({
      outcomes: ["acquired", "LockHeldError"],
      east: "run-0-switchover-to-us-east-1",
      west: "run-0-switchover-to-us-east-1",
    });
    expect(settles[1]).toBeLessThanOrEqual(1);
  }, 30_000);

  it("takes over a planned run's lock left unconfirmed past its AcquireLock lifetime, in both copies", async () => {
    // A switchover whose every AcquireLock attempt was killed before its release: its lock stands
    // in both copies with no scope and a 6 h TTL.
    const { outcomes, settles, east, west } = await race(
      7201,
      1,
      [{ workflow: "failover", targetRegion: EAST, at: 0 }],
      (w) => {
        const stale = {
          owner: "dead-switchover",
          operation: "switchover",
          acquiredAt: new Date(w.clock.now - 30_000).toISOString(),
          [CONTROL.ttlAttribute]: Math.floor(w.clock.now / 1000) + 6 * 3600,
          targetRegion: EAST,
          sourceRegion: WEST,
          facts: {},
        };
        for (const region of [EAST, WEST])
          void w.table.write(region, CONTROL.lockItem, () => ({ ...stale }));
      },
    );
    expect({ outcomes, east, west }).toEqual({
      outcomes: ["acquired"],
      east: "run-0-failover-to-us-east-1",
      west: "run-0-failover-to-us-east-1",
    });
    // 30 s old at the start: it waited out the rest of the 90 s, 3 s at a time.
    expect(settles[0]).toBeGreaterThanOrEqual(19);
  }, 30_000);

  it("is refused, never taking over, by a planned run's lock that recorded its scope", async () => {
    const { outcomes, east } = await race(
      7202,
      1,
      [{ workflow: "failover", targetRegion: EAST, at: 0 }],
      (w) => {
        const going = {
          owner: "live-switchover",
          operation: "switchover",
          acquiredAt: new Date(w.clock.now - 300_000).toISOString(),
          [CONTROL.ttlAttribute]: Math.floor(w.clock.now / 1000) + 6 * 3600,
          targetRegion: EAST,
          sourceRegion: WEST,
          facts: { lockScope: `${EAST} and ${WEST}` },
        };
        for (const region of [EAST, WEST])
          void w.table.write(region, CONTROL.lockItem, () => ({ ...going }));
      },
    );
    expect({ outcomes, east }).toEqual({ outcomes: ["LockHeldError"], east: "live-switchover" });
  }, 30_000);
});
