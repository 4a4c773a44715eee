import { existsSync, mkdtempSync, rmSync } from "node:fs";
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
