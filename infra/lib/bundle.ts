// Bundles each Lambda handler with esbuild into one minified file with a source map.
// Used by synth (to build the Lambda assets) and by the benchmarks (bundle size, cold init).
//
// The AWS SDK v3 is not bundled: every Node.js Lambda runtime ships it (as AWS CDK's
// NodejsFunction assumes by default), so bundles stay small, build in about a second, and start
// faster. Everything else (Powertools, pg, our code) is bundled and pinned by the lock file.
import type { BuildOptions } from "esbuild";
import { buildSync, version as esbuildVersion } from "esbuild";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

export const ROOT = join(__dirname, "../..");
export const DIST = join(ROOT, "dist", "functions");

/**
 * Provided by the Lambda runtime, or never loaded. The runtime's SDK is its service clients and
 * libraries and what they depend on; the RDS signer utility (@aws-sdk/rds-signer) is not listed
 * among them, so it is bundled, with the credential chain it imports.
 */
export const EXTERNAL_MODULES = ["@aws-sdk/client-*", "@aws-sdk/lib-*", "pg-native"];

/**
 * Packages shipped beside the bundle rather than inside it: each is built into its own file at
 * `node_modules/<package>/index.js` in the function's folder, where Node's resolution finds it
 * first (a function's folder is /var/task in Lambda), for the functions whose code requires it.
 * Why: the RDS signer and the credential chain it brings are two thirds of a payment bundle
 * (~400 of ~570 KB) but run only when a connection opens. Inside the bundle, V8 parses that
 * text at every cold start all the same (npm run bench:cold-init: ~30 ms of the ~65 ms CPU of
 * authorize's init); in a file of its own it is read on the first connection, after init.
 */
export const VENDORED_MODULES = ["@aws-sdk/rds-signer"] as const;

/** A vendored module's file, relative to the function's folder. */
export const vendoredFile = (module: string) => `node_modules/${module}/index.js`;

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
  /** Size of index.js (what loads at init). */
  readonly bytes: number;
  /** Every file of the asset, relative to outdir: index.js, its map, vendored modules. */
  readonly files: readonly string[];
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
  external: [...EXTERNAL_MODULES, ...VENDORED_MODULES],
  legalComments: "none",
  logLevel: "error",
};

/** The vendored modules a bundle requires (read from its code). */
function vendoredBy(code: string): string[] {
  return VENDORED_MODULES.filter(
    (m) => code.includes(`require("${m}")`) || code.includes(`import("${m}")`),
  );
}

/** What a function's folder holds: its bundle, the map, and each vendored module with its map. */
function filesOf(outdir: string): string[] {
  const main = join(outdir, "index.js");
  const vendored = existsSync(main) ? vendoredBy(readFileSync(main, "utf8")) : [];
  return [
    "index.js",
    "index.js.map",
    ...vendored.flatMap((m) => [vendoredFile(m), `${vendoredFile(m)}.map`]),
  ];
}

function output(fn: FunctionEntry, distRoot: string): Bundle {
  const outdir = join(distRoot, fn.group, fn.name);
  return {
    ...fn,
    outdir,
    bytes: statSync(join(outdir, "index.js")).size,
    files: filesOf(outdir),
  };
}

/**
 * Builds each vendored module once (same options as the bundles, one file per module) and
 * writes it into the folder of every function that requires it.
 */
function writeVendored(entries: readonly FunctionEntry[], distRoot: string): void {
  const built = new Map<string, { js: Uint8Array; map: Uint8Array }>();
  for (const fn of entries) {
    const outdir = join(distRoot, fn.group, fn.name);
    for (const module of vendoredBy(readFileSync(join(outdir, "index.js"), "utf8"))) {
      let files = built.get(module);
      if (!files) {
        const result = buildSync({
          ...OPTIONS,
          external: EXTERNAL_MODULES,
          entryPoints: [require.resolve(module, { paths: [ROOT] })],
          outfile: join(distRoot, "vendored", vendoredFile(module)),
          write: false,
        });
        const js = result.outputFiles.find((f) => f.path.endsWith(".js"))!.contents;
        const map = result.outputFiles.find((f) => f.path.endsWith(".js.map"))!.contents;
        files = { js, map };
        built.set(module, files);
      }
      const file = join(outdir, vendoredFile(module));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, files.js);
      writeFileSync(`${file}.map`, files.map);
    }
  }
}

/**
 * Bundles one handler into <distRoot>/<group>/<name>/ with exactly the options synth uses (it
 * goes through bundleAll, so it shares its cache and cannot leave a differently built bundle
 * behind for synth to pick up).
 */
export function bundleFunction(fn: FunctionEntry, distRoot = DIST): Bundle {
  return bundleAll([fn.group], distRoot).find((b) => b.name === fn.name && b.group === fn.group)!;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** The complete esbuild options of one bundleAll run: the part of the cache key we choose. */
function buildOptions(entries: readonly FunctionEntry[], distRoot: string): BuildOptions {
  return {
    ...OPTIONS,
    entryPoints: Object.fromEntries(
      entries.map((fn) => [`${fn.group}/${fn.name}/index`, fn.entry]),
    ),
    outdir: distRoot,
  };
}

/**
 * A hash of everything a bundle depends on: every build option (entry points and output layout
 * included), the esbuild version, our sources and the lock file.
 */
function inputsHash(options: BuildOptions, distRoot: string): string {
  const hash = createHash("sha256")
    .update(JSON.stringify({ ...options, outdir: relative(distRoot, String(options.outdir)) }))
    .update(esbuildVersion);
  for (const file of [
    ...filesUnder(join(ROOT, "functions")),
    join(ROOT, "package-lock.json"),
  ].sort()) {
    hash.update(relative(ROOT, file)).update(readFileSync(file));
  }
  return hash.digest("hex");
}

/** Every file a bundleAll run writes, with the sha256 of its content. */
function outputHashes(
  entries: readonly FunctionEntry[],
  distRoot: string,
): Record<string, string> | null {
  const hashes: Record<string, string> = {};
  for (const fn of entries) {
    const outdir = join(distRoot, fn.group, fn.name);
    for (const file of filesOf(outdir)) {
      const path = join(outdir, file);
      if (!existsSync(path)) return null;
      hashes[relative(distRoot, path)] = createHash("sha256")
        .update(readFileSync(path))
        .digest("hex");
    }
  }
  return hashes;
}

interface Stamp {
  readonly inputs: string;
  readonly outputs: Record<string, string>;
}

function readStamp(path: string): Stamp | null {
  try {
    const stamp = JSON.parse(readFileSync(path, "utf8")) as Stamp;
    return typeof stamp.inputs === "string" && typeof stamp.outputs === "object" ? stamp : null;
  } catch {
    return null;
  }
}

/**
 * Bundles every handler of `groups` in one esbuild run (shared modules are parsed once), or
 * reuses the previous run's bundles when no input and no option changed and every output is
 * byte for byte what that run wrote (a bundle rewritten by anything else is rebuilt, so synth
 * never deploys code it did not build).
 */
export function bundleAll(groups: readonly string[], distRoot = DIST): Bundle[] {
  const entries = groups.flatMap(discoverFunctions);
  const options = buildOptions(entries, distRoot);
  const stampPath = join(distRoot, `inputs-${groups.join("-")}.json`);
  const inputs = inputsHash(options, distRoot);
  const stamp = readStamp(stampPath);
  const current = outputHashes(entries, distRoot);
  const fresh =
    stamp !== null &&
    stamp.inputs === inputs &&
    current !== null &&
    Object.keys(current).length === Object.keys(stamp.outputs).length &&
    Object.entries(current).every(([file, hash]) => stamp.outputs[file] === hash);
  if (!fresh) {
    mkdirSync(distRoot, { recursive: true });
    buildSync(options);
    writeVendored(entries, distRoot);
    writeFileSync(
      stampPath,
      JSON.stringify({ inputs, outputs: outputHashes(entries, distRoot) }, null, 1),
    );
  }
  return entries.map((fn) => output(fn, distRoot));
}
