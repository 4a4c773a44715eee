// Plans a synthesized stack against the real Terraform AWS provider with no AWS account and no
// network: init from a local provider mirror, validate, then plan -refresh=false with mock
// credentials. The synthesized JSON stays production-ready; the offline-only provider settings
// and a local backend go into a Terraform override file in a scratch copy of the stack.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { SynthesizedStack } from "./synthesized";

const PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws";

/** Where provider mirrors usually live, checked before a slow filesystem walk. */
const MIRROR_CANDIDATES = [
  "/opt/tf-plugins",
  "/usr/local/share/terraform/plugins",
  "/usr/share/terraform/plugins",
  join(process.env.HOME ?? "/root", ".terraform.d", "plugins"),
  join(process.env.HOME ?? "/root", ".local", "share", "terraform", "plugins"),
];

export class OfflinePlanError extends Error {
  override name = "OfflinePlanError";
}

export function terraformVersion(): string | undefined {
  const result = spawnSync("terraform", ["version", "-json"], { encoding: "utf8" });
  if (result.error || result.status !== 0) return undefined;
  return (JSON.parse(result.stdout) as { terraform_version: string }).terraform_version;
}

function hasAwsProvider(root: string): boolean {
  const base = join(root, PROVIDER_ADDRESS);
  if (!existsSync(base)) return false;
  return readdirSync(base).some((version) =>
    readdirSync(join(base, version)).some((platform) =>
      readdirSync(join(base, version, platform)).some((f) =>
        f.startsWith("terraform-provider-aws"),
      ),
    ),
  );
}

/**
 * The root of a filesystem mirror holding hashicorp/aws: `TF_PLUGIN_DIR` when set, else a known
 * location, else a search of the root filesystem. Undefined when there is none.
 */
export function findProviderMirror(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TF_PLUGIN_DIR) {
    if (!hasAwsProvider(env.TF_PLUGIN_DIR)) {
      throw new OfflinePlanError(
        `TF_PLUGIN_DIR=${env.TF_PLUGIN_DIR} holds no ${PROVIDER_ADDRESS} provider ` +
          `(expected <dir>/${PROVIDER_ADDRESS}/<version>/<os_arch>/terraform-provider-aws*)`,
      );
    }
    return env.TF_PLUGIN_DIR;
  }
  const known = MIRROR_CANDIDATES.find(hasAwsProvider);
  if (known) return known;
  const found = spawnSync(
    "find",
    ["/", "-xdev", "-path", `*${PROVIDER_ADDRESS}/*`, "-name", "terraform-provider-aws*"],
    { encoding: "utf8", timeout: 60_000 },
  );
  const binary = found.stdout?.split("\n").find((line) => line.trim() !== "");
  // <root>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/<binary>
  return binary ? dirname(dirname(dirname(dirname(dirname(dirname(binary)))))) : undefined;
}

/** Provider settings that let plan run with mock credentials and no network. */
export function offlineOverride(aliases: string[], scratch: string): object {
  return {
    terraform: { backend: { local: { path: join(scratch, "terraform.tfstate") } } },
    provider: {
      aws: aliases.map((alias) => ({
        alias,
        access_key: "mock-access-key",
        secret_key: "mock-secret-key",
        skip_credentials_validation: true,
        skip_requesting_account_id: true,
        skip_metadata_api_check: true,
        skip_region_validation: false,
      })),
    },
  };
}

/** One `planned_change` message of `terraform plan -json`. */
export interface PlannedChange {
  readonly address: string;
  /** "create", "update", "delete", "replace", "read", "noop", ... */
  readonly action: string;
  readonly reason?: string;
}

export interface PlanResult {
  readonly stack: string;
  readonly summary: string;
  /** Addresses the plan creates ("# <address> will be created"), in plan order. */
  readonly created: readonly string[];
}

/** The addresses a human-readable `terraform plan` output says it will create. */
export function createdAddresses(output: string): string[] {
  return [...output.matchAll(/^ {2}# (\S+) will be created$/gm)].map((m) => m[1]!);
}

/** Placeholders for the variables with a format of their own (their validation runs in plan). */
const PLACEHOLDERS: Readonly<Record<string, string>> = {
  payments_api_keys: "offline-merchant:offline-plan-placeholder-not-a-secret",
  payments_dr_api_key: "offline-plan-dr-placeholder-not-a-secret",
};

/** Values for the stack's input variables; only placeholders, never real secrets. */
function mockVariables(stack: SynthesizedStack): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of Object.keys(stack.json.variable ?? {})) {
    env[`TF_VAR_${name}`] = PLACEHOLDERS[name] ?? "offline-plan-placeholder-not-a-secret";
  }
  return env;
}

export interface PlanOptions {
  readonly mirror?: string;
  readonly log?: (line: string) => void;
  /**
   * Provider settings per alias that replace the offline mock (mock credentials, every check
   * skipped) for that alias: a test that plays a failed region points it at a dead endpoint.
   * @default - every alias gets the offline mock
   */
  readonly providers?: Readonly<Record<string, object>>;
  /**
   * More override files (name -> content) copied beside the stack, as an operator would have
   * them, e.g. the failed region's override that `npm run outage-plan` writes.
   * @default - none
   */
  readonly overrides?: Readonly<Record<string, object>>;
  /** Extra `terraform plan` arguments (e.g. -target=...). @default - none */
  readonly planArgs?: readonly string[];
}

/**
 * A scratch copy of a synthesized stack, initialised once, in which terraform runs offline
 * (mock credentials, a local backend in the scratch folder, the provider from a mirror).
 * `planOffline` uses one for a single plan; the writer-move check plans several configurations
 * against a state file it writes (infra/lib/writer-move.ts). Call `dispose()` when done.
 */
export class OfflineWorkspace {
  /** Folder holding the stack's configuration, where terraform runs. */
  public readonly dir: string;
  /** The local backend's state file (written by `writeState`). */
  public readonly statePath: string;
  private readonly scratch: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: (line: string) => void;
  /** The summary line of the last `planChanges` ("Plan: 3 to add, 1 to change, 0 to destroy."). */
  public lastSummary?: string;

  constructor(
    private stack: SynthesizedStack,
    private readonly options: PlanOptions = {},
  ) {
    this.log = options.log ?? (() => undefined);
    this.scratch = mkdtempSync(join(tmpdir(), `plan-${stack.name}-`));
    this.dir = join(this.scratch, "stack");
    this.statePath = join(this.scratch, "terraform.tfstate");
    this.env = {
      ...process.env,
      ...mockVariables(stack),
      AWS_ACCESS_KEY_ID: "mock-access-key",
      AWS_SECRET_ACCESS_KEY: "mock-secret-key",
      AWS_EC2_METADATA_DISABLED: "true",
      CHECKPOINT_DISABLE: "1",
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
    };
    delete this.env.AWS_PROFILE;
    delete this.env.AWS_SESSION_TOKEN;
    if (options.mirror) {
      const cliConfig = join(this.scratch, "terraformrc");
      writeFileSync(
        cliConfig,
        [
          "provider_installation {",
          `  filesystem_mirror {`,
          `    path    = ${JSON.stringify(options.mirror)}`,
          `    include = ["${PROVIDER_ADDRESS}"]`,
          "  }",
          `  direct {`,
          `    exclude = ["${PROVIDER_ADDRESS}"]`,
          "  }",
          "}",
          "",
        ].join("\n"),
      );
      this.env.TF_CLI_CONFIG_FILE = cliConfig;
    }
    this.copyStack(stack);
  }

  /** Replaces the configuration with another synthesized stack's (same providers): no re-init. */
  useStack(stack: SynthesizedStack): void {
    for (const entry of readdirSync(this.dir)) {
      if (entry !== ".terraform" && entry !== ".terraform.lock.hcl") {
        rmSync(join(this.dir, entry), { recursive: true, force: true });
      }
    }
    this.stack = stack;
    this.copyStack(stack);
  }

  /** Runs terraform with `args` in the workspace; throws OfflinePlanError with its output. */
  run(args: string[]): string {
    this.log(`terraform ${args.join(" ")}`);
    try {
      return execFileSync("terraform", args, {
        cwd: this.dir,
        env: this.env,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        maxBuffer: 256 * 1024 * 1024,
      });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      throw new OfflinePlanError(
        `terraform ${args[0]} failed for stack ${this.stack.name}:\n${e.stderr ?? ""}${e.stdout ?? ""}`,
      );
    }
  }

  init(): void {
    this.run(["init", "-input=false", "-no-color"]);
  }

  /** `terraform plan -refresh=false` with `args`; returns the human-readable output. */
  plan(args: readonly string[] = []): string {
    return this.run([
      "plan",
      "-refresh=false",
      "-input=false",
      "-lock=false",
      "-no-color",
      ...args,
    ]);
  }

  /** Plans into a plan file and returns `terraform show -json` of it. */
  planJson(args: readonly string[] = []): unknown {
    this.plan([...args, `-out=${this.planFile}`]);
    return this.show();
  }

  private get planFile(): string {
    return join(this.scratch, "plan.tfplan");
  }

  /**
   * Plans into a plan file with `-json` and returns the planned changes it streams (cheaper than
   * `terraform show -json`, which loads every provider schema again). `show()` reads the file.
   */
  planChanges(args: readonly string[] = []): PlannedChange[] {
    const output = this.plan([...args, "-json", `-out=${this.planFile}`]);
    const changes: PlannedChange[] = [];
    for (const line of output.split("\n")) {
      if (!line.startsWith("{")) continue;
      const message = JSON.parse(line) as {
        type?: string;
        "@message"?: string;
        change?: { resource?: { addr?: string }; action?: string; reason?: string };
      };
      if (message.type === "change_summary") this.lastSummary = message["@message"];
      if (message.type === "planned_change" && message.change?.resource?.addr) {
        changes.push({
          address: message.change.resource.addr,
          action: message.change.action ?? "unknown",
          ...(message.change.reason ? { reason: message.change.reason } : {}),
        });
      }
    }
    return changes;
  }

  /** `terraform show -json` of the last plan file. */
  show(): unknown {
    return JSON.parse(this.run(["show", "-json", this.planFile]));
  }

  /** `terraform providers schema -json` of the initialised providers. */
  providerSchemas(): unknown {
    return JSON.parse(this.run(["providers", "schema", "-json"]));
  }

  /** Writes a state file the next plan reads (the local backend's path). */
  writeState(state: object): void {
    writeFileSync(this.statePath, JSON.stringify(state));
  }

  dispose(): void {
    rmSync(this.scratch, { recursive: true, force: true });
  }

  private copyStack(stack: SynthesizedStack): void {
    cpSync(stack.dir, this.dir, {
      recursive: true,
      filter: (src) => !src.includes(`${stack.dir}/.terraform`),
    });
    const aliases = (stack.json.provider?.aws ?? []).map(
      (p) => (p as { alias?: string }).alias ?? "",
    );
    const override = offlineOverride(aliases.filter(Boolean), this.scratch) as {
      provider: { aws: { alias: string }[] };
    };
    override.provider.aws = override.provider.aws.map((p) => {
      const replacement = this.options.providers?.[p.alias];
      return replacement ? { alias: p.alias, ...replacement } : p;
    });
    writeFileSync(join(this.dir, "offline_override.tf.json"), JSON.stringify(override, null, 2));
    for (const [name, content] of Object.entries(this.options.overrides ?? {})) {
      writeFileSync(join(this.dir, name), JSON.stringify(content, null, 2));
    }
  }
}

export function planOffline(stack: SynthesizedStack, options: PlanOptions = {}): PlanResult {
  const workspace = new OfflineWorkspace(stack, options);
  try {
    workspace.init();
    workspace.run(["validate", "-no-color"]);
    const output = workspace.plan(options.planArgs ?? []);
    const summary = /Plan: .*|No changes\..*/.exec(output)?.[0] ?? "plan finished";
    return { stack: stack.name, summary, created: createdAddresses(output) };
  } finally {
    workspace.dispose();
  }
}
