// `npm run addresses`: checks the synthesized resource addresses of the recorded configurations
// (ADDRESS_CONTRACTS) against test/fixtures/addresses/, naming every data store a change would
// destroy; `npm run addresses -- --update` records the current ones after a deliberate change.
import { Testing } from "cdktf";
import { testingApp } from "./lib/testing-app";
import { readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "./config";
import {
  ADDRESS_CONTRACTS,
  ADDRESSES_DIR,
  compareAddresses,
  describeChanges,
  formatAddresses,
  hasChanges,
  parseAddresses,
  contractLines,
} from "./lib/addresses";
import type { TerraformJson } from "./lib/synthesized";
import { stackName } from "./main";
import { PaymentsDrStack } from "./stacks/payments-dr-stack";

const ROOT = join(__dirname, "..");

function synthAddresses(env: Readonly<Record<string, string>>): string[] {
  const config = loadConfig({ ...env });
  const stack = new PaymentsDrStack(testingApp(), stackName(config), { config });
  return contractLines(JSON.parse(Testing.synth(stack)) as TerraformJson);
}

function main(): void {
  const update = process.argv.includes("--update");
  const allowDataLoss = process.argv.includes("--allow-data-loss");
  let failed = false;
  for (const [name, env] of Object.entries(ADDRESS_CONTRACTS)) {
    const file = join(ADDRESSES_DIR, `${name}.txt`);
    const current = synthAddresses(env);
    const recorded = existsSync(join(ROOT, file))
      ? parseAddresses(readFileSync(join(ROOT, file), "utf8"))
      : [];
    const changes = compareAddresses(recorded, current);
    if (!hasChanges(changes)) {
      console.log(`${file}: ${current.length} lines, unchanged`);
      continue;
    }
    console.error(describeChanges(name, file, changes));
    if (!update) {
      failed = true;
    } else if (changes.dataStoresLost.length > 0 && !allowDataLoss) {
      console.error(
        `not recorded: the change destroys data stores; pass --allow-data-loss to record it anyway`,
      );
      failed = true;
    } else {
      mkdirSync(join(ROOT, ADDRESSES_DIR), { recursive: true });
      writeFileSync(join(ROOT, file), formatAddresses(current));
      console.log(`${file}: ${current.length} lines recorded`);
    }
  }
  if (failed) process.exit(1);
}

main();
