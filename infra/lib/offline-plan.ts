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

export interface PlanResult {
  readonly stack: string;
  readonly summary: string;
}

/** Values for the stack's input variables; only placeholders, never real secrets. */
function mockVariables(stack: SynthesizedStack): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of Object.keys(stack.json.variable ?? {})) {
    env[`TF_VAR_${name}`] = "offline-plan-placeholder-not-a-secret";
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

export function planOffline(stack: SynthesizedStack, options: PlanOptions = {}): PlanResult {
  const log = options.log ?? (() => undefined);
  const scratch = mkdtempSync(join(tmpdir(), `plan-${stack.name}-`));
  try {
    const work = join(scratch, "stack");
    cpSync(stack.dir, work, {
      recursive: true,
      filter: (src) => !src.includes(`${stack.dir}/.terraform`),
    });
    const aliases = (stack.json.provider?.aws ?? []).map(
      (p) => (p as { alias?: string }).alias ?? "",
    );
    const override = offlineOverride(aliases.filter(Boolean), scratch) as {
      provider: { aws: { alias: string }[] };
    };
    override.provider.aws = override.provider.aws.map((p) => {
      const replacement = options.providers?.[p.alias];
      return replacement ? { alias: p.alias, ...replacement } : p;
    });
    writeFileSync(join(work, "offline_override.tf.json"), JSON.stringify(override, null, 2));
    for (const [name, content] of Object.entries(options.overrides ?? {})) {
      writeFileSync(join(work, name), JSON.stringify(content, null, 2));
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...mockVariables(stack),
      AWS_ACCESS_KEY_ID: "mock-access-key",
      AWS_SECRET_ACCESS_KEY: "mock-secret-key",
      AWS_EC2_METADATA_DISABLED: "true",
      CHECKPOINT_DISABLE: "1",
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
    };
    delete env.AWS_PROFILE;
    delete env.AWS_SESSION_TOKEN;
    if (options.mirror) {
      const cliConfig = join(scratch, "terraformrc");
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
      env.TF_CLI_CONFIG_FILE = cliConfig;
    }
    const run = (args: string[]): string => {
      log(`terraform ${args.join(" ")}`);
      try {
        return execFileSync("terraform", args, {
          cwd: work,
          env,
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
          maxBuffer: 256 * 1024 * 1024,
        });
      } catch (error) {
        const e = error as { stdout?: string; stderr?: string };
        throw new OfflinePlanError(
          `terraform ${args[0]} failed for stack ${stack.name}:\n${e.stderr ?? ""}${e.stdout ?? ""}`,
        );
      }
    };
    run(["init", "-input=false", "-no-color"]);
    run(["validate", "-no-color"]);
    const output = run([
      "plan",
      "-refresh=false",
      "-input=false",
      "-lock=false",
      "-no-color",
      ...(options.planArgs ?? []),
    ]);
    const summary = /Plan: .*|No changes\..*/.exec(output)?.[0] ?? "plan finished";
    return { stack: stack.name, summary };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
