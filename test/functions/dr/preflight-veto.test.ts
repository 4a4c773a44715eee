// Review 23-18 H1/M1/M3: the heartbeat veto at Preflight, against the real Preflight core, the
// real prober record (observeHeartbeat, withAnswers, classifyAnswer's classes) and timings drawn
// from their documented ranges rather than placed by hand:
// - the prober probes every 10 s (PROBE_INTERVAL_SECONDS) at a random phase, with a timeout of
//   1-9 s (PROBE_TIMEOUT_SECONDS < the interval); its PrimaryHealthy datapoint is read back at the
//   10 s period, whose time is the period's start (CloudWatch GetMetricData, Period 10:
//   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Resolution_definition);
//   a 429 publishes no datapoint (the prober), so it never counts towards the alarm;
// - the alarm (3 of 3 periods of 10 s, functions/infra defaults) fires after its third failed
//   period, its run reaching Preflight 0-30 s later (alarm evaluation, EventBridge, Step Functions);
// - pg_cron beats every 5 s at a random phase (WRITER_HEARTBEAT); a beat's value is the writer's
//   clock; it reaches the target's cluster after the replication lag ("typically under a second",
//   aurora-global-database; drawn up to the limits below);
// - every clock (writer, prober, this task) is on the Amazon Time Sync Service: ±0.5 s each.
// fast-check prints the seed of a failing run; `FC_SEED=<seed> npx jest <this file>` replays it.
import fc from "fast-check";
import { WRITER_HEARTBEAT } from "../../../functions/common/contract";
import { preflight } from "../../../functions/dr/preflight/core";
import { observeHeartbeat, withAnswers } from "../../../functions/dr/shared/heartbeat-watch";
import type { ProbeAnswer } from "../../../functions/dr/shared/heartbeat-watch";
import type { HeartbeatWatch } from "../../../functions/dr/shared/ports";
import type { DrRequest, WorkflowState } from "../../../functions/dr/shared/types";
import { EAST, FakeWorld, TOPOLOGY, WEST } from "./support/fake-world";

const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : 20261130;
const RUNS = 300;
const INTERVAL = 10;
const BEAT = WRITER_HEARTBEAT.intervalSeconds;
const ALARM_PERIODS = 3;

const request: DrRequest = {
  workflow: "failover",
  failoverId: "run-1",
  resumed: false,
  executionId: "arn:aws:states:us-west-2:123456789012:execution:sm:run-1",
  executionName: "run-1",
  stateMachineArn: "arn:aws:states:us-west-2:123456789012:stateMachine:sm",
  startedAt: "2026-01-01T00:00:00Z",
  targetRegion: WEST,
  sourceRegion: EAST,
  reason: "alarm",
  trigger: "alarm",
  mode: "automatic",
  forceDetach: false,
  ignoreCooldown: false,
  allowUnknownLag: false,
  assumeOldWriterStopped: false,
};

interface Timing {
  readonly probePhase: number;
  readonly probeTimeout: number;
  readonly cronPhase: number;
  readonly lag: number;
  readonly writerSkew: number;
  readonly proberSkew: number;
  readonly taskSkew: number;
  /** Seconds from the alarm's third failed period to Preflight. */
  readonly runDelay: number;
}

const timing = (maxLag: number) =>
  fc.record({
    probePhase: fc.double({ min: 0, max: INTERVAL, maxExcluded: true, noNaN: true }),
    probeTimeout: fc.integer({ min: 1, max: INTERVAL - 1 }),
    cronPhase: fc.double({ min: 0, max: BEAT, maxExcluded: true, noNaN: true }),
    lag: fc.double({ min: 0.1, max: maxLag, noNaN: true }),
    writerSkew: fc.double({ min: -0.5, max: 0.5, noNaN: true }),
    proberSkew: fc.double({ min: -0.5, max: 0.5, noNaN: true }),
    taskSkew: fc.double({ min: -0.5, max: 0.5, noNaN: true }),
    runDelay: fc.double({ min: 0, max: 30, noNaN: true }),
  });

/**
 * The world's story, in true seconds from an arbitrary origin: the payment path (what /health
 * answers) fails at `failAt`, the database stops committing at `dbDiesAt` (Infinity: never), and
 * `answerOf(k)` is what the k-th failed probe got.
 */
interface Story {
  readonly failAt: number;
  readonly dbDiesAt: number;
  readonly answerOf: (k: number) => Exclude<ProbeAnswer, "ok">;
  /** Preflight at this true time instead of after the alarm (the cascade's fixed 90 s). */
  readonly runAt?: (firstFailedPeriod: number) => number;
}

const BASE = Date.parse("2026-11-30T12:00:00Z");
const iso = (s: number) => new Date(BASE + s * 1000).toISOString();

/** Runs the story and Preflight; returns its error's name, or "none", or "no-alarm". */
async function simulate(t: Timing, story: Story): Promise<string> {
  // The writer's beats: committed at true time c, value c + writerSkew, at the target c + lag.
  const beats: { value: number; arrives: number }[] = [];
  for (let c = t.cronPhase; c < 400; c += BEAT) {
    if (c >= story.dbDiesAt) break;
    beats.push({ value: c + t.writerSkew, arrives: c + t.lag });
  }
  const heldAt = (s: number) => beats.filter((b) => b.arrives <= s).at(-1)?.value ?? null;

  // The prober: probes, the published datapoints, its record in the target's control table.
  const datapoints: { at: number; healthy: boolean }[] = [];
  let watch: HeartbeatWatch | null = null;
  let failedCount = 0;
  let alarmAt: number | undefined;
  let consecutive = 0;
  let firstFailedPeriod: number | undefined;
  const staleAfter = 80;
  let runAt = Infinity;
  for (let k = 0; ; k++) {
    const start = t.probePhase + k * INTERVAL;
    if (start > runAt) break;
    if (start > 300) return "no-alarm";
    // A probe started before the failure answers 200 within 100 ms.
    const healthy = start + 0.1 < story.failAt;
    const answer: ProbeAnswer = healthy ? "ok" : story.answerOf(failedCount++);
    const proberAt = start + t.proberSkew;
    const period = Math.floor(proberAt / INTERVAL) * INTERVAL;
    const ends = healthy
      ? start + 0.1
      : answer === "timeout"
        ? start + t.probeTimeout
        : start + 0.2;
    // A 429 publishes nothing, and the alarm treats missing data as not breaching.
    if (answer === "throttled") consecutive = 0;
    else {
      datapoints.push({ at: period, healthy });
      if (healthy) consecutive = 0;
      else {
        consecutive++;
        firstFailedPeriod ??= period;
      }
      if (consecutive >= ALARM_PERIODS && alarmAt === undefined) {
        alarmAt = period + INTERVAL + t.runDelay;
        runAt = story.runAt ? story.runAt(firstFailedPeriod!) : alarmAt;
      }
    }
    // The round's look at the heartbeat, once the probe is done (functions/monitoring/prober).
    if (ends <= runAt) {
      const held = heldAt(ends);
      const observed = observeHeartbeat(
        watch,
        held === null ? null : iso(held),
        new Date(BASE + (ends + t.proberSkew) * 1000),
        healthy,
        staleAfter,
      );
      if (observed) watch = withAnswers(observed, [{ at: iso(proberAt), answer }]);
    }
  }

  const world = new FakeWorld();
  const runAtTask = runAt + t.taskSkew;
  world.probes[EAST] = datapoints
    .filter((d) => d.at <= runAtTask)
    .reverse()
    .map((d) => ({ at: iso(d.at), healthy: d.healthy }));
  const held = heldAt(runAt);
  world.heartbeatAt[WEST] = held === null ? null : BASE + held * 1000;
  world.heartbeatWatch[WEST] = watch;
  const cluster = TOPOLOGY.regions[WEST]!.clusterIdentifier;
  world.lagHistory[cluster] = [{ at: iso(runAt - 60), lagMs: Math.round(t.lag * 1000) }];
  const deps = { ...world.deps(WEST), now: () => new Date(BASE + runAtTask * 1000) };
  const state: WorkflowState = { input: {}, request, steps: {} };
  try {
    await preflight(state, deps);
    return "none";
  } catch (error) {
    return error instanceof Error ? error.name : String(error);
  }
}

const anyFailure = fc.constantFrom<Exclude<ProbeAnswer, "ok">>(
  "lambda-500",
  "throttled",
  "own-503",
  "other-5xx",
  "other",
  "timeout",
  "unreachable",
);
const params = { seed: SEED, numRuns: RUNS };

describe("the heartbeat veto at Preflight, over drawn timings (review 23-18)", () => {
  it("never holds the failover of a region that died, whatever its probes got", async () => {
    await fc.assert(
      fc.asyncProperty(
        timing(30),
        fc.double({ min: 30, max: 60, noNaN: true }),
        fc.array(anyFailure, { minLength: 1, maxLength: 5 }),
        async (t, failAt, answers) => {
          const outcome = await simulate(t, {
            failAt,
            dbDiesAt: failAt,
            answerOf: (k) => answers[k % answers.length]!,
          });
          fc.pre(outcome !== "no-alarm");
          expect(outcome).not.toBe("PrimaryStillCommittingError");
        },
      ),
      params,
    );
  });

  it("never holds the failover of a primary whose payment path fails with its own 503 (DynamoDB, VPC) while its database commits", async () => {
    await fc.assert(
      fc.asyncProperty(
        timing(30),
        fc.double({ min: 30, max: 60, noNaN: true }),
        fc.array(fc.constantFrom<Exclude<ProbeAnswer, "ok">>("own-503", "lambda-500"), {
          minLength: 1,
          maxLength: 5,
        }),
        async (t, failAt, mix) => {
          // Our 503s from the first failed probe on, with a Lambda 500 now and then: one real
          // failure in the alarm's window is enough.
          const answers = ["own-503" as const, ...mix];
          const outcome = await simulate(t, {
            failAt,
            dbDiesAt: Infinity,
            answerOf: (k) => answers[k % answers.length]!,
          });
          fc.pre(outcome !== "no-alarm");
          expect(outcome).toBe("none");
        },
      ),
      params,
    );
  });

  it("holds an alarm's failover while /health is flooded (API Gateway's generic 500 and 429) and the database commits", async () => {
    await fc.assert(
      fc.asyncProperty(
        // The lag the veto covers at the alarm's first run: up to 4 s (README: above that an
        // alarm run right after its third period finds no beat 20 s after the failure yet).
        timing(4),
        fc.double({ min: 30, max: 60, noNaN: true }),
        fc.array(fc.constantFrom<Exclude<ProbeAnswer, "ok">>("lambda-500", "throttled"), {
          minLength: 1,
          maxLength: 5,
        }),
        async (t, failAt, mix) => {
          const answers = mix.includes("lambda-500") ? mix : ["lambda-500" as const, ...mix];
          const outcome = await simulate(t, {
            failAt,
            dbDiesAt: Infinity,
            answerOf: (k) => answers[k % answers.length]!,
          });
          fc.pre(outcome !== "no-alarm");
          expect(outcome).toBe("PrimaryStillCommittingError");
        },
      ),
      params,
    );
  });

  it("fails over a cascade (API path first, database 25-60 s later) at the alarm's run 90 s in", async () => {
    await fc.assert(
      fc.asyncProperty(
        timing(10),
        fc.double({ min: 30, max: 60, noNaN: true }),
        fc.double({ min: 25, max: 60, noNaN: true }),
        fc.constantFrom<Exclude<ProbeAnswer, "ok">>("lambda-500", "throttled"),
        async (t, failAt, dbAfter, other) => {
          const outcome = await simulate(t, {
            failAt,
            dbDiesAt: failAt + dbAfter,
            answerOf: (k) => (k % 4 === 3 ? other : "lambda-500"),
            runAt: () => failAt + 90 + t.runDelay / 10,
          });
          fc.pre(outcome !== "no-alarm");
          expect(outcome).toBe("none");
        },
      ),
      params,
    );
  });
});
