import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { LocalBackend, S3Backend, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { Config, RegionConfig, RegionRole } from "../config";
import { PlatformKey } from "../constructs/keys";
import { Network } from "../constructs/network";
import { Peering } from "../constructs/peering";
import { Naming } from "../naming";

export interface PaymentsDrStackProps {
  readonly config: Config;
}

/** What each region contributes, built once per region by the same constructs. */
export interface RegionalParts {
  readonly role: RegionRole;
  readonly config: RegionConfig;
  readonly provider: AwsProvider;
  readonly key: PlatformKey;
  readonly network: Network;
}

/**
 * One stack per environment holding both regions through two aliased providers, so one plan
 * shows the whole system and cross-region references stay typed. The failover path itself
 * never needs Terraform.
 */
export class PaymentsDrStack extends TerraformStack {
  public readonly naming: Naming;
  public readonly primary: RegionalParts;
  public readonly secondary: RegionalParts;

  constructor(scope: Construct, id: string, props: PaymentsDrStackProps) {
    super(scope, id);
    const { config } = props;
    this.naming = new Naming(config.environmentSuffix);

    if (config.stateBackend) {
      const backend = new S3Backend(this, {
        bucket: config.stateBackend.bucket,
        key: config.stateBackend.key,
        region: config.stateBackend.region,
        encrypt: true,
      });
      // S3-native locking (Terraform >= 1.10); the cdktf type predates the option.
      backend.addOverride("use_lockfile", true);
    } else {
      new LocalBackend(this, { path: `terraform.${id}.tfstate` });
    }

    const regional = (region: RegionConfig, peer: RegionConfig): RegionalParts => {
      const provider = new AwsProvider(this, `aws-${region.role}`, {
        alias: region.role,
        region: region.region,
        defaultTags: [{ tags: this.naming.tags(region.role) }],
      });
      const key = new PlatformKey(this, `platform-key-${region.role}`, {
        provider,
        naming: this.naming,
        region: region.region,
      });
      const network = new Network(this, `network-${region.role}`, {
        provider,
        naming: this.naming,
        region,
        peerCidr: peer.vpcCidr,
        key,
        logRetentionDays: config.logRetentionDays,
        natGateways: config.natGateways,
      });
      return { role: region.role, config: region, provider, key, network };
    };
    this.primary = regional(config.primary, config.secondary);
    this.secondary = regional(config.secondary, config.primary);

    new Peering(this, "peering", {
      naming: this.naming,
      requester: {
        provider: this.primary.provider,
        network: this.primary.network,
        region: config.primary.region,
      },
      accepter: {
        provider: this.secondary.provider,
        network: this.secondary.network,
        region: config.secondary.region,
      },
    });
  }
}
