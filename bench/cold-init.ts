// npm run bench:cold-init
// Cold init of every Lambda bundle: the time `require()` of the deployed bundle takes in a fresh
// node process (module loading and the handler's module-scope wiring: environment, clients,
// caches), the part of a Lambda cold start our code controls. Runtime start-up and the first
// invocation are not included. The bundles are the ones synth deploys (infra/lib/bundle.ts,
// same options and cache); the AWS SDK stays external, as in Lambda, and loads from
// node_modules. Each bundle RUNS times, interleaved (a load spike hits every bundle alike);
// the table shows median, min and max. Goal: median <= 120 ms for every bundle.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { bundleAll, ROOT } from "../infra/lib/bundle";
import { FUNCTION_GROUPS } from "../infra/lib/nodejs-function";
import { TEST_ENV } from "../test/functions/payments/support/aws";
import { TOPOLOGY } from "../test/functions/dr/support/fake-world";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const GOAL_MS = 120;

/** What each group's functions read at load, as deployed (values are placeholders). */
const ENV: Readonly<Record<string, Record<string, string>>> = {
  payments: { ...TEST_ENV },
  dr: {
    AWS_REGION: "us-west-2",
    DR_TOPOLOGY: JSON.stringify(TOPOLOGY),
    POWERTOOLS_LOG_LEVEL: "SILENT",
  },
  monitoring: {
    AWS_REGION: "us-west-2",
    DR_TOPOLOGY: JSON.stringify(TOPOLOGY),
    POWERTOOLS_LOG_LEVEL: "SILENT",
  },
};

const SCRIPT =
  "const t=process.hrtime.bigint();require(process.argv[1]);" +
  "process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))";

function requireMs(file: string, env: Record<string, string>): number {
  return Number(
    execFileSync(process.execPath, ["-e", SCRIPT, file], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        ...env,
      },
      encoding: "utf8",
    }),
  );
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s.at(-1)! };
};

function main(): number {
  const bundles = bundleAll(FUNCTION_GROUPS);
  const times = new Map<string, number[]>(bundles.map((b) => [`${b.group}/${b.name}`, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const b of bundles) {
      times
        .get(`${b.group}/${b.name}`)!
        .push(requireMs(join(b.outdir, "index.js"), ENV[b.group] ?? {}));
    }
  }
  console.log(
    `cold init = require() of the deployed bundle in a fresh node ${process.version} process, ${RUNS} runs each (ms)`,
  );
  console.log(
    `${"bundle".padEnd(28)} ${"KB".padStart(5)} ${"median".padStart(7)} ${"min".padStart(6)} ${"max".padStart(6)}`,
  );
  let missed = 0;
  for (const b of bundles) {
    const s = stats(times.get(`${b.group}/${b.name}`)!);
    if (s.median > GOAL_MS) missed++;
    console.log(
      `${`${b.group}/${b.name}`.padEnd(28)} ${(b.bytes / 1024).toFixed(0).padStart(5)} ${s.median.toFixed(0).padStart(7)} ${s.min.toFixed(0).padStart(6)} ${s.max.toFixed(0).padStart(6)}${s.median > GOAL_MS ? "  over goal" : ""}`,
    );
  }
  const worst = Math.max(...bundles.map((b) => stats(times.get(`${b.group}/${b.name}`)!).median));
  console.log(
    `cold-init: worst median ${worst.toFixed(0)} ms; goal <= ${GOAL_MS} ms for every bundle: ${missed === 0 ? "met" : `MISSED by ${missed} of ${bundles.length}`}`,
  );
  return missed === 0 ? 0 : 1;
}

process.exitCode = main();
