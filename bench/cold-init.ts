// npm run bench:cold-init
// Cold init of every Lambda bundle: the time `require()` of the deployed bundle takes in a fresh
// node process (module loading and the handler's module-scope wiring: environment, clients,
// caches), the part of a Lambda cold start our code controls. Runtime start-up and the first
// invocation are not included. The bundles are the ones synth deploys (infra/lib/bundle.ts,
// same options and cache); the AWS SDK stays external, as in Lambda, and loads from
// node_modules. Each bundle RUNS times, interleaved (a load spike hits every bundle alike);
// the table shows median, min and max. Goal: median <= 120 ms for every bundle.
// Measure on Node 22, Lambda's nodejs22.x (`scripts/with-node22.sh npm run bench:cold-init`):
// on Node 20, pg's runtime check touches the global Response, which loads Node's fetch
// implementation (~40 ms) that Node 22 never loads there.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bundleAll, ROOT } from "../infra/lib/bundle";
import { FUNCTION_GROUPS } from "../infra/lib/nodejs-function";
import { TEST_ENV } from "../test/functions/payments/support/aws";
import { TOPOLOGY } from "../test/functions/dr/support/fake-world";
import { SETTINGS as READINESS_SETTINGS } from "../test/functions/monitoring/support/aws-readiness-world";
import { TARGETS } from "../test/reports/support/samples";
import { REPORTS_ENV } from "../functions/common/contract";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const GOAL_MS = 120;

const REPORT_ENV: Record<string, string> = {
  AWS_REGION: "us-west-2",
  POWERTOOLS_LOG_LEVEL: "SILENT",
  [REPORTS_ENV.environmentSuffix]: "bench",
  [REPORTS_ENV.bucket]: "payments-dr-reports-usw2-bench",
  [REPORTS_ENV.ledgerTable]: "payments-dr-ledger-bench",
  [REPORTS_ENV.targets]: JSON.stringify({ default: TARGETS }),
};

/** What each group's functions read at load, as deployed (values are placeholders). */
const ENV: Readonly<Record<string, Record<string, string>>> = {
  payments: { ...TEST_ENV },
  dr: {
    AWS_REGION: "us-west-2",
    DR_TOPOLOGY: JSON.stringify(TOPOLOGY),
    POWERTOOLS_LOG_LEVEL: "SILENT",
    // Every task hands its run report to the report writer, in the region's report bucket
    // (functions/dr/shared/aws/runtime.ts reads both at load since issue 12).
    REPORT_WRITER_FUNCTION: "payments-dr-report-writer-bench",
    REPORT_BUCKET: "payments-dr-reports-bench",
  },
  monitoring: {
    AWS_REGION: "us-west-2",
    DR_TOPOLOGY: JSON.stringify(TOPOLOGY),
    POWERTOOLS_LOG_LEVEL: "SILENT",
    // The readiness evaluator (issue 17) parses its settings at load.
    READINESS_SETTINGS: JSON.stringify(READINESS_SETTINGS),
  },
  // The report writer, reader and ledger functions and the drills (issue 12) read these at load.
  reports: REPORT_ENV,
  drills: { ...REPORT_ENV, ...TEST_ENV, AWS_REGION: "us-west-2" },
};

// In the child: require the bundle (init), note which @aws-sdk packages it loaded, then require
// the ones it references but deferred (what its first calls will load), and report both times.
const SCRIPT = `
const sdkLoaded = () => new Set(Object.keys(require.cache).flatMap((f) => {
  const m = /node_modules\\/(@aws-sdk\\/[^/]+)\\//.exec(f); return m ? [m[1]] : [];
}));
const referenced = JSON.parse(process.argv[2]);
const c0 = process.cpuUsage(); const t0 = process.hrtime.bigint();
require(process.argv[1]);
const t1 = process.hrtime.bigint(); const c1 = process.cpuUsage(c0);
const atInit = sdkLoaded();
const deferred = referenced.filter((m) => !atInit.has(m));
for (const m of deferred) require(m);
const t2 = process.hrtime.bigint();
process.stdout.write(JSON.stringify({
  initMs: Number(t1 - t0) / 1e6, initCpuMs: (c1.user + c1.system) / 1000,
  firstUseMs: Number(t2 - t1) / 1e6, atInit: [...atInit].filter((m) => referenced.includes(m)), deferred,
}));`;

interface Sample {
  readonly initMs: number;
  readonly initCpuMs: number;
  readonly firstUseMs: number;
  readonly atInit: string[];
  readonly deferred: string[];
}

/**
 * The @aws-sdk client packages a bundle requires (external to the bundle) and that exist.
 * Optional ones the SDK only tries, such as `@aws-sdk/signature-v4-crt` (SigV4a, "install it
 * if you need it"), are installed neither here nor in the Lambda runtime, so no call loads them.
 */
function referencedSdk(file: string): string[] {
  const code = readFileSync(file, "utf8");
  const installed = (name: string) => {
    try {
      require.resolve(name, { paths: [ROOT] });
      return true;
    } catch {
      return false;
    }
  };
  return [
    ...new Set([...code.matchAll(/(?:require|import)\("(@aws-sdk\/[^"/]+)"\)/g)].map((m) => m[1]!)),
  ]
    .filter(installed)
    .sort();
}

function sample(file: string, env: Record<string, string>): Sample {
  return JSON.parse(
    execFileSync(process.execPath, ["-e", SCRIPT, file, JSON.stringify(referencedSdk(file))], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        // As deployed (infra/lib/nodejs-function.ts): Node reads each bundle's source map at load.
        NODE_OPTIONS: "--enable-source-maps",
        ...env,
      },
      encoding: "utf8",
    }),
  ) as Sample;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s.at(-1)! };
};

const short = (m: string) => m.replace("@aws-sdk/", "").replace("client-", "");

function main(): number {
  if (!process.versions.node.startsWith("22.")) {
    console.log(
      `note: this is node ${process.version}; Lambda runs Node 22. For the figures that matter run ` +
        "`scripts/with-node22.sh npm run bench:cold-init` (on Node 20 every payment bundle pays ~40 ms more).",
    );
  }
  const bundles = bundleAll(FUNCTION_GROUPS);
  const samples = new Map<string, Sample[]>(bundles.map((b) => [`${b.group}/${b.name}`, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const b of bundles) {
      samples
        .get(`${b.group}/${b.name}`)!
        .push(sample(join(b.outdir, "index.js"), ENV[b.group] ?? {}));
    }
  }
  console.log(
    `cold init = require() of the deployed bundle in a fresh node ${process.version} process, ${RUNS} runs each, ` +
      `interleaved; ms (wall clock; CPU beside it: less sensitive to other load on the machine)`,
  );
  console.log(
    `${"bundle".padEnd(26)} ${"KB".padStart(4)} ${"median".padStart(6)} ${"min".padStart(5)} ${"max".padStart(5)} ${"cpu".padStart(5)}  ${"1st use".padStart(7)}  SDK at init | deferred to first use`,
  );
  let missed = 0;
  for (const b of bundles) {
    const list = samples.get(`${b.group}/${b.name}`)!;
    const init = stats(list.map((x) => x.initMs));
    const cpu = stats(list.map((x) => x.initCpuMs));
    const first = stats(list.map((x) => x.firstUseMs));
    if (init.median > GOAL_MS) missed++;
    const last = list.at(-1)!;
    console.log(
      `${`${b.group}/${b.name}`.padEnd(26)} ${(b.bytes / 1024).toFixed(0).padStart(4)} ${init.median.toFixed(0).padStart(6)} ${init.min.toFixed(0).padStart(5)} ${init.max.toFixed(0).padStart(5)} ${cpu.median.toFixed(0).padStart(5)}  ${first.median.toFixed(0).padStart(7)}  ` +
        `${last.atInit.map(short).join(",") || "-"} | ${last.deferred.map(short).join(",") || "-"}${init.median > GOAL_MS ? "  (over goal)" : ""}`,
    );
  }
  const worst = Math.max(
    ...bundles.map((b) => stats(samples.get(`${b.group}/${b.name}`)!.map((x) => x.initMs)).median),
  );
  console.log(
    "1st use = the time to load, after init, the SDK packages the bundle references but deferred: " +
      "what its first calls add (an upper bound: not every call path needs all of them)",
  );
  console.log(
    `cold-init: worst median ${worst.toFixed(0)} ms; goal <= ${GOAL_MS} ms for every bundle: ${missed === 0 ? "met" : `MISSED by ${missed} of ${bundles.length}`}`,
  );
  return missed === 0 ? 0 : 1;
}

process.exitCode = main();
