import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  findProviderMirror,
  OfflinePlanError,
  planOffline,
  terraformVersion,
} from "../../infra/lib/offline-plan";
import { readStacks } from "../../infra/lib/synthesized";
import { runSynth } from "./synth-process";
import { FULL_ENV } from "./helpers";

const version = terraformVersion();
const mustRun = process.env.CI === "true";
if (!version && !mustRun) {
  console.warn(
    "skipping the offline terraform plan: terraform is not installed (under CI=true this fails)",
  );
}
const planIt = version || mustRun ? it : it.skip;

describe("offline plan against the real AWS provider", () => {
  it("rejects a TF_PLUGIN_DIR without the aws provider, naming the folder", () => {
    expect(() => findProviderMirror({ TF_PLUGIN_DIR: "/nonexistent-mirror" })).toThrow(
      OfflinePlanError,
    );
    expect(() => findProviderMirror({ TF_PLUGIN_DIR: "/nonexistent-mirror" })).toThrow(
      /TF_PLUGIN_DIR=\/nonexistent-mirror holds no registry.terraform.io\/hashicorp\/aws provider/,
    );
  });

  planIt(
    "plans every synthesized stack cleanly, with an S3 backend configured and no credentials",
    () => {
      expect(version).toBeDefined(); // under CI=true a missing terraform fails here
      const scratch = mkdtempSync(join(tmpdir(), "plan-test-"));
      try {
        const outdir = join(scratch, "cdktf.out");
        const synth = runSynth(
          { ...FULL_ENV, ENVIRONMENT_SUFFIX: "plan", TF_STATE_BUCKET: "acme-tf-state" },
          outdir,
        );
        expect(synth.status).toBe(0);
        const stacks = readStacks(outdir);
        expect(stacks.length).toBeGreaterThan(0);
        const mirror = findProviderMirror();
        for (const stack of stacks) {
          const result = planOffline(stack, { mirror });
          expect(result.summary).toMatch(/^Plan: \d+ to add, 0 to change, 0 to destroy\.$/);
        }
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    },
    180_000,
  );
});
