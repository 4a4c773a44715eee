// The surge scenario's measurements (issue 18): while the load runs through a region-down, what
// the new writer and the payment API carry, sampled over time, and what the servers refused.
// - Connections: PostgreSQL's own pg_stat_activity on each live server, the payment functions'
//   connections (application_name payments-*) apart from the lab's tooling.
// - Refusals: every FATAL a server logged, by SQLSTATE, from its log (each line carries its time
//   and SQLSTATE, lab/world/postgres.ts): 53300 too_many_connections is the one the budget is for.
// - Queueing: requests in flight per function against the environments the lab plays (one more
//   is a Lambda throttle in production), callers waiting for a pool slot, and the clients' own
//   backlog (payments waiting for a free client).
// Pure checks at the end (surgeChecks): the data in, the verdicts out.
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { IntervalHistogram } from "node:perf_hooks";
import { Client } from "pg";
import type { LabBudget } from "./budget";
import type { Check } from "./checks";
import type { Lab } from "./lab";
import type { Attempt, LoadGenerator, LoadSample } from "./load";

export interface ApiSample {
  readonly inflight: number;
  /** Most requests in flight at once since the previous sample. */
  readonly peak: number;
  readonly environments: number;
  readonly functions: Readonly<
    Record<string, { inflight: number; peak: number; overLimit: number; tooManyRequests?: number }>
  >;
  readonly pools: {
    open: number;
    idle: number;
    waiting: number;
    /** Connections each function's pool failed to open, by code (cumulative). */
    refusedBy?: Readonly<Record<string, Readonly<Record<string, number>>>>;
    /** The latest of them with their time (lab ms once sampled; PoolStats.refusals). */
    refusals?: readonly { seq: number; application: string; code: string; at: number }[];
  };
  /** The stage throttle the region's API plays per route. */
  readonly throttles?: Readonly<Record<string, { ratePerSecond: number; burst: number }>>;
}

export interface SurgeSample {
  /** Lab epoch ms. */
  readonly at: number;
  readonly region: string;
  /** The server is out of recovery (a writer). */
  readonly writer: boolean;
  /** Connections of the payment functions (application_name payments-*). */
  readonly connections: number;
  /** Every client backend, the lab's tooling included. */
  readonly clientBackends: number;
  readonly api: ApiSample | null;
}

export interface Refusal {
  /** Lab epoch ms. */
  readonly at: number;
  readonly region: string;
  readonly sqlstate: string;
  readonly message: string;
}

/**
 * SQLSTATEs of a connection the server refused: insufficient resources (53300
 * too_many_connections), cannot_connect_now (57P03: starting up, shutting down), invalid
 * authorization (28), invalid catalog name (3D000). PostgreSQL Appendix A, "Error Codes".
 */
export function isRefusal(sqlstate: string): boolean {
  return /^(53|28|3D)/.test(sqlstate) || sqlstate === "57P03";
}

/**
 * Why a connection was refused:
 * - "budget": class 53, insufficient resources (53300 too_many_connections): the writer is out of
 *   connections, what the connection budget exists to prevent. Fails the surge.
 * - "promotion": the server is not there to connect to yet or any more: 57P03 cannot_connect_now
 *   (starting up, shutting down), and, on the client's side, a refused or reset socket or a
 *   connect timeout. Aurora documents that a promotion drops sessions and refuses connections
 *   for a short while ("applications ... experience connection errors" while the writer changes:
 *   aurora-global-database-disaster-recovery); the functions answer those with the documented
 *   503. Allowed only inside the promoted writer's recorded restart (lab/world/aurora.ts,
 *   `outages`, with PROMOTION_GRACE_MS either side): a server refusing after that is a fault.
 * - "pool": "pool-wait-timeout", a caller that waited its 3 s for one of its function's pool
 *   slots (functions/payments/shared/database.ts, connectFailureCode): the environments
 *   overflowing, which the server did not refuse. Fails like a Lambda throttle.
 * - "other": 28 (authorization) and 3D000 (no such database): a misconfiguration. Fails.
 */
export type RefusalClass = "budget" | "promotion" | "pool" | "other";

export function refusalClass(code: string): RefusalClass {
  if (/^53/.test(code)) return "budget";
  if (code === "pool-wait-timeout") return "pool";
  if (
    code === "57P03" ||
    code === "ECONNREFUSED" ||
    code === "ECONNRESET" ||
    code === "connect-timeout" ||
    code === "57P01"
  )
    return "promotion";
  return "other";
}

/**
 * Lab ms either side of a recorded restart within which a promotion-class refusal still counts
 * as the restart's: the log's real-time stamps and the lab clock's conversion, and the shutdown
 * that starts just after `from` is recorded.
 */
export const PROMOTION_GRACE_MS = 2_000;

/** A promoted writer's recorded restart (lab/world/aurora.ts `outages`), lab ms. */
export interface OutageWindow {
  readonly region: string;
  readonly from: number;
  readonly to?: number;
}

/** Was a promotion-class refusal by `region` at lab time `at` inside one of its restarts? */
export function inOutage(windows: readonly OutageWindow[], region: string, at: number): boolean {
  return windows.some(
    (w) =>
      w.region === region &&
      at >= w.from - PROMOTION_GRACE_MS &&
      at <= (w.to ?? Number.POSITIVE_INFINITY) + PROMOTION_GRACE_MS,
  );
}

const LOG_LINE =
  /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) UTC \[\d+\] ([0-9A-Z]{5}) (FATAL|PANIC):\s+(.*)$/;

/** Every FATAL line of a server log with a refusal SQLSTATE, at or after `sinceRealMs`. */
export function refusalsInLog(
  text: string,
  region: string,
  sinceRealMs: number,
  toLab: (realMs: number) => number,
): Refusal[] {
  const out: Refusal[] = [];
  for (const line of text.split("\n")) {
    const m = LOG_LINE.exec(line);
    if (!m || !isRefusal(m[3]!)) continue;
    const real = Date.parse(`${m[1]}T${m[2]}Z`);
    if (real < sinceRealMs) continue;
    out.push({ at: toLab(real), region, sqlstate: m[3]!, message: m[5]! });
  }
  return out;
}

export class SurgeMonitor {
  readonly samples: SurgeSample[] = [];
  readonly clients: (LoadSample & { at: number; loopDelayMs: number })[] = [];
  /**
   * The lab process's own event-loop delay (real ms): the clients, Route 53, the orchestrator
   * and the emulated AWS endpoints share this loop, so a long delay stretches every round trip
   * the clients measure. Reported so a starved lab shows as one.
   */
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  loopDelay = { p99Ms: 0, maxMs: 0 };
  private timer?: NodeJS.Timeout;
  private busy = false;
  private startedReal = 0;
  private readonly pg = new Map<string, Client>();
  private sequence = 0;

  constructor(
    private readonly lab: Lab,
    private readonly load: LoadGenerator,
  ) {}

  /** Every lab second, never more often than every 250 ms of real time (a loaded box). */
  start(): void {
    this.startedReal = Date.now();
    this.loop.enable();
    const everyMs = Math.max(250, this.lab.clock.real(1000));
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      void this.tick().finally(() => (this.busy = false));
    }, everyMs);
    // A scenario that throws before stop() must not keep the process (or a jest worker) alive.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.loop.disable();
    this.loopDelay = {
      p99Ms: Math.round(this.loop.percentile(99) / 1e6),
      maxMs: Math.round(this.loop.max / 1e6),
    };
    await Promise.all([...this.pg.values()].map((c) => c.end().catch(() => undefined)));
    this.pg.clear();
  }

  private async tick(): Promise<void> {
    const at = this.lab.clock.nowMs();
    // The most the loop fell behind since the previous sample (the histogram runs on for p99).
    const recent = this.recentMax();
    this.clients.push({ at, ...this.load.sample(), loopDelayMs: recent });
    await Promise.all(
      [...this.lab.regions.values()].map(async (r) => {
        if (!r.alive || !r.node.running) return;
        const [db, sampled] = await Promise.all([this.database(r.region), this.api(r.region)]);
        // The API process stamps its pools' refusals with its real clock: into lab time.
        const api = sampled?.pools.refusals
          ? {
              ...sampled,
              pools: {
                ...sampled.pools,
                // Since the monitor started, like the servers' logged refusals.
                refusals: sampled.pools.refusals
                  .filter((f) => f.at >= this.startedReal)
                  .map((f) => ({ ...f, at: this.lab.clock.toLab(f.at) })),
              },
            }
          : sampled;
        if (db) this.samples.push({ at, region: r.region, ...db, api });
      }),
    );
  }

  private lastMax = 0;
  private recentMax(): number {
    const max = Math.round(this.loop.max / 1e6);
    const recent = max > this.lastMax ? max : 0;
    this.lastMax = Math.max(this.lastMax, max);
    return recent;
  }

  private async database(
    region: string,
  ): Promise<{ writer: boolean; connections: number; clientBackends: number } | null> {
    const node = this.lab.region(region).node;
    try {
      let client = this.pg.get(region);
      if (!client) {
        // Its own name, so it never counts as a payment function's connection.
        client = new Client({
          connectionString: node.url(),
          connectionTimeoutMillis: 2000,
          application_name: "lab-surge-sampler",
        });
        client.on("error", () => this.pg.delete(region));
        this.pg.set(region, client);
        await client.connect();
      }
      const { rows } = await client.query<{
        app: number;
        backends: number;
        recovery: boolean;
      }>(
        `SELECT count(*) FILTER (WHERE application_name LIKE 'payments-%')::int AS app,
                count(*) FILTER (WHERE backend_type = 'client backend')::int AS backends,
                pg_is_in_recovery() AS recovery
           FROM pg_stat_activity`,
      );
      const row = rows[0]!;
      return { writer: !row.recovery, connections: row.app, clientBackends: row.backends };
    } catch {
      const stale = this.pg.get(region);
      this.pg.delete(region);
      await stale?.end().catch(() => undefined);
      return null;
    }
  }

  private async api(region: string): Promise<ApiSample | null> {
    const child = this.lab.region(region).api?.process;
    if (!child || !child.connected) return null;
    const id = ++this.sequence;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.off("message", onMessage);
        resolve(null);
      }, 2000);
      const onMessage = (m: { sampleOf?: number } & ApiSample) => {
        if (m?.sampleOf !== id) return;
        clearTimeout(timer);
        child.off("message", onMessage);
        resolve(m);
      };
      child.on("message", onMessage);
      const fail = () => {
        clearTimeout(timer);
        child.off("message", onMessage);
        resolve(null);
      };
      // With a callback, a channel that closed meanwhile (the region was just killed) reports
      // EPIPE here instead of as an 'error' event nobody handles.
      try {
        child.send({ sample: id }, (error) => {
          if (error) fail();
        });
      } catch {
        fail();
      }
    });
  }

  /** Refusals every server logged since the monitor started (read before the lab is removed). */
  refusals(): Refusal[] {
    const out: Refusal[] = [];
    for (const r of this.lab.regions.values()) {
      let text: string;
      try {
        text = readFileSync(r.node.options.logFile, "utf8");
      } catch {
        continue;
      }
      out.push(
        ...refusalsInLog(text, r.region, this.startedReal, (ms) => this.lab.clock.toLab(ms)),
      );
    }
    return out.sort((a, b) => a.at - b.at);
  }
}

export interface SurgeFigures {
  readonly budget: LabBudget;
  readonly targetRegion: string;
  /** Most payment-function connections sampled on the target's server, and when. */
  readonly peakConnections: { value: number; at: number | null; writer: boolean };
  readonly refusals: readonly Refusal[];
  readonly refusalsByCode: Readonly<Record<string, number>>;
  /** The servers' refusals by class (refusalClass): only "budget" and "other" fail. */
  readonly refusalsByClass: Readonly<Record<RefusalClass, number>>;
  /**
   * Connections each function's pool failed to open ("<region> <application_name>" -> code ->
   * count), from the region APIs' own pools: who was refused.
   */
  readonly refusedByFunction: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Requests that found every environment of their function busy (a throttle in production). */
  readonly throttled: Readonly<Record<string, number>>;
  /** Requests the stage throttle answered 429 ("<region> <function>" -> count); allowed. */
  readonly tooManyRequests: Readonly<Record<string, number>>;
  /** The clients' requests to the new region that got no answer ("0 timeout", "0 network"). */
  readonly unanswered: Readonly<Record<string, number>>;
  readonly peakInFlight: { requests: number; perFunction: Readonly<Record<string, number>> };
  readonly peakPoolWaiting: number;
  readonly peakClients: { payments: number; requests: number; queued: number };
  /** Answers 5xx by status and code. */
  readonly serverErrors: Readonly<Record<string, number>>;
  /** The lab process's event-loop delay over the run, real ms. */
  readonly labLoopDelay: { p99Ms: number; maxMs: number };
  /** The promoted writers' recorded restarts: where a promotion's refusals are allowed. */
  readonly outages: readonly OutageWindow[];
  /**
   * Requests the stage throttle answered 429 before the fault, by op: the configured load was
   * above the throttle in steady state (review H3). Null when the fault time is unknown.
   */
  readonly tooManyBeforeFault: Readonly<Record<string, number>> | null;
  /** --allow-throttled: 429s before the fault are reported, not failed. */
  readonly throttledLoadAllowed?: boolean;
  /** Lab ms of the fault, when known. */
  readonly faultAt?: number;
  /**
   * The functions' own pools' refusals with their time (lab ms), from every sample of each
   * region's API, each counted once (review 22b-18 L1').
   */
  readonly poolRefusals?: readonly PoolRefusalAt[];
  /**
   * Review 22b-18 H2': the request duration each route's throttle is sized for (d) beside the
   * p99 the clients measured for their answered requests to the new region from the fault on
   * (the failover window), by op, real ms. Null when the fault time is unknown.
   */
  readonly routeDurations?: {
    readonly dMs: number;
    readonly byOp: Readonly<Record<string, { readonly count: number; readonly p99Ms: number }>>;
  } | null;
}

export interface PoolRefusalAt {
  readonly region: string;
  readonly application: string;
  readonly code: string;
  /** Lab epoch ms. */
  readonly at: number;
}

/** The nearest-rank p99 of `values` (not empty). */
export function p99(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(sorted.length * 0.99) - 1)]!;
}

export function surgeFigures(
  monitor: SurgeMonitor,
  budget: LabBudget,
  attempts: readonly Attempt[],
  targetRegion: string,
  run: {
    faultAt?: number;
    outages?: readonly OutageWindow[];
    /** --allow-throttled: a load above the throttle was asked for knowingly. */
    throttledLoadAllowed?: boolean;
    /** d of the lab's route throttles (lab/stage-throttle.ts), real ms. */
    routeDurationMs?: number;
  } = {},
): SurgeFigures {
  const target = monitor.samples.filter((s) => s.region === targetRegion);
  const peak = target.reduce<SurgeSample | null>(
    (best, s) => (best === null || s.connections > best.connections ? s : best),
    null,
  );
  const refusals = monitor.refusals();
  const refusalsByCode: Record<string, number> = {};
  for (const r of refusals) refusalsByCode[r.sqlstate] = (refusalsByCode[r.sqlstate] ?? 0) + 1;
  // overLimit is cumulative per process: the last sample of each region holds its total.
  const refusalsByClass: Record<RefusalClass, number> = {
    budget: 0,
    promotion: 0,
    pool: 0,
    other: 0,
  };
  for (const r of refusals) refusalsByClass[refusalClass(r.sqlstate)] += 1;
  const throttled: Record<string, number> = {};
  const tooManyRequests: Record<string, number> = {};
  const refusedByFunction: Record<string, Record<string, number>> = {};
  const poolRefusals = new Map<string, PoolRefusalAt>();
  const perFunction: Record<string, number> = {};
  let requests = 0;
  let waiting = 0;
  for (const region of new Set(monitor.samples.map((s) => s.region))) {
    const withApi = monitor.samples.filter((s) => s.region === region && s.api);
    const last = withApi.at(-1)?.api;
    for (const [name, f] of Object.entries(last?.functions ?? {})) {
      if (f.overLimit > 0) throttled[`${region} ${name}`] = f.overLimit;
      if (f.tooManyRequests) tooManyRequests[`${region} ${name}`] = f.tooManyRequests;
    }
    for (const [app, codes] of Object.entries(last?.pools.refusedBy ?? {}))
      refusedByFunction[`${region} ${app}`] = { ...codes };
    for (const s of withApi)
      for (const f of s.api!.pools.refusals ?? [])
        poolRefusals.set(`${region} ${f.seq}`, {
          region,
          application: f.application,
          code: f.code,
          at: f.at,
        });
    for (const s of withApi) {
      requests = Math.max(requests, s.api!.peak);
      waiting = Math.max(waiting, s.api!.pools.waiting);
      for (const [name, f] of Object.entries(s.api!.functions))
        perFunction[name] = Math.max(perFunction[name] ?? 0, f.peak);
    }
  }
  const serverErrors: Record<string, number> = {};
  // A request to the new region that got no answer is a failure the client saw, like a 5xx
  // (its own timeout, or a socket error); only the load's own stop is not.
  const unanswered: Record<string, number> = {};
  for (const a of attempts) {
    if (a.status !== 0 || a.region !== targetRegion || a.code === "aborted") continue;
    const key = `0 ${a.code ?? ""}`.trim();
    unanswered[key] = (unanswered[key] ?? 0) + 1;
  }
  for (const a of attempts) {
    if (a.status < 500) continue;
    const key = `${a.status} ${a.code ?? ""}`.trim();
    serverErrors[key] = (serverErrors[key] ?? 0) + 1;
  }
  let tooManyBeforeFault: Record<string, number> | null = null;
  if (run.faultAt !== undefined) {
    tooManyBeforeFault = {};
    for (const a of attempts) {
      if (a.status !== 429 || a.at >= run.faultAt) continue;
      tooManyBeforeFault[a.op] = (tooManyBeforeFault[a.op] ?? 0) + 1;
    }
  }
  // What the throttle's d stands for: how long one request holds an environment. The client's
  // time of an answered attempt (a 429 never reached a function; a 0 has no answer and fails
  // only-documented-5xx) is at least the function's duration, so a p99 within d here is within d
  // there. Real ms, like the lab's throttle.
  let routeDurations: SurgeFigures["routeDurations"] = null;
  if (run.faultAt !== undefined && run.routeDurationMs !== undefined) {
    const byOp: Record<string, number[]> = {};
    for (const a of attempts) {
      if (a.region !== targetRegion || a.sentAt < run.faultAt) continue;
      if (a.status === 0 || a.status === 429) continue;
      (byOp[a.op] ??= []).push(a.ms);
    }
    routeDurations = {
      dMs: run.routeDurationMs,
      byOp: Object.fromEntries(
        Object.entries(byOp).map(([op, ms]) => [op, { count: ms.length, p99Ms: p99(ms) }]),
      ),
    };
  }
  return {
    budget,
    targetRegion,
    routeDurations,
    ...(run.faultAt !== undefined ? { faultAt: run.faultAt } : {}),
    poolRefusals: [...poolRefusals.values()].sort((a, b) => a.at - b.at),
    outages: (run.outages ?? []).map((o) => ({ region: o.region, from: o.from, to: o.to })),
    tooManyBeforeFault,
    throttledLoadAllowed: run.throttledLoadAllowed ?? false,
    peakConnections: {
      value: peak?.connections ?? 0,
      at: peak?.at ?? null,
      writer: peak?.writer ?? false,
    },
    refusals,
    refusalsByCode,
    refusalsByClass,
    refusedByFunction,
    throttled,
    tooManyRequests,
    unanswered,
    peakInFlight: { requests, perFunction },
    peakPoolWaiting: waiting,
    peakClients: {
      payments: Math.max(0, ...monitor.clients.map((c) => c.payments)),
      requests: Math.max(0, ...monitor.clients.map((c) => c.requests)),
      queued: Math.max(0, ...monitor.clients.map((c) => c.queued)),
    },
    serverErrors,
    labLoopDelay: monitor.loopDelay,
  };
}

/** The share of the counted worst case a surge must reach to count as a test of the budget. */
export const BUDGET_EXERCISED_PERCENT = 50;

/** The surge's verdicts: the budget, nothing refused, the budget's count held, only 503s. */
export function surgeChecks(f: SurgeFigures): Check[] {
  const b = f.budget;
  const checks: Check[] = [];
  checks.push({
    name: "connection-budget",
    ok: b.demand <= b.safe,
    detail:
      b.demand <= b.safe
        ? `the lab's worst case ${b.demand} connections is within the safe share ${b.safe} of max_connections ${b.maxConnections}${b.planted ? " (planted)" : ` (${b.production.maxConnections} of ${b.instanceClass} x ${b.scale.lab}/${b.scale.production} environments)`}`
        : `connection budget exceeded on the lab's writer: worst case ${b.demand} connections (${b.lines.map((l) => `${l.name} ${l.connections}`).join(", ")}), ${b.demand - b.safe} over the safe share ${b.safe} (${b.sharePercent}% of max_connections ${b.maxConnections}${b.planted ? ", planted" : ""} minus 3 for AWS automation)`,
  });
  const codes = Object.entries(f.refusalsByCode)
    .map(([code, n]) => `${n} x ${code}`)
    .join(", ");
  // A promotion's refusal is allowed only inside the promoted writer's recorded restart.
  const allowed = (r: Refusal) =>
    refusalClass(r.sqlstate) === "promotion" && inOutage(f.outages, r.region, r.at);
  const failing = f.refusals.filter((r) => !allowed(r));
  const outsideOutage = failing.filter((r) => refusalClass(r.sqlstate) === "promotion").length;
  const first = failing[0];
  // Who was refused, from the functions' own pools: the budget's and the misconfiguration's
  // codes only (a promotion's refusals are expected of every function).
  const who = Object.entries(f.refusedByFunction)
    .map(([name, byCode]) => [
      name,
      Object.entries(byCode)
        .filter(([code]) => refusalClass(code) !== "promotion")
        .reduce((sum, [, n]) => sum + n, 0),
    ])
    .filter(([, n]) => (n as number) > 0)
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");
  const promotion = f.refusals.filter(allowed).length;
  checks.push({
    name: "no-refused-connections",
    ok: failing.length === 0,
    detail:
      failing.length === 0
        ? `no server refused a connection for want of connections (no FATAL with SQLSTATE 53xxx, 28xxx or 3D000 in either log)${promotion > 0 ? `; ${promotion} refused while a server started or stopped (57P03: inside the promoted writer's recorded restart, answered 503)` : ""}`
        : `${failing.length} connections refused (${codes}${outsideOutage > 0 ? `; ${outsideOutage} of a promotion's class outside the promoted writer's recorded restarts (${f.outages.map((o) => `${o.region} ${o.from}-${o.to ?? "open"}`).join(", ") || "none recorded"})` : ""}; ${[...new Set(failing.map((r) => r.region))].map((r) => `${failing.filter((x) => x.region === r).length} by ${r}`).join(", ")}), first by ${first!.region}: "${first!.message}"; refused functions: ${who || "none of the payment functions' pools"}; max_connections ${b.maxConnections}, worst case ${b.demand}`,
  });
  // Review 22b-18 L1': the functions' own pools see what a server's log cannot (a server that is
  // down refuses at TCP and logs nothing), so their promotion-class refusals are windowed like
  // the servers': inside the promoted writer's recorded restarts, or in the region the fault took
  // down from the fault on. Other classes are the servers' (logged) or only-documented-5xx's.
  if (f.poolRefusals) {
    const killed = (r: PoolRefusalAt) =>
      r.region !== f.targetRegion &&
      f.faultAt !== undefined &&
      r.at >= f.faultAt - PROMOTION_GRACE_MS;
    const promotionClass = f.poolRefusals.filter((r) => refusalClass(r.code) === "promotion");
    const outside = promotionClass.filter(
      (r) => !inOutage(f.outages, r.region, r.at) && !killed(r),
    );
    const firstOutside = outside[0];
    checks.push({
      name: "pool-refusals-in-restart",
      ok: outside.length === 0,
      detail:
        outside.length === 0
          ? `${promotionClass.length} connections the functions' pools failed to open while a server was down or restarting (${[...new Set(promotionClass.map((r) => r.code))].join(", ") || "none"}), all inside the promoted writer's recorded restarts or the downed region from the fault on`
          : `${outside.length} connections the functions' pools failed to open outside the promoted writer's recorded restarts (${f.outages.map((o) => `${o.region} ${o.from}-${o.to ?? "open"}`).join(", ") || "none recorded"}): first ${firstOutside!.application} in ${firstOutside!.region} at ${firstOutside!.at} (${firstOutside!.code}); a writer that refuses after its restart is a fault, not the promotion`,
    });
  }
  const peak = f.peakConnections.value;
  // Review 22b-18 M2': how much of the counted worst case the run put on the new writer. Below
  // half, the run shows the throttle shaping the backlog, not the budget holding at its worst.
  const exercised = b.demand > 0 ? Math.round((100 * peak) / b.demand) : 0;
  checks.push({
    name: "new-writer-connections-within-budget",
    ok: peak <= b.demand && peak <= b.safe,
    detail: `peak ${peak} payment-function connections on ${f.targetRegion} (sampled pg_stat_activity), worst case counted ${b.demand}, safe share ${b.safe}, max_connections ${b.maxConnections}; budget exercised ${exercised}% (peak / worst case counted)${exercised < BUDGET_EXERCISED_PERCENT ? `: below ${BUDGET_EXERCISED_PERCENT}%, this run does not test the budget at its worst case (the filling case: LAB_SURGE_FILL=1, test/lab/surge.test.ts)` : ""}`,
  });
  const other = Object.entries(f.serverErrors).filter(([k]) => !k.startsWith("503"));
  const throttles = Object.entries(f.throttled);
  const unanswered = Object.entries(f.unanswered);
  const list = (entries: [string, number][]) => entries.map(([k, n]) => `${n} x ${k}`).join(", ");
  const limited = Object.entries(f.tooManyRequests);
  // A caller that waited out its pool slot (review M2): its function's environments overflowed.
  const poolWaits = Object.entries(f.refusedByFunction)
    .map(([name, byCode]) => [name, byCode["pool-wait-timeout"] ?? 0] as [string, number])
    .filter(([, n]) => n > 0);
  const ok =
    other.length === 0 &&
    throttles.length === 0 &&
    unanswered.length === 0 &&
    poolWaits.length === 0;
  checks.push({
    name: "only-documented-5xx",
    ok,
    detail:
      (ok
        ? `no 5xx but the documented 503 (${list(Object.entries(f.serverErrors)) || "none"}); every request to ${f.targetRegion} was answered; no request found its function's environments all busy`
        : [
            other.length > 0 ? `answers other than 503: ${list(other)}` : "",
            unanswered.length > 0
              ? `requests to ${f.targetRegion} that got no answer (the client's timeout or a socket error): ${list(unanswered)}`
              : "",
            throttles.length > 0
              ? `requests that found every environment busy (in production a Lambda throttle: API Gateway answers 500, not the documented 503): ${throttles.map(([k, n]) => `${k} ${n}`).join(", ")}`
              : "",
            poolWaits.length > 0
              ? `callers that waited out a pool slot (pool-wait-timeout: the function's own environments overflowed, not the server): ${poolWaits.map(([k, n]) => `${k} ${n}`).join(", ")}`
              : "",
          ]
            .filter(Boolean)
            .join("; ")) +
      (limited.length > 0
        ? `; the stage throttle answered 429 (allowed, retried): ${limited.map(([k, n]) => `${k} ${n}`).join(", ")}`
        : ""),
  });
  if (f.routeDurations) {
    const { dMs, byOp } = f.routeDurations;
    const ops = Object.entries(byOp);
    const over = ops.filter(([, o]) => o.p99Ms > dMs);
    const list = ops.map(([op, o]) => `${op} ${Math.round(o.p99Ms)} ms (${o.count})`).join(", ");
    checks.push({
      name: "p99-within-route-d",
      ok: over.length === 0,
      detail:
        over.length === 0
          ? `p99 request duration in the failover window on ${f.targetRegion} within the d = ${dMs} ms the route throttles are sized for: ${list || "no answered request"}`
          : `p99 request duration in the failover window on ${f.targetRegion} above the d = ${dMs} ms the route throttles are sized for (${over.map(([op]) => op).join(", ")}): ${list}; the throttle then admits more requests than the environments carry (a Lambda throttle's 500 in production): size ROUTE_P99_MS from this window's p99 (README, "Sizing ROUTE_P99_MS")`,
    });
  }
  if (f.tooManyBeforeFault !== null) {
    const before = Object.entries(f.tooManyBeforeFault);
    checks.push({
      name: "no-429-before-fault",
      ok: before.length === 0 || f.throttledLoadAllowed === true,
      detail:
        before.length === 0
          ? "the stage throttle refused nothing before the fault: the configured load is the load the database met"
          : `the stage throttle answered 429 before the fault (${before.map(([op, n]) => `${op} ${n}`).join(", ")}): the configured load is above the route throttle in steady state, so the run measures the throttle, not the database${f.throttledLoadAllowed ? " (allowed: --allow-throttled)" : "; lower --rate (the default is derived from the throttle) or pass --allow-throttled knowingly"}`,
    });
  }
  return checks;
}
