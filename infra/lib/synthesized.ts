// Reading what synth wrote: the stack list and each stack's Terraform JSON.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface TerraformJson {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  output?: Record<string, unknown>;
  variable?: Record<string, unknown>;
  provider?: Record<string, unknown[]>;
  terraform?: Record<string, unknown>;
}

export interface SynthesizedStack {
  readonly name: string;
  /** Folder holding cdk.tf.json, where terraform runs. */
  readonly dir: string;
  readonly json: TerraformJson;
}

/** What synth left (or did not leave) in the output folder does not fit the request. */
export class SynthesizedStackError extends Error {
  override name = "SynthesizedStackError";
}

/**
 * Every stack in a cdktf output folder, from its manifest. With `expected` (the stack name the
 * current environment synthesizes, `payments-dr-<suffix>`), only that stack, and a clear error
 * when the folder holds another environment's.
 */
export function readStacks(outdir: string, expected?: string): SynthesizedStack[] {
  const manifestPath = join(outdir, "manifest.json");
  if (!existsSync(manifestPath)) {
    throw new SynthesizedStackError(
      `nothing synthesized in ${outdir}: run \`npm run synth\` first, with the same environment`,
    );
  }
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
    stacks: Record<string, { synthesizedStackPath: string; workingDirectory: string }>;
  };
  const names = Object.keys(manifest.stacks);
  if (expected !== undefined && !names.includes(expected)) {
    const suffix = expected.replace(/^payments-dr-/, "");
    throw new SynthesizedStackError(
      `${outdir} holds ${names.join(", ") || "no stack"}, not ${expected} (ENVIRONMENT_SUFFIX=${suffix}): ` +
        `run \`ENVIRONMENT_SUFFIX=${suffix} npm run synth\` first, or use the suffix you synthesized with`,
    );
  }
  return Object.entries(manifest.stacks)
    .filter(([name]) => expected === undefined || name === expected)
    .map(([name, stack]) => ({
      name,
      dir: join(outdir, stack.workingDirectory),
      json: JSON.parse(
        readFileSync(join(outdir, stack.synthesizedStackPath), "utf8"),
      ) as TerraformJson,
    }));
}

/** Resource counts by provider alias ("aws.primary" -> "primary"). */
export function resourceCountsByRegion(json: TerraformJson): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const resources of Object.values(json.resource ?? {})) {
    for (const resource of Object.values(resources)) {
      const provider = String(resource.provider ?? "default");
      const role = provider.replace(/^aws\./, "");
      counts[role] = (counts[role] ?? 0) + 1;
    }
  }
  return counts;
}
