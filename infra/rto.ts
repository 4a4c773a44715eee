// `npm run rto`: the expected RTO of an unplanned failover per phase with its worst-case bound
// beside it, and the RPO bound, of the synthesized stack. Fails when the expected RTO exceeds
// RTO_TARGET_SECONDS or the RPO bound RPO_TARGET_SECONDS. Run `npm run synth` first with the same
// environment; without it (or with another ENVIRONMENT_SUFFIX) it says so in one sentence.
import { loadConfig } from "./config";
import { computeBudget, formatBudget, withinTargets } from "./lib/rto";
import { runScript } from "./lib/script";
import { readStacks } from "./lib/synthesized";
import { stackNameFor } from "./naming";

runScript("rto", () => {
  const outdir = process.argv[2] ?? "cdktf.out";
  const config = loadConfig();
  let ok = true;
  for (const stack of readStacks(outdir, stackNameFor(config.environmentSuffix))) {
    const budget = computeBudget(stack.json, stack.name, config);
    console.log(formatBudget(budget));
    ok &&= withinTargets(budget);
  }
  return ok ? 0 : 1;
});
