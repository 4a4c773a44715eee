// The HTTP API stage's route throttle as the lab's region API plays it: one token bucket per
// route, sized by the deployed derivation (infra/lib/route-throttle.ts) from the environments the
// lab plays instead of production's reservation. API Gateway "throttles requests to your API
// using the token bucket algorithm, where a token counts for a request"; above it "Clients may
// receive 429 Too Many Requests error responses" ("Throttling requests to your HTTP API",
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html).
import { PAYMENT_FUNCTIONS } from "../infra/constructs/payments-api";
import type { PaymentFunction } from "../infra/constructs/payments-api";
import { throttleFor } from "../infra/lib/route-throttle";
import type { Throttle } from "../infra/lib/route-throttle";
import { LAB_ROUTE_P99_MS } from "./config";

interface Bucket {
  readonly limit: Throttle;
  tokens: number;
  at: number;
}

export class StageThrottle {
  private readonly buckets = new Map<string, Bucket>();

  /**
   * @param environments the environments the lab plays per function (the reservation it sizes
   *   each route's bucket from)
   * @param functions the routed functions to throttle
   */
  constructor(
    environments: number,
    functions: readonly PaymentFunction[] = PAYMENT_FUNCTIONS,
    now = Date.now(),
  ) {
    for (const f of functions) {
      if (!f.route) continue;
      const limit = throttleFor(environments, f.routeDurationMs ?? LAB_ROUTE_P99_MS);
      // A bucket starts full: a stage that was idle lets its whole burst through.
      this.buckets.set(f.route, { limit, tokens: limit.burst, at: now });
    }
  }

  /** Each throttled route's limits. */
  limits(): Record<string, Throttle> {
    return Object.fromEntries([...this.buckets].map(([route, b]) => [route, b.limit]));
  }

  /** Takes a token of the route's bucket; false when the stage answers 429 instead. */
  admit(routeKey: string, now = Date.now()): boolean {
    const bucket = this.buckets.get(routeKey);
    if (!bucket) return true;
    bucket.tokens = Math.min(
      bucket.limit.burst,
      bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * bucket.limit.ratePerSecond,
    );
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
