// `npm run policy`: synthesizes the recorded configurations (default and all options), runs the
// policy pack over each and prints one line per violation (address: rule: what to change), then
// the IAM figures (roles, statements, wildcard actions, "*" on writes and why each remains).
// Exit 1 on any violation. `--figures-only` prints the figures without failing (for comparing).
import { Testing } from "cdktf";
import { testingApp } from "./lib/testing-app";
import { loadConfig } from "./config";
import { ADDRESS_CONTRACTS } from "./lib/addresses";
import { checkPolicies, formatViolation, iamFigures } from "./lib/policy-pack";
import type { TerraformJson } from "./lib/synthesized";
import { stackName } from "./main";
import { PaymentsDrStack } from "./stacks/payments-dr-stack";

function main(): void {
  const figuresOnly = process.argv.includes("--figures-only");
  let failed = false;
  for (const [name, env] of Object.entries(ADDRESS_CONTRACTS)) {
    const config = loadConfig({ ...env });
    const stack = new PaymentsDrStack(testingApp(), stackName(config), { config });
    const json = JSON.parse(Testing.synth(stack)) as TerraformJson;
    const violations = checkPolicies(json, { suffix: config.environmentSuffix });
    const figures = iamFigures(json);
    console.log(`== ${name}: ${violations.length} violation(s)`);
    if (!figuresOnly) for (const v of violations) console.log(formatViolation(v));
    console.log(
      `iam: ${figures.roles} roles, ${figures.inlinePolicies} inline policies, ` +
        `${figures.managedAttachments} managed-policy attachments, ${figures.statements} statements, ` +
        `${figures.wildcardActionStatements} with wildcard actions, ` +
        `${figures.starResourceWriteStatements} with Resource "*" on write actions`,
    );
    console.log(
      `managed: ${Object.entries(figures.managedByArn)
        .map(([arn, n]) => `${arn} x${n}`)
        .join(", ")}`,
    );
    for (const s of figures.starWrites) console.log(`  * ${s.address} [${s.sid}] ${s.why}`);
    if (violations.length > 0 && !figuresOnly) failed = true;
  }
  if (failed) process.exit(1);
}

main();
