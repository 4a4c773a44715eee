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

/** Every stack in a cdktf output folder, from its manifest. */
export function readStacks(outdir: string): SynthesizedStack[] {
  const manifestPath = join(outdir, "manifest.json");
  if (!existsSync(manifestPath)) {
    throw new Error(`no synthesized stacks in ${outdir}: run npm run synth first`);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
    stacks: Record<string, { synthesizedStackPath: string; workingDirectory: string }>;
  };
  return Object.entries(manifest.stacks).map(([name, stack]) => ({
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
