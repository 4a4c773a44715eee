// Aurora global database calls, in the region of the given client.
import {
  CreateDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  RemoveFromGlobalClusterCommand,
  SwitchoverGlobalClusterCommand,
} from "@aws-sdk/client-rds";
import type { RDSClient } from "@aws-sdk/client-rds";
import { ManagedFailoverUnavailableError } from "../errors";
import type {
  ClusterView,
  DatabasePort,
  GlobalClusterView,
  InstanceView,
  NewInstance,
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
        members: (g.GlobalClusterMembers ?? []).map((m) => ({
          clusterArn: m.DBClusterArn ?? "",
          isWriter: m.IsWriter === true,
        })),
        ...(g.FailoverState?.Status
          ? {
              failover: {
                status: g.FailoverState.Status,
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
        instanceClass: i.DBInstanceClass ?? "unknown",
      }));
    } catch (error) {
      throw toPortError("rds:DescribeDBInstances", error);
    }
  }

  async createInstance(spec: NewInstance): Promise<"created" | "exists"> {
    try {
      // Aurora: a reader is added with CreateDBInstance naming the cluster; engine version,
      // storage and encryption come from the cluster (aurora-replicas-adding.html).
      await this.rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: spec.identifier,
          DBClusterIdentifier: spec.clusterIdentifier,
          DBInstanceClass: spec.instanceClass,
          Engine: spec.engine,
          PromotionTier: spec.promotionTier,
          DBSubnetGroupName: spec.dbSubnetGroupName,
          PubliclyAccessible: false,
          AutoMinorVersionUpgrade: false,
          MonitoringInterval: spec.monitoringInterval,
          MonitoringRoleArn: spec.monitoringRoleArn,
          EnablePerformanceInsights: true,
          PerformanceInsightsKMSKeyId: spec.performanceInsightsKmsKeyId,
          PerformanceInsightsRetentionPeriod: 7,
          CACertificateIdentifier: spec.caCertificateIdentifier,
          Tags: Object.entries(spec.tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      return "created";
    } catch (error) {
      // A retried or resumed run finds the instance it asked for: done, not an error.
      if (awsErrorName(error) === "DBInstanceAlreadyExistsFault") return "exists";
      throw toPortError("rds:CreateDBInstance", error);
    }
  }
}
