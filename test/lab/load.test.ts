// The lab's clients against a real local HTTP server: they never work on more payments at once
// than their limit, whatever the rate and however the server answers, and their retries against
// a region that does not answer stay bounded by the limit and the backoff (the retry storm that
// starved the lab at production timings, issue 13). Every payment created is accounted for:
// acknowledged, abandoned, still in flight at the stop, or never sent (the clients' backlog).
import { createServer } from "node:http";
import type { Server } from "node:http";
import { LoadGenerator } from "../../lab/load";
import { LabClock, Random } from "../../lab/world/clock";
import { sleep } from "./support/wait";

jest.setTimeout(30_000);

interface Api {
  readonly url: string;
  readonly server: Server;
  max: number;
  requests: number;
}

/** Answers each payment after a drawn delay; one request in `failEvery` gets a 503. */
async function api(random: Random, failEvery: number): Promise<Api> {
  let inflight = 0;
  const state = { max: 0, requests: 0 };
  const server = createServer((req, res) => {
    inflight += 1;
    state.requests += 1;
    state.max = Math.max(state.max, inflight);
    req.resume();
    const fail = state.requests % failEvery === 0;
    setTimeout(
      () => {
        inflight -= 1;
        res.writeHead(fail ? 503 : 201, {
          "content-type": "application/json",
          ...(fail ? { "retry-after": "0" } : {}),
        });
        res.end(
          JSON.stringify(fail ? { code: "database_unavailable" } : { id: `pay_${state.requests}` }),
        );
      },
      20 + random.next() * 80,
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const out = { url: `http://127.0.0.1:${port}`, server, ...state };
  Object.defineProperty(out, "max", { get: () => state.max });
  Object.defineProperty(out, "requests", { get: () => state.requests });
  return out;
}

function generator(clock: LabClock, random: Random, url: string | undefined, limit: number) {
  return new LoadGenerator({
    clock,
    random,
    rate: 200,
    captureShare: 0.3,
    apiKeys: { m1: "k1", m2: "k2" },
    resolve: () => "us-west-2",
    dnsTtlMs: 60_000,
    apiUrl: () => url,
    backoffMs: [500, 8_000],
    deadlineMs: 300_000,
    maxInFlight: limit,
  });
}

const seed = Number(process.env.LAB_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe(`the lab's clients (seed ${seed})`, () => {
  it("never work on more payments than their limit, and account for every one created", async () => {
    const random = new Random(seed);
    const limit = 3 + Math.floor(random.next() * 8);
    const server = await api(random, 5);
    const clock = new LabClock(1);
    const load = generator(clock, random, server.url, limit);
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, load.sample().payments)), 5);
    try {
      load.start();
      await sleep(1500);
      const sample = load.sample();
      // 200 payments/s cannot all be served by a few clients: the rest wait in their queue.
      expect(sample.queued).toBeGreaterThan(0);
      await load.stop(1000);
    } finally {
      clearInterval(watch);
      server.server.close();
    }
    expect(most).toBeLessThanOrEqual(limit);
    expect(server.max).toBeLessThanOrEqual(limit);
    expect(load.acks.length).toBeGreaterThan(0);
    // Each payment sent ends one way: its authorization acknowledged once, or abandoned (the
    // stop aborts what is still in flight); the rest were never sent.
    const authorized = load.acks.filter((a) => a.op === "authorize").map((a) => a.key);
    const abandoned = load.abandoned.filter((a) => a.op === "authorize").map((a) => a.key);
    const started = new Set(load.attempts.filter((a) => a.op === "authorize").map((a) => a.key));
    expect(new Set(authorized).size).toBe(authorized.length);
    expect([...authorized, ...abandoned].sort()).toEqual([...started].sort());
    expect(load.unsent.length).toBeGreaterThan(0);
    expect(load.unexpected).toEqual([]);
  });

  it("keeps the retries against a dead region bounded by the limit and the backoff", async () => {
    const random = new Random(seed + 1);
    const limit = 8;
    const clock = new LabClock(1);
    // No route: every attempt fails at once, as against a region whose API is gone.
    const load = generator(clock, random, undefined, limit);
    load.start();
    const seconds = 2;
    await sleep(seconds * 1000);
    await load.stop(0);
    // Each retry waits a full-jitter share of a doubling window (500 ms, 1 s, 2 s, ...): in 2 s
    // a payment makes about four attempts, and only `limit` payments are out. Unbounded, the
    // old clients would have started 400 payments in those 2 s, each retrying.
    expect(load.attempts.length).toBeLessThan(limit * 12);
    expect(load.acks).toEqual([]);
    expect(load.unsent.length).toBeGreaterThan(100);
  });
});

describe(`the lab's clients against a throttling stage (seed ${seed})`, () => {
  // API Gateway's stage throttle answers 429 before any function runs; the clients retry it with
  // backoff under the same key (Stripe: "We recommend an exponential backoff of your requests"),
  // and with routes "all" every served route meets the load.
  it("retries 429 until answered, on every route of the flow", async () => {
    const random = new Random(seed + 2);
    const seen = new Set<string>();
    const calls: string[] = [];
    let limited = 0;
    const server = createServer((req, res) => {
      req.resume();
      const url = new URL(req.url ?? "/", "http://lab");
      const route = `${req.method} ${url.pathname.replace(/pay_[^/]+/, "{id}")}`;
      calls.push(route);
      const once = `${route} ${String(req.headers["idempotency-key"] ?? calls.length)}`;
      if (!seen.has(once) && req.method === "POST") {
        seen.add(once);
        limited += 1;
        res.writeHead(429, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: "Too Many Requests" }));
        return;
      }
      const id = /pay_[^/]+/.exec(url.pathname)?.[0] ?? `pay_${calls.length}`;
      res.writeHead(req.method === "POST" && url.pathname === "/payments" ? 201 : 200, {
        "content-type": "application/json",
      });
      res.end(
        JSON.stringify(
          url.pathname === "/payments" && req.method === "GET" ? { data: [] } : { id },
        ),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    const load = new LoadGenerator({
      clock: new LabClock(1),
      random,
      rate: 20,
      captureShare: 0.6,
      apiKeys: { m1: "k1" },
      resolve: () => "us-west-2",
      dnsTtlMs: 60_000,
      apiUrl: () => url,
      backoffMs: [20, 100],
      deadlineMs: 300_000,
      maxInFlight: 16,
      routes: "all",
    });
    try {
      load.start();
      await sleep(2500);
      await load.stop(3000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
    expect(limited).toBeGreaterThan(0);
    expect(load.unexpected).toEqual([]);
    expect(load.attempts.filter((a) => a.status === 429).length).toBe(limited);
    // Every POST the stage throttled was retried and answered.
    for (const a of load.attempts.filter((x) => x.status === 429))
      expect(load.acks.some((k) => k.key === a.key)).toBe(true);
    expect(new Set(calls)).toEqual(
      new Set([
        "POST /payments",
        "GET /payments/{id}",
        "POST /payments/{id}/capture",
        "POST /payments/{id}/void",
        "POST /payments/{id}/refund",
        "GET /payments",
      ]),
    );
  });
});
