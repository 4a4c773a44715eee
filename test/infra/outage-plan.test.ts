// The outage procedure exactly as the README has on-call run it, with us-east-1 down: its
// provider's every request goes to a loopback port. Without the procedure's override the
// targeted plan stops at the failed region's STS; with it, the plan passes and not one
// connection is attempted.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo, Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  findProviderMirror,
  OfflinePlanError,
  planOffline,
  terraformVersion,
} from "../../infra/lib/offline-plan";
import {
  FAILED_REGION_OVERRIDE_FILE,
  NO_CALL_PROVIDER_SETTINGS,
  SURVIVING_TARGETS_FILE,
} from "../../infra/lib/outage";
import { readStacks } from "../../infra/lib/synthesized";
import { runSynth } from "./synth-process";

const ROOT = join(__dirname, "../..");
const planIt = terraformVersion() || process.env.CI === "true" ? it : it.skip;

/** A TCP listener that counts connection attempts and drops them. */
async function tripwire(): Promise<{ url: string; connections: () => number; close: () => void }> {
  let count = 0;
  const server: Server = createServer((socket) => {
    count += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, connections: () => count, close: () => server.close() };
}

/** A loopback port nothing listens on: connections are refused. */
async function refusingPort(): Promise<string> {
  const wire = await tripwire();
  wire.close();
  return wire.url;
}

/** The failed region's provider: every endpoint (through the proxy settings) at `url`. */
function deadRegion(url: string): object {
  return {
    access_key: "mock-access-key",
    secret_key: "mock-secret-key",
    https_proxy: url,
    http_proxy: url,
    ec2_metadata_service_endpoint: url,
    max_retries: 1,
  };
}

describe("applying the surviving region while us-east-1 is down", () => {
  let scratch: string;
  let outdir: string;
  let prepared: ReturnType<typeof spawnSync>;

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "outage-"));
    outdir = join(scratch, "cdktf.out");
    expect(runSynth({ ENVIRONMENT_SUFFIX: "out" }, outdir).status).toBe(0);
    prepared = spawnSync(
      join(ROOT, "node_modules/.bin/tsx"),
      ["infra/outage-plan.ts", "--failed-region", "us-east-1", "--outdir", outdir],
      { cwd: ROOT, encoding: "utf8" },
    );
  }, 60_000);
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("npm run outage-plan writes the failed region's override and the surviving targets, and says what to run", () => {
    expect(prepared.stderr).toBe("");
    expect(prepared.status).toBe(0);
    const [stack] = readStacks(outdir);
    expect(JSON.parse(readFileSync(join(stack!.dir, FAILED_REGION_OVERRIDE_FILE), "utf8"))).toEqual(
      { provider: { aws: [{ alias: "primary", ...NO_CALL_PROVIDER_SETTINGS }] } },
    );
    const targets = readFileSync(join(stack!.dir, SURVIVING_TARGETS_FILE), "utf8")
      .trim()
      .split("\n");
    expect(targets.length).toBeGreaterThan(100);
    for (const target of targets) {
      const address = target.replace(/^-target=/, "").split(".");
      const resource = stack!.json.resource?.[address[0]!]?.[address[1]!];
      expect(resource?.provider).toBe("aws.secondary");
    }
    expect(prepared.stdout).toContain(
      `terraform plan -refresh=false $(cat ${SURVIVING_TARGETS_FILE}) -out surviving.tfplan`,
    );
  });

  it("rejects a region the stack does not have, naming the ones it has", () => {
    const result = spawnSync(
      join(ROOT, "node_modules/.bin/tsx"),
      ["infra/outage-plan.ts", "--failed-region", "eu-west-1", "--outdir", outdir],
      { cwd: ROOT, encoding: "utf8" },
    );
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      '--failed-region must be one of the stack\'s regions (us-east-1, us-west-2), got "eu-west-1"',
    );
  });

  planIt(
    "fails as the old procedure did without the override: the failed region's STS is called",
    async () => {
      const [stack] = readStacks(outdir);
      const targets = readFileSync(join(stack!.dir, SURVIVING_TARGETS_FILE), "utf8").split("\n");
      const refused = await refusingPort();
      // One targeted resource is enough to configure both providers (it depends on the global
      // cluster in the failed region); `{}` stands in for the override file, as if never written.
      expect(() =>
        planOffline(stack!, {
          mirror: findProviderMirror(),
          providers: { primary: deadRegion(refused) },
          overrides: { [FAILED_REGION_OVERRIDE_FILE]: {} },
          planArgs: targets.filter((t) => t.includes("aws_rds_cluster.")),
        }),
      ).toThrow(/validating provider credentials: retrieving caller identity from STS/);
    },
    120_000,
  );

  planIt(
    "plans the surviving region with the override, without one connection to the failed region",
    async () => {
      const [stack] = readStacks(outdir);
      const targets = readFileSync(join(stack!.dir, SURVIVING_TARGETS_FILE), "utf8")
        .split("\n")
        .filter(Boolean);
      const wire = await tripwire();
      try {
        const result = planOffline(stack!, {
          mirror: findProviderMirror(),
          providers: { primary: deadRegion(wire.url) },
          planArgs: targets,
        });
        expect(result.summary).toMatch(/^Plan: \d+ to add, 0 to change, 0 to destroy\.$/);
        expect(wire.connections()).toBe(0);
      } catch (error) {
        if (error instanceof OfflinePlanError) {
          throw new Error(error.message.slice(0, 2000), { cause: error });
        }
        throw error;
      } finally {
        wire.close();
      }
    },
    120_000,
  );
});
