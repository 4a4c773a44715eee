import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import type { Config } from "../../infra/config";
import { loadConfig } from "../../infra/config";
import { ALL_OPTIONS_ENV } from "../../infra/lib/addresses";
import type { TerraformJson } from "../../infra/lib/synthesized";
import type * as SynthStack from "./synth-stack";

type SynthStackModule = typeof SynthStack;

export type Resource = Record<string, unknown> & { provider?: string };

export const FULL_ENV = {
  DOMAIN_NAME: "pay.acme-payments.io",
  ALERT_EMAIL: "oncall@acme-payments.io",
} as const;

/**
 * Every non-default setting the variation tests need, in one environment, so each test file
 * synthesizes it once instead of once per setting (the same one whose addresses are recorded).
 */
export const CUSTOM_ENV = ALL_OPTIONS_ENV;

export interface Synthesized {
  readonly config: Config;
  /** The synthesized stack as a JSON string, for the cdktf matchers. */
  readonly text: string;
  readonly json: TerraformJson;
}

const ROOT = join(__dirname, "../..");
const cache = new Map<string, Synthesized>();
let sources: string | undefined;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** A hash of everything synth reads: a cached stack is reused only while none of it changed. */
function sourcesHash(): string {
  if (sources) return sources;
  const hash = createHash("sha256");
  const files = ["infra", "functions", "state-machines", "runbooks"]
    .flatMap((d) => filesUnder(join(ROOT, d)))
    .filter((f) => !f.includes("__pycache__"));
  for (const file of [...files, join(ROOT, "package-lock.json")].sort()) {
    hash.update(relative(ROOT, file)).update(readFileSync(file));
  }
  sources = hash.digest("hex");
  return sources;
}

const SYNTH_CACHE = join(ROOT, "dist", "synth-cache");
const SYNTH_CACHE_MAX_AGE_MS = 24 * 3600 * 1000;

/** Removes cache files older than a day (they belong to sources since changed). */
function pruneSynthCache(dir: string): void {
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    try {
      if (now - statSync(path).mtimeMs > SYNTH_CACHE_MAX_AGE_MS) rmSync(path, { force: true });
    } catch {
      // A parallel worker removed or renamed it.
    }
  }
}

/**
 * Synthesizes the whole stack for `env`. Synth takes seconds and many test files need the same
 * few environments, so results are cached on disk, keyed by the environment and by the hash of
 * every source synth reads.
 */
export function synth(env: Record<string, string> = {}): Synthesized {
  const config = loadConfig(env); // bad input throws here, before any cache
  const key = createHash("sha256").update(JSON.stringify(env)).update(sourcesHash()).digest("hex");
  const cached = cache.get(key);
  if (cached) return cached;
  // In the checkout's dist/ (git-ignored), not the OS temp dir, where one file per source
  // change and environment piled up (~1.3 MB each) for every clone; files a day old go.
  const dir = SYNTH_CACHE;
  const file = join(dir, `${key}.json`);
  let text: string;
  if (existsSync(file)) {
    text = readFileSync(file, "utf8");
  } else {
    // Loaded only on a cache miss: the provider classes take seconds to load.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { synthStack } = require("./synth-stack") as SynthStackModule;
    text = synthStack(config);
    mkdirSync(dir, { recursive: true });
    pruneSynthCache(dir);
    const partial = `${file}.${process.pid}`;
    writeFileSync(partial, text);
    renameSync(partial, file); // atomic: a parallel worker never reads half a file
  }
  const result = { config, text, json: JSON.parse(text) as TerraformJson };
  cache.set(key, result);
  return result;
}

/** Resources of one Terraform type, by their logical name. */
export function resources(json: TerraformJson, type: string): Record<string, Resource> {
  return (json.resource?.[type] ?? {}) as Record<string, Resource>;
}

export function resourceList(json: TerraformJson, type: string): Resource[] {
  return Object.values(resources(json, type));
}

export function inRegion(list: Resource[], role: "primary" | "secondary"): Resource[] {
  return list.filter((r) => r.provider === `aws.${role}`);
}

/** The single resource of `type` whose logical name contains `fragment`. */
export function findResource(json: TerraformJson, type: string, fragment: string): Resource {
  const matches = Object.entries(resources(json, type)).filter(([name]) => name.includes(fragment));
  if (matches.length !== 1) {
    throw new Error(
      `expected one ${type} matching ${fragment}, found ${matches.map(([n]) => n).join(", ") || "none"}`,
    );
  }
  return matches[0]![1];
}

export type PolicyStatement = {
  sid?: string;
  /** @default "Allow" */
  effect?: string;
  actions?: string[];
  resources?: string[];
  principals?: Array<{ type: string; identifiers: string[] }>;
  condition?: Array<{ test: string; variable: string; values: string[] }>;
};

/** The statements of the single policy document whose logical name contains `fragment`. */
export function policyStatements(json: TerraformJson, fragment: string): PolicyStatement[] {
  const docs = Object.entries(json.data?.aws_iam_policy_document ?? {}).filter(([name]) =>
    name.includes(fragment),
  );
  if (docs.length !== 1) {
    throw new Error(
      `expected one policy document matching ${fragment}, found ${docs.map(([n]) => n).join(", ") || "none"}`,
    );
  }
  return docs[0]![1].statement as PolicyStatement[];
}
