import { App } from "cdktf";
import type { Config } from "./config";
import { loadConfig } from "./config";
import { stackNameFor } from "./naming";
import { PaymentsDrStack } from "./stacks/payments-dr-stack";

export function stackName(config: Config): string {
  return stackNameFor(config.environmentSuffix);
}

/** Builds the app for `config`; nothing is written until `app.synth()`. */
export function buildApp(config: Config, outdir = "cdktf.out"): App {
  // Construct stack traces in the metadata cost more than half of synth; errors still point
  // at the construct path.
  const app = new App({ outdir, skipValidation: false, stackTraces: false });
  new PaymentsDrStack(app, stackName(config), { config });
  return app;
}

// `cdktf synth` runs this file directly: validate first, so bad input writes nothing.
if (require.main === module) {
  buildApp(loadConfig()).synth();
}
