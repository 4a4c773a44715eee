// Build only what a function uses: the deployed bundles load no AWS SDK package at init (each
// client loads on its first call), and the lazily built objects behave like the real ones.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lazy } from "../../functions/common/lazy";
import { bundleAll } from "../../infra/lib/bundle";
import { TEST_ENV } from "./payments/support/aws";
import { TOPOLOGY } from "./dr/support/fake-world";

const SDK_AT_INIT = `
require(process.argv[1]);
const loaded = new Set(Object.keys(require.cache).flatMap((f) => {
  const m = /node_modules\\/(@aws-sdk\\/[^/]+)\\//.exec(f); return m ? [m[1]] : [];
}));
process.stdout.write(JSON.stringify([...loaded].sort()));`;

describe("cold init of the deployed bundles", () => {
  let dist: string;
  beforeAll(() => {
    dist = mkdtempSync(join(tmpdir(), "cold-init-"));
  });
  afterAll(() => rmSync(dist, { recursive: true, force: true }));

  const sdkAtInit = (file: string, env: Record<string, string>): string[] =>
    JSON.parse(
      execFileSync(process.execPath, ["-e", SDK_AT_INIT, file], {
        env: {
          PATH: process.env.PATH,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
          ...env,
        },
        cwd: join(__dirname, "../.."),
        encoding: "utf8",
      }),
    ) as string[];

  it.each(["fence", "promote", "notify", "validate-input"])(
    "dr/%s loads no SDK client at init",
    (name) => {
      const bundle = bundleAll(["dr"], dist).find((b) => b.name === name)!;
      expect(
        sdkAtInit(join(bundle.outdir, "index.js"), {
          AWS_REGION: "us-west-2",
          DR_TOPOLOGY: JSON.stringify(TOPOLOGY),
          REPORT_WRITER_FUNCTION: "payments-report-writer-test",
          REPORT_BUCKET: "payments-dr-reports-usw2-test-x",
        }),
      ).toEqual([]);
    },
  );

  it.each(["authorize", "get-payment", "health", "list-payments", "expire-authorizations"])(
    "payments/%s loads no SDK client at init",
    (name) => {
      const bundle = bundleAll(["payments"], dist).find((b) => b.name === name)!;
      expect(sdkAtInit(join(bundle.outdir, "index.js"), { ...TEST_ENV })).toEqual([]);
    },
  );
});

describe("lazy()", () => {
  class Counter {
    count = 0;
    #secret = 41;
    bump(): number {
      this.count += 1;
      return this.#secret + this.count;
    }
  }

  it("builds once, on first use, and keeps methods bound to the built object", () => {
    let builds = 0;
    const counter = lazy(() => {
      builds += 1;
      return new Counter();
    });
    expect(builds).toBe(0);
    const bump = counter.bump;
    expect(bump()).toBe(42);
    expect(counter.bump()).toBe(43);
    expect(counter.count).toBe(2);
    expect(builds).toBe(1);
    expect(counter instanceof Counter).toBe(true);
  });

  it("does not build when nothing is used, and reports a failed build on each use", () => {
    let attempts = 0;
    const broken = lazy<Counter>(() => {
      attempts += 1;
      throw new Error("no region");
    });
    expect(attempts).toBe(0);
    expect(() => broken.bump()).toThrow("no region");
    expect(() => broken.bump()).toThrow("no region");
    expect(attempts).toBe(2);
  });
});
