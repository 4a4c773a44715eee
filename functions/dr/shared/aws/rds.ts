// Aurora global database calls, in the region of the given client.
import {
  CopyDBClusterSnapshotCommand,
  CreateDBClusterCommand,
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  CreateGlobalClusterCommand,
  DeleteDBInstanceCommand,
  DeleteGlobalClusterCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  ModifyGlobalClusterCommand,
  RemoveFromGlobalClusterCommand,
  SwitchoverGlobalClusterCommand,
} from "@aws-sdk/client-rds";
import type { RDSClient } from "@aws-sdk/client-rds";
import { ManagedFailoverUnavailableError } from "../errors";
import type {
  ClusterView,
  DatabasePort,
  GlobalClusterView,
  InstanceRequest,
  InstanceView,
  SecondaryClusterRequest,
  SnapshotView,
} from "../ports";
import { awsErrorName, toPortError } from "./errors";

/**
 * FailoverGlobalCluster errors after which detach-and-promote is the way forward: the global
 * cluster or its members are in a state in which RDS will not run a managed failover (typically
 * because the primary region cannot be reached to coordinate it). Any other error stops the run.
 */
export const DETACH_FALLBACK_ERRORS = [
  "InvalidGlobalClusterStateFault",
  "InvalidDBClusterStateFault",
];

/** The cluster's writer instance (DBClusterMembers[].IsClusterWriter), when it has one. */
function writerOf(
  members: readonly { DBInstanceIdentifier?: string; IsClusterWriter?: boolean }[] | undefined,
): { writer?: string } {
  const writer = members?.find((m) => m.IsClusterWriter === true)?.DBInstanceIdentifier;
  return writer ? { writer } : {};
}

export class RdsDatabase implements DatabasePort {
  constructor(private readonly rds: RDSClient) {}

  async describeGlobalCluster(globalClusterIdentifier: string): Promise<GlobalClusterView | null> {
    try {
      const out = await this.rds.send(
        new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: globalClusterIdentifier }),
      );
      const g = out.GlobalClusters?.[0];
      if (!g) return null;
      return {
        identifier: g.GlobalClusterIdentifier ?? globalClusterIdentifier,
        status: g.Status ?? "unknown",
        ...(g.Endpoint ? { endpoint: g.Endpoint } : {}),
        ...(g.DeletionProtection !== undefined ? { deletionProtection: g.DeletionProtection } : {}),
        members: (g.GlobalClusterMembers ?? []).map((m) => ({
          clusterArn: m.DBClusterArn ?? "",
          isWriter: m.IsWriter === true,
          ...(m.SynchronizationStatus ? { synchronizationStatus: m.SynchronizationStatus } : {}),
        })),
        ...(g.FailoverState?.Status
          ? {
              failover: {
                status: g.FailoverState.Status,
                fromClusterArn: g.FailoverState.FromDbClusterArn,
                toClusterArn: g.FailoverState.ToDbClusterArn,
                isDataLossAllowed: g.FailoverState.IsDataLossAllowed,
              },
            }
          : {}),
      };
    } catch (error) {
      if (awsErrorName(error) === "GlobalClusterNotFoundFault") return null;
      throw toPortError("rds:DescribeGlobalClusters", error);
    }
  }

  async describeCluster(clusterIdentifier: string): Promise<ClusterView | null> {
    try {
      const out = await this.rds.send(
        new DescribeDBClustersCommand({ DBClusterIdentifier: clusterIdentifier }),
      );
      const c = out.DBClusters?.[0];
      if (!c) return null;
      return {
        arn: c.DBClusterArn ?? "",
        status: c.Status ?? "unknown",
        ...(c.Endpoint ? { endpoint: c.Endpoint } : {}),
        ...(c.GlobalClusterIdentifier
          ? { globalClusterIdentifier: c.GlobalClusterIdentifier }
          : {}),
        instances: (c.DBClusterMembers ?? []).flatMap((m) =>
          m.DBInstanceIdentifier ? [m.DBInstanceIdentifier] : [],
        ),
        ...(c.Engine ? { engine: c.Engine } : {}),
        ...(c.EngineVersion ? { engineVersion: c.EngineVersion } : {}),
        ...(c.DBClusterParameterGroup ? { parameterGroup: c.DBClusterParameterGroup } : {}),
        ...writerOf(c.DBClusterMembers),
      };
    } catch (error) {
      if (awsErrorName(error) === "DBClusterNotFoundFault") return null;
      throw toPortError("rds:DescribeDBClusters", error);
    }
  }

  async failoverGlobalCluster(globalClusterIdentifier: string, targetClusterArn: string) {
    try {
      await this.rds.send(
        new FailoverGlobalClusterCommand({
          GlobalClusterIdentifier: globalClusterIdentifier,
          TargetDbClusterIdentifier: targetClusterArn,
          AllowDataLoss: true,
        }),
      );
    } catch (error) {
      const code = awsErrorName(error);
      if (DETACH_FALLBACK_ERRORS.includes(code)) {
        throw new ManagedFailoverUnavailableError(
          `FailoverGlobalCluster refused: ${code}: ${(error as Error).message}`,
          code,
        );
      }
      throw toPortError("rds:FailoverGlobalCluster", error);
    }
  }

  async switchoverGlobalCluster(globalClusterIdentifier: string, targetClusterArn: string) {
    try {
      await this.rds.send(
        new SwitchoverGlobalClusterCommand({
          GlobalClusterIdentifier: globalClusterIdentifier,
          TargetDbClusterIdentifier: targetClusterArn,
        }),
      );
    } catch (error) {
      throw toPortError("rds:SwitchoverGlobalCluster", error);
    }
  }

  async removeFromGlobalCluster(globalClusterIdentifier: string, clusterArn: string) {
    try {
      await this.rds.send(
        new RemoveFromGlobalClusterCommand({
          GlobalClusterIdentifier: globalClusterIdentifier,
          DbClusterIdentifier: clusterArn,
        }),
      );
    } catch (error) {
      // A documented fault may mean an earlier request landed: the caller looks
      // (shared/membership.ts, REMOVE_FROM_GLOBAL_CLUSTER_FAULTS).
      throw toPortError("rds:RemoveFromGlobalCluster", error);
    }
  }

  async instances(clusterIdentifier: string): Promise<readonly InstanceView[]> {
    try {
      const out = await this.rds.send(
        new DescribeDBInstancesCommand({
          Filters: [{ Name: "db-cluster-id", Values: [clusterIdentifier] }],
        }),
      );
      return (out.DBInstances ?? []).map((i) => ({
        identifier: i.DBInstanceIdentifier ?? "",
        status: i.DBInstanceStatus ?? "unknown",
        ...(i.DBClusterIdentifier ? { clusterIdentifier: i.DBClusterIdentifier } : {}),
        instanceClass: i.DBInstanceClass ?? "unknown",
        ...(i.TagList
          ? {
              tags: Object.fromEntries(
                i.TagList.flatMap((t) => (t.Key ? [[t.Key, t.Value ?? ""]] : [])),
              ),
            }
          : {}),
      }));
    } catch (error) {
      throw toPortError("rds:DescribeDBInstances", error);
    }
  }

  async deleteInstance(identifier: string): Promise<"deleting" | "gone"> {
    // An Aurora cluster's instance takes no final snapshot (the data is the cluster volume's):
    // "SkipFinalSnapshot ... This setting doesn't apply to Aurora" (API reference,
    // DeleteDBInstance), so the request names the instance only.
    const done = await this.send(
      "rds:DeleteDBInstance",
      () => this.rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: identifier })),
      "DBInstanceNotFoundFault",
    );
    return done ? "deleting" : "gone";
  }

  async describeInstance(identifier: string): Promise<InstanceView | null> {
    try {
      const out = await this.rds.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }),
      );
      const i = out.DBInstances?.[0];
      if (!i) return null;
      return {
        identifier: i.DBInstanceIdentifier ?? identifier,
        status: i.DBInstanceStatus ?? "unknown",
        ...(i.DBClusterIdentifier ? { clusterIdentifier: i.DBClusterIdentifier } : {}),
        instanceClass: i.DBInstanceClass ?? "unknown",
      };
    } catch (error) {
      if (awsErrorName(error) === "DBInstanceNotFoundFault") return null;
      throw toPortError("rds:DescribeDBInstances", error);
    }
  }

  async describeClusterSnapshot(snapshotIdentifier: string): Promise<SnapshotView | null> {
    try {
      const out = await this.rds.send(
        new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: snapshotIdentifier }),
      );
      const s = out.DBClusterSnapshots?.[0];
      if (!s) return null;
      return {
        identifier: s.DBClusterSnapshotIdentifier ?? snapshotIdentifier,
        status: s.Status ?? "unknown",
        ...(s.DBClusterIdentifier ? { clusterIdentifier: s.DBClusterIdentifier } : {}),
        ...(s.SnapshotCreateTime ? { createdAt: s.SnapshotCreateTime.toISOString() } : {}),
      };
    } catch (error) {
      if (awsErrorName(error) === "DBClusterSnapshotNotFoundFault") return null;
      throw toPortError("rds:DescribeDBClusterSnapshots", error);
    }
  }

  async listClusterSnapshots(clusterIdentifier: string): Promise<SnapshotView[]> {
    // No SnapshotType: "If you don't specify a SnapshotType value, then both automated and
    // manual DB cluster snapshots are returned" (API_DescribeDBClusterSnapshots); the
    // point-of-failure snapshot of a global failover is a system snapshot that follows the
    // cluster's backup retention (aurora-global-database-disaster-recovery.html).
    const found: SnapshotView[] = [];
    let marker: string | undefined;
    try {
      do {
        const out = await this.rds.send(
          new DescribeDBClusterSnapshotsCommand({
            DBClusterIdentifier: clusterIdentifier,
            MaxRecords: 100,
            ...(marker ? { Marker: marker } : {}),
          }),
        );
        for (const s of out.DBClusterSnapshots ?? []) {
          if (!s.DBClusterSnapshotIdentifier) continue;
          found.push({
            identifier: s.DBClusterSnapshotIdentifier,
            status: s.Status ?? "unknown",
            ...(s.DBClusterIdentifier ? { clusterIdentifier: s.DBClusterIdentifier } : {}),
            ...(s.SnapshotCreateTime ? { createdAt: s.SnapshotCreateTime.toISOString() } : {}),
            ...(s.DBClusterSnapshotArn ? { arn: s.DBClusterSnapshotArn } : {}),
            ...(s.SnapshotType ? { snapshotType: s.SnapshotType } : {}),
            ...(s.SourceDBClusterSnapshotArn ? { sourceArn: s.SourceDBClusterSnapshotArn } : {}),
          });
        }
        marker = out.Marker;
      } while (marker);
    } catch (error) {
      if (awsErrorName(error) === "DBClusterNotFoundFault") return [];
      throw toPortError("rds:DescribeDBClusterSnapshots", error);
    }
    return found.sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? ""));
  }

  async copyClusterSnapshot(sourceIdentifier: string, targetIdentifier: string) {
    // Same region: the source by identifier; no KmsKeyId, so "the copy of the DB cluster
    // snapshot is encrypted with the same KMS key as the source DB cluster snapshot"
    // (API_CopyDBClusterSnapshot). "After you copy a snapshot, the copy is a manual snapshot"
    // (aurora-copy-snapshot.html): it outlives the retention period and the cluster.
    await this.send(
      "rds:CopyDBClusterSnapshot",
      () =>
        this.rds.send(
          new CopyDBClusterSnapshotCommand({
            SourceDBClusterSnapshotIdentifier: sourceIdentifier,
            TargetDBClusterSnapshotIdentifier: targetIdentifier,
            CopyTags: true,
            Tags: [
              {
                Key: "payments-dr",
                Value: "point-of-failure snapshot kept by re-protect for lost-write reconciliation",
              },
            ],
          }),
        ),
      "DBClusterSnapshotAlreadyExistsFault",
    );
  }

  async createClusterSnapshot(clusterIdentifier: string, snapshotIdentifier: string) {
    await this.send(
      "rds:CreateDBClusterSnapshot",
      () =>
        this.rds.send(
          new CreateDBClusterSnapshotCommand({
            DBClusterIdentifier: clusterIdentifier,
            DBClusterSnapshotIdentifier: snapshotIdentifier,
            Tags: [
              { Key: "payments-dr", Value: "kept by re-protect for lost-write reconciliation" },
            ],
          }),
        ),
      "DBClusterSnapshotAlreadyExistsFault",
    );
  }

  async renameCluster(clusterIdentifier: string, newIdentifier: string) {
    await this.send("rds:ModifyDBCluster", () =>
      this.rds.send(
        new ModifyDBClusterCommand({
          DBClusterIdentifier: clusterIdentifier,
          NewDBClusterIdentifier: newIdentifier,
          ApplyImmediately: true,
        }),
      ),
    );
  }

  async renameInstance(identifier: string, newIdentifier: string) {
    await this.send("rds:ModifyDBInstance", () =>
      this.rds.send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: identifier,
          NewDBInstanceIdentifier: newIdentifier,
          ApplyImmediately: true,
        }),
      ),
    );
  }

  async unprotectGlobalCluster(globalClusterIdentifier: string) {
    // "The global database can't be deleted when deletion protection is enabled"
    // (API_ModifyGlobalCluster, DeletionProtection).
    await this.send("rds:ModifyGlobalCluster", () =>
      this.rds.send(
        new ModifyGlobalClusterCommand({
          GlobalClusterIdentifier: globalClusterIdentifier,
          DeletionProtection: false,
        }),
      ),
    );
  }

  async deleteGlobalCluster(globalClusterIdentifier: string) {
    await this.send(
      "rds:DeleteGlobalCluster",
      () =>
        this.rds.send(
          new DeleteGlobalClusterCommand({ GlobalClusterIdentifier: globalClusterIdentifier }),
        ),
      "GlobalClusterNotFoundFault",
    );
  }

  async createGlobalCluster(
    globalClusterIdentifier: string,
    sourceClusterArn: string,
    deletionProtection: boolean,
  ) {
    // Engine, version, database name and encryption come from the source cluster; AWS refuses
    // them beside SourceDBClusterIdentifier (API_CreateGlobalCluster).
    await this.send(
      "rds:CreateGlobalCluster",
      () =>
        this.rds.send(
          new CreateGlobalClusterCommand({
            GlobalClusterIdentifier: globalClusterIdentifier,
            SourceDBClusterIdentifier: sourceClusterArn,
            DeletionProtection: deletionProtection,
          }),
        ),
      "GlobalClusterAlreadyExistsFault",
    );
  }

  async createSecondaryCluster(request: SecondaryClusterRequest) {
    // No MasterUsername or MasterUserPassword: "Cannot specify user name for cross region
    // replication cluster". KmsKeyId must be valid in this (the destination) region. No
    // PreSignedUrl: it "applies only to Amazon Web Services GovCloud (US) Regions" and to
    // ReplicationSourceIdentifier replicas (API_CreateDBCluster).
    await this.send(
      "rds:CreateDBCluster",
      () =>
        this.rds.send(
          new CreateDBClusterCommand({
            DBClusterIdentifier: request.clusterIdentifier,
            GlobalClusterIdentifier: request.globalClusterIdentifier,
            Engine: request.engine,
            EngineVersion: request.engineVersion,
            StorageEncrypted: true,
            KmsKeyId: request.kmsKeyId,
            DBSubnetGroupName: request.dbSubnetGroupName,
            VpcSecurityGroupIds: [...request.vpcSecurityGroupIds],
            DBClusterParameterGroupName: request.dbClusterParameterGroupName,
            BackupRetentionPeriod: request.backupRetentionPeriod,
            PreferredBackupWindow: request.preferredBackupWindow,
            PreferredMaintenanceWindow: request.preferredMaintenanceWindow,
            CopyTagsToSnapshot: true,
            EnableCloudwatchLogsExports: ["postgresql"],
            DeletionProtection: request.deletionProtection,
            // Off unless asked for (UsingWithRDS.IAMDBAuth.Enabling.html); payments_app needs it.
            EnableIAMDatabaseAuthentication: request.enableIamDatabaseAuthentication,
          }),
        ),
      "DBClusterAlreadyExistsFault",
    );
  }

  async createInstance(request: InstanceRequest): Promise<"created" | "exists"> {
    // Aurora: a reader is added with CreateDBInstance naming the cluster; engine version,
    // storage and encryption come from the cluster (aurora-replicas-adding.html).
    const done = await this.send(
      "rds:CreateDBInstance",
      () =>
        this.rds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: request.identifier,
            DBClusterIdentifier: request.clusterIdentifier,
            Engine: request.engine,
            DBInstanceClass: request.instanceClass,
            DBSubnetGroupName: request.dbSubnetGroupName,
            PubliclyAccessible: false,
            AutoMinorVersionUpgrade: false,
            PromotionTier: request.promotionTier,
            EnablePerformanceInsights: true,
            PerformanceInsightsKMSKeyId: request.performanceInsightsKmsKeyId,
            PerformanceInsightsRetentionPeriod: 7,
            MonitoringInterval: request.monitoringInterval,
            MonitoringRoleArn: request.monitoringRoleArn,
            CACertificateIdentifier: request.caCertificateIdentifier,
            ...(request.tags
              ? { Tags: Object.entries(request.tags).map(([Key, Value]) => ({ Key, Value })) }
              : {}),
          }),
        ),
      "DBInstanceAlreadyExistsFault",
    );
    return done ? "created" : "exists";
  }

  /**
   * Sends a mutating call. `alreadyDone` names the fault that means an earlier attempt (whose
   * answer was lost) already did it: the call then counts as done. True when this call did it,
   * false when it was already done.
   */
  private async send(
    op: string,
    call: () => Promise<unknown>,
    alreadyDone?: string,
  ): Promise<boolean> {
    try {
      await call();
      return true;
    } catch (error) {
      if (alreadyDone && awsErrorName(error) === alreadyDone) return false;
      throw toPortError(op, error);
    }
  }
}
