import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import {
  Fn,
  LocalBackend,
  S3Backend,
  TerraformOutput,
  TerraformStack,
  TerraformVariable,
} from "cdktf";
import type { Construct } from "constructs";
import { PARAMETERS } from "../../functions/shared/contract";
import type { Config, RegionConfig, RegionRole } from "../config";
import { Backup } from "../constructs/backup";
import { GlobalDatabase } from "../constructs/database";
import type { RegionalCluster } from "../constructs/database";
import { PlatformKey } from "../constructs/keys";
import { Network } from "../constructs/network";
import type { ParameterValue } from "../constructs/parameters";
import { RegionalParameters } from "../constructs/parameters";
import { Peering } from "../constructs/peering";
import { GlobalTables } from "../constructs/tables";
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
  public readonly database: GlobalDatabase;
  public readonly tables: GlobalTables;
  public readonly backup: Backup;
  public readonly parameters: Record<RegionRole, RegionalParameters>;

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

    const masterPassword = new TerraformVariable(this, "db_master_password", {
      type: "string",
      sensitive: true,
      nullable: false,
      description:
        'Aurora master password (8-128 printable ASCII, no / " @ or space). Set TF_VAR_db_master_password; never commit it.',
      validation: [
        {
          condition:
            '${length(var.db_master_password) >= 16 && length(var.db_master_password) <= 128 && can(regex("^[!-~]+$", var.db_master_password)) && !can(regex("[/\\"@]", var.db_master_password))}',
          errorMessage:
            'db_master_password must be 16 to 128 printable ASCII characters without /, ", @ or spaces.',
        },
      ],
    });
    const apiKeys = new TerraformVariable(this, "payments_api_keys", {
      type: "string",
      sensitive: true,
      nullable: false,
      description:
        "Comma-separated API keys accepted by the payments API (each at least 32 characters). Set TF_VAR_payments_api_keys.",
      validation: [
        {
          condition:
            '${alltrue([for k in split(",", var.payments_api_keys) : length(trimspace(k)) >= 32])}',
          errorMessage:
            "payments_api_keys must be comma-separated keys of at least 32 characters each.",
        },
      ],
    });

    this.database = new GlobalDatabase(this, "database", {
      naming: this.naming,
      database: config.database,
      primary: this.primary,
      secondary: this.secondary,
      masterPassword: masterPassword.stringValue,
      logRetentionDays: config.logRetentionDays,
    });
    this.tables = new GlobalTables(this, "tables", {
      naming: this.naming,
      primary: {
        provider: this.primary.provider,
        region: config.primary.region,
        key: this.primary.key,
      },
      secondary: {
        provider: this.secondary.provider,
        region: config.secondary.region,
        key: this.secondary.key,
      },
    });
    this.backup = new Backup(this, "backup", {
      naming: this.naming,
      backup: config.backup,
      primary: {
        provider: this.primary.provider,
        region: config.primary.region,
        key: this.primary.key,
        resourceArns: [
          this.database.primary.cluster.arn,
          ...this.tables.all.map((t) => t.primaryArn),
        ],
      },
      secondary: {
        provider: this.secondary.provider,
        region: config.secondary.region,
        key: this.secondary.key,
        resourceArns: [
          this.database.secondary.cluster.arn,
          ...this.tables.all.map((t) => t.replicaArn),
        ],
      },
    });

    const parameterValues = (cluster: RegionalCluster): Record<string, ParameterValue> => ({
      [PARAMETERS.writerEndpoint]: {
        value: this.database.globalCluster.endpoint,
        ownedByOrchestrator: true,
        description:
          "Global writer endpoint; follows the writer, rewritten after a detach-and-promote",
      },
      [PARAMETERS.readerEndpoint]: {
        value: cluster.cluster.readerEndpoint,
        description: "This region's reader endpoint",
      },
      [PARAMETERS.clusterEndpoint]: {
        value: cluster.cluster.endpoint,
        description: "This region's cluster endpoint",
      },
      [PARAMETERS.databaseName]: {
        value: config.database.databaseName,
        description: "Database name",
      },
      [PARAMETERS.username]: {
        value: config.database.masterUsername,
        description: "Database user",
      },
      [PARAMETERS.password]: {
        value: masterPassword.stringValue,
        secure: true,
        description:
          "Database password (the master password: global databases cannot use Secrets Manager)",
      },
      [PARAMETERS.activeRegion]: {
        value: config.primary.region,
        ownedByOrchestrator: true,
        description: "The region taking writes; rewritten by the failover orchestrator",
      },
      [PARAMETERS.apiKeys]: {
        value: Fn.jsonencode(Fn.split(",", Fn.replace(apiKeys.stringValue, " ", ""))),
        secure: true,
        description: "JSON array of API keys accepted by the payments API",
      },
    });
    this.parameters = {
      primary: new RegionalParameters(this, "parameters-primary", {
        provider: this.primary.provider,
        naming: this.naming,
        key: this.primary.key,
        values: parameterValues(this.database.primary),
      }),
      secondary: new RegionalParameters(this, "parameters-secondary", {
        provider: this.secondary.provider,
        naming: this.naming,
        key: this.secondary.key,
        values: parameterValues(this.database.secondary),
      }),
    };

    this.outputs(config);
  }

  private outputs(config: Config): void {
    const output = (id: string, value: string, description: string) =>
      new TerraformOutput(this, id, { value, description });
    output(
      "global_cluster_identifier",
      this.database.globalCluster.globalClusterIdentifier,
      "Aurora global cluster",
    );
    output(
      "global_writer_endpoint",
      this.database.globalCluster.endpoint,
      "Global writer endpoint",
    );
    for (const role of ["primary", "secondary"] as const) {
      const cluster = this.database[role].cluster;
      const region = config[role].region;
      output(`${role}_cluster_arn`, cluster.arn, `Aurora cluster in ${region}`);
      output(`${role}_cluster_endpoint`, cluster.endpoint, `Cluster endpoint in ${region}`);
      output(`${role}_reader_endpoint`, cluster.readerEndpoint, `Reader endpoint in ${region}`);
      output(`${role}_vpc_id`, this[role].network.vpc.id, `VPC in ${region}`);
      output(`${role}_backup_vault`, this.backup[`${role}Vault`].name, `Backup vault in ${region}`);
    }
    for (const table of this.tables.all) {
      output(`${table.component}_table`, table.name, `Global table (${table.component})`);
    }
    output("parameter_prefix", this.naming.parameterPrefix, "SSM parameter prefix in both regions");
  }
}
