// The RDS calls of re-protect at the SDK: exact parameters, and an earlier attempt whose answer
// was lost (AlreadyExists) counted as done.
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateGlobalClusterCommand,
  DescribeDBClustersCommand,
  DescribeGlobalClustersCommand,
  ModifyDBClusterCommand,
  ModifyGlobalClusterCommand,
  RDSClient,
  RemoveFromGlobalClusterCommand,
} from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import "aws-sdk-client-mock-jest";
import { RdsDatabase } from "../../../functions/dr/shared/aws/rds";
import {
  REMOVE_FROM_GLOBAL_CLUSTER_FAULTS,
  RemovalPendingError,
  removeFromGlobalClusterOnce,
} from "../../../functions/dr/shared/membership";

const rds = mockClient(RDSClient);
const database = new RdsDatabase(new RDSClient({ region: "us-east-1" }));

function fault(name: string): Error {
  const error = new Error(`${name}: already there`);
  error.name = name;
  return error;
}

beforeEach(() => rds.reset());

describe("re-protect's RDS calls", () => {
  it("adds the secondary with the destination region's key, IAM database authentication and no master user", async () => {
    rds.on(CreateDBClusterCommand).resolves({});
    await database.createSecondaryCluster({
      clusterIdentifier: "payments-db-use1-prod",
      globalClusterIdentifier: "payments-global-prod",
      engine: "aurora-postgresql",
      engineVersion: "16.6",
      kmsKeyId: "arn:aws:kms:us-east-1:123456789012:key/mrk-1",
      dbSubnetGroupName: "payments-db-use1-prod",
      vpcSecurityGroupIds: ["sg-1"],
      dbClusterParameterGroupName: "payments-db-primary-use1-prod",
      backupRetentionPeriod: 7,
      preferredBackupWindow: "02:00-02:30",
      preferredMaintenanceWindow: "sun:05:00-sun:05:30",
      deletionProtection: true,
      enableIamDatabaseAuthentication: true,
    });
    const input = rds.commandCalls(CreateDBClusterCommand)[0]!.args[0].input;
    expect(input).toEqual({
      DBClusterIdentifier: "payments-db-use1-prod",
      GlobalClusterIdentifier: "payments-global-prod",
      Engine: "aurora-postgresql",
      EngineVersion: "16.6",
      StorageEncrypted: true,
      KmsKeyId: "arn:aws:kms:us-east-1:123456789012:key/mrk-1",
      DBSubnetGroupName: "payments-db-use1-prod",
      VpcSecurityGroupIds: ["sg-1"],
      DBClusterParameterGroupName: "payments-db-primary-use1-prod",
      BackupRetentionPeriod: 7,
      PreferredBackupWindow: "02:00-02:30",
      PreferredMaintenanceWindow: "sun:05:00-sun:05:30",
      CopyTagsToSnapshot: true,
      EnableCloudwatchLogsExports: ["postgresql"],
      DeletionProtection: true,
      // "By default, IAM database authentication is disabled on DB clusters"
      // (UsingWithRDS.IAMDBAuth.Enabling.html): payments_app connects with an IAM token.
      EnableIAMDatabaseAuthentication: true,
    });
    expect(input).not.toHaveProperty("MasterUsername");
    expect(input).not.toHaveProperty("MasterUserPassword");
  });

  it("creates the global cluster from the promoted cluster, setting nothing the source decides", async () => {
    rds.on(CreateGlobalClusterCommand).resolves({});
    await database.createGlobalCluster(
      "payments-global-prod",
      "arn:aws:rds:us-west-2:123456789012:cluster:payments-db-usw2-prod",
      false,
    );
    expect(rds).toHaveReceivedCommandWith(CreateGlobalClusterCommand, {
      GlobalClusterIdentifier: "payments-global-prod",
      SourceDBClusterIdentifier: "arn:aws:rds:us-west-2:123456789012:cluster:payments-db-usw2-prod",
      DeletionProtection: false,
    });
    const input = rds.commandCalls(CreateGlobalClusterCommand)[0]!.args[0].input;
    for (const key of ["Engine", "EngineVersion", "DatabaseName", "StorageEncrypted"]) {
      expect(input).not.toHaveProperty(key);
    }
  });

  it("turns off a global cluster's deletion protection with ModifyGlobalCluster, and reads it", async () => {
    rds.on(ModifyGlobalClusterCommand).resolves({});
    rds.on(DescribeGlobalClustersCommand).resolves({
      GlobalClusters: [
        {
          GlobalClusterIdentifier: "payments-global-prod",
          Status: "available",
          DeletionProtection: true,
        },
      ],
    });
    await database.unprotectGlobalCluster("payments-global-prod");
    expect(rds.commandCalls(ModifyGlobalClusterCommand)[0]!.args[0].input).toEqual({
      GlobalClusterIdentifier: "payments-global-prod",
      DeletionProtection: false,
    });
    await expect(database.describeGlobalCluster("payments-global-prod")).resolves.toMatchObject({
      deletionProtection: true,
    });
  });

  it("renames the old primary immediately", async () => {
    rds.on(ModifyDBClusterCommand).resolves({});
    await database.renameCluster(
      "payments-db-use1-prod",
      "payments-db-use1-prod-detached-1a2b3c4d",
    );
    expect(rds).toHaveReceivedCommandWith(ModifyDBClusterCommand, {
      DBClusterIdentifier: "payments-db-use1-prod",
      NewDBClusterIdentifier: "payments-db-use1-prod-detached-1a2b3c4d",
      ApplyImmediately: true,
    });
  });

  it("counts an AlreadyExists answer as an earlier attempt that succeeded", async () => {
    rds.on(CreateDBClusterCommand).rejects(fault("DBClusterAlreadyExistsFault"));
    rds.on(CreateGlobalClusterCommand).rejects(fault("GlobalClusterAlreadyExistsFault"));
    rds.on(CreateDBInstanceCommand).rejects(fault("DBInstanceAlreadyExistsFault"));
    await expect(
      database.createGlobalCluster("g", "arn:aws:rds:us-west-2:1:cluster:c", false),
    ).resolves.toBeUndefined();
    await expect(
      database.createInstance({
        identifier: "payments-db-1-use1-prod",
        clusterIdentifier: "payments-db-use1-prod",
        engine: "aurora-postgresql",
        instanceClass: "db.r5.large",
        dbSubnetGroupName: "payments-db-use1-prod",
        promotionTier: 0,
        monitoringRoleArn: "arn:aws:iam::1:role/m",
        monitoringInterval: 15,
        performanceInsightsKmsKeyId: "arn:aws:kms:us-east-1:1:key/k",
        caCertificateIdentifier: "rds-ca-rsa2048-g1",
      }),
      // One createInstance serves Rebuild and RestoreCapacity; the latter reports it.
    ).resolves.toBe("exists");
  });

  it("rejects any other fault as the step's error", async () => {
    rds.on(ModifyDBClusterCommand).rejects(fault("InvalidDBClusterStateFault"));
    await expect(database.renameCluster("a", "b")).rejects.toMatchObject({
      name: expect.stringMatching(/Error$/),
    });
  });

  it("reads each member's synchronization and each cluster's instances", async () => {
    rds.on(DescribeGlobalClustersCommand).resolves({
      GlobalClusters: [
        {
          GlobalClusterIdentifier: "g",
          Status: "available",
          GlobalClusterMembers: [
            { DBClusterArn: "arn:w", IsWriter: true, SynchronizationStatus: "connected" },
            { DBClusterArn: "arn:e", IsWriter: false, SynchronizationStatus: "pending-resync" },
          ],
        },
      ],
    });
    rds.on(DescribeDBClustersCommand).resolves({
      DBClusters: [
        {
          DBClusterArn: "arn:e",
          Status: "available",
          DBClusterMembers: [{ DBInstanceIdentifier: "payments-db-1-use1-prod" }],
        },
      ],
    });
    expect((await database.describeGlobalCluster("g"))!.members).toEqual([
      { clusterArn: "arn:w", isWriter: true, synchronizationStatus: "connected" },
      { clusterArn: "arn:e", isWriter: false, synchronizationStatus: "pending-resync" },
    ]);
    expect((await database.describeCluster("payments-db-use1-prod"))!.instances).toEqual([
      "payments-db-1-use1-prod",
    ]);
  });

  it("reads the engine, its version and the parameter group the promoted cluster runs with", async () => {
    rds.on(DescribeDBClustersCommand).resolves({
      DBClusters: [
        {
          DBClusterArn: "arn:w",
          Status: "available",
          Engine: "aurora-postgresql",
          EngineVersion: "16.8",
          DBClusterParameterGroup: "payments-db-primary-usw2-prod",
        },
      ],
    });
    expect(await database.describeCluster("payments-db-usw2-prod")).toMatchObject({
      engine: "aurora-postgresql",
      engineVersion: "16.8",
      parameterGroup: "payments-db-primary-usw2-prod",
    });
  });

  describe("RemoveFromGlobalCluster, repeated after an answer was lost", () => {
    const arn = "arn:aws:rds:us-east-1:123456789012:cluster:payments-db-use1-prod";
    // The faults API_RemoveFromGlobalCluster lists, exactly.
    it("hands on exactly the faults the API reference documents", () => {
      expect(REMOVE_FROM_GLOBAL_CLUSTER_FAULTS).toEqual([
        "DBClusterNotFoundFault",
        "GlobalClusterNotFoundFault",
        "InvalidGlobalClusterStateFault",
        "InvalidDBClusterStateFault",
      ]);
    });

    it.each(REMOVE_FROM_GLOBAL_CLUSTER_FAULTS)(
      "counts %s as done when the global cluster no longer lists the cluster",
      async (code) => {
        rds.on(RemoveFromGlobalClusterCommand).rejects(fault(code));
        rds.on(DescribeGlobalClustersCommand).resolves({
          GlobalClusters: [
            { GlobalClusterIdentifier: "payments-global-prod", GlobalClusterMembers: [] },
          ],
        });
        await expect(
          removeFromGlobalClusterOnce(database, "payments-global-prod", arn, true),
        ).resolves.toBe("already-removed");
        expect(rds.commandCalls(RemoveFromGlobalClusterCommand)[0]!.args[0].input).toEqual({
          GlobalClusterIdentifier: "payments-global-prod",
          DbClusterIdentifier: arn,
        });
      },
    );

    it("counts a removal as done when the global cluster is gone", async () => {
      rds.on(RemoveFromGlobalClusterCommand).rejects(fault("GlobalClusterNotFoundFault"));
      rds.on(DescribeGlobalClustersCommand).rejects(fault("GlobalClusterNotFoundFault"));
      await expect(
        removeFromGlobalClusterOnce(database, "payments-global-prod", arn, true),
      ).resolves.toBe("already-removed");
    });

    it.each(["InvalidDBClusterStateFault", "InvalidGlobalClusterStateFault"])(
      "reports %s while the cluster is still listed as a removal still under way, for the caller to wait on",
      async (code) => {
        // Asynchronous: the member is listed until the removal is done (review L1).
        rds.on(RemoveFromGlobalClusterCommand).rejects(fault(code));
        rds.on(DescribeGlobalClustersCommand).resolves({
          GlobalClusters: [
            {
              GlobalClusterIdentifier: "payments-global-prod",
              GlobalClusterMembers: [{ DBClusterArn: arn, IsWriter: true }],
            },
          ],
        });
        const error = await removeFromGlobalClusterOnce(
          database,
          "payments-global-prod",
          arn,
          true,
        ).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RemovalPendingError);
        // Named TransientError: Promote's ASL Retry waits for it.
        expect(error).toMatchObject({ name: "TransientError", code });
      },
    );

    // Review L3 (session 22): on a first request nothing is under way to wait for.
    it.each(["InvalidDBClusterStateFault", "InvalidGlobalClusterStateFault"])(
      "rejects %s on a first request as RDS refusing the removal, not a removal under way",
      async (code) => {
        rds.on(RemoveFromGlobalClusterCommand).rejects(fault(code));
        rds.on(DescribeGlobalClustersCommand).resolves({
          GlobalClusters: [
            {
              GlobalClusterIdentifier: "payments-global-prod",
              GlobalClusterMembers: [{ DBClusterArn: arn, IsWriter: true }],
            },
          ],
        });
        const error = await removeFromGlobalClusterOnce(
          database,
          "payments-global-prod",
          arn,
          false,
        ).catch((e: unknown) => e);
        expect(error).not.toBeInstanceOf(RemovalPendingError);
        expect(error).toMatchObject({
          name: "DependencyError",
          code,
          message: expect.stringMatching(/first request \(no earlier removal to wait for\)/),
        });
      },
    );

    it("rejects a not-found fault when the cluster is still a member", async () => {
      rds.on(RemoveFromGlobalClusterCommand).rejects(fault("DBClusterNotFoundFault"));
      rds.on(DescribeGlobalClustersCommand).resolves({
        GlobalClusters: [
          {
            GlobalClusterIdentifier: "payments-global-prod",
            GlobalClusterMembers: [{ DBClusterArn: arn, IsWriter: true }],
          },
        ],
      });
      await expect(
        removeFromGlobalClusterOnce(database, "payments-global-prod", arn, true),
      ).rejects.toMatchObject({ name: "DependencyError", code: "DBClusterNotFoundFault" });
    });

    it("rejects an undocumented fault without looking", async () => {
      rds.on(RemoveFromGlobalClusterCommand).rejects(fault("InvalidParameterValue"));
      await expect(
        removeFromGlobalClusterOnce(database, "payments-global-prod", arn, true),
      ).rejects.toMatchObject({ name: "DependencyError" });
      expect(rds.commandCalls(DescribeGlobalClustersCommand)).toEqual([]);
    });

    it("reports a removal that went through", async () => {
      rds.on(RemoveFromGlobalClusterCommand).resolves({});
      await expect(
        removeFromGlobalClusterOnce(database, "payments-global-prod", arn, true),
      ).resolves.toBe("removed");
    });
  });
});
