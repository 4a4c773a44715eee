// `npm run rto`: the expected RTO of an unplanned failover per phase with its worst-case bound
// beside it, and the RPO bound, of every synthesized stack. Fails when the expected RTO exceeds
// RTO_TARGET_SECONDS or the RPO bound RPO_TARGET_SECONDS. Run `npm run synth` first with the same
// environment.
import { ConfigError, loadConfig } from "./config";
import { computeBudget, formatBudget, RtoInputError, withinTargets } from "./lib/rto";
import { readStacks } from "./lib/synthesized";

function main(): number {
  const outdir = process.argv[2] ?? "cdktf.out";
  const config = loadConfig();
  let ok = true;
  for (const stack of readStacks(outdir)) {
    const budget = computeBudget(stack.json, stack.name, config);
    console.log(formatBudget(budget));
    ok &&= withinTargets(budget);
  }
  return ok ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (error) {
  if (error instanceof ConfigError || error instanceof RtoInputError) {
    console.error(`rto: ${error.message}`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
