// Build only what a function uses: the deployed bundles load no AWS SDK package at init (each
// client loads on its first call), and the lazily built objects behave like the real ones.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPORTS_ENV } from "../../functions/common/contract";
import { lazy, once } from "../../functions/common/lazy";
import { bundleAll, vendoredFile } from "../../infra/lib/bundle";
import { TARGETS } from "../reports/support/samples";
import { TEST_ENV } from "./payments/support/aws";
import { TOPOLOGY } from "./dr/support/fake-world";
import { SETTINGS } from "./monitoring/support/aws-readiness-world";

const REPORT_ENV = {
  AWS_REGION: "us-west-2",
  [REPORTS_ENV.environmentSuffix]: "test",
  [REPORTS_ENV.bucket]: "payments-dr-reports-usw2-test",
  [REPORTS_ENV.ledgerTable]: "payments-dr-ledger-test",
  [REPORTS_ENV.targets]: JSON.stringify({ default: TARGETS }),
};

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

  it.each(["writer", "drill-watch", "ledger-widget"])(
    "reports/%s loads no SDK client at init",
    (name) => {
      const bundle = bundleAll(["reports"], dist).find((b) => b.name === name)!;
      expect(sdkAtInit(join(bundle.outdir, "index.js"), REPORT_ENV)).toEqual([]);
    },
  );

  it("drills/restore-check and monitoring/readiness load no SDK client at init", () => {
    const restore = bundleAll(["drills"], dist).find((b) => b.name === "restore-check")!;
    expect(sdkAtInit(join(restore.outdir, "index.js"), { ...REPORT_ENV, ...TEST_ENV })).toEqual([]);
    const readiness = bundleAll(["monitoring"], dist).find((b) => b.name === "readiness")!;
    expect(
      sdkAtInit(join(readiness.outdir, "index.js"), {
        AWS_REGION: "us-west-2",
        DR_TOPOLOGY: JSON.stringify(TOPOLOGY),
        READINESS_SETTINGS: JSON.stringify(SETTINGS),
      }),
    ).toEqual([]);
  });

  it("ships the RDS signer beside a payment bundle, self-contained, and only where it is used", () => {
    const bundles = bundleAll(["payments"], dist);
    const authorize = bundles.find((b) => b.name === "authorize")!;
    const signer = vendoredFile("@aws-sdk/rds-signer");
    expect(authorize.files).toEqual(
      expect.arrayContaining(["index.js", "index.js.map", signer, `${signer}.map`]),
    );
    // Not inside the bundle: its text is not parsed at init.
    expect(readFileSync(join(authorize.outdir, "index.js"), "utf8")).not.toContain(
      "X-Amz-Algorithm",
    );
    // The authorizer opens no database connection: nothing beside it.
    const authorizer = bundles.find((b) => b.name === "authorizer")!;
    expect(authorizer.files).toEqual(["index.js", "index.js.map"]);
    expect(existsSync(join(authorizer.outdir, "node_modules"))).toBe(false);
    // Copied where no node_modules of this checkout is reachable (as /var/task), the bundle's
    // own import finds the vendored signer, which signs a token with nothing else installed.
    const task = mkdtempSync(join(tmpdir(), "cold-init-task-"));
    try {
      cpSync(authorize.outdir, task, { recursive: true });
      const token = execFileSync(
        process.execPath,
        [
          "-e",
          `import("@aws-sdk/rds-signer").then(({ Signer }) => new Signer({ hostname: "db.cluster-x.us-east-1.rds.amazonaws.com", port: 5432, username: "payments_app", region: "us-east-1", credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } }).getAuthToken()).then((t) => process.stdout.write(t))`,
        ],
        { cwd: task, env: { PATH: process.env.PATH }, encoding: "utf8" },
      );
      expect(token).toMatch(
        /^db\.cluster-x\.us-east-1\.rds\.amazonaws\.com:5432\/\?Action=connect&DBUser=payments_app&X-Amz-Algorithm=AWS4-HMAC-SHA256&/,
      );
    } finally {
      rmSync(task, { recursive: true, force: true });
    }
  });
});

describe("once()", () => {
  it("loads on the first call only and returns the same value after", () => {
    let loads = 0;
    const value = once(() => ({ n: ++loads }));
    expect(loads).toBe(0);
    expect(value()).toBe(value());
    expect(loads).toBe(1);
  });
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
