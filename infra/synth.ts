// `npm run synth`: validate the config, synthesize, then print a short summary.
// An invalid setting stops here with one line and writes nothing to cdktf.out.
import { ConfigError, loadConfig } from "./config";
import { ConnectionBudgetError, checkConnectionBudget } from "./lib/connection-budget";
import { readStacks, resourceCountsByRegion } from "./lib/synthesized";
import { buildApp } from "./main";
import { connectionBudgetInput } from "./stacks/payments-dr-stack";
import { paymentRouteThrottles } from "./constructs/payments-api";
import { RouteThrottleError } from "./lib/route-throttle";

// `--outdir <dir>` lets tests synthesize somewhere disposable.
const outdirFlag = process.argv.indexOf("--outdir");
const OUTDIR = outdirFlag >= 0 ? process.argv[outdirFlag + 1]! : "cdktf.out";

function main(): void {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`config error: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  // Over the writer's connection budget: one line naming the functions and the numbers, before
  // the app creates its output folder (the stack checks it again, for every other entry point).
  try {
    checkConnectionBudget(connectionBudgetInput(config));
    paymentRouteThrottles(config.payments);
  } catch (error) {
    // A reservation for a function that does not exist is a config error like any other.
    if (error instanceof ConfigError) {
      console.error(`config error: ${error.message}`);
      process.exit(1);
    }
    if (error instanceof ConnectionBudgetError) {
      console.error(`connection budget: ${error.message}`);
      process.exit(1);
    }
    if (error instanceof RouteThrottleError) {
      console.error(`route throttle: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const started = Date.now();
  buildApp(config, OUTDIR).synth();
  for (const stack of readStacks(OUTDIR)) {
    const counts = resourceCountsByRegion(stack.json);
    const perRegion = Object.entries(counts)
      .map(([role, count]) => {
        const region = role === "primary" ? config.primary.region : config.secondary.region;
        return `${role} (${region}) ${count}`;
      })
      .join(", ");
    console.log(
      `stack ${stack.name}: ${perRegion} resources, writer in ${config[config.writer].region} -> ${stack.dir}/cdk.tf.json`,
    );
  }
  console.log(`synthesized in ${Date.now() - started} ms`);
  const notice = domainNotice(config);
  if (notice) console.log(notice);
}

/** Without DOMAIN_NAME the stack is complete but traffic does not move by DNS: say so. */
export function domainNotice(config: {
  domainName?: string;
  environmentSuffix: string;
}): string | undefined {
  if (config.domainName) return undefined;
  return (
    "note: DOMAIN_NAME is not set, so there is no hosted zone and no api.<domain> failover records " +
    "(the Route 53 health checks are still created): clients call each region's own API URL " +
    `(SSM /payments/${config.environmentSuffix}/api/url) and a failover moves no DNS. ` +
    "Set DOMAIN_NAME=<your zone> to get them."
  );
}

if (require.main === module) main();
