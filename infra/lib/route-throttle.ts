// HTTP API route throttling sized from each route's Lambda reservation, checked at synth like the
// connection budget. Pure: routes in, limits (or a RouteThrottleError naming the route and the
// numbers) out.
//
// Why: above its reserved concurrency Lambda throttles ("additional requests fail with a
// throttling error (429 status code)", https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html),
// and API Gateway does not pass that 429 on: "If the Lambda API rejects the invocation request,
// API Gateway returns a 500 error code"
// (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html). HTTP APIs have
// no gateway responses to remap that 500, which is why the stage throttle is the only lever. A
// 500 is not the
// documented 503 and, for a POST, an indeterminate result to a payment client (Stripe: "treat the
// result of a 500 request as indeterminate", /work/notes/payments-api.md). The stage's own
// throttle answers 429 Too Many Requests before any function runs, which clients retry with
// backoff ("Throttling requests to your HTTP API",
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html). So each
// route is throttled below what its reservation can carry.
//
// The derivation. API Gateway's throttle is a token bucket: `burst` tokens at most, refilled at
// `rate` per second, one token per request. In any window of one request's duration d it admits
// at most burst + rate x d requests, and each holds an environment for up to d, so
//     burst + rate x d <= reservation
// keeps the requests in flight within the reservation. Half the reservation is the burst (the
// surge of a failover: the clients' backlog arrives at once), half the steady rate:
//     burst = floor(reservation / 2), rate = (reservation - burst) / d.
// d is a setting (ROUTE_P99_MS, default 2000 ms): the p99 request duration in the window the
// throttle exists for, a failover's reconnect wave (connect jitter up to 1 s, then connect and
// statements, cold environments' init counted against the reservation), not a quiet day's. If
// requests run longer than d, more are in flight than the bucket accounts for and Lambda can still
// throttle (500): the Lambda Throttles alarm stays the real safety net. A route serves `rate`
// requests/s steadily, which is R / (2d): the README's sizing rule reserves burst + peak x d.
// AWS also calls the throttle "best-effort ... targets rather than guaranteed request ceilings".

/**
 * API Gateway's default throttle quota per account and Region, shared by every API of the account
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html). A raised or shared
 * quota is passed to checkRouteThrottles instead.
 */
export const API_GATEWAY_ACCOUNT_THROTTLE = { ratePerSecond: 10_000, burst: 5_000 } as const;

/**
 * The default of ROUTE_P99_MS (ms), the p99 duration a payment route's throttle is sized for: the
 * failover's reconnect wave, not a quiet day (review 22b-18 H2'): the connect jitter cap (up to
 * 1 s, DATABASE_CONNECT_JITTER_MS) + a connect + the statements + a cold environment's init
 * (which counts against the reservation: lambda-concurrency.html) is about 1.5-2 s on the write
 * path, the README's sizing ("Sizing ROUTE_P99_MS"). At 80 reserved it serves 20 requests/s per
 * route steadily, burst 40: raise the reservation for more, not d below the window's p99.
 */
export const PAYMENT_ROUTE_DURATION_MS = 2000;

export class RouteThrottleError extends Error {
  override name = "RouteThrottleError";
}

export interface Throttle {
  readonly ratePerSecond: number;
  readonly burst: number;
}

export interface RouteThrottleInput {
  readonly routeKey: string;
  /** The function behind the route. */
  readonly name: string;
  /** Its reserved concurrency, or null when unreserved. */
  readonly reservation: number | null;
  /** The duration the reservation is sized for, ms. */
  readonly durationMs: number;
  /**
   * A lower limit that also applies.
   * @default - none
   */
  readonly cap?: Throttle;
  /**
   * Keep the stage default instead of a throttle below the reservation: /health, which is
   * unauthenticated, so a throttle sized below the stage is one anyone can drain (README, "Route
   * throttling").
   * @default false
   */
  readonly stageDefault?: boolean;
}

export interface RouteThrottle extends RouteThrottleInput, Throttle {}

/** The largest throttle whose requests in flight stay within `reservation` environments. */
export function throttleFor(reservation: number, durationMs: number): Throttle {
  if (!Number.isInteger(reservation) || reservation < 2) {
    throw new RouteThrottleError(
      `a throttled route needs a reservation of at least 2 environments (one for the burst, one for the rate), got ${reservation}`,
    );
  }
  if (!(durationMs > 0)) {
    throw new RouteThrottleError(`duration must be more than 0 ms, got ${durationMs}`);
  }
  const burst = Math.floor(reservation / 2);
  // Rounded down to 0.01/s: never more than the reservation carries.
  const ratePerSecond = Math.floor(((reservation - burst) * 1000 * 100) / durationMs) / 100;
  return { ratePerSecond, burst };
}

/** Requests the throttle lets be in flight at once: burst + rate x duration. */
export function admittedInFlight(t: Throttle, durationMs: number): number {
  return t.burst + (t.ratePerSecond * durationMs) / 1000;
}

/**
 * Each route's throttle, within `stage` (the stage default, API_THROTTLE_RATE/BURST: an
 * operator's cap stays a cap) and the route's own cap. An unreserved function's route, and a
 * `stageDefault` route, keep the stage default: nothing bounds an unreserved function's
 * environments but the account's quota, which the connection budget accounts for instead. Throws a
 * RouteThrottleError when a route's reservation is too small to throttle, or the routes' rates
 * together ask more than `account`, the API Gateway quota in the region. Bursts are not summed
 * against the account's burst of 5,000: seven unreserved routes at the stage default's 1,000 would
 * fail a configuration that works (the account bucket only caps them sooner).
 */
export function checkRouteThrottles(
  routes: readonly RouteThrottleInput[],
  stage: Throttle,
  account: Throttle = API_GATEWAY_ACCOUNT_THROTTLE,
): RouteThrottle[] {
  const out: RouteThrottle[] = [];
  for (const r of routes) {
    let t: Throttle = stage;
    if (r.reservation !== null && !r.stageDefault) {
      let own: Throttle;
      try {
        own = throttleFor(r.reservation, r.durationMs);
      } catch (error) {
        throw new RouteThrottleError(
          `route ${r.routeKey} (${r.name}): ${(error as Error).message}; raise its reservation with PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION`,
        );
      }
      // Within min() of throttleFor's bound and the stage: never more in flight than the
      // reservation (burst + rate x d <= R by construction), so no further check is needed.
      t = {
        ratePerSecond: Math.min(own.ratePerSecond, stage.ratePerSecond),
        burst: Math.min(own.burst, stage.burst),
      };
    }
    if (r.cap) {
      t = {
        ratePerSecond: Math.min(t.ratePerSecond, r.cap.ratePerSecond),
        burst: Math.min(t.burst, r.cap.burst),
      };
    }
    out.push({ ...r, ...t });
  }
  const rate = out.reduce((sum, t) => sum + t.ratePerSecond, 0);
  if (rate > account.ratePerSecond) {
    throw new RouteThrottleError(
      `the routes' throttles add up to ${rate.toFixed(0)} requests/s, more than API Gateway's ${account.ratePerSecond} per account and Region (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html): lower the reservations or API_THROTTLE_RATE, or raise the quota first`,
    );
  }
  return out;
}

/**
 * `npm run budget`'s lines for the route throttles: each route's limits and what it serves
 * (review M1: the rate is all a route serves steadily, R / 2d; the burst only after an idle
 * spell). A stage-default route (/health) is limited by its environments before the stage: above
 * reservation / d Lambda throttles it (API Gateway answers 500).
 */
export function formatRouteThrottles(throttles: readonly RouteThrottle[]): string {
  const lines = ["route throttles (each region's stage; 429 above them):"];
  for (const t of throttles) {
    const sizing = t.stageDefault
      ? "(the stage default: unauthenticated, not throttled below it)"
      : `(sized for d = ${t.durationMs} ms, ROUTE_P99_MS)`;
    lines.push(
      `  ${t.routeKey.padEnd(28)} ${String(t.reservation ?? "unreserved").padStart(10)} reserved  rate ${String(t.ratePerSecond).padStart(7)}/s  burst ${String(t.burst).padStart(4)}  ${sizing}`,
    );
    const carried =
      t.stageDefault && t.reservation !== null
        ? Math.floor((t.reservation * 1000 * 10) / t.durationMs) / 10
        : null;
    lines.push(
      carried !== null && carried < t.ratePerSecond
        ? `  ${"".padEnd(28)} serves up to ${carried} req/s steady (its ${t.reservation} environments at ${t.durationMs} ms; above that Lambda throttles and API Gateway answers 500), 429 only above the stage's ${t.ratePerSecond}/s`
        : `  ${"".padEnd(28)} serves up to ${t.ratePerSecond} req/s steady, ${t.burst} at once`,
    );
  }
  return lines.join("\n");
}

/** The default ROUTE_P99_MS before session 23 (review 23-18 M2: the upgrade note's baseline). */
export const PREVIOUS_ROUTE_P99_MS = 500;

/**
 * Review 23-18 M2: each payment route's steady capacity, first and prominently. ROUTE_P99_MS 2000
 * (the default since session 23, was 500) sizes every payment route's rate for a 2 s request: at
 * the same reservation that is a quarter of the steady req/s it had, and the stage's throttle
 * applies every day (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html).
 */
export function formatSteadyCapacity(throttles: readonly RouteThrottle[]): string {
  const routes = throttles.filter((t) => !t.stageDefault);
  const lines = [
    "STEADY CAPACITY per payment route, each region (requests above it get 429 every day, not only in a failover):",
  ];
  for (const t of routes) {
    const before =
      t.reservation !== null && t.durationMs !== PREVIOUS_ROUTE_P99_MS
        ? throttleFor(t.reservation, PREVIOUS_ROUTE_P99_MS).ratePerSecond
        : null;
    lines.push(
      `  ${t.routeKey.padEnd(28)} ${String(t.ratePerSecond).padStart(7)} req/s steady${before !== null ? `  (${before} req/s at ROUTE_P99_MS ${PREVIOUS_ROUTE_P99_MS}, the default before session 23)` : ""}`,
    );
  }
  const slowest = Math.max(...routes.map((t) => t.durationMs));
  if (routes.length > 0 && slowest > PREVIOUS_ROUTE_P99_MS) {
    lines.push(
      `  sized for ROUTE_P99_MS ${slowest} ms: raise the reservations (within the connection budget below) or set ROUTE_P99_MS to your measured p99 if your peak needs more (README "Upgrading: ROUTE_P99_MS")`,
    );
  }
  return lines.join("\n");
}
