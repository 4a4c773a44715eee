// npm run bench:payments
// Authorize throughput, latency and CPU through the deployed path: the real handler module with
// its real SDK clients (DynamoDB for the flag, SSM), which sign and send HTTP requests to a local
// endpoint answering like those services (bench/fake-aws.ts, in a process of its own), and a real
// PostgreSQL 16 (embedded). Events go out as deployed (EVENT_PUBLICATION=relay): the outbox relay
// handler runs in a process of its own (bench/relay-process.ts) with its real EventBridge client,
// draining both sides' events; each round prints its drain rate and the delay from an event's
// creation to its PutEvents. Beside the handler the floor: the same SQL issued directly with pg.
// Both at concurrency 16, alternating which goes first, ROUNDS rounds.
// Not a test: it prints figures and ends with
//   payments: <H> req/s via handler, <S> req/s raw SQL, ratio <median> (min <a>, max <b>)
// Leaves nothing behind on any way out (normal end, error, Ctrl-C): the server, its ~130 MB data
// folder, the fake endpoint and the relay go with the process.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Client, Pool } from "pg";
import { closeAllDatabases, poolConfig } from "../functions/payments/shared/database";
import { loadMigrations, migrate } from "../functions/payments/shared/migrator";
import { authorizeStatement } from "../functions/payments/shared/postgres-store";
import { requestHash } from "../functions/payments/shared/http-api";
import type { ApiHandler } from "../functions/payments/shared/runtime";
import { onExitSignal, startEmbeddedPostgres } from "../scripts/embedded-postgres";
import type { EmbeddedServer } from "../scripts/embedded-postgres";
import { readMigrationFiles } from "../scripts/migrate";
import {
  REGION,
  TEST_ENV,
  apiKeysParameter,
  lambdaContext,
} from "../test/functions/payments/support/aws";
import { apiEvent } from "../test/functions/payments/support/http";
import type { FakeAwsOptions } from "./fake-aws";

const CONCURRENCY = 16;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const GOAL_RATIO = 0.6;
/** PostgreSQL's "terminating connection due to administrator command" (server shutdown). */
const ADMIN_SHUTDOWN = "57P01";

interface Run {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU this process spent per request (user + system), ms: PostgreSQL and the fake AWS
   * endpoint run in other processes, so this is the handler's (or pg's) own cost. */
  readonly cpuMs: number;
  /** CPU of the PostgreSQL server and of the fake AWS endpoint per request, ms (from /proc). */
  readonly pgCpuMs: number;
  readonly awsCpuMs: number;
  /** CPU of the outbox relay process per request, ms (it drains both sides' events). */
  readonly relayCpuMs: number;
}

const TICK_MS = 1000 / 100; // USER_HZ: /proc reports CPU time in 1/100 s on Linux

/**
 * user + system CPU of the processes, in ms, from /proc/<pid>/stat (0 where unreadable). For
 * the first (the root), also its exited children's (cutime + cstime), so a backend that ends
 * between two readings still counts.
 */
function procCpuMs(pids: readonly number[]): number {
  let ticks = 0;
  pids.forEach((pid, i) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
      if (i === 0) ticks += Number(fields[13]) + Number(fields[14]);
    } catch {
      // Gone or not Linux: counted as 0.
    }
  });
  return ticks * TICK_MS;
}

/** A process and its children (PostgreSQL's postmaster and its backends). */
function processTree(root: number | undefined): number[] {
  if (root === undefined) return [];
  const children = readdirSync("/proc").filter((name) => {
    if (!/^\d+$/.test(name)) return false;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === root;
    } catch {
      return false;
    }
  });
  return [root, ...children.map(Number)];
}

const others = {
  pg: undefined as number | undefined,
  aws: undefined as number | undefined,
  relay: undefined as number | undefined,
};

async function measure(total: number, one: () => Promise<void>): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  const pg0 = procCpuMs(processTree(others.pg));
  const aws0 = procCpuMs(others.aws ? [others.aws] : []);
  const relay0 = procCpuMs(others.relay ? [others.relay] : []);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) {
        next++;
        const t0 = performance.now();
        await one();
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
    pgCpuMs: (procCpuMs(processTree(others.pg)) - pg0) / total,
    awsCpuMs: (procCpuMs(others.aws ? [others.aws] : []) - aws0) / total,
    relayCpuMs: (procCpuMs(others.relay ? [others.relay] : []) - relay0) / total,
  };
}

const BODY = {
  merchantId: "merchant-1", // the merchant of the test API key
  cardToken: "tok_bench_4242abcd",
  amount: 1999,
  currency: "EUR",
};

function throughHandler(handler: ApiHandler): () => Promise<void> {
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
function rawSql(pool: Pool): () => Promise<void> {
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
    const { rows } = await pool.query<{ event_id: string | null }>(
      statement.text,
      statement.values,
    );
    if (!rows[0]?.event_id) throw new Error("authorization not written");
  };
}

/** Starts bench/relay-process.ts (the deployed relay handler); resolves once it is loaded. */
function startRelay(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "relay-process.ts")], {
    env: process.env,
    stdio: ["pipe", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`relay process exited (${code})`)));
    child.stdout!.once("data", () => resolve(child));
  });
}

/** Starts bench/fake-aws-server.ts; resolves with its URL once it listens. */
function startFakeAws(options: FakeAwsOptions): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(__dirname, "fake-aws-server.ts")],
    {
      env: { ...process.env, FAKE_AWS_OPTIONS: JSON.stringify(options) },
      // stdin is a pipe: when this process dies, the pipe closes and the server exits.
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`fake AWS endpoint exited (${code})`)));
    child.stdout!.once("data", (chunk: Buffer) => {
      const port = /listening (\d+)/.exec(chunk.toString())?.[1];
      if (!port) return reject(new Error(`fake AWS endpoint said ${chunk.toString()}`));
      resolve({ url: `http://127.0.0.1:${port}`, child });
    });
  });
}

const fmt = (run: Run) =>
  `${run.perSecond.toFixed(0).padStart(5)} req/s, p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms, ` +
  `CPU ${run.cpuMs.toFixed(2)} ms/req (+ PostgreSQL ${run.pgCpuMs.toFixed(2)}, AWS endpoint ${run.awsCpuMs.toFixed(2)}, relay ${run.relayCpuMs.toFixed(2)})`;

interface Round {
  readonly handler: Run;
  readonly raw: Run;
  readonly ratio: number;
  readonly events: Publication;
}

/** What the outbox relay did during a round (both sides' events). */
interface Publication {
  /** Events published, and per second of the round. */
  readonly count: number;
  readonly perSecond: number;
  /** Delay from the event's creation (just before its commit) to its PutEvents, ms. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Events still unpublished when the round ended. */
  readonly backlog: number;
}

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  let server: EmbeddedServer | undefined;
  let fake: ChildProcess | undefined;
  let relay: ChildProcess | undefined;
  let pool: Pool | undefined;
  const cleanup = async () => {
    relay?.kill("SIGTERM");
    fake?.kill("SIGTERM");
    await pool?.end().catch(() => undefined);
    await closeAllDatabases().catch(() => undefined);
    await server?.stop();
  };
  onExitSignal(cleanup);
  try {
    server = await startEmbeddedPostgres();
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

    const aws = await startFakeAws({
      region: REGION,
      controlTable: TEST_ENV.CONTROL_TABLE,
      parameters: { [`${TEST_ENV.PARAMETER_PREFIX}/api/keys`]: apiKeysParameter() },
    });
    fake = aws.child;
    others.pg = server.pid;
    others.aws = aws.child.pid;
    // Production settings (flag cached 5 s); the SDK's standard endpoint override and static
    // credentials, so every call is serialized, signed and sent; logs and metrics off.
    Object.assign(process.env, TEST_ENV, {
      DATABASE_URL: databaseUrl,
      ACTIVE_REGION_CACHE_MS: "5000",
      // One process stands in for CONCURRENCY Lambda environments of one connection each.
      DATABASE_POOL_MAX: String(CONCURRENCY),
      AWS_ENDPOINT_URL: aws.url,
      AWS_ACCESS_KEY_ID: "AKIABENCHBENCHBENCH0",
      AWS_SECRET_ACCESS_KEY: "bench-secret-key-bench-secret-key-bench0",
      // As deployed: a write commits its event and answers; the outbox relay (its own process,
      // as its own Lambda) publishes it.
      EVENT_PUBLICATION: "relay",
    });
    relay = await startRelay();
    others.relay = relay.pid;
    const { handler } = (await import("../functions/payments/authorize/handler")) as {
      handler: ApiHandler;
    };
    // The same pool and connection settings as the handler's (poolConfig): statement_timeout,
    // the client-side query_timeout (a timer per query), keep-alive, idle and lifetime limits.
    // Until issue 15d the raw side had pg's defaults and skipped the per-query timer: a floor
    // the handler could not reach with the guarantees it must keep.
    pool = new Pool(
      poolConfig(
        { kind: "url", connectionString: databaseUrl },
        "payments-bench-raw-sql",
        CONCURRENCY,
      ),
    );
    // An idle connection dropped by the server (its shutdown, 57P01) must not kill the process.
    pool.on("error", (error: Error & { code?: string }) => {
      if (error.code !== ADMIN_SHUTDOWN) console.error(`raw-SQL pool: ${error.message}`);
    });

    console.log(
      `authorize: ${REQUESTS} requests x ${ROUNDS} rounds, concurrency ${CONCURRENCY}; ` +
        `AWS calls over HTTP to ${aws.url} (real SDK clients), PostgreSQL 16 embedded`,
    );
    const viaHandler = throughHandler(handler);
    const viaPg = rawSql(pool);
    // Warm-up to steady state (pools, keep-alive sockets, JIT tiers), as a warm Lambda would be.
    await measure(3_000, viaHandler);
    await measure(2_000, viaPg);
    const rounds: Round[] = [];
    const delays = async () =>
      (await (await fetch(`${aws.url}/__delays`)).json()) as Omit<
        Publication,
        "perSecond" | "backlog"
      >;
    const backlog = async () =>
      Number(
        (
          await pool!.query<{ n: string }>(
            "SELECT count(*) AS n FROM payment_events WHERE published_at IS NULL",
          )
        ).rows[0]!.n,
      );
    for (let round = 1; round <= ROUNDS; round++) {
      const first = round % 2 === 1;
      await delays(); // from here on
      const started = performance.now();
      const a = await measure(REQUESTS, first ? viaHandler : viaPg);
      const b = await measure(REQUESTS, first ? viaPg : viaHandler);
      const seconds = (performance.now() - started) / 1000;
      const sent = await delays();
      const events: Publication = {
        ...sent,
        perSecond: sent.count / seconds,
        backlog: await backlog(),
      };
      const [h, r] = first ? [a, b] : [b, a];
      rounds.push({ handler: h, raw: r, ratio: h.perSecond / r.perSecond, events });
      console.log(
        `round ${round}: handler ${fmt(h)} | raw SQL ${fmt(r)} | ratio ${rounds.at(-1)!.ratio.toFixed(2)}`,
      );
      console.log(
        `  relay: ${events.count} events published (${events.perSecond.toFixed(0)}/s), delay created->PutEvents p50 ${events.p50.toFixed(0)} ms, ` +
          `p99 ${events.p99.toFixed(0)} ms, max ${events.max.toFixed(0)} ms; ${events.backlog} waiting at the round's end`,
      );
    }
    const counts = (await (await fetch(`${aws.url}/__counts`)).json()) as Record<string, number>;
    // Both sides' authorizations write an event; the relay's PutEvents carry them all.
    const total = 2 * REQUESTS * ROUNDS + 5_000;
    console.log(
      `AWS calls per authorization (handler and raw SQL, the relay's included): ${Object.entries(
        counts,
      )
        .map(([op, n]) => `${op.split(".")[1]} ${(n / total).toFixed(2)}`)
        .join(", ")}`,
    );
    const ratios = rounds.map((r) => r.ratio);
    const mid = median(ratios);
    const pick = (side: "handler" | "raw", key: keyof Run) =>
      median(rounds.map((r) => r[side][key]));
    const summary = (side: "handler" | "raw"): Run => ({
      perSecond: pick(side, "perSecond"),
      p50: pick(side, "p50"),
      p99: pick(side, "p99"),
      cpuMs: pick(side, "cpuMs"),
      pgCpuMs: pick(side, "pgCpuMs"),
      awsCpuMs: pick(side, "awsCpuMs"),
      relayCpuMs: pick(side, "relayCpuMs"),
    });
    console.log(`\nmedians over ${ROUNDS} rounds:`);
    console.log(`  handler  ${fmt(summary("handler"))}`);
    console.log(`  raw SQL  ${fmt(summary("raw"))}`);
    console.log(
      `  ratio    ${mid.toFixed(2)} (min ${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)}); ` +
        `goal >= ${GOAL_RATIO}: ${mid >= GOAL_RATIO ? "met" : "MISSED"}`,
    );
    const allCpu = (run: Run) => run.cpuMs + run.pgCpuMs + run.awsCpuMs + run.relayCpuMs;
    console.log(
      `  CPU per request, all processes: handler path ${allCpu(summary("handler")).toFixed(2)} ms, raw SQL ${allCpu(summary("raw")).toFixed(2)} ms ` +
        `(with all ${availableParallelism()} cores busy, the ratio cannot exceed about ${(allCpu(summary("raw")) / allCpu(summary("handler"))).toFixed(2)})`,
    );
    const byRound = (key: keyof Publication) => median(rounds.map((r) => r.events[key]));
    console.log(
      `  events   relay published ${byRound("perSecond").toFixed(0)}/s; delay created->PutEvents p50 ${byRound("p50").toFixed(0)} ms, ` +
        `p99 ${byRound("p99").toFixed(0)} ms (medians over rounds; worst round p99 ${Math.max(...rounds.map((r) => r.events.p99)).toFixed(0)} ms, ` +
        `max ${Math.max(...rounds.map((r) => r.events.max)).toFixed(0)} ms); backlog at a round's end at most ${Math.max(...rounds.map((r) => r.events.backlog))}`,
    );
    console.log(
      `payments: ${summary("handler").perSecond.toFixed(0)} req/s via handler, ${summary("raw").perSecond.toFixed(0)} req/s raw SQL, ` +
        `ratio ${mid.toFixed(2)} (min ${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)})`,
    );
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(`bench:payments failed: ${(error as Error)?.stack ?? String(error)}`);
  process.exitCode = 1;
});
