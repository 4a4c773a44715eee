// `npm run chaos -- --runs N --seed S`: the seeded fault injector, longer than the bounded run in
// `npm test`. Prints the seed first; on a failure, the seed, the failing schedule's index and
// path, what the world saw (the last states of every execution when the watchdog stopped a run)
// and the schedule shrunk for at most --shrink-seconds (default 300; check.ts says why it is
// bounded). `--seed S --path P` replays a failure; `--schedule '<json>'` runs one schedule;
// `--keep-going` runs all N and lists every failing schedule (unshrunk) instead.
import { checkSchedules, describeFailure } from "./check";
import { describeRun, runSchedule } from "./runner";
import type { RunReport } from "./runner";
import type { Schedule } from "./schedule";

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}

async function main(): Promise<number> {
  const one = option("schedule");
  if (one !== undefined) {
    // One schedule, as printed by a failure: what the world saw, step by step of the story.
    const report = await runSchedule(JSON.parse(one) as Schedule);
    console.log(describeRun(report));
    return report.violations.length === 0 ? 0 : 1;
  }
  const runs = Number(option("runs") ?? 1000);
  const seed = Number(option("seed") ?? Math.floor(Math.random() * 2 ** 31));
  const path = option("path");
  const shrinkSeconds = Number(option("shrink-seconds") ?? 300);
  // --keep-going: every failing schedule of the N, unshrunk, instead of the first one shrunk.
  const keepGoing = process.argv.includes("--keep-going");
  const failed: string[] = [];
  if (!Number.isFinite(shrinkSeconds) || shrinkSeconds < 0)
    throw new Error(
      `--shrink-seconds must be a number of seconds, 0 or more, got ${option("shrink-seconds")}`,
    );
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs must be a positive whole number, got ${option("runs")}`);
  if (!Number.isInteger(seed))
    throw new Error(`--seed must be a whole number, got ${option("seed")}`);
  console.log(`chaos: ${runs} runs, seed ${seed}${path ? `, path ${path}` : ""}`);
  const started = Date.now();
  const stories: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  let worldSeconds = 0;
  // reprotect-home: how often re-protect armed the lease, and how the writer's guard fared.
  const arming = { runs: 0, armed: 0, slowWindow: 0, lapsedRefusals: 0, runsWithLapses: 0 };
  const failure = await checkSchedules({
    runs,
    seed,
    shrinkSeconds,
    onFound: (text: string) => console.error(text),
    ...(path ? { path } : {}),
    onReport: (report: RunReport) => {
      stories[report.schedule.story] = (stories[report.schedule.story] ?? 0) + 1;
      worldSeconds += report.simulatedSeconds;
      if (report.lease) {
        arming.runs += 1;
        if (report.lease.armedByReprotect) arming.armed += 1;
        if (report.schedule.reprotect?.slowToWriter) arming.slowWindow += 1;
        arming.lapsedRefusals += report.lease.lapsedRefusals;
        if (report.lease.lapsedRefusals > 0) arming.runsWithLapses += 1;
      }
      for (const e of report.executions) {
        const key = `${e.workflow} ${e.status === "DIED" ? "died" : (e.lastState ?? e.status)}`;
        outcomes[key] = (outcomes[key] ?? 0) + 1;
      }
    },
    ...(keepGoing
      ? {
          onFailure: (index: number, report: RunReport) => {
            failed.push(`schedule ${index}: ${report.violations[0]}`);
            console.error(
              `chaos: schedule ${index} of seed ${seed} failed:\n${describeRun(report)}`,
            );
          },
        }
      : {}),
  });
  if (failure) {
    console.error(describeFailure(failure));
    return 1;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (failed.length > 0) {
    console.error(
      `chaos FAILED: ${failed.length} of ${runs} schedules, seed ${seed}, ${seconds} s (${Math.round(worldSeconds / 3600)} h of world time):\n  ${failed.join("\n  ")}`,
    );
    console.log(`stories: ${JSON.stringify(stories)}`);
    return 1;
  }
  console.log(
    `chaos passed: ${runs} runs, seed ${seed}, ${seconds} s (${Math.round(worldSeconds / 3600)} h of world time)`,
  );
  console.log(`stories: ${JSON.stringify(stories)}`);
  console.log(`execution outcomes: ${JSON.stringify(outcomes)}`);
  console.log(`re-protect home (arming): ${JSON.stringify(arming)}`);
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`chaos: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
