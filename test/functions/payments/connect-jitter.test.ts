// Connect jitter: after a failover ~1000 Lambda environments lose their connection to the old
// writer at once; each waits a full-jitter delay before reconnecting to the promoted one (AWS
// Architecture Blog, "Exponential Backoff And Jitter": sleep = random_between(0, min(cap, ...))),
// bounded so the payment request's timeout still holds. Pure parts with fast-check and a seeded
// surge; the Database behaviour on the real test server with a fake clock, random and sleep.
import fc from "fast-check";
import type { Client } from "pg";
import {
  CONNECT_JITTER_MAX_MS,
  connectJitterCapMs,
  fullJitterMs,
} from "../../../functions/payments/shared/connect-jitter";
import { API_TIMEOUTS, Database } from "../../../functions/payments/shared/database";
import { createTestDatabase } from "./support/database";
import type { TestDatabase } from "./support/database";

describe("full jitter", () => {
  it("draws uniformly from [0, cap) and never past the cap", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (cap, r) => {
          const ms = fullJitterMs(cap, () => r);
          return Number.isInteger(ms) && ms >= 0 && ms < cap && ms === Math.floor(r * cap);
        },
      ),
    );
    expect(fullJitterMs(0, () => 0.9)).toBe(0);
    expect(fullJitterMs(-5, () => 0.9)).toBe(0);
  });

  it("rejects a random source outside [0, 1)", () => {
    for (const bad of [1, -0.1, Number.NaN, 2])
      expect(() => fullJitterMs(1000, () => bad)).toThrow(/random\(\) must return \[0, 1\), got/);
  });

  it("spreads 1000 environments evenly over the cap: no 10 ms slot takes more than 3x its share", () => {
    // A seeded run: the seed is printed so a failure reproduces.
    const seed = Number(process.env.JITTER_SEED ?? Math.floor(Math.random() * 2 ** 31));
    let state = seed >>> 0;
    // mulberry32: a small seeded PRNG with uniform output in [0, 1).
    const random = () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const delays = Array.from({ length: 1000 }, () => fullJitterMs(CONNECT_JITTER_MAX_MS, random));
    const slots = new Array<number>(CONNECT_JITTER_MAX_MS / 10).fill(0);
    for (const d of delays) slots[Math.floor(d / 10)]! += 1;
    const report = `seed ${seed}: busiest 10 ms slot ${Math.max(...slots)}, empty slots ${slots.filter((n) => n === 0).length}`;
    // Without jitter all 1000 land in slot 0; uniform gives 10 per slot (Poisson: P(> 30) < 1e-7).
    expect({ report, ok: Math.max(...slots) <= 30 }).toEqual({ report, ok: true });
    expect(Math.max(...delays)).toBeLessThan(CONNECT_JITTER_MAX_MS);
  });
});

describe("the jitter cap each function can afford", () => {
  it("is what the timeout leaves after one connect, one statement and the margin, at most 1 s", () => {
    const t = API_TIMEOUTS;
    expect(connectJitterCapMs(10_000, t)).toBe(1_000);
    expect(connectJitterCapMs(9_500, t)).toBe(500);
    // /health (5 s) has no room: its answer time is kept.
    expect(connectJitterCapMs(5_000, t)).toBe(0);
    expect(connectJitterCapMs(900_000, t)).toBe(CONNECT_JITTER_MAX_MS);
    expect(() => connectJitterCapMs(0, t)).toThrow(
      "function timeout must be a positive number of ms, got 0",
    );
  });
});

describe("a Database reconnecting to a new writer", () => {
  let db: TestDatabase;
  let admin: Client;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
    admin = db.sql;
  });
  afterAll(async () => {
    await db.drop();
  });

  /** A fake clock, random and sleep: every delay is recorded, none is waited. */
  function fakes(randoms: number[], clock: number[] = []) {
    const slept: number[] = [];
    let t = 1_000_000;
    return {
      slept,
      jitter: {
        capMs: CONNECT_JITTER_MAX_MS,
        random: () => randoms.shift() ?? 0.5,
        sleep: async (ms: number) => {
          slept.push(ms);
          t += ms;
        },
        now: () => (clock.length > 0 ? (t += clock.shift()!) : t),
      },
    };
  }

  const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** Ends the backends of `name` from outside: what the old writer going away does. */
  async function cut(name: string): Promise<number> {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE application_name = $1 AND pid <> pg_backend_pid()`,
      [name],
    );
    return rows[0]!.n;
  }

  it("connects a cold environment at once, and waits full jitter only after losing the writer", async () => {
    const name = `jitter-${Date.now()}`;
    const f = fakes([0.37, 0.81]);
    const database = new Database({
      settings: async () => ({ kind: "url", connectionString: db.url }),
      applicationName: name,
      connectJitter: f.jitter,
    });
    try {
      // Cold start: the first connection is not delayed.
      await database.query("SELECT 1");
      expect(f.slept).toEqual([]);
      await database.query("SELECT 1");
      expect(f.slept).toEqual([]);

      // The writer goes away while the environment is idle (most are, between requests): the
      // pool drops the dead connection, and the next call's new connection is jittered.
      expect(await cut(name)).toBe(1);
      const { rows } = await database.query<{ one: number }>("SELECT 1 AS one");
      expect(rows).toEqual([{ one: 1 }]);
      expect(f.slept).toEqual([370]);

      // Connected again: the following calls are not delayed.
      await database.query("SELECT 1");
      expect(f.slept).toEqual([370]);
    } finally {
      await database.end();
    }
  });

  it("jitters the retry of a call whose connection broke under it", async () => {
    const name = `jitter-inflight-${Date.now()}`;
    const f = fakes([0.25]);
    const database = new Database({
      settings: async () => ({ kind: "url", connectionString: db.url }),
      applicationName: name,
      connectJitter: f.jitter,
    });
    try {
      await database.query("SELECT 1");
      const running = database.query<{ one: number }>("SELECT 1 AS one FROM pg_sleep(1.5)");
      // Cut it while the statement runs: admin_shutdown reaches the caller as a broken
      // connection, retried once (idempotent work) after the jitter.
      for (let i = 0; i < 50 && (await cut(name)) === 0; i++) await sleepMs(20);
      expect((await running).rows).toEqual([{ one: 1 }]);
      expect(f.slept).toEqual([250]);
    } finally {
      await database.end();
    }
  });

  it("never pushes a call past its budget: time already spent in the call is taken off the cap", async () => {
    const name = `jitter-budget-${Date.now()}`;
    // now(): the call starts, then 400 ms pass before the retry asks for its jitter.
    const clock: number[] = [];
    const f = fakes([0.5], clock);
    const database = new Database({
      settings: async () => ({ kind: "url", connectionString: db.url }),
      applicationName: name,
      connectJitter: f.jitter,
    });
    try {
      await database.query("SELECT 1");
      expect(await cut(name)).toBe(1);
      clock.push(0, 400);
      await database.query("SELECT 1");
      // Full jitter over what is left: 0.5 * (1000 - 400).
      expect(f.slept).toEqual([300]);

      // A failed attempt that used the whole cap leaves no jitter at all.
      expect(await cut(name)).toBe(1);
      clock.push(0, 1_500);
      await database.query("SELECT 1");
      expect(f.slept).toEqual([300]);
    } finally {
      await database.end();
    }
  });

  it("does not jitter when it is turned off (cap 0), as /health runs", async () => {
    const name = `jitter-off-${Date.now()}`;
    const f = fakes([0.9]);
    const database = new Database({
      settings: async () => ({ kind: "url", connectionString: db.url }),
      applicationName: name,
      connectJitter: { ...f.jitter, capMs: 0 },
    });
    try {
      await database.query("SELECT 1");
      expect(await cut(name)).toBe(1);
      await database.query("SELECT 1");
      expect(f.slept).toEqual([]);
    } finally {
      await database.end();
    }
  });
});
