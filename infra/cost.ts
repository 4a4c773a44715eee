// `npm run cost`: the monthly estimate of the synthesized stack per region and service, from the
// dated price table in infra/pricing/aws-prices.json, with its assumptions and what it leaves
// out. Run `npm run synth` first with the same environment.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "./config";
import type { PriceTable } from "./lib/cost";
import { assumptionsFromEnv, estimateCost, formatCost } from "./lib/cost";
import { runScript } from "./lib/script";
import { readStacks } from "./lib/synthesized";
import { stackNameFor } from "./naming";

export const PRICE_TABLE = join(__dirname, "pricing", "aws-prices.json");

runScript("cost", () => {
  const config = loadConfig();
  const table = JSON.parse(readFileSync(PRICE_TABLE, "utf8")) as PriceTable;
  const assumptions = assumptionsFromEnv(process.env);
  for (const region of [config.primary.region, config.secondary.region]) {
    if (!table.regions.includes(region)) {
      console.error(
        `cost: the price table covers ${table.regions.join(", ")}, not ${region}: its prices would be wrong there`,
      );
      return 1;
    }
  }
  for (const stack of readStacks(
    process.argv[2] ?? "cdktf.out",
    stackNameFor(config.environmentSuffix),
  )) {
    const lines = estimateCost(
      stack.json,
      { primary: config.primary.region, secondary: config.secondary.region },
      table,
      assumptions,
    );
    for (const line of formatCost(lines, table, assumptions, stack.name)) console.log(line);
  }
  return 0;
});
