// RestoreCapacity's two RDS calls, at the SDK: the exact CreateDBInstance request, and an
// identifier that already exists answered as done.
import "aws-sdk-client-mock-jest";
import {
  CreateDBInstanceCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import { RdsDatabase } from "../../../functions/dr/shared/aws/rds";
import { parseCapacity } from "../../../functions/dr/shared/settings";
import { TEST_CAPACITY } from "./support/fake-world";

const rds = mockClient(RDSClient);
beforeEach(() => rds.reset());

function fault(name: string): Error {
  return Object.assign(new Error(`${name}: simulated`), {
    name,
    $metadata: { httpStatusCode: 400 },
  });
}

const spec = {
  identifier: "payments-db-2-usw2-test",
  clusterIdentifier: "payments-usw2-test",
  instanceClass: "db.r6g.large",
  engine: "aurora-postgresql",
  promotionTier: 1,
  dbSubnetGroupName: "payments-db-usw2-test",
  monitoringRoleArn: "arn:aws:iam::123456789012:role/payments-rds-monitoring-test",
  monitoringInterval: 15,
  performanceInsightsKmsKeyId: "arn:aws:kms:us-west-2:123456789012:key/mrk-storage",
  caCertificateIdentifier: "rds-ca-rsa2048-g1",
  tags: { Name: "payments-db-2-usw2-test", "created-by": "payments-dr-restore-capacity" },
};

describe("adding a reader", () => {
  it("creates the instance Terraform would, in the cluster, with its settings", async () => {
    rds.on(CreateDBInstanceCommand).resolves({
      DBInstance: { DBInstanceIdentifier: spec.identifier, DBInstanceStatus: "creating" },
    });
    await expect(
      new RdsDatabase(new RDSClient({ region: "us-west-2" })).createInstance(spec),
    ).resolves.toBe("created");
    expect(rds).toHaveReceivedCommandWith(CreateDBInstanceCommand, {
      DBInstanceIdentifier: "payments-db-2-usw2-test",
      DBClusterIdentifier: "payments-usw2-test",
      DBInstanceClass: "db.r6g.large",
      Engine: "aurora-postgresql",
      PromotionTier: 1,
      DBSubnetGroupName: "payments-db-usw2-test",
      PubliclyAccessible: false,
      AutoMinorVersionUpgrade: false,
      MonitoringInterval: 15,
      MonitoringRoleArn: spec.monitoringRoleArn,
      EnablePerformanceInsights: true,
      PerformanceInsightsKMSKeyId: spec.performanceInsightsKmsKeyId,
      PerformanceInsightsRetentionPeriod: 7,
      CACertificateIdentifier: "rds-ca-rsa2048-g1",
      Tags: [
        { Key: "Name", Value: "payments-db-2-usw2-test" },
        { Key: "created-by", Value: "payments-dr-restore-capacity" },
      ],
    });
  });

  it("answers exists when the identifier is taken (a retried create that had landed)", async () => {
    rds.on(CreateDBInstanceCommand).rejects(fault("DBInstanceAlreadyExistsFault"));
    await expect(new RdsDatabase(new RDSClient({})).createInstance(spec)).resolves.toBe("exists");
  });

  it("fails with the port's vocabulary on a quota or permission refusal", async () => {
    rds.on(CreateDBInstanceCommand).rejects(fault("InstanceQuotaExceededFault"));
    await expect(new RdsDatabase(new RDSClient({})).createInstance(spec)).rejects.toMatchObject({
      name: "DependencyError",
      message: expect.stringContaining("rds:CreateDBInstance failed: InstanceQuotaExceededFault"),
    });
  });

  it("lists the cluster's instances by the db-cluster-id filter", async () => {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        {
          DBInstanceIdentifier: "a",
          DBInstanceStatus: "available",
          DBInstanceClass: "db.r6g.large",
        },
      ],
    });
    await expect(
      new RdsDatabase(new RDSClient({})).instances("payments-usw2-test"),
    ).resolves.toEqual([{ identifier: "a", status: "available", instanceClass: "db.r6g.large" }]);
    expect(rds).toHaveReceivedCommandWith(DescribeDBInstancesCommand, {
      Filters: [{ Name: "db-cluster-id", Values: ["payments-usw2-test"] }],
    });
  });
});

describe("releasing a restored reader, at the SDK", () => {
  it("deletes it by identifier alone: an Aurora instance takes no final snapshot", async () => {
    rds.on(DeleteDBInstanceCommand).resolves({ DBInstance: { DBInstanceStatus: "deleting" } });
    await expect(
      new RdsDatabase(new RDSClient({})).deleteInstance("payments-db-2-usw2-test"),
    ).resolves.toBe("deleting");
    expect(rds.commandCalls(DeleteDBInstanceCommand)[0]!.args[0].input).toEqual({
      DBInstanceIdentifier: "payments-db-2-usw2-test",
    });
  });

  it("answers gone when it no longer exists (a retried delete that had landed)", async () => {
    rds.on(DeleteDBInstanceCommand).rejects(fault("DBInstanceNotFoundFault"));
    await expect(
      new RdsDatabase(new RDSClient({})).deleteInstance("payments-db-2-usw2-test"),
    ).resolves.toBe("gone");
  });

  it("passes on a refusal while it is still being created, for the core to wait", async () => {
    rds.on(DeleteDBInstanceCommand).rejects(fault("InvalidDBInstanceStateFault"));
    await expect(
      new RdsDatabase(new RDSClient({})).deleteInstance("payments-db-2-usw2-test"),
    ).rejects.toMatchObject({
      message: expect.stringContaining("InvalidDBInstanceStateFault"),
    });
  });

  it("reads each instance's tags and the cluster's writer, which the release must never touch", async () => {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        {
          DBInstanceIdentifier: "payments-db-2-usw2-test",
          DBInstanceStatus: "available",
          DBInstanceClass: "db.r6g.large",
          TagList: [{ Key: "created-by", Value: "payments-dr-restore-capacity" }],
        },
      ],
    });
    rds.on(DescribeDBClustersCommand).resolves({
      DBClusters: [
        {
          DBClusterArn: "arn:aws:rds:us-west-2:1:cluster:payments-usw2-test",
          Status: "available",
          DBClusterMembers: [
            { DBInstanceIdentifier: "payments-db-1-usw2-test", IsClusterWriter: true },
            { DBInstanceIdentifier: "payments-db-2-usw2-test", IsClusterWriter: false },
          ],
        },
      ],
    });
    const database = new RdsDatabase(new RDSClient({}));
    await expect(database.instances("payments-usw2-test")).resolves.toEqual([
      {
        identifier: "payments-db-2-usw2-test",
        status: "available",
        instanceClass: "db.r6g.large",
        tags: { "created-by": "payments-dr-restore-capacity" },
      },
    ]);
    await expect(database.describeCluster("payments-usw2-test")).resolves.toMatchObject({
      writer: "payments-db-1-usw2-test",
    });
  });
});

describe("DR_CAPACITY", () => {
  it("accepts what infra renders and rejects a plan whose identifiers do not match the count", () => {
    expect(parseCapacity(JSON.stringify(TEST_CAPACITY))).toEqual(TEST_CAPACITY);
    expect(parseCapacity(undefined)).toBeNull();
    const bad = { ...TEST_CAPACITY, instances: 3 };
    expect(() => parseCapacity(JSON.stringify(bad))).toThrow(
      /DR_CAPACITY: regions.us-east-1.identifiers must list 3 identifiers/,
    );
    expect(() => parseCapacity("{")).toThrow("DR_CAPACITY is not valid JSON");
    expect(() => parseCapacity(JSON.stringify({ ...TEST_CAPACITY, standbyInstances: 3 }))).toThrow(
      /DR_CAPACITY: standbyInstances must be a whole number from 1 to instances \(2\), got 3/,
    );
  });
});
