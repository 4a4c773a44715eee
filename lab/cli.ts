// npm run lab -- [scenario] [--fast N] ...: runs one scenario, prints the timeline as it happens
// and the figures at the end, writes lab-report/<scenario>/report.{json,html}, and removes every
// process and folder it started, also on Ctrl-C. Exits 1 when a check failed.
import { ConfigError, parseArgs } from "./config";
import { Lab } from "./lab";
import { summary, writeReport } from "./report";
import { runScenario } from "./scenarios";

async function main(): Promise<number> {
  let config;
  try {
    config = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const lab = new Lab(config);
  const t0 = Date.now();
  if (!config.quiet) {
    lab.onEvent = (e) => {
      const at = ((e.at - lab.clock.startedAt) / 1000).toFixed(1).padStart(7);
      process.stdout.write(`[${at}s] ${e.kind.padEnd(12)} ${e.message}\n`);
    };
  }
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping the lab and removing what it started...\n`);
    void lab.stop().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const progress = setInterval(() => {
    if (config.quiet) return;
    const executions = lab.orchestrator?.executions ?? [];
    const running = executions
      .filter((e) => e.status === "RUNNING")
      .map((e) => `${e.name}@${e.states.at(-1)?.name ?? "start"}`);
    process.stdout.write(
      `  ... ${((Date.now() - t0) / 1000).toFixed(0)} s real; router -> ${lab.route53?.resolve() ?? "?"}; alarm ${lab.alarm?.state ?? "?"}; ${running.length ? `running: ${running.join(", ")}` : "no workflow running"}\n`,
    );
  }, 10_000);
  try {
    console.log(
      `payments-dr lab: ${config.scenario}, ${config.fast === 1 ? "production timings" : `fast x${config.fast}`}, seed ${config.seed}`,
    );
    const result = await runScenario(config, lab);
    const { json, html, report } = writeReport(result, config.outDir);
    console.log(summary(report));
    console.log(
      `\nreport: ${html}\n        ${json}\n(${((Date.now() - t0) / 1000).toFixed(0)} s real)`,
    );
    return report.ok ? 0 : 1;
  } finally {
    clearInterval(progress);
    await lab.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`lab failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
