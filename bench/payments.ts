// npm run bench:payments
// Authorize throughput and latency through the real handler (in-process, AWS mocked at the SDK,
// embedded PostgreSQL 16 real) next to the floor: the same SQL issued directly with pg, both at
// concurrency 16. Then each payments bundle's size and cold init. Not a test: it prints figures
// and ends with
//   payments: <H> req/s via handler, <S> req/s raw SQL, ratio <H/S>
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { Client, Pool } from "pg";
import { ROOT, bundleFunction, discoverFunctions } from "../infra/lib/bundle";
import { closeAllDatabases } from "../functions/payments/shared/database";
import { loadMigrations, migrate } from "../functions/payments/shared/migrator";
import {
  MARK_PUBLISHED_SQL,
  authorizeStatement,
} from "../functions/payments/shared/postgres-store";
import { requestHash } from "../functions/payments/shared/http-api";
import type { ApiHandler } from "../functions/payments/shared/runtime";
import { readMigrationFiles } from "../scripts/migrate";
import {
  REGION,
  TEST_ENV,
  apiKeysParameter,
  lambdaContext,
} from "../test/functions/payments/support/aws";
import { startEmbeddedPostgres } from "../test/functions/payments/support/embedded-postgres";
import { apiEvent } from "../test/functions/payments/support/http";
import { installFakeAws } from "./fake-aws";

const CONCURRENCY = 16;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const ROUNDS = 5;
const COLD_INIT_RUNS = 5;
const GOALS = { ratio: 0.7, bundleBytes: 300 * 1024, coldInitMs: 150 };

interface Run {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU this process spent per request (user + system), ms: PostgreSQL shares the cores. */
  readonly cpuMs: number;
}

async function measure(total: number, one: (i: number) => Promise<void>): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await one(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return {
    perSecond: total / seconds,
    p50: at(0.5),
    p99: at(0.99),
    cpuMs: (used.user + used.system) / 1000 / total,
  };
}

const BODY = {
  merchantId: "merchant-1", // the merchant of the test API key
  cardToken: "tok_bench_4242abcd",
  amount: 1999,
  currency: "EUR",
};

function throughHandler(handler: ApiHandler): (i: number) => Promise<void> {
  const context = lambdaContext("payments-authorize-bench");
  return async () => {
    const result = await handler(
      apiEvent({ path: "/payments", headers: { "idempotency-key": randomUUID() }, body: BODY }),
      context,
    );
    if (result.statusCode !== 201)
      throw new Error(`authorize answered ${result.statusCode}: ${result.body}`);
  };
}

/** What the handler sends to PostgreSQL for one authorization, without the handler. */
function rawSql(pool: Pool): (i: number) => Promise<void> {
  const hash = requestHash({ operation: "authorize", ...BODY });
  return async () => {
    const at = new Date();
    const statement = authorizeStatement({
      ...BODY,
      reference: null,
      metadata: {},
      captureBefore: new Date(at.getTime() + 7 * 86_400_000),
      requestId: `req-${randomUUID()}`,
      paymentId: randomUUID(),
      idempotencyKey: randomUUID(),
      requestHash: hash,
      eventId: randomUUID(),
      originRegion: REGION,
      at,
    });
    const client = await pool.connect();
    try {
      const { rows } = await client.query(statement.text, statement.values);
      if (rows.length !== 1) throw new Error("authorization not written");
    } finally {
      client.release();
    }
    await pool.query(MARK_PUBLISHED_SQL, [[statement.event.eventId]]);
  };
}

const fmt = (run: Run) =>
  `${run.perSecond.toFixed(0)} req/s, p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms, ` +
  `node CPU ${run.cpuMs.toFixed(2)} ms/req`;
interface Round {
  readonly handler: Run;
  readonly raw: Run;
  readonly ratio: number;
}

/** The round with the median ratio: robust to the machine's load drifting between rounds. */
async function throughput(): Promise<Round> {
  const server = await startEmbeddedPostgres();
  try {
    const admin = new Client({ connectionString: server.adminUrl });
    await admin.connect();
    await admin.query("CREATE DATABASE bench");
    await admin.end();
    const url = new URL(server.adminUrl);
    url.pathname = "/bench";
    const databaseUrl = url.toString();
    const setup = new Client({ connectionString: databaseUrl });
    await setup.connect();
    await migrate(setup, loadMigrations(readMigrationFiles()));
    await setup.end();

    // AWS mocked in-process: only the database is real. Production settings otherwise
    // (flag cached 5 s); logs and metrics off so the terminal stays readable.
    installFakeAws({
      region: REGION,
      controlTable: TEST_ENV.CONTROL_TABLE,
      parameters: new Map([[`${TEST_ENV.PARAMETER_PREFIX}/api/keys`, apiKeysParameter()]]),
    });
    Object.assign(process.env, TEST_ENV, {
      DATABASE_URL: databaseUrl,
      ACTIVE_REGION_CACHE_MS: "5000",
    });
    const { handler } = (await import("../functions/payments/authorize/handler")) as {
      handler: ApiHandler;
    };
    const pool = new Pool({ connectionString: databaseUrl, max: CONCURRENCY });
    // pool.end() resolves before its sockets close; a client still closing when the server stops
    // gets "terminating connection" and, unheard, would crash the run at the very end.
    pool.on("error", () => undefined);

    const viaHandler = throughHandler(handler);
    const viaPg = rawSql(pool);
    // Warm-up to steady state (pools, JIT tiers, caches), as a warm Lambda instance would be.
    await measure(4_000, viaHandler);
    await measure(2_000, viaPg);
    const rounds: Round[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which side goes first, so a load change mid-round hits both alike.
      const first = round % 2 === 1;
      const a = await measure(REQUESTS, first ? viaHandler : viaPg);
      const b = await measure(REQUESTS, first ? viaPg : viaHandler);
      const [handlerRun, rawRun] = first ? [a, b] : [b, a];
      rounds.push({
        handler: handlerRun,
        raw: rawRun,
        ratio: handlerRun.perSecond / rawRun.perSecond,
      });
      console.log(
        `round ${round}: handler ${fmt(handlerRun)} | raw SQL ${fmt(rawRun)} | ratio ${rounds.at(-1)!.ratio.toFixed(2)}`,
      );
    }
    await pool.end();
    await closeAllDatabases();
    return [...rounds].sort((x, y) => x.ratio - y.ratio)[Math.floor(rounds.length / 2)]!;
  } finally {
    await server.stop();
  }
}

/** Median milliseconds `require(target)` takes in a fresh node process (startup excluded). */
function coldInitMs(target: string): number {
  const env = { ...process.env, ...TEST_ENV };
  const script =
    "const t=process.hrtime.bigint();require(process.argv[1]);" +
    "process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))";
  const times = Array.from({ length: COLD_INIT_RUNS }, () =>
    Number(
      execFileSync(process.execPath, ["-e", script, target], { cwd: ROOT, env, encoding: "utf8" }),
    ),
  ).sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function bundles(): boolean {
  let ok = true;
  console.log(
    `\nbundles (infra/lib/bundle.ts; goal <= ${GOALS.bundleBytes / 1024} KB minified, ` +
      `cold init <= ${GOALS.coldInitMs} ms = require() time, median of ${COLD_INIT_RUNS}):`,
  );
  for (const fn of discoverFunctions("payments")) {
    const bundle = bundleFunction(fn);
    const init = coldInitMs(join(bundle.outdir, "index.js"));
    ok &&= bundle.bytes <= GOALS.bundleBytes && init <= GOALS.coldInitMs;
    console.log(
      `  ${fn.name.padEnd(14)} ${(bundle.bytes / 1024).toFixed(0).padStart(5)} KB ${init.toFixed(0).padStart(5)} ms`,
    );
  }
  // The SDK is external (the runtime provides it) but still loads at init: its share.
  const sdk = ["@aws-sdk/client-dynamodb", "@aws-sdk/client-ssm", "@aws-sdk/client-eventbridge"];
  console.log(
    `  of which, required alone: ${[...sdk, "pg"]
      .map((m) => `${m.replace("@aws-sdk/client-", "")} ${coldInitMs(m).toFixed(0)} ms`)
      .join(", ")}`,
  );
  return ok;
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  console.log(`authorize: ${REQUESTS} requests x ${ROUNDS} rounds, concurrency ${CONCURRENCY}`);
  const { handler, raw, ratio } = await throughput();
  const bundlesOk = bundles();
  console.log(`\nmedian round: handler ${fmt(handler)} | raw SQL ${fmt(raw)}`);
  console.log(
    `goals: ratio >= ${GOALS.ratio} ${ratio >= GOALS.ratio ? "met" : "MISSED"}; bundles ${bundlesOk ? "met" : "MISSED (see table)"}`,
  );
  console.log(
    `payments: ${handler.perSecond.toFixed(0)} req/s via handler, ${raw.perSecond.toFixed(0)} req/s raw SQL, ratio ${ratio.toFixed(2)}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
