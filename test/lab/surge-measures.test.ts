// The surge scenario's measuring parts, each against the real thing it reads: a real PostgreSQL
// server refusing connections over its max_connections (the SQLSTATE and the log line the
// scenario counts), the lab's budget from the synth check's own numbers and configuration, and
// the verdicts on planted figures. The whole scenario runs in surge.test.ts.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { loadConfig } from "../../infra/config";
import { checkConnectionBudget } from "../../infra/lib/connection-budget";
import { connectionBudgetInput } from "../../infra/stacks/payments-dr-stack";
import { labBudget } from "../../lab/budget";
import {
  ConfigError,
  LAB_AUTHORIZE_THROTTLE,
  parseArgs,
  SURGE_CLIENTS,
  SURGE_RATE,
  SURGE_SIZED_RTO_SECONDS,
  surgeRateFor,
} from "../../lab/config";
import { expectedRto } from "../../lab/expected";
import type { LabBudget } from "../../lab/budget";
import { giveToServer, PgNode } from "../../lab/world/postgres";
import { isRefusal, refusalClass, refusalsInLog, surgeChecks, surgeFigures } from "../../lab/surge";
import type { SurgeFigures, SurgeMonitor } from "../../lab/surge";
import type { Attempt } from "../../lab/load";
import { freePort } from "../../scripts/embedded-postgres";
import { connectFailureCode, Database, poolStats } from "../../functions/payments/shared/database";

jest.setTimeout(60_000);

describe("the surge's refusal count", () => {
  it("counts every connection a real PostgreSQL refuses over max_connections, by SQLSTATE", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-surge-refusals-"));
    giveToServer(dir);
    PgNode.initialise(join(dir, "data"));
    // PostgreSQL's floor: max_connections must exceed superuser_reserved_connections (3).
    const node = new PgNode({
      name: "writer",
      dataDir: join(dir, "data"),
      port: await freePort(),
      logFile: join(dir, "postgres.log"),
      maxConnections: 5,
    });
    const held: Client[] = [];
    const settings = { kind: "url" as const, connectionString: "" };
    const refusedCodes: string[] = [];
    let since: number;
    try {
      await node.start();
      settings.connectionString = node.url();
      // The window opens once the server is up: start() polls it with connections, which a
      // server still starting refuses with 57P03 (logged, and rightly counted by the lab).
      since = Date.now() - 1;
      for (let i = 0; i < 8; i++) {
        const c = new Client({ connectionString: node.url(), connectionTimeoutMillis: 3000 });
        c.on("error", () => undefined);
        try {
          await c.connect();
          held.push(c);
        } catch (error) {
          refusedCodes.push(String((error as { code?: string }).code));
        }
      }
      expect(refusedCodes).toEqual(["53300", "53300", "53300"]);
      // The functions' own pools say who was refused: a payment function's Database, refused
      // by the full server, counts the SQLSTATE under its application_name.
      const db = new Database({
        settings: async () => settings,
        applicationName: "payments-capture",
      });
      await expect(db.query("SELECT 1")).rejects.toThrow();
      expect(db.refused["53300"]).toBeGreaterThanOrEqual(1);
      expect(poolStats().refusedBy["payments-capture"]?.["53300"]).toBeGreaterThanOrEqual(1);
      // Review 22b-18 L1': and when, so the surge can window them.
      const stamped = poolStats().refusals!.filter((r) => r.application === "payments-capture");
      expect(stamped.length).toBe(db.refused["53300"]);
      for (const r of stamped) {
        expect(r.code).toBe("53300");
        expect(r.at).toBeGreaterThanOrEqual(since);
        expect(r.at).toBeLessThanOrEqual(Date.now());
      }
      for (let i = 0; i < db.refused["53300"]!; i++) refusedCodes.push("53300");
      await db.end();
      await Promise.all(held.map((c) => c.end()));
      await node.stop();
      const refusals = refusalsInLog(
        readFileSync(join(dir, "postgres.log"), "utf8"),
        "us-west-2",
        since,
        (ms) => ms,
      );
      // All superuser connections share max_connections: the 6th and later are refused.
      expect(held).toHaveLength(5);
      expect(refusals.map((r) => r.sqlstate)).toEqual(refusedCodes);
      expect(refusals[0]!.message).toMatch(/too many clients/);
      for (const r of refusals) expect(r.at).toBeGreaterThanOrEqual(since);
      // Nothing before the window counts.
      expect(
        refusalsInLog(
          readFileSync(join(dir, "postgres.log"), "utf8"),
          "x",
          Date.now() + 1000,
          (ms) => ms,
        ),
      ).toEqual([]);
    } finally {
      await Promise.all(held.map((c) => c.end().catch(() => undefined)));
      await node.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes only refusals for refusals: a terminated session or a statement timeout is not one", () => {
    expect(["53300", "53200", "57P03", "28P01", "28000", "3D000"].every(isRefusal)).toBe(true);
    expect(["57P01", "57014", "40001", "25006", "08006", "XX000"].some(isRefusal)).toBe(false);
  });
});

describe("the lab's connection budget", () => {
  it("scales the instance class's documented max_connections by the environments the lab plays", () => {
    const b = labBudget({ environments: 16, writer: "secondary", config: loadConfig({}) });
    // db.r5.large: 1600 (AuroraPostgreSQL.Managing, "Maximum connections"), 16 of 72 reserved.
    expect(b.production.maxConnections).toBe(1600);
    expect(b.scale).toEqual({ lab: 16, production: 72 });
    expect(b.maxConnections).toBe(Math.round((1600 * 16) / 72));
    expect(b.safe).toBe(Math.floor((356 - 3) * 0.8));
    // Seven served functions at 16 environments; the four writers' pool on their own cluster
    // endpoint (the identity check's reference), /health's two own-cluster pools. Counted as
    // synth counts them, though the lab's plain PostgreSQL never runs the identity check (it
    // needs Aurora's functions): the lab's worst case is above what it can open.
    expect(b.demand).toBe(6 * 16 + 4 * 16 + 2 * 16 + 16);
    // The production side is the synth check's own figure for the same writer.
    const synth = checkConnectionBudget(connectionBudgetInput(loadConfig({})));
    expect(b.production.demand).toBe(synth.find((w) => w.writerRegion === "us-west-2")!.demand);
  });

  it("follows the configuration the synth check reads: fewer reserved environments, a bigger class", () => {
    const fewer = labBudget({
      environments: 16,
      writer: "secondary",
      config: loadConfig({ PAYMENTS_RESERVED_CONCURRENCY: "40" }),
    });
    expect(fewer.maxConnections).toBe(640);
    const r6g = labBudget({
      environments: 16,
      writer: "secondary",
      config: loadConfig({ DB_INSTANCE_CLASS: "db.r6g.large" }),
    });
    expect(r6g.maxConnections).toBe(Math.round((1722 * 16) / 72));
  });

  it("keeps a planted max_connections and says so", () => {
    const b = labBudget({ environments: 16, writer: "secondary", maxConnections: 40 });
    expect(b.planted).toBe(true);
    expect(b.maxConnections).toBe(40);
    expect(b.safe).toBe(Math.floor((40 - 3) * 0.8));
  });
});

function figures(budget: LabBudget, over: Partial<SurgeFigures> = {}): SurgeFigures {
  return {
    budget,
    targetRegion: "us-west-2",
    peakConnections: { value: 20, at: 1, writer: true },
    refusals: [],
    refusalsByCode: {},
    refusalsByClass: { budget: 0, promotion: 0, pool: 0, other: 0 },
    refusedByFunction: {},
    throttled: {},
    tooManyRequests: {},
    unanswered: {},
    peakInFlight: { requests: 16, perFunction: { authorize: 16 } },
    peakPoolWaiting: 0,
    peakClients: { payments: 16, requests: 16, queued: 100 },
    serverErrors: { "503 database_unavailable": 3 },
    labLoopDelay: { p99Ms: 30, maxMs: 80 },
    outages: [{ region: "us-west-2", from: 0, to: 30_000 }],
    tooManyBeforeFault: {},
    ...over,
  };
}

describe("the surge's verdicts", () => {
  const scaled = labBudget({ environments: 16, writer: "secondary" });

  it("passes a surge inside the budget with only 503s", () => {
    expect(surgeChecks(figures(scaled)).filter((c) => !c.ok)).toEqual([]);
  });

  it("fails an over-budget lab with the figures and what is over", () => {
    const planted = labBudget({ environments: 16, writer: "secondary", maxConnections: 40 });
    const check = surgeChecks(figures(planted)).find((c) => c.name === "connection-budget")!;
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(
      /worst case 208 connections .*179 over the safe share 29 .*max_connections 40, planted/,
    );
  });

  it("fails on a refused connection, naming the SQLSTATE, the server and its message", () => {
    const check = surgeChecks(
      figures(scaled, {
        refusals: [
          {
            at: 5,
            region: "us-west-2",
            sqlstate: "53300",
            message: "sorry, too many clients already",
          },
        ],
        refusalsByCode: { "53300": 1 },
        refusalsByClass: { budget: 1, promotion: 0, pool: 0, other: 0 },
        refusedByFunction: {
          "us-west-2 payments-capture": { "53300": 1 },
          "us-west-2 payments-authorize": { ECONNREFUSED: 4 },
        },
      }),
    ).find((c) => c.name === "no-refused-connections")!;
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/1 x 53300; 1 by us-west-2.*too many clients/);
    // Attributed to the function whose pool was refused for want of connections, not to one
    // refused by the promotion.
    expect(check.detail).toMatch(/refused functions: us-west-2 payments-capture 1;/);
  });

  it("counts a promotion's refusals apart: reported, not failed", () => {
    const check = surgeChecks(
      figures(scaled, {
        refusals: [
          {
            at: 5,
            region: "us-west-2",
            sqlstate: "57P03",
            message: "the database system is starting up",
          },
        ],
        refusalsByCode: { "57P03": 1 },
        refusalsByClass: { budget: 0, promotion: 1, pool: 0, other: 0 },
        refusedByFunction: { "us-west-2 payments-authorize": { "57P03": 1, ECONNREFUSED: 6 } },
      }),
    ).find((c) => c.name === "no-refused-connections")!;
    expect(check.ok).toBe(true);
    expect(check.detail).toMatch(/1 refused while a server started or stopped \(57P03/);
  });

  it("fails a promotion's refusal outside the promoted writer's recorded restart (review M2)", () => {
    const at = (ms: number, region = "us-west-2") =>
      surgeChecks(
        figures(scaled, {
          refusals: [
            { at: ms, region, sqlstate: "57P03", message: "the database system is starting up" },
          ],
          refusalsByCode: { "57P03": 1 },
          refusalsByClass: { budget: 0, promotion: 1, pool: 0, other: 0 },
          outages: [{ region: "us-west-2", from: 100_000, to: 130_000 }],
        }),
      ).find((c) => c.name === "no-refused-connections")!;
    expect(at(120_000).ok).toBe(true);
    expect(at(131_500).ok).toBe(true); // within the grace of the log's time stamps
    // Ten minutes after the promotion, or on the other region's server: a fault, not a restart.
    const late = at(700_000);
    expect(late.ok).toBe(false);
    expect(late.detail).toMatch(
      /1 of a promotion's class outside the promoted writer's recorded restarts \(us-west-2 100000-130000\)/,
    );
    expect(at(120_000, "us-east-1").ok).toBe(false);
  });

  it("gives a pool-slot wait its own code and fails it like a throttle (review M2)", () => {
    expect(connectFailureCode(new Error("timeout exceeded when trying to connect"))).toBe(
      "pool-wait-timeout",
    );
    expect(connectFailureCode(new Error("Connection terminated due to connection timeout"))).toBe(
      "connect-timeout",
    );
    expect(connectFailureCode(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }))).toBe(
      "ECONNREFUSED",
    );
    expect(refusalClass("pool-wait-timeout")).toBe("pool");
    const check = surgeChecks(
      figures(scaled, {
        refusedByFunction: { "us-west-2 payments-authorize": { "pool-wait-timeout": 67 } },
      }),
    ).find((c) => c.name === "only-documented-5xx")!;
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/waited out a pool slot.*us-west-2 payments-authorize 67/);
  });

  it("classifies refusals: the budget's class 53, a promotion's window, a misconfiguration", () => {
    expect(["53300", "53200", "53000"].map(refusalClass)).toEqual(["budget", "budget", "budget"]);
    expect(["57P03", "ECONNREFUSED", "connect-timeout"].map(refusalClass)).toEqual([
      "promotion",
      "promotion",
      "promotion",
    ]);
    expect(["28P01", "3D000"].map(refusalClass)).toEqual(["other", "other"]);
  });

  it("fails on a request to the new region that got no answer, and allows 429s, reporting them", () => {
    const timedOut = surgeChecks(figures(scaled, { unanswered: { "0 timeout": 2 } })).find(
      (c) => c.name === "only-documented-5xx",
    )!;
    expect(timedOut.ok).toBe(false);
    expect(timedOut.detail).toMatch(/requests to us-west-2 that got no answer.*2 x 0 timeout/);
    const limited = surgeChecks(
      figures(scaled, { tooManyRequests: { "us-west-2 authorize": 40 } }),
    ).find((c) => c.name === "only-documented-5xx")!;
    expect(limited.ok).toBe(true);
    expect(limited.detail).toMatch(
      /the stage throttle answered 429 \(allowed, retried\): us-west-2 authorize 40/,
    );
  });

  it("fails on a 5xx other than 503, and on a request that would have been throttled", () => {
    const c500 = surgeChecks(figures(scaled, { serverErrors: { "500": 2 } })).find(
      (c) => c.name === "only-documented-5xx",
    )!;
    expect(c500.ok).toBe(false);
    expect(c500.detail).toMatch(/2 x 500/);
    const throttled = surgeChecks(
      figures(scaled, { throttled: { "us-west-2 authorize": 3 } }),
    ).find((c) => c.name === "only-documented-5xx")!;
    expect(throttled.ok).toBe(false);
    expect(throttled.detail).toMatch(/us-west-2 authorize 3/);
  });

  it("fails when the writer held more connections than the budget counts", () => {
    const check = surgeChecks(
      figures(scaled, { peakConnections: { value: scaled.demand + 1, at: 9, writer: true } }),
    ).find((c) => c.name === "new-writer-connections-within-budget")!;
    expect(check.ok).toBe(false);
  });
});

describe("the surge's figures from the clients' attempts", () => {
  // A monitor that saw nothing: the figures come from the attempts alone.
  const idle = {
    samples: [],
    clients: [],
    loopDelay: { p99Ms: 0, maxMs: 0 },
    refusals: () => [],
  } as unknown as SurgeMonitor;
  const attempt = (over: Partial<Attempt>): Attempt => ({
    key: "k",
    op: "authorize",
    at: 1,
    sentAt: 0,
    region: "us-west-2",
    status: 201,
    ms: 1,
    ...over,
  });

  it("counts unanswered requests to the new region, not to the old one nor those the load's stop cut", () => {
    const f = surgeFigures(
      idle,
      labBudget({ environments: 16, writer: "secondary" }),
      [
        attempt({ status: 0, code: "timeout" }),
        attempt({ status: 0, code: "network" }),
        attempt({ status: 0, code: "timeout", region: "us-east-1" }),
        attempt({ status: 0, code: "aborted" }),
        attempt({ status: 429 }),
        attempt({ status: 503, code: "database_unavailable" }),
      ],
      "us-west-2",
    );
    expect(f.unanswered).toEqual({ "0 timeout": 1, "0 network": 1 });
    expect(f.serverErrors).toEqual({ "503 database_unavailable": 1 });
    expect(surgeChecks(f).find((c) => c.name === "only-documented-5xx")!.ok).toBe(false);
  });
});

describe("how much of the budget a surge exercised (review 22b-18 M2')", () => {
  const scaled = labBudget({ environments: 16, writer: "secondary" });
  const detail = (value: number) =>
    surgeChecks(figures(scaled, { peakConnections: { value, at: 1, writer: true } })).find(
      (c) => c.name === "new-writer-connections-within-budget",
    )!.detail;

  it("says a surge far below the counted worst case does not test the budget", () => {
    expect(scaled.demand).toBe(208);
    expect(detail(6)).toMatch(/budget exercised 3% .*below 50%, this run does not test the budget/);
  });

  it("counts a surge at half the worst case or more as a test of it", () => {
    expect(detail(104)).toMatch(/budget exercised 50% \(peak \/ worst case counted\)$/);
  });
});

describe("the functions' own refusals, windowed (review 22b-18 L1')", () => {
  const budget = labBudget({ environments: 16, writer: "secondary" });
  const restart = { region: "us-west-2", from: 100_000, to: 120_000 };
  // Two samples of us-west-2's API reading the same pool refusals again, plus a new one.
  const sample = (at: number, refusals: { seq: number; code: string; at: number }[]) => ({
    at,
    region: "us-west-2",
    writer: true,
    connections: 1,
    clientBackends: 1,
    api: {
      inflight: 0,
      peak: 0,
      environments: 16,
      functions: {},
      pools: {
        open: 0,
        idle: 0,
        waiting: 0,
        refusals: refusals.map((r) => ({ ...r, application: "payments-authorize" })),
      },
    },
  });
  const monitor = (samples: ReturnType<typeof sample>[]) =>
    ({
      samples,
      clients: [],
      loopDelay: { p99Ms: 0, maxMs: 0 },
      refusals: () => [],
    }) as unknown as SurgeMonitor;
  const check = (samples: ReturnType<typeof sample>[]) => {
    const f = surgeFigures(monitor(samples), budget, [], "us-west-2", {
      faultAt: 60_000,
      outages: [restart],
    });
    return { f, check: surgeChecks(f).find((c) => c.name === "pool-refusals-in-restart")! };
  };

  it("allows a pool's refused or reset connections inside the promoted writer's restart, counting each once", () => {
    const inside = [
      { seq: 1, code: "ECONNREFUSED", at: 101_000 },
      { seq: 2, code: "ECONNRESET", at: 119_500 },
    ];
    const { f, check: c } = check([sample(110_000, inside.slice(0, 1)), sample(121_000, inside)]);
    expect(f.poolRefusals).toHaveLength(2);
    expect(c).toMatchObject({ ok: true, detail: expect.stringMatching(/^2 connections/) });
  });

  it("fails a pool's refused connection after the restart ended, naming the function, where and when", () => {
    const { check: c } = check([
      sample(150_000, [
        { seq: 1, code: "ECONNREFUSED", at: 101_000 },
        { seq: 7, code: "connect-timeout", at: 140_000 },
      ]),
    ]);
    expect(c.ok).toBe(false);
    expect(c.detail).toMatch(
      /^1 connections .* outside .*us-west-2 100000-120000.*payments-authorize in us-west-2 at 140000 \(connect-timeout\)/,
    );
  });

  it("allows the refusals of the region the fault took down, from the fault on, and nowhere else", () => {
    const east = (at: number) => ({
      ...sample(at, [{ seq: at, code: "ECONNREFUSED", at }]),
      region: "us-east-1",
    });
    expect(check([east(61_000)]).check.ok).toBe(true);
    expect(check([east(30_000)]).check.ok).toBe(false);
  });
});

describe("the surge's steady state (review H3)", () => {
  const attempt = (over: Partial<Attempt>): Attempt => ({
    key: "k",
    op: "authorize",
    at: 1,
    sentAt: 0,
    region: "us-east-1",
    status: 201,
    ms: 1,
    ...over,
  });
  const idle = {
    samples: [],
    clients: [],
    loopDelay: { p99Ms: 0, maxMs: 0 },
    refusals: () => [],
  } as unknown as SurgeMonitor;
  const budget = labBudget({ environments: 16, writer: "secondary" });
  const attempts = [
    attempt({ status: 429, at: 500 }),
    attempt({ status: 429, at: 900, op: "capture" }),
    attempt({ status: 429, at: 5_000, region: "us-west-2" }),
  ];

  it("fails a run whose load met the throttle before the fault, naming the ops", () => {
    const f = surgeFigures(idle, budget, attempts, "us-west-2", { faultAt: 1_000 });
    expect(f.tooManyBeforeFault).toEqual({ authorize: 1, capture: 1 });
    const check = surgeChecks(f).find((c) => c.name === "no-429-before-fault")!;
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/429 before the fault \(authorize 1, capture 1\)/);
    // 429s after the fault (the backlog meeting the new region) are the throttle's job.
    const after = surgeFigures(idle, budget, attempts.slice(2), "us-west-2", { faultAt: 1_000 });
    expect(surgeChecks(after).find((c) => c.name === "no-429-before-fault")!.ok).toBe(true);
    // A stress run asked for it: reported, not failed.
    const stress = surgeFigures(idle, budget, attempts, "us-west-2", {
      faultAt: 1_000,
      throttledLoadAllowed: true,
    });
    expect(surgeChecks(stress).find((c) => c.name === "no-429-before-fault")).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/allowed: --allow-throttled/),
    });
  });

  // Review 22b-18 H2': the throttle admits burst + rate x d in any window of d, so a p99 above d
  // puts more requests in flight than the environments it was sized from.
  it("fails a surge whose p99 request duration in the failover window is above the d its throttles are sized for, naming the op", () => {
    const answered = (n: number, ms: number, over: Partial<Attempt> = {}) =>
      Array.from({ length: n }, (_, i) =>
        attempt({ region: "us-west-2", sentAt: 2_000 + i, at: 2_000 + i, ms, ...over }),
      );
    const window = [
      ...answered(99, 120),
      ...answered(1, 2_400),
      ...answered(50, 300, { op: "capture" }),
      // Not in the window or not a function's time: before the fault, the old region, 429, 0.
      ...answered(5, 9_000, { sentAt: 500 }),
      ...answered(5, 9_000, { region: "us-east-1" }),
      ...answered(5, 9_000, { status: 429 }),
      ...answered(5, 9_000, { status: 0, code: "timeout" }),
    ];
    const within = surgeFigures(idle, budget, window, "us-west-2", {
      faultAt: 1_000,
      routeDurationMs: 500,
    });
    expect(within.routeDurations).toEqual({
      dMs: 500,
      byOp: { authorize: { count: 100, p99Ms: 120 }, capture: { count: 50, p99Ms: 300 } },
    });
    expect(surgeChecks(within).find((c) => c.name === "p99-within-route-d")).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/within the d = 500 ms .*authorize 120 ms \(100\)/),
    });
    const slow = surgeFigures(idle, budget, [...window, ...answered(3, 2_400)], "us-west-2", {
      faultAt: 1_000,
      routeDurationMs: 500,
    });
    expect(slow.routeDurations!.byOp.authorize!.p99Ms).toBe(2_400);
    expect(surgeChecks(slow).find((c) => c.name === "p99-within-route-d")).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/above the d = 500 ms .*\(authorize\): authorize 2400 ms/),
    });
    // Without a fault time there is no window: no figures, no check.
    expect(surgeFigures(idle, budget, window, "us-west-2").routeDurations).toBeNull();
  });

  it("derives the surge's default rate from the lab's authorize throttle: below it, and the outage's backlog drains within the clients' deadline", () => {
    expect(LAB_AUTHORIZE_THROTTLE).toEqual({ ratePerSecond: 16, burst: 8 });
    const config = parseArgs(["surge"], {});
    const rto = expectedRto(config, false).seconds;
    // The rate is sized for SURGE_SIZED_RTO_SECONDS: a longer expected outage needs a new rate.
    expect(rto).toBeLessThanOrEqual(SURGE_SIZED_RTO_SECONDS);
    const deadline = config.timings.clientDeadlineMs / 1000;
    expect(SURGE_RATE).toBe(surgeRateFor(16, SURGE_SIZED_RTO_SECONDS, deadline));
    expect(SURGE_RATE).toBeLessThan(LAB_AUTHORIZE_THROTTLE.ratePerSecond);
    const backlog = SURGE_RATE * rto;
    expect(rto + backlog / (LAB_AUTHORIZE_THROTTLE.ratePerSecond - SURGE_RATE)).toBeLessThanOrEqual(
      deadline,
    );
    expect(SURGE_RATE).toBe(4.2);
  });

  it("rejects a --rate above the authorize throttle unless --allow-throttled", () => {
    expect(() => parseArgs(["surge", "--rate", "25"], {})).toThrow(
      /--rate=25 is above the authorize route's throttle \(16\/s, burst 8/,
    );
    expect(parseArgs(["surge", "--rate", "16"], {}).rate).toBe(16);
    expect(parseArgs(["surge", "--rate", "25", "--allow-throttled"], {})).toMatchObject({
      rate: 25,
      allowThrottled: true,
    });
  });
});

describe("the surge's options", () => {
  it("runs the surge at its load unless told otherwise, the others at theirs", () => {
    expect(parseArgs(["surge"], {})).toMatchObject({
      scenario: "surge",
      rate: SURGE_RATE,
      clients: SURGE_CLIENTS,
      maxConnections: undefined,
    });
    expect(parseArgs(["region-down"], {})).toMatchObject({ rate: 10, clients: 64 });
    expect(parseArgs(["surge", "--clients", "40", "--max-connections", "12"], {})).toMatchObject({
      clients: 40,
      maxConnections: 12,
      routes: "payments",
    });
    expect(parseArgs(["surge", "--routes", "all"], {})).toMatchObject({ routes: "all" });
    expect(() => parseArgs(["surge", "--routes", "some"], {})).toThrow(
      '--routes="some" is not allowed: payments or all',
    );
  });

  it("rejects a client count or max_connections out of range, naming the option and the range", () => {
    expect(() => parseArgs(["surge", "--clients", "0"], {})).toThrow(ConfigError);
    expect(() => parseArgs(["surge", "--clients", "0"], {})).toThrow(
      '--clients="0" is not allowed: a number from 1 to 512',
    );
    expect(() => parseArgs(["--max-connections", "5"], {})).toThrow(
      '--max-connections="5" is not allowed: a number from 10 to 5000',
    );
  });
});
