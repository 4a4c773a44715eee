// The API key store as Terraform builds it: the synthesized variables (with their validation)
// and the api/keys expression, evaluated by the real terraform binary (no provider needed), and
// read back by the payment functions' own ApiKeyVerifier. Proves the hashes Terraform writes are
// the hashes the Lambda computes, and that bad key lists stop the plan.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DR_SYNTHETIC_MERCHANT } from "../../functions/common/contract";
import { ApiKeyVerifier } from "../../functions/payments/shared/api-keys";
import { API_KEY_STORE_EXPRESSION } from "../../infra/constructs/parameters";
import { terraformVersion } from "../../infra/lib/offline-plan";
import { synth } from "./helpers";

const version = terraformVersion();
const mustRun = process.env.CI === "true";
const tfIt = version || mustRun ? it : it.skip;

const KEY_A = "sk_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const KEY_B = "c2stbGl2ZS1iYmJiYmJiYmJiYmJiYmJiYmJiYg==";
const DR_KEY = "dr_verify_0123456789abcdef0123456789";

describe("the api/keys key store built by Terraform", () => {
  const { json } = synth();
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "api-key-store-"));
    writeFileSync(
      join(dir, "main.tf.json"),
      JSON.stringify({
        variable: {
          payments_api_keys: json.variable!.payments_api_keys,
          payments_dr_api_key: json.variable!.payments_dr_api_key,
        },
        output: { store: { value: API_KEY_STORE_EXPRESSION, sensitive: true } },
      }),
    );
    if (version)
      execFileSync("terraform", ["init", "-input=false", "-no-color"], { cwd: dir, stdio: "pipe" });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function apply(apiKeys: string, drKey = DR_KEY): { status: number | null; output: string } {
    const env = {
      ...process.env,
      TF_VAR_payments_api_keys: apiKeys,
      TF_VAR_payments_dr_api_key: drKey,
      TF_IN_AUTOMATION: "1",
    };
    const run = spawnSync(
      "terraform",
      ["apply", "-auto-approve", "-input=false", "-no-color", "-lock=false"],
      { cwd: dir, env, encoding: "utf8" },
    );
    if (run.status !== 0) return { status: run.status, output: `${run.stdout}${run.stderr}` };
    const out = execFileSync("terraform", ["output", "-raw", "store"], {
      cwd: dir,
      env,
      stdio: "pipe",
    });
    return { status: 0, output: out.toString() };
  }

  tfIt(
    "binds each key to its merchant and the DR key to the synthetic merchant, hashes only",
    async () => {
      const { status, output } = apply(`merchant-a:${KEY_A}, merchant-b:${KEY_B}`);

      expect(status).toBe(0);
      expect(output).not.toContain(KEY_A);
      expect(output).not.toContain(DR_KEY);
      const verifier = new ApiKeyVerifier(async () => output);
      await expect(verifier.verify(KEY_A)).resolves.toBe("merchant-a");
      await expect(verifier.verify(KEY_B)).resolves.toBe("merchant-b");
      await expect(verifier.verify(DR_KEY)).resolves.toBe(DR_SYNTHETIC_MERCHANT);
    },
  );

  tfIt.each([
    ["a key without its merchant", KEY_A, DR_KEY, "merchantId:key pairs"],
    ["a key shorter than 32 characters", "merchant-a:short-key", DR_KEY, "merchantId:key pairs"],
    ["a key with a character outside the key alphabet", `merchant-a:${KEY_A}!`, DR_KEY, "pairs"],
    [
      "a key bound to the synthetic merchant",
      `${DR_SYNTHETIC_MERCHANT}:${KEY_A}`,
      DR_KEY,
      "reserved for the DR verification",
    ],
    ["one key for two merchants", `m-1:${KEY_A},m-2:${KEY_A}`, DR_KEY, "must not repeat a key"],
    ["a DR key that is also a merchant key", `merchant-a:${KEY_A}`, KEY_A, "differ from every key"],
    ["a short DR key", `merchant-a:${KEY_A}`, "short", "payments_dr_api_key must be"],
  ])("rejects %s before anything is written", (_label, apiKeys, drKey, message) => {
    const { status, output } = apply(apiKeys, drKey);

    expect(status).not.toBe(0);
    expect(output.replace(/\s+/g, " ")).toContain(message);
  });
});
