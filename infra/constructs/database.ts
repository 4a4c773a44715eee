import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DbSubnetGroup } from "@cdktf/provider-aws/lib/db-subnet-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { KmsReplicaKey } from "@cdktf/provider-aws/lib/kms-replica-key";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { RdsCluster } from "@cdktf/provider-aws/lib/rds-cluster";
import { RdsClusterInstance } from "@cdktf/provider-aws/lib/rds-cluster-instance";
import { RdsClusterParameterGroup } from "@cdktf/provider-aws/lib/rds-cluster-parameter-group";
import type { RdsClusterParameterGroupParameter } from "@cdktf/provider-aws/lib/rds-cluster-parameter-group";
import { RdsGlobalCluster } from "@cdktf/provider-aws/lib/rds-global-cluster";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { DrClusterSpec, DrDatabaseSpec } from "../../functions/common/contract";
import { parameterGroupFamily } from "../../functions/common/contract";

// One definition, shared with re-protect's check of the promoted cluster (functions/dr/rebuild).
export { parameterGroupFamily };
import type { DatabaseConfig, RegionConfig, RegionRole } from "../config";
import { assumeRoleStatement, policyDocument } from "../lib/policy";
import type { Naming } from "../naming";
import { regionCode } from "../naming";
import type { PlatformKey } from "./keys";
import type { Network } from "./network";

/**
 * Settings of every cluster instance, shared with DR_CAPACITY so that a reader RestoreCapacity
 * adds after a failover is the instance Terraform would create (and can adopt unchanged).
 */
export const INSTANCE_SETTINGS = {
  monitoringInterval: 15,
  caCertificateIdentifier: "rds-ca-rsa2048-g1",
} as const;

/** The identifier of a cluster's `index`th instance (0-based): `payments-db-<n>-<code>-<suffix>`. */
export function instanceIdentifier(naming: Naming, region: string, index: number): string {
  return naming.name("dbInstanceIdentifier", `db-${index + 1}`, region);
}
const BACKUP_WINDOW = "02:00-02:30";
const MAINTENANCE_WINDOW = "sun:05:00-sun:05:30";
/** Both clusters, and the spec re-protect rebuilds the secondary from: payments_app needs it. */
const IAM_DATABASE_AUTHENTICATION = true;
const MONITORING_INTERVAL_SECONDS = INSTANCE_SETTINGS.monitoringInterval;
const CA_CERTIFICATE = INSTANCE_SETTINGS.caCertificateIdentifier;

/**
 * `track_commit_timestamp` on, in every cluster parameter group the kit creates (the live
 * clusters and the reconciliation's scratch cluster): PostgreSQL keeps commit times "only for
 * transactions that were committed after it was enabled", and a server started with it off
 * discards the ones it had (PostgreSQL's commit_ts.c, DeactivateCommitTs), so a copy restored
 * without it would lose the old primary's commit times.
 *
 * A cluster-level parameter on Aurora PostgreSQL: AWS's parameter reference lists
 * `track_commit_timestamp` ("Collects transaction commit time.") among the parameters of the
 * default DB cluster parameter group, and not among the instance-level ones
 * (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Reference.ParameterGroups.html,
 * tables for version 14). Those tables do not say which parameters are modifiable, or list later
 * majors: runbooks/reconcile.md, "Choices and limits", has the check for the deployed major and
 * the fallback without it.
 */
export const TRACK_COMMIT_TIMESTAMP: RdsClusterParameterGroupParameter = {
  name: "track_commit_timestamp",
  value: "1",
  applyMethod: "pending-reboot",
};

/** The lowest rds.global_db_rpo Aurora accepts, in seconds. */
export const MIN_GLOBAL_DB_RPO_SECONDS = 20;

/** Instance classes Aurora PostgreSQL global databases run on: memory-optimized only. */
const MEMORY_OPTIMIZED = /^db\.(r5|r6g|r6i|r7g|r7i|r8g|x2g)\./;

/**
 * Attributes a failover or switchover changes on a member cluster. Ignoring them means a later
 * `terraform apply` never undoes a failover, detaches a cluster, or fights an engine upgrade
 * done through the global cluster.
 */
export const FAILOVER_DRIFT = ["replication_source_identifier", "global_cluster_identifier"];

/**
 * What else Terraform leaves as it is on a member cluster. `master_username` replaces the cluster
 * when it changes (ForceNew in the provider) and only the writer may set it (AWS rejects it on a
 * cross-Region secondary: "Cannot specify user name for cross region replication cluster"), so
 * when WRITER_REGION moves, the new writer's cluster gets it in config while its state holds
 * whatever AWS reported for it as a secondary (documentation silent). The user never changes on
 * a live database, so it is set at creation and never diffed.
 */
export const CREATION_ONLY = ["master_username"];

export interface DatabaseRegion {
  readonly provider: AwsProvider;
  readonly config: RegionConfig;
  readonly network: Network;
  readonly key: PlatformKey;
}

export interface GlobalDatabaseProps {
  readonly naming: Naming;
  readonly database: DatabaseConfig;
  /** The `aws.primary` slot: its cluster, the multi-Region primary key and the global cluster. */
  readonly primary: DatabaseRegion;
  /** The `aws.secondary` slot: its cluster and the replica key. */
  readonly secondary: DatabaseRegion;
  /**
   * The slot whose cluster is the writer (WRITER_REGION). Only writer-dependent settings follow
   * it; every cluster, key and identifier stays in its slot.
   * @default "primary"
   */
  readonly writer?: RegionRole;
  /** Sensitive Terraform variable holding the master password; never a literal. */
  readonly masterPassword: string;
  readonly logRetentionDays: number;
}

/** One region's member of the global database. */
export interface RegionalCluster {
  readonly cluster: RdsCluster;
  readonly instances: RdsClusterInstance[];
  /** Customer-managed key of this region (multi-Region primary or its replica). */
  readonly storageKeyArn: string;
  /** What a re-protect needs to rebuild this region's cluster as Terraform has it. */
  readonly spec: DrClusterSpec;
}

/**
 * Aurora PostgreSQL Global Database: a global cluster whose primary (writer) cluster lives in
 * the writer region (WRITER_REGION, by default the primary slot) and whose secondary (reader)
 * cluster lives in the other, both encrypted with a multi-Region customer-managed key.
 *
 * Known traps, each avoided here and covered by a test:
 * - Backtrack is not supported on global databases, so no `backtrack_window`: recovery to a
 *   point in time comes from continuous backups (AWS Backup, up to 35 days) and the RPO guard.
 * - Secrets Manager-managed master passwords are not supported on global databases: the
 *   password is a sensitive Terraform variable, stored as a SecureString in both regions.
 * - An encrypted secondary needs an explicit `kms_key_id` (the regional replica key).
 * - Managed failover needs identical engine versions, so both clusters take the one version
 *   and automatic minor upgrades are off (they could drift the regions apart).
 */
export class GlobalDatabase extends Construct {
  public readonly globalCluster: RdsGlobalCluster;
  /** The Enhanced Monitoring role every instance uses (RestoreCapacity passes it too). */
  public readonly monitoringRoleArn: string;
  /** The cluster of the `aws.primary` slot (the writer unless WRITER_REGION says otherwise). */
  public readonly primary: RegionalCluster;
  /** The cluster of the `aws.secondary` slot. */
  public readonly secondary: RegionalCluster;
  /** Which slot holds the writer. */
  public readonly writerRole: RegionRole;
  /**
   * How each region's cluster is built (DR_DATABASE): a re-protect rebuilds the secondary with
   * exactly these identifiers, keys and groups, so Terraform finds its own resources afterwards.
   */
  public readonly spec: DrDatabaseSpec;

  constructor(scope: Construct, id: string, props: GlobalDatabaseProps) {
    super(scope, id);
    const { naming, database } = props;
    if (!MEMORY_OPTIMIZED.test(database.instanceClass)) {
      throw new Error(
        `instance class must be memory-optimized (db.r5, r6g, r6i, r7g, r7i, r8g, x2g), got ${database.instanceClass}`,
      );
    }
    if (database.rpoSeconds < MIN_GLOBAL_DB_RPO_SECONDS) {
      throw new Error(
        `rpo must be at least ${MIN_GLOBAL_DB_RPO_SECONDS} s, got ${database.rpoSeconds}`,
      );
    }
    if (database.engineVersion !== database.secondaryEngineVersion) {
      throw new Error(
        `engine versions must match for managed failover, got ${database.engineVersion} and ${database.secondaryEngineVersion}`,
      );
    }

    // Multi-Region key: the primary key in the writer region, its replica in the reader region.
    const primaryKey = new KmsKey(this, "storage-key", {
      provider: props.primary.provider,
      description: `payments-dr Aurora storage (multi-Region primary, ${naming.suffix})`,
      multiRegion: true,
      enableKeyRotation: true,
      deletionWindowInDays: 7,
    });
    const replicaKey = new KmsReplicaKey(this, "storage-key-replica", {
      provider: props.secondary.provider,
      description: `payments-dr Aurora storage (multi-Region replica, ${naming.suffix})`,
      primaryKeyArn: primaryKey.arn,
      deletionWindowInDays: 7,
    });
    new KmsAlias(this, "storage-key-alias", {
      provider: props.primary.provider,
      name: naming.kmsAlias("aurora"),
      targetKeyId: primaryKey.keyId,
    });
    new KmsAlias(this, "storage-key-replica-alias", {
      provider: props.secondary.provider,
      name: naming.kmsAlias("aurora"),
      targetKeyId: replicaKey.keyId,
    });

    this.globalCluster = new RdsGlobalCluster(this, "global", {
      provider: props.primary.provider,
      globalClusterIdentifier: naming.name("generic", "global"),
      engine: "aurora-postgresql",
      engineVersion: database.engineVersion,
      databaseName: database.databaseName,
      storageEncrypted: true,
      deletionProtection: database.deletionProtection,
    });

    const monitoringRole = new IamRole(this, "monitoring-role", {
      provider: props.primary.provider,
      name: naming.name("iamRole", "rds-monitoring"),
      assumeRolePolicy: policyDocument(this, "monitoring-trust", props.primary.provider, [
        // RDS sends the instance's ARN (RDS User Guide, "Setting up and enabling Enhanced
        // Monitoring": confused deputy prevention); the instances of both regions use it.
        assumeRoleStatement(["monitoring.rds.amazonaws.com"], props.primary.key.accountId, [
          `arn:aws:rds:*:${props.primary.key.accountId}:db:*`,
        ]),
      ]),
    });
    this.monitoringRoleArn = monitoringRole.arn;
    new IamRolePolicyAttachment(this, "monitoring-policy", {
      provider: props.primary.provider,
      role: monitoringRole.name,
      policyArn: "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
    });

    const writer = props.writer ?? "primary";
    const keys = { primary: primaryKey.arn, secondary: replicaKey.arn };
    const build = (role: RegionRole, dependsOn?: ITerraformDependable[]) =>
      this.member(role, props, {
        writer: role === writer,
        storageKeyArn: keys[role],
        monitoringRoleArn: monitoringRole.arn,
        instanceCount: role === writer ? database.primaryInstances : database.secondaryInstances,
        // Only the writer's group guards the RPO: a lone survivor after an unplanned failover
        // has no secondary to lag, and with the guard set it would block every commit. AWS:
        // "In a global database with only two AWS Regions, we recommend keeping the
        // rds.global_db_rpo parameter's default value in the secondary Region's parameter group"
        // (aurora-global-database-disaster-recovery.html#aurora-global-database-manage-recovery).
        extraParameters:
          role === writer
            ? [
                {
                  name: "rds.global_db_rpo",
                  value: String(database.rpoSeconds),
                  applyMethod: "immediate",
                },
              ]
            : [],
        dependsOn,
      });
    // A secondary can only join once the writer has an instance: the writer is built first.
    const first = build(writer);
    const second = build(writer === "primary" ? "secondary" : "primary", first.instances);
    this.writerRole = writer;
    this.primary = writer === "primary" ? first : second;
    this.secondary = writer === "primary" ? second : first;
    this.spec = {
      engine: "aurora-postgresql",
      engineVersion: database.engineVersion,
      instanceClass: database.instanceClass,
      backupRetentionPeriod: database.backupRetentionDays,
      preferredBackupWindow: BACKUP_WINDOW,
      preferredMaintenanceWindow: MAINTENANCE_WINDOW,
      deletionProtection: database.deletionProtection,
      iamDatabaseAuthentication: IAM_DATABASE_AUTHENTICATION,
      monitoringRoleArn: monitoringRole.arn,
      monitoringInterval: MONITORING_INTERVAL_SECONDS,
      caCertificateIdentifier: CA_CERTIFICATE,
      regions: {
        [props.primary.config.region]: this.primary.spec,
        [props.secondary.config.region]: this.secondary.spec,
      },
    };
  }

  /** The writer cluster. */
  get writer(): RegionalCluster {
    return this[this.writerRole];
  }

  /** The reader (secondary) cluster, in the standby region. */
  get reader(): RegionalCluster {
    return this[this.writerRole === "primary" ? "secondary" : "primary"];
  }

  private member(
    role: "primary" | "secondary",
    props: GlobalDatabaseProps,
    options: {
      writer: boolean;
      storageKeyArn: string;
      monitoringRoleArn: string;
      instanceCount: number;
      extraParameters: RdsClusterParameterGroupParameter[];
      dependsOn?: ITerraformDependable[];
    },
  ): RegionalCluster {
    const { naming, database } = props;
    const { provider, config, network, key } = props[role];
    const code = regionCode(config.region);
    const clusterIdentifier = naming.name("dbClusterIdentifier", "db", config.region);
    const family = parameterGroupFamily(database.engineVersion);

    const subnetGroup = new DbSubnetGroup(this, `${role}-subnets`, {
      provider,
      name: naming.name("dbSubnetGroup", "db", config.region),
      description: `Aurora ${role} cluster: private subnets of ${config.region}`,
      subnetIds: network.privateSubnetIds,
    });
    // Identical in both regions but for the writer's RPO guard. Name and description stay with
    // the slot (both replace the group when changed), the parameters follow the writer.
    const parameterGroup = new RdsClusterParameterGroup(this, `${role}-parameters`, {
      provider,
      name: naming.name("dbParameterGroup", `db-${role}`, config.region),
      family,
      description: `payments-dr ${role} cluster parameters`,
      parameter: [
        { name: "rds.force_ssl", value: "1", applyMethod: "immediate" },
        { name: "log_min_duration_statement", value: "1000", applyMethod: "immediate" },
        { name: "log_statement", value: "ddl", applyMethod: "immediate" },
        { name: "log_connections", value: "1", applyMethod: "immediate" },
        { name: "log_disconnections", value: "1", applyMethod: "immediate" },
        { name: "log_lock_waits", value: "1", applyMethod: "immediate" },
        // pg_cron runs the writer heartbeat (migration 010_writer_heartbeat.sql) that turns the
        // RPO guard into proof the old primary stopped (state-machines/README.md). Loaded at
        // start-up, so new clusters boot with it; "does not run any jobs as long as a server is
        // in hot standby mode", so only the writer beats.
        { name: "shared_preload_libraries", value: "pg_cron", applyMethod: "pending-reboot" },
        { name: "cron.database_name", value: database.databaseName, applyMethod: "pending-reboot" },
        // Commit times for the lost-write reconciliation's "committed at" (functions/reconcile:
        // pg_xact_commit_timestamp(xmin), else the row's own created_at). A server-start setting
        // (PostgreSQL: context postmaster, test/functions/reconcile/commit-timestamps.test.ts),
        // so pending-reboot: new clusters boot with it, existing ones take it at their next
        // reboot. It is WAL-logged, so the secondary holds the writer's commit times.
        TRACK_COMMIT_TIMESTAMP,
        ...options.extraParameters,
      ],
    });
    // Pre-created so exported logs are encrypted and expire.
    const logGroup = new CloudwatchLogGroup(this, `${role}-postgresql-logs`, {
      provider,
      name: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
      retentionInDays: props.logRetentionDays,
      kmsKeyId: key.arn,
      dependsOn: [key.policy],
    });

    const { writer } = options;
    const cluster = new RdsCluster(this, `${role}-cluster`, {
      provider,
      clusterIdentifier,
      engine: "aurora-postgresql",
      engineVersion: database.engineVersion,
      globalClusterIdentifier: this.globalCluster.id,
      // Credentials and the database name belong to the writer; a secondary inherits them and
      // AWS rejects them on one. The password follows the writer so a rotation reaches it.
      masterUsername: writer ? database.masterUsername : undefined,
      masterPassword: writer ? props.masterPassword : undefined,
      dbSubnetGroupName: subnetGroup.name,
      vpcSecurityGroupIds: [network.databaseSecurityGroup.id],
      dbClusterParameterGroupName: parameterGroup.name,
      storageEncrypted: true,
      // The payment path connects as payments_app with IAM database authentication (no password
      // of its own); the master password is for the migrate function alone.
      // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.Enabling.html
      iamDatabaseAuthenticationEnabled: IAM_DATABASE_AUTHENTICATION,
      // Explicit on both; AWS rejects an encrypted cross-Region secondary without it.
      kmsKeyId: options.storageKeyArn,
      backupRetentionPeriod: database.backupRetentionDays,
      preferredBackupWindow: BACKUP_WINDOW,
      preferredMaintenanceWindow: MAINTENANCE_WINDOW,
      copyTagsToSnapshot: true,
      enabledCloudwatchLogsExports: ["postgresql"],
      skipFinalSnapshot: true,
      deletionProtection: database.deletionProtection,
      lifecycle: { ignoreChanges: [...FAILOVER_DRIFT, ...CREATION_ONLY] },
      dependsOn: [logGroup, ...(options.dependsOn ?? [])],
    });

    const instances = Array.from({ length: options.instanceCount }, (_, i) => {
      const instance = new RdsClusterInstance(this, `${role}-instance-${i}`, {
        provider,
        identifier: instanceIdentifier(naming, config.region, i),
        clusterIdentifier: cluster.id,
        engine: "aurora-postgresql",
        engineVersion: database.engineVersion,
        instanceClass: database.instanceClass,
        dbSubnetGroupName: subnetGroup.name,
        publiclyAccessible: false,
        // Minor upgrades are done on purpose, through the global cluster, in both regions.
        autoMinorVersionUpgrade: false,
        promotionTier: i,
        performanceInsightsEnabled: true,
        performanceInsightsKmsKeyId: options.storageKeyArn,
        performanceInsightsRetentionPeriod: 7,
        monitoringInterval: INSTANCE_SETTINGS.monitoringInterval,
        monitoringRoleArn: options.monitoringRoleArn,
        caCertIdentifier: INSTANCE_SETTINGS.caCertificateIdentifier,
        tags: { Name: `${clusterIdentifier}-${i + 1}`, "region-code": code },
      });
      // After a failover RestoreCapacity created this writer's readers beyond the standby's count
      // with exactly these identifiers and arguments (functions/dr/restore-capacity): adopt them.
      if (options.writer && database.adoptRestoredReaders && i >= database.secondaryInstances) {
        instance.importFrom(instanceIdentifier(naming, config.region, i), provider);
      }
      return instance;
    });
    return {
      cluster,
      instances,
      storageKeyArn: options.storageKeyArn,
      spec: {
        clusterIdentifier,
        kmsKeyId: options.storageKeyArn,
        dbSubnetGroupName: subnetGroup.name,
        vpcSecurityGroupIds: [network.databaseSecurityGroup.id],
        dbClusterParameterGroupName: parameterGroup.name,
        // The instances this region has when it holds the secondary (a re-protect builds these).
        readerInstanceIdentifiers: Array.from({ length: database.secondaryInstances }, (_, i) =>
          instanceIdentifier(naming, config.region, i),
        ),
        performanceInsightsKmsKeyId: options.storageKeyArn,
      },
    };
  }
}
