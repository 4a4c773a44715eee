// `npm run budget`: the writer's connection budget of the configuration in the environment, in
// each region: every function that connects, its environments and connections at worst, against
// the safe share of max_connections; then each route's stage throttle. Exits 1 with the synth's message when it is over budget.
import { loadConfig } from "./config";
import { checkConnectionBudget, formatBudgets } from "./lib/connection-budget";
import { formatRouteThrottles, formatSteadyCapacity } from "./lib/route-throttle";
import { runScript } from "./lib/script";
import { connectionBudgetInput } from "./stacks/payments-dr-stack";
import { paymentRouteThrottles } from "./constructs/payments-api";

runScript("budget", () => {
  const config = loadConfig();
  const budgets = checkConnectionBudget(connectionBudgetInput(config));
  const throttles = paymentRouteThrottles(config.payments);
  // Review 23-18 M2: the steady capacity first, where nobody misses it.
  console.log(formatSteadyCapacity(throttles));
  console.log("");
  console.log(formatBudgets(budgets, config.database.instanceClass));
  // The stage throttle of each route, from the same reservations (infra/lib/route-throttle.ts).
  console.log(formatRouteThrottles(throttles));
  return 0;
});
