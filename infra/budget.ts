// `npm run budget`: the writer's connection budget of the configuration in the environment, in
// each region: every function that connects, its environments and connections at worst, against
// the safe share of max_connections. Exits 1 with the synth's message when it is over budget.
import { loadConfig } from "./config";
import { checkConnectionBudget, formatBudgets } from "./lib/connection-budget";
import { runScript } from "./lib/script";
import { connectionBudgetInput } from "./stacks/payments-dr-stack";

runScript("budget", () => {
  const config = loadConfig();
  const budgets = checkConnectionBudget(connectionBudgetInput(config));
  console.log(formatBudgets(budgets, config.database.instanceClass));
  return 0;
});
