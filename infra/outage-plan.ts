// `npm run outage-plan -- --failed-region <region>`: prepares a Terraform plan of the surviving
// region that makes no call to the failed one (see infra/lib/outage.ts): writes the failed
// region's provider override and the surviving region's -target list beside each synthesized
// stack, then prints the commands to run.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  FAILED_REGION_OVERRIDE_FILE,
  outageCommands,
  OutagePlanError,
  outagePlan,
  SURVIVING_TARGETS_FILE,
} from "./lib/outage";
import { readStacks } from "./lib/synthesized";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const failedRegion = flag("--failed-region");
  if (!failedRegion) {
    throw new OutagePlanError(
      "usage: npm run outage-plan -- --failed-region <region> [--outdir cdktf.out]",
    );
  }
  const outdir = flag("--outdir") ?? "cdktf.out";
  for (const stack of readStacks(outdir)) {
    const plan = outagePlan(stack, failedRegion);
    writeFileSync(
      join(stack.dir, FAILED_REGION_OVERRIDE_FILE),
      `${JSON.stringify(plan.override, null, 2)}\n`,
    );
    writeFileSync(join(stack.dir, SURVIVING_TARGETS_FILE), `${plan.targets.join("\n")}\n`);
    console.log(
      `stack ${stack.name}: ${failedRegion} (aws.${plan.failedAlias}) makes no call; ` +
        `${plan.targets.length} resources of aws.${plan.survivingAlias} targeted. Next:`,
    );
    for (const line of outageCommands(stack.dir)) console.log(`  ${line}`);
  }
}

try {
  main();
} catch (error) {
  if (error instanceof OutagePlanError || (error as Error).message?.startsWith("no synthesized")) {
    console.error((error as Error).message);
    process.exit(1);
  }
  throw error;
}
