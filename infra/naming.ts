// Pure naming rules: physical names, SSM paths and tags. Every physical name carries the
// environment suffix so that environments never collide and `terraform destroy` removes
// exactly what it created.

import type { RegionRole } from "./config";

/** AWS length limits of the physical names we set, by kind of resource. */
export const NAME_LIMITS = {
  alarm: 255,
  apiGateway: 128,
  backupPlan: 50,
  backupSelection: 50,
  backupVault: 50,
  dashboard: 255,
  dbClusterIdentifier: 63,
  dbInstanceIdentifier: 63,
  dbParameterGroup: 255,
  dbSubnetGroup: 255,
  dynamodbTable: 255,
  eventBus: 256,
  eventRule: 64,
  healthCheck: 255,
  iamPolicy: 128,
  iamRole: 64,
  kmsAlias: 256,
  lambdaFunction: 64,
  logGroup: 512,
  securityGroup: 255,
  snsTopic: 256,
  sqsQueue: 80,
  ssmDocument: 128,
  stateMachine: 80,
  xrayGroup: 32,
  /** S3 `bucket_prefix`: Terraform appends a unique suffix to reach a global bucket name. */
  s3BucketPrefix: 37,
  generic: 255,
} as const;

export type NameKind = keyof typeof NAME_LIMITS;

const REGION_CODES: Record<string, string> = {
  "us-east-1": "use1",
  "us-east-2": "use2",
  "us-west-1": "usw1",
  "us-west-2": "usw2",
};

/** A short, stable code for a region: us-east-1 -> use1, eu-central-1 -> euc1. */
export function regionCode(region: string): string {
  const known = REGION_CODES[region];
  if (known) return known;
  const [area, direction, number] = region.replace("-gov", "").split("-");
  return `${area}${direction![0]}${number}`;
}

export const APP_NAME = "payments";

/** The Terraform stack of one environment: `payments-dr-<suffix>` (cdktf.out/stacks/<name>). */
export function stackNameFor(suffix: string): string {
  return `payments-dr-${suffix}`;
}

/** The prober's physical name component: `payments-dr-prober-<suffix>`. */
export const PROBER_COMPONENT = "dr-prober";

export class Naming {
  constructor(readonly suffix: string) {}

  /**
   * `payments-<component>-<suffix>`, or `payments-<component>-<region code>-<suffix>` for
   * resources whose namespace spans both regions (IAM, Route 53) or that we want to tell apart
   * in a shared console. Throws when the name exceeds the AWS limit for its kind.
   */
  name(kind: NameKind, component: string, region?: string): string {
    if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(component)) {
      throw new Error(`name component must be kebab-case, got ${JSON.stringify(component)}`);
    }
    const parts = [APP_NAME, component, ...(region ? [regionCode(region)] : []), this.suffix];
    const name = parts.join("-");
    const limit = NAME_LIMITS[kind];
    if (name.length > limit) {
      throw new Error(`${kind} name ${name} is ${name.length} characters, the limit is ${limit}`);
    }
    return name;
  }

  /**
   * `payments-<component>-<region code>-<suffix>-`: an S3 bucket name prefix. Bucket names are
   * global across every AWS account, so Terraform completes it with a unique suffix.
   */
  bucketPrefix(component: string, region: string): string {
    const prefix = `${this.name("generic", component, region)}-`;
    if (prefix.length > NAME_LIMITS.s3BucketPrefix) {
      throw new Error(
        `s3BucketPrefix name ${prefix} is ${prefix.length} characters, the limit is ${NAME_LIMITS.s3BucketPrefix}`,
      );
    }
    return prefix;
  }

  /** SSM parameter path: `/payments/<suffix>/<component>/<key>`. */
  parameter(component: string, key?: string): string {
    return ["", APP_NAME, this.suffix, component, ...(key ? [key] : [])].join("/");
  }

  /** `/payments/<suffix>`: what the functions get as PARAMETER_PREFIX. */
  get parameterPrefix(): string {
    return `/${APP_NAME}/${this.suffix}`;
  }

  /** KMS alias: `alias/payments-<component>-<suffix>`. */
  kmsAlias(component: string): string {
    const alias = `alias/${this.name("kmsAlias", component)}`;
    return alias;
  }

  /** Default tags applied by each region's provider. */
  tags(role: RegionRole): Record<string, string> {
    return {
      app: "payments-dr",
      environment: this.suffix,
      "region-role": role,
      "managed-by": "cdktf",
    };
  }
}
