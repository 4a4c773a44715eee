import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { domainNotice } from "../../infra/synth";
import { targetsFor } from "../../infra/targets";
import { runSynth } from "./synth-process";

describe("npm run synth", () => {
  let outdir: string;
  beforeEach(() => {
    outdir = join(mkdtempSync(join(tmpdir(), "synth-cli-")), "cdktf.out");
  });
  afterEach(() => rmSync(join(outdir, ".."), { recursive: true, force: true }));

  it("fails with one line naming the variable, the value and what is allowed, writing nothing", () => {
    const result = runSynth({ ENVIRONMENT_SUFFIX: "BAD_ONE" }, outdir);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      'config error: ENVIRONMENT_SUFFIX="BAD_ONE" is not allowed: 2 to 8 lowercase letters or digits',
    );
    expect(existsSync(outdir)).toBe(false);
  });

  it("fails over the writer's connection budget with one line naming the numbers, writing nothing", () => {
    const result = runSynth({ PAYMENTS_RESERVED_CONCURRENCY: "120" }, outdir);
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(
      /^connection budget: connection budget exceeded on the writer in us-east-1: worst case 2020 connections, 743 over the safe share 1277/,
    );
    expect(existsSync(outdir)).toBe(false);
  });

  it("rejects identical regions before writing anything", () => {
    const result = runSynth({ PRIMARY_REGION: "us-east-1", SECONDARY_REGION: "us-east-1" }, outdir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("regions must differ for disaster recovery");
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(outdir)).toBe(false);
  });
});

describe("npm run targets", () => {
  it("lists exactly the resources of one region as -target flags", () => {
    const json = {
      resource: {
        aws_vpc: {
          "network-primary_vpc_1": { provider: "aws.primary" },
          "network-secondary_vpc_2": { provider: "aws.secondary" },
        },
        aws_route: { "peering_accepter-route-0_3": { provider: "aws.secondary" } },
      },
    };
    expect(targetsFor(json, "secondary")).toEqual([
      "-target=aws_vpc.network-secondary_vpc_2",
      "-target=aws_route.peering_accepter-route-0_3",
    ]);
  });
});

describe("npm run plan:offline without terraform", () => {
  it("fails plainly, saying terraform is missing", () => {
    const bin = mkdtempSync(join(tmpdir(), "no-terraform-"));
    try {
      // Only node on PATH: no terraform.
      symlinkSync(process.execPath, join(bin, "node"));
      const result = spawnSync(
        join(__dirname, "../../node_modules/.bin/tsx"),
        ["infra/plan-offline.ts"],
        {
          cwd: join(__dirname, "../.."),
          env: { PATH: bin, HOME: process.env.HOME },
          encoding: "utf8",
        },
      );
      expect(result.status).toBe(1);
      expect(result.stderr.trim()).toBe(
        "plan:offline needs terraform (>= 1.10) on PATH and found none: install it from https://developer.hashicorp.com/terraform/install",
      );
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});

describe("npm run rto / targets / plan:offline before a synth or for another suffix", () => {
  const TSX = join(__dirname, "../../node_modules/.bin/tsx");
  const ROOT = join(__dirname, "../..");
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "no-synth-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const script = (file: string, args: string[], env: Record<string, string> = {}) =>
    spawnSync(TSX, [file, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      encoding: "utf8",
    });

  it("fails with one sentence naming the cause and the command, not a stack trace", () => {
    const outdir = join(dir, "cdktf.out");
    const rto = script("infra/rto.ts", [outdir]);
    expect(rto.status).toBe(1);
    expect(rto.stderr.trim()).toBe(
      `rto: nothing synthesized in ${outdir}: run \`npm run synth\` first, with the same environment`,
    );
    const targets = script("infra/targets.ts", ["secondary", outdir]);
    expect(targets.status).toBe(1);
    expect(targets.stderr.trim()).toBe(
      `targets: nothing synthesized in ${outdir}: run \`npm run synth\` first, with the same environment`,
    );
  });

  it("names the stack it found and the synth to run when the suffix differs", () => {
    // What synth writes: the manifest naming the stack of the suffix it ran with.
    const outdir = join(dir, "cdktf.out");
    mkdirSync(join(outdir, "stacks", "payments-dr-dev"), { recursive: true });
    writeFileSync(
      join(outdir, "manifest.json"),
      JSON.stringify({
        stacks: {
          "payments-dr-dev": {
            synthesizedStackPath: "stacks/payments-dr-dev/cdk.tf.json",
            workingDirectory: "stacks/payments-dr-dev",
          },
        },
      }),
    );
    writeFileSync(join(outdir, "stacks", "payments-dr-dev", "cdk.tf.json"), "{}");
    const result = script("infra/rto.ts", [outdir], { ENVIRONMENT_SUFFIX: "prod" });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      `rto: ${outdir} holds payments-dr-dev, not payments-dr-prod (ENVIRONMENT_SUFFIX=prod): ` +
        "run `ENVIRONMENT_SUFFIX=prod npm run synth` first, or use the suffix you synthesized with",
    );
  });
});

describe("synth without DOMAIN_NAME", () => {
  it("says that no failover records are made and how to get them", () => {
    expect(domainNotice({ environmentSuffix: "dev" })).toBe(
      "note: DOMAIN_NAME is not set, so there is no hosted zone and no api.<domain> failover records " +
        "(the Route 53 health checks are still created): clients call each region's own API URL " +
        "(SSM /payments/dev/api/url) and a failover moves no DNS. Set DOMAIN_NAME=<your zone> to get them.",
    );
    expect(
      domainNotice({ environmentSuffix: "dev", domainName: "pay.acme-corp.com" }),
    ).toBeUndefined();
  });
});
