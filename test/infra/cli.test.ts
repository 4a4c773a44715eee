import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
