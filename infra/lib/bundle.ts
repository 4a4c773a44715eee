// Bundles each Lambda handler with esbuild into one minified file with a source map.
// Used by synth (to build the Lambda assets) and by the benchmarks (bundle size, cold init).
//
// The AWS SDK v3 is not bundled: every Node.js Lambda runtime ships it (as AWS CDK's
// NodejsFunction assumes by default), so bundles stay small, build in about a second, and start
// faster. Everything else (Powertools, pg, our code) is bundled and pinned by the lock file.
import type { BuildOptions } from "esbuild";
import { buildSync } from "esbuild";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

export const ROOT = join(__dirname, "../..");
export const DIST = join(ROOT, "dist", "functions");

/** Provided by the Lambda runtime, or never loaded. */
export const EXTERNAL_MODULES = ["@aws-sdk/*", "pg-native"];

export interface FunctionEntry {
  /** "payments", "dr" or "monitoring" (FUNCTION_GROUPS). */
  readonly group: string;
  /** Folder name, e.g. "authorize". */
  readonly name: string;
  /** Absolute path of the handler source. */
  readonly entry: string;
}

export interface Bundle extends FunctionEntry {
  /** Folder holding index.js and index.js.map, zipped as the Lambda asset. */
  readonly outdir: string;
  readonly bytes: number;
}

/** Every `functions/<group>/<name>/handler.ts`. */
export function discoverFunctions(group: string): FunctionEntry[] {
  const base = join(ROOT, "functions", group);
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .filter((name) => existsSync(join(base, name, "handler.ts")))
    .sort()
    .map((name) => ({ group, name, entry: join(base, name, "handler.ts") }));
}

const OPTIONS: BuildOptions = {
  bundle: true,
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  platform: "node",
  target: "node22",
  format: "cjs",
  external: EXTERNAL_MODULES,
  legalComments: "none",
  logLevel: "error",
};

function output(fn: FunctionEntry, distRoot: string): Bundle {
  const outdir = join(distRoot, fn.group, fn.name);
  return { ...fn, outdir, bytes: statSync(join(outdir, "index.js")).size };
}

/** Bundles one handler into dist/functions/<group>/<name>/index.js (CommonJS, node22). */
export function bundleFunction(fn: FunctionEntry, distRoot = DIST): Bundle {
  const outdir = join(distRoot, fn.group, fn.name);
  mkdirSync(outdir, { recursive: true });
  buildSync({
    ...OPTIONS,
    entryPoints: [fn.entry],
    outfile: join(outdir, "index.js"),
    sourceRoot: relative(outdir, ROOT),
  });
  return output(fn, distRoot);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** A hash of everything a bundle depends on: our sources, the lock file and the options. */
function inputsHash(): string {
  const hash = createHash("sha256").update(JSON.stringify(OPTIONS));
  for (const file of [
    ...filesUnder(join(ROOT, "functions")),
    join(ROOT, "package-lock.json"),
  ].sort()) {
    hash.update(relative(ROOT, file)).update(readFileSync(file));
  }
  return hash.digest("hex");
}

/**
 * Bundles every handler of `groups` in one esbuild run (shared modules are parsed once), or
 * reuses the previous run's bundles when no input changed.
 */
export function bundleAll(groups: readonly string[], distRoot = DIST): Bundle[] {
  const entries = groups.flatMap(discoverFunctions);
  const stamp = join(distRoot, "inputs.sha256");
  const hash = inputsHash();
  const fresh =
    existsSync(stamp) &&
    readFileSync(stamp, "utf8") === hash &&
    entries.every((fn) => existsSync(join(distRoot, fn.group, fn.name, "index.js")));
  if (!fresh) {
    mkdirSync(distRoot, { recursive: true });
    buildSync({
      ...OPTIONS,
      entryPoints: Object.fromEntries(
        entries.map((fn) => [`${fn.group}/${fn.name}/index`, fn.entry]),
      ),
      outdir: distRoot,
    });
    writeFileSync(stamp, hash);
  }
  return entries.map((fn) => output(fn, distRoot));
}
