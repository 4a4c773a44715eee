// Bundles each Lambda handler with esbuild into one minified file with a source map.
// Used by synth (to build the Lambda assets) and by the benchmarks (bundle size, cold init).
import { buildSync } from "esbuild";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

export const ROOT = join(__dirname, "../..");
export const DIST = join(ROOT, "dist", "functions");

export interface FunctionEntry {
  /** "payments" or "dr". */
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

/** Bundles one handler into dist/functions/<group>/<name>/index.js (CommonJS, node22). */
export function bundleFunction(fn: FunctionEntry, distRoot = DIST): Bundle {
  const outdir = join(distRoot, fn.group, fn.name);
  mkdirSync(outdir, { recursive: true });
  buildSync({
    entryPoints: [fn.entry],
    outfile: join(outdir, "index.js"),
    bundle: true,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    platform: "node",
    target: "node22",
    format: "cjs",
    // pg's optional native binding is never used.
    external: ["pg-native"],
    legalComments: "none",
    logLevel: "error",
    sourceRoot: relative(outdir, ROOT),
  });
  return { ...fn, outdir, bytes: statSync(join(outdir, "index.js")).size };
}
