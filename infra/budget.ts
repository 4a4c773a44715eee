// `npm run budget`: the writer's connection budget of the configuration in the environment, in
// each region: every function that connects, its environments and connections at worst, against
// the safe share of max_connections; then each route's stage throttle. Exits 1 with the synth's message when it is over budget.
import { loadConfig } from "./config";
import { checkConnectionBudget, formatBudgets } from "./lib/connection-budget";
import { runScript } from "./lib/script";
import { connectionBudgetInput } from "./stacks/payments-dr-stack";
import { paymentRouteThrottles } from "./constructs/payments-api";

runScript("budget", () => {
  const config = loadConfig();
  const budgets = checkConnectionBudget(connectionBudgetInput(config));
  console.log(formatBudgets(budgets, config.database.instanceClass));
  // The stage throttle of each route, from the same reservations (infra/lib/route-throttle.ts).
  console.log(
    "route throttles (each region's stage; 429 above them, before Lambda would throttle):",
  );
  for (const t of paymentRouteThrottles(config.payments)) {
    const sizing = t.stageDefault
      ? "(the stage default: unauthenticated, not throttled below it)"
      : `(sized for d = ${t.durationMs} ms, ROUTE_P99_MS)`;
    console.log(
      `  ${t.routeKey.padEnd(28)} ${String(t.reservation ?? "unreserved").padStart(10)} reserved  rate ${String(t.ratePerSecond).padStart(7)}/s  burst ${String(t.burst).padStart(4)}  ${sizing}`,
    );
    // What the route carries (review M1): the rate is all it serves steadily, the burst is
    // extra only after an idle spell.
    console.log(
      `  ${"".padEnd(28)} serves up to ${t.ratePerSecond} req/s steady, ${t.burst} at once`,
    );
  }
  return 0;
});
