// npm run bench:synth
// Wall time and peak RSS of `npm run synth`'s script, cold (no bundle cache) and warm, measured
// with GNU time on the child process. Not a test. Goal: at most 5 s and 400 MB.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DIST, ROOT } from "../infra/lib/bundle";

const GOALS = { seconds: 5, megabytes: 400 };
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function timed(outdir: string): { seconds: number; megabytes: number } {
  const result = spawnSync(
    "/usr/bin/time",
    ["-v", join(ROOT, "node_modules/.bin/tsx"), "infra/synth.ts", "--outdir", outdir],
    { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH, HOME: process.env.HOME } },
  );
  if (result.status !== 0) throw new Error(`synth failed: ${result.stderr}`);
  // "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:03.12"
  const wall = /\): (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)\n/.exec(
    result.stderr.slice(result.stderr.indexOf("Elapsed (wall clock)")),
  )!;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr)!;
  return {
    seconds: Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]),
    megabytes: Math.round(Number(rss[1]) / 1024),
  };
}

if (!existsSync("/usr/bin/time")) {
  console.error("bench:synth needs GNU time at /usr/bin/time (Debian package: time)");
  process.exit(1);
}
const scratch = mkdtempSync(join(tmpdir(), "bench-synth-"));
try {
  const runs: { kind: string; seconds: number; megabytes: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    rmSync(DIST, { recursive: true, force: true });
    runs.push({ kind: "cold", ...timed(join(scratch, `cold-${i}`)) });
    runs.push({ kind: "warm", ...timed(join(scratch, `warm-${i}`)) });
  }
  for (const run of runs) {
    console.log(`${run.kind}: ${run.seconds.toFixed(2)} s, ${run.megabytes} MB peak RSS`);
  }
  const worst = (kind: string, key: "seconds" | "megabytes") =>
    Math.max(...runs.filter((r) => r.kind === kind).map((r) => r[key]));
  const met =
    worst("cold", "seconds") <= GOALS.seconds && worst("cold", "megabytes") <= GOALS.megabytes;
  console.log(
    `synth: cold worst ${worst("cold", "seconds").toFixed(2)} s / ${worst("cold", "megabytes")} MB, ` +
      `warm worst ${worst("warm", "seconds").toFixed(2)} s / ${worst("warm", "megabytes")} MB ` +
      `(goal ${GOALS.seconds} s / ${GOALS.megabytes} MB: ${met ? "met" : "missed"})`,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
