import { Testing } from "cdktf";
import type { Config } from "../../infra/config";
import { stackName } from "../../infra/main";
import { PaymentsDrStack } from "../../infra/stacks/payments-dr-stack";

/** The whole stack for `config`, synthesized in memory, as Terraform JSON text. */
export function synthStack(config: Config): string {
  return Testing.synth(new PaymentsDrStack(Testing.app(), stackName(config), { config }));
}
