// The bundle cache (infra/lib/bundle.ts): synth reuses bundles only when every input and build
// option is unchanged and each output is byte for byte what that build wrote. A bundle written
// by anything else (the benchmark once rebuilt them with other source-map settings, and the next
// plan showed code changes that were not real) is rebuilt.
import { buildSync } from "esbuild";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleAll, bundleFunction, discoverFunctions } from "../../infra/lib/bundle";

describe("bundle cache", () => {
  let dist: string;
  beforeEach(() => {
    dist = mkdtempSync(join(tmpdir(), "bundle-cache-"));
  });
  afterEach(() => rmSync(dist, { recursive: true, force: true }));

  const read = (b: { outdir: string }) => ({
    code: readFileSync(join(b.outdir, "index.js")),
    map: readFileSync(join(b.outdir, "index.js.map")),
  });

  it("reuses unchanged bundles without rebuilding them", () => {
    const [first] = bundleAll(["monitoring"], dist);
    const mtime = statSync(join(first!.outdir, "index.js")).mtimeMs;
    const [again] = bundleAll(["monitoring"], dist);
    expect(statSync(join(again!.outdir, "index.js")).mtimeMs).toBe(mtime);
  });

  it("rebuilds a bundle that another build rewrote with other options", () => {
    const [built] = bundleAll(["monitoring"], dist);
    const original = read(built!);
    // What the old benchmark did: the same entry, other source-map settings, same folder.
    const fn = discoverFunctions("monitoring")[0]!;
    buildSync({
      entryPoints: [fn.entry],
      outfile: join(built!.outdir, "index.js"),
      bundle: true,
      platform: "node",
      sourcemap: true,
      sourcesContent: true,
      external: ["@aws-sdk/*"],
      logLevel: "silent",
    });
    expect(read(built!).map.equals(original.map)).toBe(false);
    const [rebuilt] = bundleAll(["monitoring"], dist);
    expect(read(rebuilt!)).toEqual(original);
  });

  it("rebuilds a bundle edited by hand and one that went missing", () => {
    const [built] = bundleAll(["monitoring"], dist);
    const original = read(built!);
    writeFileSync(join(built!.outdir, "index.js"), "exports.handler = async () => 'patched';");
    expect(read(bundleAll(["monitoring"], dist)[0]!)).toEqual(original);
    rmSync(join(built!.outdir, "index.js.map"));
    expect(read(bundleAll(["monitoring"], dist)[0]!)).toEqual(original);
  });

  it("builds a single function with synth's exact options", () => {
    const [all] = bundleAll(["monitoring"], join(dist, "all"));
    const one = bundleFunction(discoverFunctions("monitoring")[0]!, join(dist, "one"));
    expect(read(one)).toEqual(read(all!));
  });
});
