import { Testing } from "cdktf";
import type { Config } from "../../infra/config";
import { loadConfig } from "../../infra/config";
import type { TerraformJson } from "../../infra/lib/synthesized";
import { stackName } from "../../infra/main";
import { PaymentsDrStack } from "../../infra/stacks/payments-dr-stack";

export type Resource = Record<string, unknown> & { provider?: string };

export const FULL_ENV = {
  DOMAIN_NAME: "pay.acme-payments.io",
  ALERT_EMAIL: "oncall@acme-payments.io",
} as const;

export interface Synthesized {
  readonly config: Config;
  /** The synthesized stack as a JSON string, for the cdktf matchers. */
  readonly text: string;
  readonly json: TerraformJson;
}

const cache = new Map<string, Synthesized>();

/** Synthesizes the whole stack for `env` (cached per env within a test file). */
export function synth(env: Record<string, string> = {}): Synthesized {
  const key = JSON.stringify(env);
  const cached = cache.get(key);
  if (cached) return cached;
  const config = loadConfig(env);
  const app = Testing.app();
  const stack = new PaymentsDrStack(app, stackName(config), { config });
  const text = Testing.synth(stack);
  const result = { config, text, json: JSON.parse(text) as TerraformJson };
  cache.set(key, result);
  return result;
}

/** Resources of one Terraform type, by their logical name. */
export function resources(json: TerraformJson, type: string): Record<string, Resource> {
  return (json.resource?.[type] ?? {}) as Record<string, Resource>;
}

export function resourceList(json: TerraformJson, type: string): Resource[] {
  return Object.values(resources(json, type));
}

export function inRegion(list: Resource[], role: "primary" | "secondary"): Resource[] {
  return list.filter((r) => r.provider === `aws.${role}`);
}

/** The single resource of `type` whose logical name contains `fragment`. */
export function findResource(json: TerraformJson, type: string, fragment: string): Resource {
  const matches = Object.entries(resources(json, type)).filter(([name]) => name.includes(fragment));
  if (matches.length !== 1) {
    throw new Error(
      `expected one ${type} matching ${fragment}, found ${matches.map(([n]) => n).join(", ") || "none"}`,
    );
  }
  return matches[0]![1];
}
