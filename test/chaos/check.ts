// Runs N seeded schedules through the injector and, on the first failure, returns the evidence:
// the seed, the schedule's index in the run (fast-check's path), what the world saw, and a shrunk
// schedule when shrinking is worth it. Shared by the bounded run in `npm test` and `npm run chaos`.
//
// Shrinking is bounded in real time, and skipped for a run the watchdog stopped: fast-check
// re-runs a failing schedule's smaller variants, and when each failing variant simulates its
// whole world-time bound, shrinking takes far longer than finding (seed 341000406: the failure
// came after 126 runs and under a minute, its shrinking ran for over 11 minutes). The first
// failing schedule is printed whole, and reproduces on its own.
import fc from "fast-check";
import { describeRun, runSchedule } from "./runner";
import type { RunOptions, RunReport } from "./runner";
import { scheduleArbitrary } from "./schedule";

export interface CheckOptions {
  readonly runs: number;
  readonly seed: number;
  /** fast-check's path: replays from that schedule. */
  readonly path?: string;
  /** Real seconds fast-check may spend shrinking a failure (0: report it as found). */
  readonly shrinkSeconds: number;
  /** Every report of the runs before the first failure (figures for the CLI). */
  readonly onReport?: (report: RunReport) => void;
  /**
   * Record a failing schedule and go on instead of stopping (no shrinking): how many of N fail,
   * and how. Each one is passed to onFailure with its index; the check then returns null.
   */
  readonly onFailure?: (index: number, report: RunReport) => void;
  /**
   * The first failure's evidence, as soon as it is found (before shrinking): a CI job killed
   * while shrinking, or by its own timeout, has printed it already.
   */
  readonly onFound?: (text: string) => void;
  readonly runOptions?: RunOptions;
}

export interface CheckFailure {
  readonly seed: number;
  readonly runs: number;
  /** 0-based index of the failing schedule among the seed's schedules. */
  readonly index: number;
  /** fast-check's path to the reported (shrunk) schedule: `--seed S --path P` replays it. */
  readonly path: string;
  /** The first failing run, as found. */
  readonly first: RunReport | null;
  /** The smallest failing run shrinking found (the first when it did not shrink). */
  readonly shrunk: RunReport | null;
  readonly shrinks: number;
  readonly why: string;
  /** A run that threw instead of reporting (a crash of the runner or the derivation). */
  readonly error: string | null;
}

export async function checkSchedules(options: CheckOptions): Promise<CheckFailure | null> {
  let first: { report: RunReport; at: number } | undefined;
  let shrunk: RunReport | undefined;
  let why = "";
  let index = Number((options.path ?? "0").split(":")[0]);
  const out = await fc.check(
    fc.asyncProperty(scheduleArbitrary, async (schedule) => {
      if (options.onFailure) {
        const report = await runSchedule(schedule, options.runOptions);
        options.onReport?.(report);
        if (report.violations.length > 0) options.onFailure(index, report);
        index += 1;
        return true;
      }
      if (first) {
        // Shrinking. A smaller variant that is not run counts as passing, so fast-check keeps the
        // smallest failing schedule it has.
        if (first.report.unended) {
          why = "not shrunk: the watchdog stopped it (each failing variant runs its whole bound)";
          return true;
        }
        if (performance.now() - first.at > options.shrinkSeconds * 1000) {
          why = `shrinking stopped after ${options.shrinkSeconds} s`;
          return true;
        }
      }
      const report = await runSchedule(schedule, options.runOptions);
      if (!first) options.onReport?.(report);
      if (report.violations.length === 0) {
        if (!first) index += 1;
        return true;
      }
      if (!first) {
        first = { report, at: performance.now() };
        options.onFound?.(
          `chaos: schedule ${index} of seed ${options.seed} failed (shrinking it for at most ${report.unended ? 0 : options.shrinkSeconds} s):\n${describeRun(report)}\n`,
        );
      }
      shrunk = report;
      return false;
    }),
    {
      numRuns: options.runs,
      seed: options.seed,
      ...(options.path ? { path: options.path } : {}),
    },
  );
  if (!out.failed) return null;
  const path = out.counterexamplePath ?? "";
  return {
    seed: options.seed,
    runs: options.runs,
    index: Number(path.split(":")[0]),
    path,
    first: first?.report ?? null,
    shrunk: shrunk ?? null,
    shrinks: out.numShrinks,
    why: why || (out.numShrinks > 0 ? "shrunk" : "no smaller failing schedule"),
    error:
      first === undefined
        ? String(out.errorInstance instanceof Error ? out.errorInstance.stack : out.errorInstance)
        : null,
  };
}

/** The evidence, for a person at a terminal or in a CI log. */
export function describeFailure(failure: CheckFailure): string {
  const { seed, runs, index, path } = failure;
  const lines = [
    `chaos FAILED: seed ${seed}, schedule ${index} of ${runs} (fast-check path ${path})`,
  ];
  if (failure.error) lines.push(`the run threw: ${failure.error}`);
  if (failure.first) {
    lines.push(`first failing run, as found:\n${describeRun(failure.first)}`);
    if (failure.shrunk && failure.shrunk !== failure.first)
      lines.push(
        `smallest failing run (${failure.shrinks} shrinks):\n${describeRun(failure.shrunk)}`,
      );
    else lines.push(`(${failure.why})`);
  }
  const schedule = (failure.shrunk ?? failure.first)?.schedule;
  lines.push(
    "replay:",
    `  CHAOS_SEED=${seed} CHAOS_RUNS=${runs} npx jest test/chaos/chaos.test.ts`,
    `  npm run chaos -- --runs ${runs} --seed ${seed} --path ${path}`,
    ...(schedule ? [`  npm run chaos -- --schedule '${JSON.stringify(schedule)}'`] : []),
  );
  return lines.join("\n");
}
