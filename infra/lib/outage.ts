// Changing infrastructure while a region is down. Failover itself never needs Terraform, but an
// operator may have to apply the surviving region (a parameter, an alarm, a rebuilt secondary).
// Two things stop a plain targeted plan: refreshing would call the dead region, and every
// configured provider validates its credentials against STS in its own region before anything
// else ("validating provider credentials: retrieving caller identity from STS"), and the failed
// region's provider is configured as soon as one targeted resource depends on it (the secondary
// cluster depends on the global cluster). So the procedure is: -refresh=false, -target only the
// surviving region's resources, and an override file that tells the failed region's provider to
// skip every call it makes on its own (credential validation, the account id lookup, the region
// check and the metadata API). Pure: JSON in, JSON and text out.
import type { SynthesizedStack } from "./synthesized";

/** The override file `npm run outage-plan` writes beside the stack; delete it after the outage. */
export const FAILED_REGION_OVERRIDE_FILE = "failed_region_override.tf.json";
/** The -target flags of the surviving region's resources, one a line. */
export const SURVIVING_TARGETS_FILE = "surviving-targets.txt";

/** Provider settings under which the failed region's provider makes no call when configured. */
export const NO_CALL_PROVIDER_SETTINGS = {
  skip_credentials_validation: true,
  skip_requesting_account_id: true,
  skip_region_validation: true,
  skip_metadata_api_check: true,
} as const;

export class OutagePlanError extends Error {
  override name = "OutagePlanError";
}

export interface OutagePlan {
  readonly failedAlias: string;
  readonly survivingAlias: string;
  /** `-target=<address>` for every resource of the surviving region. */
  readonly targets: readonly string[];
  /** The content of FAILED_REGION_OVERRIDE_FILE. */
  readonly override: object;
}

interface ProviderBlock {
  readonly alias?: string;
  readonly region?: string;
}

export function outagePlan(stack: SynthesizedStack, failedRegion: string): OutagePlan {
  const providers = (stack.json.provider?.aws ?? []) as ProviderBlock[];
  const failed = providers.find((p) => p.region === failedRegion);
  const regions = providers.map((p) => p.region).filter(Boolean);
  if (!failed?.alias) {
    throw new OutagePlanError(
      `--failed-region must be one of the stack's regions (${regions.join(", ")}), got ${JSON.stringify(failedRegion)}`,
    );
  }
  const surviving = providers.find((p) => p.alias && p.alias !== failed.alias);
  if (!surviving?.alias) {
    throw new OutagePlanError(`stack ${stack.name} has no provider for a surviving region`);
  }
  const targets: string[] = [];
  for (const [type, resources] of Object.entries(stack.json.resource ?? {})) {
    for (const [name, resource] of Object.entries(resources)) {
      if (resource.provider === `aws.${surviving.alias}`) targets.push(`-target=${type}.${name}`);
    }
  }
  return {
    failedAlias: failed.alias,
    survivingAlias: surviving.alias,
    targets,
    override: { provider: { aws: [{ alias: failed.alias, ...NO_CALL_PROVIDER_SETTINGS }] } },
  };
}

/** What the operator runs next, in the stack's folder. */
export function outageCommands(stackDir: string): string[] {
  return [
    `cd ${stackDir}`,
    `terraform plan -refresh=false $(cat ${SURVIVING_TARGETS_FILE}) -out surviving.tfplan`,
    "terraform apply surviving.tfplan",
    `rm ${FAILED_REGION_OVERRIDE_FILE}   # once the region is back: it turns off that provider's checks`,
  ];
}
