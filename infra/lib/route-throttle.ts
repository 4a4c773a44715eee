// HTTP API route throttling sized from each route's Lambda reservation, checked at synth like the
// connection budget. Pure: routes in, limits (or a RouteThrottleError naming the route and the
// numbers) out.
//
// Why: above its reserved concurrency Lambda throttles ("additional requests fail with a
// throttling error (429 status code)", https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html),
// and API Gateway does not pass that 429 on: a throttled Lambda integration reaches the client as
// a 500 Internal Server Error ("If the backend service throttled because of a high number of
// requests, then the API Gateway API might return an Internal server error",
// https://repost.aws/knowledge-center/api-gateway-internal-server-error). A 500 is not the
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
// d is the duration the reservation was sized with (README, "Sizing the connection budget":
// reservation = peak requests/s x p99 duration). If requests run longer than d, more are in
// flight than the bucket accounts for and Lambda can still throttle: the lab's surge measures it.
// AWS also calls the throttle "best-effort ... targets rather than guaranteed request ceilings".

/** API Gateway's default throttle quota per account and Region, shared by every API. */
export const API_GATEWAY_ACCOUNT_THROTTLE = { ratePerSecond: 10_000, burst: 5_000 } as const;

/**
 * The p99 duration a payment route's reservation is sized for (ms): a few statements on one
 * warm connection and a cached flag read, with room for a slow statement. The README's sizing
 * takes the same figure.
 */
export const PAYMENT_ROUTE_DURATION_MS = 500;

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
   * A lower limit that also applies (the unauthenticated routes' own budget).
   * @default - none
   */
  readonly cap?: Throttle;
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
 * operator's cap stays a cap) and the route's own cap. An unreserved function's route keeps the
 * stage default: nothing bounds its environments but the account's quota, which the connection
 * budget accounts for instead. Throws a RouteThrottleError when a route could put more requests
 * in flight than its reservation, or the routes together ask more than API Gateway's account
 * quota in the region.
 */
export function checkRouteThrottles(
  routes: readonly RouteThrottleInput[],
  stage: Throttle,
): RouteThrottle[] {
  const out: RouteThrottle[] = [];
  for (const r of routes) {
    let t: Throttle = stage;
    if (r.reservation !== null) {
      let own: Throttle;
      try {
        own = throttleFor(r.reservation, r.durationMs);
      } catch (error) {
        throw new RouteThrottleError(
          `route ${r.routeKey} (${r.name}): ${(error as Error).message}; raise its reservation with PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION`,
        );
      }
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
    if (r.reservation !== null && admittedInFlight(t, r.durationMs) > r.reservation) {
      throw new RouteThrottleError(
        `route ${r.routeKey} (${r.name}) admits ${admittedInFlight(t, r.durationMs).toFixed(1)} requests in flight (burst ${t.burst} + rate ${t.ratePerSecond}/s x ${r.durationMs} ms), more than its ${r.reservation} reserved environments: Lambda would throttle, and API Gateway answers that with a 500`,
      );
    }
    out.push({ ...r, ...t });
  }
  const rate = out.reduce((sum, t) => sum + t.ratePerSecond, 0);
  if (rate > API_GATEWAY_ACCOUNT_THROTTLE.ratePerSecond) {
    throw new RouteThrottleError(
      `the routes' throttles add up to ${rate.toFixed(0)} requests/s, more than API Gateway's ${API_GATEWAY_ACCOUNT_THROTTLE.ratePerSecond} per account and Region (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html): lower the reservations or API_THROTTLE_RATE, or raise the quota first`,
    );
  }
  return out;
}
