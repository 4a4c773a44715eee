// STYLE: "a randomized run prints its seed, and the seed reproduces it". The lab's clients draw
// once per payment and DynamoDB replication once per write, as fast as the box lets them, so a
// single shared stream gave the same seed different Aurora timings (13f: a 32.8 s failover with a
// 27.1 s restart in one `region-down --seed 7` run, 36.9 s / 32.3 s in the next). Here the world
// draws its timings twice from one seed: once after a real LoadGenerator ran against a slow HTTP
// server, with replication draws and the operations in one order, once with no load and the
// operations the other way round. Every one-off draw must come out the same.
import { createServer } from "node:http";
import { PRODUCTION_TIMINGS } from "../../lab/config";
import { LoadGenerator } from "../../lab/load";
import { AuroraGlobalDatabase } from "../../lab/world/aurora";
import { LabClock, RandomStreams } from "../../lab/world/clock";
import type { Network } from "../../lab/world/network";
import { sleep } from "./support/wait";

jest.setTimeout(30_000);

// The lab's own defaults (lab/config.ts): any ranges would do, these are the ones a run draws from.
const timings = PRODUCTION_TIMINGS;

function world(random: RandomStreams, clock: LabClock): AuroraGlobalDatabase {
  // draw() needs no database: the regions are never touched.
  return new AuroraGlobalDatabase({
    identifier: "global",
    regions: [],
    writer: "us-east-1",
    network: {} as Network,
    clock,
    random,
    timings,
    dataRoot: "/nonexistent",
    publishLag: () => undefined,
    log: () => undefined,
  });
}

type Draw = (name: string, range: readonly [number, number]) => number;
const drawOf = (aurora: AuroraGlobalDatabase): Draw =>
  (aurora as unknown as { draw: Draw }).draw.bind(aurora);

/** Runs the lab's clients for `ms` against a server answering after a random delay. */
async function load(random: RandomStreams, clock: LabClock, ms: number): Promise<number> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests += 1;
    req.resume();
    setTimeout(() => {
      res.writeHead(requests % 4 === 0 ? 503 : 201, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: `pay_${requests}` }));
    }, Math.random() * 40);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const generator = new LoadGenerator({
    clock,
    random: random.get("load"),
    rate: 200,
    captureShare: 0.5,
    apiKeys: { m1: "k1", m2: "k2" },
    resolve: () => "us-east-1",
    dnsTtlMs: 60_000,
    apiUrl: () => url,
    backoffMs: [10, 50],
    deadlineMs: 300_000,
    maxInFlight: 8,
  });
  try {
    generator.start();
    await sleep(ms);
    await generator.stop(200);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  return requests;
}

describe("the lab's seed", () => {
  it("reproduces every drawn timing whatever the load and the order of events drew before", async () => {
    const seed = 7;
    const clock = new LabClock(1);

    // Run 1: the clients send payments first (as many as this box manages), replication draws
    // per write, then the failover, its restart, the fence's rejoin and a lag spike.
    const first = new RandomStreams(seed);
    const requests = await load(first, clock, 1_000);
    expect(requests).toBeGreaterThan(10);
    for (let i = 0; i < 37 + requests; i++) first.get("ddb-replication").between(50, 1_500);
    const draw1 = drawOf(world(first, clock));
    const run1 = {
      failover: draw1("failoverMs", timings.failoverMs),
      restart: draw1("promotionOutageMs-failover", timings.promotionOutageMs),
      rejoin: draw1("rejoinMs-us-east-1", timings.rejoinMs),
      lag: first.get("lag-spike").between(20_000, 40_000),
    };

    // Run 2: same seed, no load at all, and the one-off draws in the reverse order.
    const second = new RandomStreams(seed);
    const draw2 = drawOf(world(second, clock));
    const lag = second.get("lag-spike").between(20_000, 40_000);
    const rejoin = draw2("rejoinMs-us-east-1", timings.rejoinMs);
    const restart = draw2("promotionOutageMs-failover", timings.promotionOutageMs);
    const failover = draw2("failoverMs", timings.failoverMs);

    expect({ failover, restart, rejoin, lag }).toEqual(run1);
    // A different seed draws differently (the streams do depend on the seed).
    const other = drawOf(world(new RandomStreams(seed + 1), clock));
    expect(other("failoverMs", timings.failoverMs)).not.toBe(run1.failover);
  });

  it("gives each concern its own sequence, stable for a seed", () => {
    const a = new RandomStreams(7);
    const b = new RandomStreams(7);
    const loadA = Array.from({ length: 5 }, () => a.get("load").next());
    b.get("aurora/failoverMs").next();
    const loadB = Array.from({ length: 5 }, () => b.get("load").next());
    expect(loadB).toEqual(loadA);
    expect(a.get("aurora/failoverMs").next()).not.toBe(loadA[0]);
  });
});
