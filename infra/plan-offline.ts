// `npm run plan:offline`: init, validate and plan every synthesized stack against the real AWS
// provider, offline, with mock credentials. Fails plainly when terraform is missing.
import { findProviderMirror, planOffline, terraformVersion } from "./lib/offline-plan";
import { loadConfig } from "./config";
import { runScript } from "./lib/script";
import { readStacks } from "./lib/synthesized";
import { stackNameFor } from "./naming";

function main(): void {
  const outdir = process.argv[2] ?? "cdktf.out";
  const version = terraformVersion();
  if (!version) {
    console.error(
      "plan:offline needs terraform (>= 1.10) on PATH and found none: install it from " +
        "https://developer.hashicorp.com/terraform/install",
    );
    process.exit(1);
  }
  const stacks = readStacks(outdir, stackNameFor(loadConfig().environmentSuffix));
  const mirror = findProviderMirror();
  console.log(
    mirror
      ? `terraform ${version}, provider from the local mirror ${mirror}`
      : `terraform ${version}, no local provider mirror: terraform init downloads the pinned provider`,
  );
  for (const stack of stacks) {
    const started = Date.now();
    const result = planOffline(stack, { mirror, log: (line) => console.log(`  ${line}`) });
    console.log(`stack ${result.stack}: ${result.summary} (${Date.now() - started} ms)`);
  }
}

runScript("plan:offline", main);
