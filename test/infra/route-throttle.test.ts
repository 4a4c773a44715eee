// The route throttle's derivation and its synth check: every route's stage throttle keeps the
// requests it admits within its function's reservation (burst + rate x duration), and a
// configuration that cannot is refused with a message naming the route and the numbers.
import fc from "fast-check";
import { loadConfig } from "../../infra/config";
import { paymentRouteThrottles } from "../../infra/constructs/payments-api";
import {
  API_GATEWAY_ACCOUNT_THROTTLE,
  RouteThrottleError,
  admittedInFlight,
  checkRouteThrottles,
  formatRouteThrottles,
  formatSteadyCapacity,
  throttleFor,
} from "../../infra/lib/route-throttle";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSynth } from "./synth-process";

const STAGE = { ratePerSecond: 500, burst: 1000 };

function errorOf(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    if (error instanceof RouteThrottleError) return error;
    throw error;
  }
  throw new Error("expected a route throttle error");
}

describe("route throttle derivation", () => {
  it("halves the reservation into a burst and a rate over the sized duration", () => {
    // 80 environments, 500 ms: 40 at once, then 40 per 500 ms.
    expect(throttleFor(80, 500)).toEqual({ burst: 40, ratePerSecond: 80 });
    expect(throttleFor(20, 1400)).toEqual({ burst: 10, ratePerSecond: 7.14 });
  });

  it("never admits more requests in flight than the reservation, for any reservation and duration", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 10_000 }),
        fc.integer({ min: 1, max: 30_000 }),
        (r, d) => {
          const t = throttleFor(r, d);
          return t.burst >= 1 && t.ratePerSecond >= 0 && admittedInFlight(t, d) <= r;
        },
      ),
    );
  });

  it("keeps an operator's lower stage limit as a cap", () => {
    const [t] = checkRouteThrottles(
      [{ routeKey: "POST /payments", name: "authorize", reservation: 80, durationMs: 500 }],
      { ratePerSecond: 30, burst: 10 },
    );
    expect(t).toMatchObject({ ratePerSecond: 30, burst: 10 });
  });

  it("leaves an unreserved function's route at the stage default", () => {
    const [t] = checkRouteThrottles(
      [{ routeKey: "GET /payments", name: "list-payments", reservation: null, durationMs: 500 }],
      STAGE,
    );
    expect(t).toMatchObject(STAGE);
  });

  it("rejects a reservation too small to throttle within, naming the route", () => {
    const error = errorOf(() =>
      checkRouteThrottles(
        [{ routeKey: "POST /payments/{id}/void", name: "void", reservation: 1, durationMs: 500 }],
        STAGE,
      ),
    );
    expect(error.message).toBe(
      "route POST /payments/{id}/void (void): a throttled route needs a reservation of at least 2 environments (one for the burst, one for the rate), got 1; raise its reservation with PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION",
    );
  });

  it("rejects routes that together ask more than API Gateway's account quota", () => {
    const routes = ["a", "b"].map((name) => ({
      routeKey: `GET /${name}`,
      name,
      reservation: 10_000,
      durationMs: 500,
    }));
    const error = errorOf(() =>
      checkRouteThrottles(routes, {
        ratePerSecond: API_GATEWAY_ACCOUNT_THROTTLE.ratePerSecond,
        burst: 5000,
      }),
    );
    expect(error.message).toMatch(
      /^the routes' throttles add up to 20000 requests\/s, more than API Gateway's 10000 per account and Region/,
    );
  });

  it("sizes every payment route of the default configuration within its reservation, /health at the stage default", () => {
    const throttles = paymentRouteThrottles(loadConfig({}).payments);
    expect(throttles.map((t) => t.routeKey)).toContain("POST /payments");
    for (const t of throttles.filter((x) => x.routeKey !== "GET /health"))
      expect(admittedInFlight(t, t.durationMs)).toBeLessThanOrEqual(t.reservation!);
    // Review H1: not a throttle an anonymous caller drains at ~8 requests/s.
    expect(throttles.find((t) => t.routeKey === "GET /health")).toMatchObject({
      ratePerSecond: 500,
      burst: 1000,
      stageDefault: true,
    });
  });

  it("sizes the payment routes for ROUTE_P99_MS (review H2): 2 s by default, the failover window's p99 (review 22b-18 H2')", () => {
    const at = (env: Record<string, string>) =>
      paymentRouteThrottles(loadConfig(env).payments).find((t) => t.routeKey === "POST /payments")!;
    const byDefault = at({});
    expect(byDefault).toMatchObject({ durationMs: 2000, burst: 36, ratePerSecond: 18 });
    // The README's own failover-window p99 (1.5-2 s): within the reservation through the wave.
    expect(admittedInFlight(byDefault, 2000)).toBeLessThanOrEqual(72);
    // A quiet day's 500 ms admits more than 72 reserved environments carry at a 2 s p99.
    const quiet = at({ ROUTE_P99_MS: "500" });
    expect(quiet).toMatchObject({ durationMs: 500, burst: 36, ratePerSecond: 72 });
    expect(admittedInFlight(quiet, 2000)).toBeGreaterThan(72);
    expect(() => loadConfig({ ROUTE_P99_MS: "10" })).toThrow(/ROUTE_P99_MS/);
  });
});

describe("npm run budget's route lines (review M1)", () => {
  it("prints what each route serves steadily and at once, and what /health's environments carry", () => {
    const text = formatRouteThrottles(paymentRouteThrottles(loadConfig({}).payments));
    expect(text).toMatch(
      /POST \/payments +72 reserved +rate +18\/s +burst +36 +\(sized for d = 2000 ms, ROUTE_P99_MS\)\n +serves up to 18 req\/s steady, 36 at once/,
    );
    expect(text).toMatch(
      /GET \/health .*stage default.*\n +serves up to 14\.2 req\/s steady \(its 20 environments at 1400 ms; above that Lambda throttles/,
    );
    const quiet = formatRouteThrottles(
      paymentRouteThrottles(loadConfig({ ROUTE_P99_MS: "500" }).payments),
    );
    expect(quiet).toMatch(/sized for d = 500 ms.*\n +serves up to 72 req\/s steady, 36 at once/);
  });
});

describe("npm run synth", () => {
  it("fails with one line naming the route when a routed function's reservation cannot be throttled within, writing nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "route-throttle-"));
    const outdir = join(dir, "out");
    const result = runSynth({ PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION: "void=1" }, outdir);
    rmSync(dir, { recursive: true, force: true });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(outdir)).toBe(false);
    expect(result.stderr).toContain(
      "route throttle: route POST /payments/{id}/void (void): a throttled route needs a reservation of at least 2 environments",
    );
  });
});

describe("the steady capacity npm run budget prints first (review 23-18 M2)", () => {
  it("prints each payment route's steady req/s at the default, beside what ROUTE_P99_MS 500 gave", () => {
    const text = formatSteadyCapacity(paymentRouteThrottles(loadConfig({}).payments));
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^STEADY CAPACITY per payment route/);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^ {2}POST \/payments +18 req\/s steady {2}\(72 req\/s at ROUTE_P99_MS 500, the default before session 23\)$/,
      ),
    );
    expect(text).not.toContain("GET /health");
    expect(text).toContain('README "Upgrading: ROUTE_P99_MS"');
  });

  it("prints no comparison when the routes are sized for ROUTE_P99_MS 500", () => {
    const text = formatSteadyCapacity(
      paymentRouteThrottles(loadConfig({ ROUTE_P99_MS: "500" }).payments),
    );
    expect(text).toMatch(/POST \/payments +72 req\/s steady$/m);
    expect(text).not.toContain("before session 23");
  });
});
