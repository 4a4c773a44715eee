// The lab's stage throttle against the property the deployed one is sized for: requests that
// each hold an environment for the duration the route is sized with never need more environments
// than the lab plays, however they arrive; above the bucket the stage answers 429.
import fc from "fast-check";
import { PAYMENT_FUNCTIONS } from "../../infra/constructs/payments-api";
import { LAB_ROUTE_P99_MS } from "../../lab/config";
import { StageThrottle } from "../../lab/stage-throttle";

const ROUTE = "POST /payments";

describe("the lab's stage throttle", () => {
  it("lets the burst through at once, then refills at the rate, per route", () => {
    const stage = new StageThrottle(16, PAYMENT_FUNCTIONS, 0);
    // 16 environments sized for 500 ms: burst 8, 16 requests/s.
    expect(stage.limits()[ROUTE]).toEqual({ burst: 8, ratePerSecond: 16 });
    const first = Array.from({ length: 12 }, () => stage.admit(ROUTE, 0));
    expect(first.filter(Boolean)).toHaveLength(8);
    // Another route has its own bucket.
    expect(stage.admit("POST /payments/{id}/capture", 0)).toBe(true);
    // 250 ms later: 4 tokens.
    expect(Array.from({ length: 6 }, () => stage.admit(ROUTE, 250)).filter(Boolean)).toHaveLength(
      4,
    );
    // A route it does not throttle is always admitted.
    expect(stage.admit("GET /nowhere", 0)).toBe(true);
  });

  it("never admits more requests in flight than the environments, for any arrivals", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 64 }),
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 400 }),
        (environments, gaps) => {
          const stage = new StageThrottle(environments, PAYMENT_FUNCTIONS, 0);
          const ends: number[] = [];
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            if (!stage.admit(ROUTE, now)) continue;
            ends.push(now + LAB_ROUTE_P99_MS);
            const inFlight = ends.filter((end) => end > now).length;
            if (inFlight > environments) return false;
          }
          return true;
        },
      ),
    );
  });
});
