import { rmSync } from "node:fs";
import { Testing } from "cdktf";
import type { Config } from "../../infra/config";
import { stackName } from "../../infra/main";
import { PaymentsDrStack } from "../../infra/stacks/payments-dr-stack";

/**
 * The whole stack for `config`, synthesized in memory, as Terraform JSON text. The app's
 * temporary output folder (Testing.app(): `cdktf.outdir.*` in the OS temp dir) is not needed
 * once the text exists, and goes at once.
 */
export function synthStack(config: Config): string {
  const app = Testing.app();
  try {
    return Testing.synth(new PaymentsDrStack(app, stackName(config), { config }));
  } finally {
    rmSync(app.outdir, { recursive: true, force: true });
  }
}
