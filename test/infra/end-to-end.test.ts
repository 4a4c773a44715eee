// The commands as a user runs them, on one synthesized stack: npm run synth, npm run rto and
// npm run plan:offline (init, validate and plan against the real AWS provider, offline).
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  findProviderMirror,
  OfflinePlanError,
  planOffline,
  terraformVersion,
} from "../../infra/lib/offline-plan";
import { readStacks } from "../../infra/lib/synthesized";
import { FULL_ENV } from "./helpers";
import { runRto, runSynth } from "./synth-process";

const version = terraformVersion();
const mustRun = process.env.CI === "true";
if (!version && !mustRun) {
  console.warn(
    "skipping the offline terraform plan: terraform is not installed (under CI=true this fails)",
  );
}
const planIt = version || mustRun ? it : it.skip;

describe("the commands on a synthesized stack", () => {
  // Every optional resource on (domain, email, global endpoint, Config rules, S3 backend), so
  // the plan covers all of them; automatic mode keeps the default RTO budget.
  const env = {
    ...FULL_ENV,
    ENVIRONMENT_SUFFIX: "e2e",
    EVENTS_GLOBAL_ENDPOINT: "true",
    DR_READINESS_RULES: "true",
    TF_STATE_BUCKET: "acme-tf-state",
  };
  let scratch: string;
  let outdir: string;
  let synthOutput: string;

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "e2e-"));
    outdir = join(scratch, "cdktf.out");
    const result = runSynth(env, outdir);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    synthOutput = result.stdout;
  }, 60_000);
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("npm run synth writes the stack and prints resource counts per region", () => {
    expect(synthOutput).toMatch(
      /stack payments-dr-e2e: primary \(us-east-1\) \d+, secondary \(us-west-2\) \d+ resources/,
    );
    expect(readdirSync(join(outdir, "stacks"))).toEqual(["payments-dr-e2e"]);
    // A domain is set here, so no notice about missing failover records (test/infra/cli.test.ts).
    expect(synthOutput).not.toContain("DOMAIN_NAME is not set");
    expect(existsSync(join(outdir, "stacks", "payments-dr-e2e", "cdk.tf.json"))).toBe(true);
  });

  it("npm run rto prints each phase and passes within the targets", () => {
    const result = runRto(env, outdir);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    // Expected and bound (infra/lib/rto.ts): expected with the documented typical timings, bound
    // with every task at its timeout and every workflow bound reached.
    expect(result.stdout).toMatch(/detection +38 s +43 s/);
    expect(result.stdout).toMatch(
      /dns +0 s +90 s +health check 3 x 10 s \+ alias TTL 60 s = 90 s from the proof/,
    );
    // 3058 s before the flood veto's hold was counted: + 8 x (HoldWait 15 s + Preflight 12 s).
    expect(result.stdout).toMatch(/decision +6 s +351 s .*\+ 216 s a held alarm's hold/);
    expect(result.stdout).toMatch(/total +227 s +3274 s/);
    expect(result.stdout).toContain(
      "held, then paged (a flood veto that outlasts its hold): about 655 s",
    );
    expect(result.stdout).toContain("expected 227 s, target 900 s: met; goal 180 s: missed");
    expect(result.stdout).toContain("RPO bound: 60 s");
  });

  it("npm run rto fails when the expected RTO exceeds the target", () => {
    const result = runRto({ ...env, RTO_TARGET_SECONDS: "120" }, outdir);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("target 120 s: EXCEEDED");
  });

  it("rejects a TF_PLUGIN_DIR without the aws provider, naming the folder", () => {
    expect(() => findProviderMirror({ TF_PLUGIN_DIR: "/nonexistent-mirror" })).toThrow(
      OfflinePlanError,
    );
    expect(() => findProviderMirror({ TF_PLUGIN_DIR: "/nonexistent-mirror" })).toThrow(
      /TF_PLUGIN_DIR=\/nonexistent-mirror holds no registry.terraform.io\/hashicorp\/aws provider/,
    );
  });

  planIt(
    "npm run plan:offline plans every stack cleanly, with an S3 backend configured and no credentials",
    () => {
      expect(version).toBeDefined(); // under CI=true a missing terraform fails here
      const stacks = readStacks(outdir);
      expect(stacks.length).toBeGreaterThan(0);
      const mirror = findProviderMirror();
      for (const stack of stacks) {
        const result = planOffline(stack, { mirror });
        expect(result.summary).toMatch(/^Plan: \d+ to add, 0 to change, 0 to destroy\.$/);
        // Every resource the stack declares is planned for creation, IAM roles and their policies
        // included, each validated against the real provider's schema (the reconciler's role and
        // policy of issue 16 among them; their documents come from data sources that read at
        // apply when they name resources still to be created, so plan cannot judge their text).
        const declared = Object.entries(stack.json.resource ?? {}).flatMap(([type, byName]) =>
          Object.keys(byName).map((name) => `${type}.${name}`),
        );
        expect(result.created).toHaveLength(Number(/(\d+) to add/.exec(result.summary)![1]));
        expect([...result.created].sort()).toEqual(declared.sort());
        const iam = result.created.filter((a) => /^aws_iam_role(_policy)?\./.test(a));
        expect(iam.length).toBeGreaterThan(10);
        expect(iam).toEqual(
          expect.arrayContaining([
            expect.stringMatching(/^aws_iam_role\.reconcile_reconciler_[0-9A-F]{8}$/),
            expect.stringMatching(/^aws_iam_role_policy\.reconcile_reconciler-policy_[0-9A-F]{8}$/),
          ]),
        );
      }
    },
    180_000,
  );
});
