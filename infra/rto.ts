// `npm run rto`: the worst-case RTO per phase and the RPO bound of the synthesized stack,
// checked against RTO_TARGET_SECONDS / RPO_TARGET_SECONDS. Run `npm run synth` first with the
// same environment; without it (or with another ENVIRONMENT_SUFFIX) it says so in one sentence.
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
