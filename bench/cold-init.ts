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
import { cpus, loadavg as osLoadavg } from "node:os";
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
// The main thread's scheduler counters (Linux): [ns on a CPU, ns waiting on a run queue, slices].
const sched = () => { try { return require("fs").readFileSync("/proc/thread-self/schedstat", "utf8").trim().split(" ").map(Number); } catch { return null; } };
const s0 = sched(); const c0 = process.cpuUsage(); const t0 = process.hrtime.bigint();
require(process.argv[1]);
const t1 = process.hrtime.bigint(); const c1 = process.cpuUsage(c0); const s1 = sched();
const atInit = sdkLoaded();
const deferred = referenced.filter((m) => !atInit.has(m));
for (const m of deferred) require(m);
const t2 = process.hrtime.bigint();
process.stdout.write(JSON.stringify({
  initMs: Number(t1 - t0) / 1e6, initCpuMs: (c1.user + c1.system) / 1000,
  queueMs: s0 && s1 ? (s1[1] - s0[1]) / 1e6 : null, runMs: s0 && s1 ? (s1[0] - s0[0]) / 1e6 : null,
  firstUseMs: Number(t2 - t1) / 1e6, atInit: [...atInit].filter((m) => referenced.includes(m)), deferred,
}));`;

interface Sample {
  readonly initMs: number;
  readonly initCpuMs: number;
  /** Main thread's time waiting for a core (run queue), ms; null off Linux. */
  readonly queueMs: number | null;
  /** Main thread's time on a core, ms; null off Linux. */
  readonly runMs: number | null;
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
  const loadBefore = loadavg();
  const samples = new Map<string, Sample[]>(bundles.map((b) => [`${b.group}/${b.name}`, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const b of bundles) {
      samples
        .get(`${b.group}/${b.name}`)!
        .push(sample(join(b.outdir, "index.js"), ENV[b.group] ?? {}));
    }
  }
  const loadAfter = loadavg();
  const queued = bundles.every((b) =>
    samples.get(`${b.group}/${b.name}`)!.every((x) => x.queueMs !== null),
  );
  console.log(
    `cold init = require() of the deployed bundle in a fresh node ${process.version} process, ${RUNS} runs each, ` +
      `interleaved; ms. ${cpus().length} cores, load average ${loadBefore} before, ${loadAfter} after.`,
  );
  console.log(
    "  wall = elapsed; cpu = CPU time of the process (all threads); queue = the main thread's time waiting " +
      "for a core (/proc/thread-self/schedstat); own = wall - queue: the init with a core to itself " +
      "(CPU, reading the files, waiting for V8's helper threads). Medians; wall also min-max.",
  );
  console.log(
    `${"bundle".padEnd(26)} ${"KB".padStart(4)} ${"wall".padStart(5)} ${"min".padStart(5)} ${"max".padStart(5)} ${"cpu".padStart(4)} ${"queue".padStart(5)} ${"own".padStart(4)}  ${"1st use".padStart(7)}  SDK at init | deferred to first use`,
  );
  const wallOf = (b: (typeof bundles)[number]) =>
    stats(samples.get(`${b.group}/${b.name}`)!.map((x) => x.initMs)).median;
  const ownOf = (b: (typeof bundles)[number]) =>
    stats(samples.get(`${b.group}/${b.name}`)!.map(ownMs)).median;
  let missedWall = 0;
  let missedOwn = 0;
  for (const b of bundles) {
    const list = samples.get(`${b.group}/${b.name}`)!;
    const init = stats(list.map((x) => x.initMs));
    const cpu = stats(list.map((x) => x.initCpuMs));
    const queue = stats(list.map((x) => x.queueMs ?? 0));
    const own = ownOf(b);
    const first = stats(list.map((x) => x.firstUseMs));
    if (init.median > GOAL_MS) missedWall++;
    if (own > GOAL_MS) missedOwn++;
    const last = list.at(-1)!;
    const flag =
      own > GOAL_MS ? "  (over goal)" : init.median > GOAL_MS ? "  (wall over: queued)" : "";
    console.log(
      `${`${b.group}/${b.name}`.padEnd(26)} ${(b.bytes / 1024).toFixed(0).padStart(4)} ${init.median.toFixed(0).padStart(5)} ${init.min.toFixed(0).padStart(5)} ${init.max.toFixed(0).padStart(5)} ${cpu.median.toFixed(0).padStart(4)} ${(queued ? queue.median.toFixed(0) : "-").padStart(5)} ${(queued ? own.toFixed(0) : "-").padStart(4)}  ${first.median.toFixed(0).padStart(7)}  ` +
        `${last.atInit.map(short).join(",") || "-"} | ${last.deferred.map(short).join(",") || "-"}${flag}`,
    );
  }
  console.log(
    "1st use = the time to load, after init, the SDK packages the bundle references but deferred: " +
      "what its first calls add (an upper bound: not every call path needs all of them)",
  );
  const worstWall = Math.max(...bundles.map(wallOf));
  const worstOwn = Math.max(...bundles.map(ownOf));
  console.log(
    `cold-init: goal <= ${GOAL_MS} ms for every bundle. Wall clock as measured: worst median ${worstWall.toFixed(0)} ms, ` +
      `${missedWall === 0 ? "met" : `over in ${missedWall} of ${bundles.length}`} at load ${loadBefore}-${loadAfter}.` +
      (queued
        ? ` With a core to itself (wall - queue): worst median ${worstOwn.toFixed(0)} ms, ${missedOwn === 0 ? "met" : `MISSED by ${missedOwn} of ${bundles.length}`}.`
        : " (no run-queue figures off Linux: judged on the wall clock)"),
  );
  // "At 1,769 MB, a function has the equivalent of one vCPU" (CPU is allocated in proportion to
  // memory): https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
  console.log(
    "  A Lambda sandbox does not share its CPU share with other tenants' processes, so the verdict " +
      "(exit code) is on the init with a core to itself; at 1 GB Lambda gives about 0.58 of a vCPU " +
      "(a full one at 1,769 MB), so expect the deployed init near cpu / 0.58.",
  );
  return (queued ? missedOwn : missedWall) === 0 ? 0 : 1;
}

/**
 * The init with a core to itself: wall minus the main thread's run-queue wait. The kernel adds a
 * wait to the counter when the thread is next scheduled, so one that began before the first
 * reading can exceed the elapsed time: never less than the main thread's own time on a core.
 */
function ownMs(x: Sample): number {
  if (x.queueMs === null || x.runMs === null) return x.initMs;
  return Math.max(x.initMs - x.queueMs, x.runMs);
}

/** The 1-minute load average, for the reader to judge the wall clock by. */
function loadavg(): string {
  return osLoadavg()[0]!.toFixed(1);
}

process.exitCode = main();
