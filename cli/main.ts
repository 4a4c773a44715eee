// payments-dr: the on-call CLI. `npx payments-dr --help` from a clone; see README "On call".
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import type { AwsClients } from "./aws";
import { awsClients } from "./aws";
import { approveCommand } from "./commands/approve";
import { drillCommand } from "./commands/drill";
import { historyCommand } from "./commands/history";
import { readinessCommand } from "./commands/readiness";
import { reconcileCommand } from "./commands/reconcile";
import { startCommand } from "./commands/start";
import { statusCommand } from "./commands/status";
import { watchCommand } from "./commands/watch";
import { commandContext } from "./context";
import { CliError } from "./errors";
import type { Io } from "./io";
import { processIo } from "./io";
import type { WorkflowName } from "./target";
import { resolveDeployment } from "./target";

export const USAGE = `payments-dr: on-call commands for the payments-dr deployment (both regions)

usage: payments-dr <command> [options]

commands:
  status                          both regions: active region, fencing token and phase, /health,
                                  replication lag, alarms, prober, lock, cooldown, runs
  failover   --to <region> --reason "<why>"   unplanned failover to <region> (AllowDataLoss)
             [--approval] [--force-detach] [--allow-unknown-lag]
             [--assume-old-writer-stopped]  (only when you know the old region cannot write)
  switchover --to <region> --reason "<why>"   planned move, no data loss
  failback   --to <region> --reason "<why>"   planned move back to the deployed primary
             (all three: [--ignore-cooldown] [--resume <run id>] [--yes] [--no-watch])
  reprotect  --to <active region> --reason "<why>"   after a failover, once the old region is
             back: rebuild it as a secondary ([--resume <run id>] [--yes] [--no-watch])
  approve    [--execution <arn|name>]         approve the failover waiting for approval
  reject     [--execution <arn|name>] [--reason "<why>"]
  watch      [<execution arn|name>]           follow a run (default: the one running now)
  drill      [--restore] [--region <r>] [--workflow switchover|failover] [--hold PT15M]
             [--no-failback]                  start the drill automation and follow it
  readiness  [--now]                          both regions' readiness: every check with its
                                  fix; the last scheduled evaluation, or --now to evaluate now
                                  (exit 1 when a region fails or has no evaluation)
  history    [--limit <n>]                    last runs and drills from the DR ledger, with outcome, RTO, RPO
  reconcile  --old-url <postgres url> --new-url <postgres url> (--run <failover run id> | --fork <file>)
             [--region <new primary region>] [--replay] [--notify] [--scan-margin <s>] [--out <dir>]
             [--no-store]                     lost writes after an unplanned failover (dry run by
                                              default: reads only; runbooks/reconcile.md)

options for every command:
  --json                  machine-readable output (one JSON document; watch/drill: JSON lines)
  --profile <name>        AWS profile (default: the standard credential chain, AWS_PROFILE)
  --suffix <suffix>       environment suffix (default: ENVIRONMENT_SUFFIX, else dev)
  --primary-region <r>    default: PRIMARY_REGION, else us-east-1
  --secondary-region <r>  default: SECONDARY_REGION, else us-west-2
  --writer-region <r>     default: WRITER_REGION, else the primary region (the deployed primary)
  --yes                   do not ask for confirmation
  --interval <seconds>    poll interval while following a run (default 5)
  -h, --help

exit codes: 0 done / completed; 1 failed, halted, refused or not confirmed; 2 bad usage or input.
`;

const OPTIONS = {
  json: { type: "boolean" },
  profile: { type: "string" },
  suffix: { type: "string" },
  "primary-region": { type: "string" },
  "secondary-region": { type: "string" },
  "writer-region": { type: "string" },
  yes: { type: "boolean", short: "y" },
  interval: { type: "string" },
  help: { type: "boolean", short: "h" },
  to: { type: "string" },
  reason: { type: "string" },
  approval: { type: "boolean" },
  "force-detach": { type: "boolean" },
  "ignore-cooldown": { type: "boolean" },
  "allow-unknown-lag": { type: "boolean" },
  "assume-old-writer-stopped": { type: "boolean" },
  resume: { type: "string" },
  "no-watch": { type: "boolean" },
  execution: { type: "string" },
  restore: { type: "boolean" },
  region: { type: "string" },
  workflow: { type: "string" },
  hold: { type: "string" },
  "no-failback": { type: "boolean" },
  limit: { type: "string" },
  "old-url": { type: "string" },
  "new-url": { type: "string" },
  run: { type: "string" },
  fork: { type: "string" },
  replay: { type: "boolean" },
  notify: { type: "boolean" },
  "scan-margin": { type: "string" },
  out: { type: "string" },
  "no-store": { type: "boolean" },
  now: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

/** The options each command accepts beyond the common ones: anything else is refused. */
const COMMAND_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  status: [],
  failover: [
    "to",
    "reason",
    "approval",
    "force-detach",
    "ignore-cooldown",
    "allow-unknown-lag",
    "assume-old-writer-stopped",
    "resume",
    "no-watch",
  ],
  switchover: ["to", "reason", "ignore-cooldown", "resume", "no-watch"],
  failback: ["to", "reason", "ignore-cooldown", "resume", "no-watch"],
  reprotect: ["to", "reason", "resume", "no-watch"],
  approve: ["execution", "no-watch"],
  reject: ["execution", "reason"],
  watch: [],
  drill: ["restore", "region", "workflow", "hold", "no-failback", "no-watch"],
  history: ["limit"],
  readiness: ["now"],
  reconcile: [
    "old-url",
    "new-url",
    "run",
    "fork",
    "region",
    "replay",
    "notify",
    "scan-margin",
    "out",
    "no-store",
  ],
};
const COMMON = [
  "json",
  "profile",
  "suffix",
  "primary-region",
  "secondary-region",
  "writer-region",
  "yes",
  "interval",
  "help",
];

export interface MainDeps {
  readonly io: Io;
  readonly env: NodeJS.ProcessEnv;
  readonly clients?: (profile?: string) => AwsClients;
}

function positiveInt(
  flag: string,
  value: string | undefined,
  fallback: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new CliError(
      `--${flag} must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`,
      `pass --${flag} ${fallback}`,
      2,
    );
  }
  return n;
}

export async function main(argv: readonly string[], deps: MainDeps): Promise<number> {
  const { io } = deps;
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        options: OPTIONS,
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      throw new CliError(
        (error as Error).message.split("\n")[0]!.replace(/^TypeError \[\w+\]: /, ""),
        "see `payments-dr --help`",
        2,
      );
    }
    const { values, positionals } = parsed;
    const [command, ...rest] = positionals;
    if (values.help || command === undefined || command === "help") {
      io.out(USAGE);
      return command === undefined && !values.help ? 2 : 0;
    }
    const allowed = COMMAND_OPTIONS[command];
    if (!allowed) {
      throw new CliError(
        `unknown command ${JSON.stringify(command)}`,
        `use one of ${Object.keys(COMMAND_OPTIONS).join(", ")} (payments-dr --help)`,
        2,
      );
    }
    const extra = Object.keys(values).filter((k) => !COMMON.includes(k) && !allowed.includes(k));
    if (extra.length > 0) {
      throw new CliError(
        `${command} does not take ${extra.map((k) => `--${k}`).join(", ")}`,
        `${command} takes ${allowed.length ? allowed.map((k) => `--${k}`).join(", ") : "no options"} besides the common ones (payments-dr --help)`,
        2,
      );
    }
    const maxPositionals = command === "watch" ? 1 : 0;
    if (rest.length > maxPositionals) {
      throw new CliError(
        `unexpected argument ${JSON.stringify(rest[maxPositionals])} after ${command}`,
        'quote a reason with spaces: --reason "..."',
        2,
      );
    }
    const deployment = resolveDeployment(
      {
        suffix: values.suffix,
        primaryRegion: values["primary-region"],
        secondaryRegion: values["secondary-region"],
        writerRegion: values["writer-region"],
        profile: values.profile,
      },
      deps.env,
    );
    // Every SDK client in this process, the DR adapters the input check reuses included, takes
    // its credentials from the standard chain, which reads AWS_PROFILE: --profile sets it.
    if (deployment.profile) deps.env.AWS_PROFILE = deployment.profile;
    const ctx = commandContext({
      deployment,
      clients: (deps.clients ?? awsClients)(deployment.profile),
      io,
      json: values.json ?? false,
      yes: values.yes ?? false,
      intervalMs: positiveInt("interval", values.interval, 5, 300) * 1000,
    });
    const watch = !values["no-watch"];
    switch (command) {
      case "status":
        return await statusCommand(ctx);
      case "failover":
      case "switchover":
      case "failback":
      case "reprotect":
        return await startCommand(ctx, command as WorkflowName, {
          to: values.to,
          reason: values.reason,
          approval: values.approval,
          forceDetach: values["force-detach"],
          ignoreCooldown: values["ignore-cooldown"],
          allowUnknownLag: values["allow-unknown-lag"],
          assumeOldWriterStopped: values["assume-old-writer-stopped"],
          resume: values.resume,
          watch,
        });
      case "approve":
      case "reject":
        return await approveCommand(ctx, command, {
          execution: values.execution,
          reason: values.reason,
          watch,
        });
      case "watch":
        return await watchCommand(ctx, rest[0]);
      case "drill":
        return await drillCommand(ctx, {
          restore: values.restore ?? false,
          region: values.region,
          workflow: values.workflow,
          hold: values.hold,
          noFailBack: values["no-failback"] ?? false,
          watch,
        });
      case "readiness":
        return await readinessCommand(ctx, { run: values.now ?? false });
      case "history":
        return await historyCommand(ctx, positiveInt("limit", values.limit, 10, 100));
      case "reconcile":
        return await reconcileCommand(ctx, {
          oldUrl: values["old-url"],
          newUrl: values["new-url"],
          run: values.run,
          fork: values.fork,
          region: values.region,
          replay: values.replay ?? false,
          notify: values.notify ?? false,
          scanMargin: values["scan-margin"],
          out: values.out,
          noStore: values["no-store"] ?? false,
        });
    }
    return 2;
  } catch (error) {
    if (error instanceof CliError) {
      if (argv.includes("--json")) {
        io.out(JSON.stringify({ type: "error", problem: error.problem, fix: error.fix }));
      }
      io.err(`payments-dr: ${error.problem}`);
      io.err(`  fix: ${error.fix}`);
      return error.exitCode;
    }
    // A bug: the one place a stack trace is the useful answer.
    io.err(
      `payments-dr: unexpected error (please report it with this output): ${(error as Error).stack ?? String(error)}`,
    );
    return 1;
  }
}

if (require.main === module) {
  // Node 20 warns that the SDK will drop it; on-call needs no such line in its output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  main(process.argv.slice(2), { io: processIo(), env: process.env }).then((code) => {
    process.exitCode = code;
  });
}
