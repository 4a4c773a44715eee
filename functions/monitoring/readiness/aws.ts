// The readiness evaluator's AWS reads, one SDK client per service and region, each built on its
// first use. Every call is read-only. This region's clients get two attempts; the other
// region's one attempt with short timeouts, so a region that is down costs a few seconds and
// its checks report `unknown`, never a hung evaluation. IAM is a global service whose endpoint
// lives in us-east-1 (iam.amazonaws.com): its calls are treated like the other region's.
import {
  ListCopyJobsCommand,
  ListRecoveryPointsByBackupVaultCommand,
} from "@aws-sdk/client-backup";
import type { BackupClient } from "@aws-sdk/client-backup";
import { DescribeAlarmsCommand, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DescribeContinuousBackupsCommand, DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SimulatePrincipalPolicyCommand } from "@aws-sdk/client-iam";
import type { IAMClient } from "@aws-sdk/client-iam";
import { DescribeKeyCommand } from "@aws-sdk/client-kms";
import type { KMSClient } from "@aws-sdk/client-kms";
import {
  GetAccountSettingsCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
} from "@aws-sdk/client-lambda";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
} from "@aws-sdk/client-rds";
import type { RDSClient } from "@aws-sdk/client-rds";
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
} from "@aws-sdk/client-service-quotas";
import type { ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { DescribeStateMachineCommand } from "@aws-sdk/client-sfn";
import type { SFNClient } from "@aws-sdk/client-sfn";
import {
  DescribeAutomationExecutionsCommand,
  GetParametersByPathCommand,
} from "@aws-sdk/client-ssm";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { AccessDeniedError, TransientError } from "../../dr/shared/errors";
import { awsErrorName, toPortError } from "../../dr/shared/aws/errors";
import type { ReadinessSource, SimulationResult } from "./core";
import { SourceError } from "./core";

/** The SDK clients of one region (tests pass mocked instances). */
export interface RegionClients {
  readonly rds: RDSClient;
  readonly kms: KMSClient;
  readonly lambda: LambdaClient;
  readonly ssm: SSMClient;
  readonly dynamodb: DynamoDBClient;
  readonly sfn: SFNClient;
  readonly serviceQuotas: ServiceQuotasClient;
  readonly backup: BackupClient;
  readonly cloudwatch: CloudWatchClient;
}

/** Most pages any list is followed for: a check must end in bounded time. */
export const MAX_PAGES = 10;

function sourceError(call: string, error: unknown): SourceError {
  const mapped = toPortError(call, error);
  if (mapped instanceof AccessDeniedError) return new SourceError(mapped.message, "denied");
  if (mapped instanceof TransientError) return new SourceError(mapped.message, "unreachable");
  return new SourceError(mapped.message, "other");
}

async function read<T>(call: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof SourceError) throw error;
    throw sourceError(call, error);
  }
}

export class AwsReadinessSource implements ReadinessSource {
  constructor(
    private readonly clients: (region: string) => RegionClients,
    private readonly iam: () => IAMClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  globalCluster(region: string, identifier: string) {
    return read(`rds:DescribeGlobalClusters in ${region}`, async () => {
      try {
        const out = await this.clients(region).rds.send(
          new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: identifier }),
        );
        const g = out.GlobalClusters?.[0];
        if (!g) return null;
        return {
          status: g.Status ?? "unknown",
          members: (g.GlobalClusterMembers ?? []).map((m) => ({
            clusterArn: m.DBClusterArn ?? "",
            isWriter: m.IsWriter === true,
          })),
        };
      } catch (error) {
        if (awsErrorName(error) === "GlobalClusterNotFoundFault") return null;
        throw error;
      }
    });
  }

  cluster(region: string, identifier: string) {
    return read(`rds:DescribeDBClusters in ${region}`, async () => {
      try {
        const out = await this.clients(region).rds.send(
          new DescribeDBClustersCommand({ DBClusterIdentifier: identifier }),
        );
        const c = out.DBClusters?.[0];
        if (!c) return null;
        return {
          arn: c.DBClusterArn ?? "",
          status: c.Status ?? "unknown",
          engineVersion: c.EngineVersion ?? "unknown",
        };
      } catch (error) {
        if (awsErrorName(error) === "DBClusterNotFoundFault") return null;
        throw error;
      }
    });
  }

  instances(region: string, clusterIdentifier: string) {
    return read(`rds:DescribeDBInstances in ${region}`, async () => {
      const out = await this.clients(region).rds.send(
        new DescribeDBInstancesCommand({
          Filters: [{ Name: "db-cluster-id", Values: [clusterIdentifier] }],
        }),
      );
      return (out.DBInstances ?? []).map((i) => ({
        identifier: i.DBInstanceIdentifier ?? "",
        status: i.DBInstanceStatus ?? "unknown",
        instanceClass: i.DBInstanceClass ?? "unknown",
      }));
    });
  }

  key(region: string, keyArn: string) {
    return read(`kms:DescribeKey in ${region}`, async () => {
      const out = await this.clients(region).kms.send(new DescribeKeyCommand({ KeyId: keyArn }));
      const m = out.KeyMetadata;
      const type = m?.MultiRegionConfiguration?.MultiRegionKeyType;
      return {
        arn: m?.Arn ?? keyArn,
        state: m?.KeyState ?? "unknown",
        ...(type === "PRIMARY" || type === "REPLICA" ? { multiRegionType: type } : {}),
      };
    });
  }

  /** Two checks read each function: one read per region and function per evaluation. */
  private readonly functions = new Map<string, ReturnType<ReadinessSource["functionInfo"]>>();

  functionInfo(region: string, name: string) {
    const key = `${region}/${name}`;
    let found = this.functions.get(key);
    if (!found) {
      found = this.readFunction(region, name);
      this.functions.set(key, found);
    }
    return found;
  }

  private readFunction(region: string, name: string) {
    return read(`lambda:GetFunctionConfiguration in ${region}`, async () => {
      const lambda = this.clients(region).lambda;
      try {
        const [config, concurrency] = await Promise.all([
          lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name })),
          lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: name })),
        ]);
        return {
          codeSha256: config.CodeSha256 ?? "",
          memoryMb: config.MemorySize ?? 0,
          timeoutSeconds: config.Timeout ?? 0,
          runtime: config.Runtime ?? "unknown",
          environmentNames: Object.keys(config.Environment?.Variables ?? {}),
          ...(concurrency.ReservedConcurrentExecutions !== undefined
            ? { reservedConcurrency: concurrency.ReservedConcurrentExecutions }
            : {}),
        };
      } catch (error) {
        if (awsErrorName(error) === "ResourceNotFoundException") return null;
        throw error;
      }
    });
  }

  accountConcurrency(region: string) {
    return read(`lambda:GetAccountSettings in ${region}`, async () => {
      const out = await this.clients(region).lambda.send(new GetAccountSettingsCommand({}));
      return out.AccountLimit?.ConcurrentExecutions ?? 0;
    });
  }

  parameters(region: string, prefix: string) {
    return read(`ssm:GetParametersByPath in ${region}`, async () => {
      const found: { name: string; type: string }[] = [];
      let token: string | undefined;
      for (let page = 0; page < MAX_PAGES * 5; page += 1) {
        // Names and types only: without WithDecryption a SecureString's value stays encrypted
        // and no KMS permission is needed (API_GetParametersByPath).
        const out = await this.clients(region).ssm.send(
          new GetParametersByPathCommand({
            Path: prefix,
            Recursive: true,
            WithDecryption: false,
            MaxResults: 10,
            NextToken: token,
          }),
        );
        for (const p of out.Parameters ?? []) {
          found.push({ name: p.Name ?? "", type: p.Type ?? "unknown" });
        }
        token = out.NextToken;
        if (!token) return found;
      }
      throw new SourceError(`more than ${MAX_PAGES * 50} parameters under ${prefix}`, "other");
    });
  }

  table(region: string, name: string) {
    return read(`dynamodb:DescribeTable in ${region}`, async () => {
      try {
        const out = await this.clients(region).dynamodb.send(
          new DescribeTableCommand({ TableName: name }),
        );
        return {
          status: out.Table?.TableStatus ?? "unknown",
          ...(out.Table?.CreationDateTime ? { createdAt: out.Table.CreationDateTime } : {}),
          replicas: (out.Table?.Replicas ?? []).map((r) => ({
            region: r.RegionName ?? "",
            status: r.ReplicaStatus ?? "unknown",
          })),
        };
      } catch (error) {
        if (awsErrorName(error) === "ResourceNotFoundException") return null;
        throw error;
      }
    });
  }

  pointInTimeRecovery(region: string, name: string) {
    return read(`dynamodb:DescribeContinuousBackups in ${region}`, async () => {
      const out = await this.clients(region).dynamodb.send(
        new DescribeContinuousBackupsCommand({ TableName: name }),
      );
      return (
        out.ContinuousBackupsDescription?.PointInTimeRecoveryDescription
          ?.PointInTimeRecoveryStatus ?? "DISABLED"
      );
    });
  }

  stateMachine(region: string, arn: string) {
    return read(`states:DescribeStateMachine in ${region}`, async () => {
      try {
        const out = await this.clients(region).sfn.send(
          new DescribeStateMachineCommand({ stateMachineArn: arn }),
        );
        return { status: out.status ?? "unknown", definition: out.definition ?? "" };
      } catch (error) {
        if (awsErrorName(error) === "StateMachineDoesNotExist") return null;
        throw error;
      }
    });
  }

  simulate(
    roleArn: string,
    actions: readonly string[],
    resources: readonly string[],
    context: Readonly<Record<string, string>> = {},
  ) {
    return read("iam:SimulatePrincipalPolicy", async () => {
      const results: SimulationResult[] = [];
      let marker: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        let out;
        try {
          out = await this.iam().send(
            new SimulatePrincipalPolicyCommand({
              PolicySourceArn: roleArn,
              ActionNames: [...actions],
              ResourceArns: [...resources],
              ContextEntries: Object.entries(context).map(([ContextKeyName, value]) => ({
                ContextKeyName,
                ContextKeyValues: [value],
                ContextKeyType: "string",
              })),
              Marker: marker,
            }),
          );
        } catch (error) {
          // IAM answers NoSuchEntity (SDK: NoSuchEntityException) for a role that does not
          // exist (API_SimulatePrincipalPolicy, Errors): every call of that role is refused.
          if (!/^NoSuchEntity/.test(awsErrorName(error))) throw error;
          return actions.flatMap((action) =>
            resources.map((resource) => ({ action, resource, decision: "noSuchEntity" })),
          );
        }
        for (const r of out.EvaluationResults ?? []) {
          const action = r.EvalActionName ?? "";
          // IAM: the simulator returns one EvaluationResult per action, the decision for each
          // resource in ResourceSpecificResults; older answers had one result per resource
          // with EvalResourceName (API_EvaluationResult).
          const perResource = r.ResourceSpecificResults ?? [];
          if (perResource.length > 0) {
            for (const p of perResource) {
              results.push({
                action,
                resource: p.EvalResourceName ?? "*",
                decision: p.EvalResourceDecision ?? "implicitDeny",
              });
            }
          } else {
            results.push({
              action,
              resource: r.EvalResourceName ?? "*",
              decision: r.EvalDecision ?? "implicitDeny",
            });
          }
        }
        if (!out.IsTruncated) return results;
        marker = out.Marker;
      }
      throw new SourceError(`simulation of ${roleArn} has over ${MAX_PAGES} pages`, "other");
    });
  }

  quota(region: string, serviceCode: string, quotaCode: string) {
    return read(`servicequotas:GetServiceQuota in ${region}`, async () => {
      const quota = await this.serviceQuota(region, serviceCode, quotaCode);
      return quota?.Value ?? null;
    });
  }

  quotaUsage(region: string, serviceCode: string, quotaCode: string, since: Date) {
    return read(
      `servicequotas:GetServiceQuota + cloudwatch:GetMetricData in ${region}`,
      async () => {
        // Service Quotas names the CloudWatch metric that counts a quota's usage
        // (ServiceQuota.UsageMetric, API reference; "Service Quotas and Amazon CloudWatch
        // alarms", https://docs.aws.amazon.com/servicequotas/latest/userguide/
        // configure-cloudwatch.html), with the statistic it recommends (Maximum).
        const metric = (await this.serviceQuota(region, serviceCode, quotaCode))?.UsageMetric;
        if (!metric?.MetricNamespace || !metric.MetricName) return null;
        const out = await this.clients(region).cloudwatch.send(
          new GetMetricDataCommand({
            StartTime: since,
            EndTime: this.now(),
            MetricDataQueries: [
              {
                Id: "usage",
                MetricStat: {
                  Metric: {
                    Namespace: metric.MetricNamespace,
                    MetricName: metric.MetricName,
                    Dimensions: Object.entries(metric.MetricDimensions ?? {}).map(
                      ([Name, Value]) => ({ Name, Value }),
                    ),
                  },
                  Period: 3600,
                  Stat: metric.MetricStatisticRecommendation ?? "Maximum",
                },
              },
            ],
          }),
        );
        const values = out.MetricDataResults?.[0]?.Values ?? [];
        return values.length > 0 ? Math.max(...values) : null;
      },
    );
  }

  /** GetServiceQuota, or AWS's default for a quota never raised; null when neither knows it. */
  private async serviceQuota(region: string, serviceCode: string, quotaCode: string) {
    {
      const client = this.clients(region).serviceQuotas;
      try {
        const out = await client.send(
          new GetServiceQuotaCommand({ ServiceCode: serviceCode, QuotaCode: quotaCode }),
        );
        return out.Quota ?? null;
      } catch (error) {
        // Service Quotas: a quota never raised may answer NoSuchResourceException; its value
        // is then AWS's default (API_GetServiceQuota, API_GetAWSDefaultServiceQuota).
        if (awsErrorName(error) !== "NoSuchResourceException") throw error;
        try {
          const out = await client.send(
            new GetAWSDefaultServiceQuotaCommand({
              ServiceCode: serviceCode,
              QuotaCode: quotaCode,
            }),
          );
          return out.Quota ?? null;
        } catch (inner) {
          if (awsErrorName(inner) === "NoSuchResourceException") return null;
          throw inner;
        }
      }
    }
  }

  recoveryPoints(region: string, vaultName: string, since: Date) {
    return read(`backup:ListRecoveryPointsByBackupVault in ${region}`, async () => {
      const found = [];
      let token: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const out = await this.clients(region).backup.send(
          new ListRecoveryPointsByBackupVaultCommand({
            BackupVaultName: vaultName,
            ByCreatedAfter: since,
            NextToken: token,
          }),
        );
        for (const p of out.RecoveryPoints ?? []) {
          if (!p.CreationDate) continue;
          found.push({
            resourceArn: p.ResourceArn ?? "",
            createdAt: p.CreationDate,
            status: p.Status ?? "unknown",
            ...(p.SourceBackupVaultArn ? { sourceVaultArn: p.SourceBackupVaultArn } : {}),
          });
        }
        token = out.NextToken;
        if (!token) break;
      }
      return found;
    });
  }

  copyJobs(region: string, destinationVaultArn: string, since: Date) {
    return read(`backup:ListCopyJobs in ${region}`, async () => {
      const found = [];
      let token: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const out = await this.clients(region).backup.send(
          new ListCopyJobsCommand({
            ByDestinationVaultArn: destinationVaultArn,
            ByState: "COMPLETED",
            ByCompleteAfter: since,
            NextToken: token,
          }),
        );
        for (const j of out.CopyJobs ?? []) {
          // The filter is the server's; the state is checked again so a page that ignored it
          // cannot pass a FAILED or PARTIAL job off as a copy.
          if (!j.CompletionDate || j.State !== "COMPLETED" || !j.ResourceArn) continue;
          found.push({ resourceArn: j.ResourceArn, completedAt: j.CompletionDate });
        }
        token = out.NextToken;
        if (!token) break;
      }
      return found;
    });
  }

  lastSuccessfulAutomation(region: string, documentName: string) {
    return read(`ssm:DescribeAutomationExecutions in ${region}`, async () => {
      let newest: Date | null = null;
      let token: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const out = await this.clients(region).ssm.send(
          new DescribeAutomationExecutionsCommand({
            Filters: [
              { Key: "DocumentNamePrefix", Values: [documentName] },
              { Key: "ExecutionStatus", Values: ["Success"] },
            ],
            NextToken: token,
          }),
        );
        for (const e of out.AutomationExecutionMetadataList ?? []) {
          const end = e.ExecutionEndTime;
          if (e.DocumentName === documentName && end && (!newest || end > newest)) newest = end;
        }
        token = out.NextToken;
        if (!token) break;
      }
      return newest;
    });
  }

  latestMetric(
    region: string,
    metric: { namespace: string; name: string; dimensions: Readonly<Record<string, string>> },
    since: Date,
  ) {
    return read(`cloudwatch:GetMetricData ${metric.name} in ${region}`, async () => {
      const out = await this.clients(region).cloudwatch.send(
        new GetMetricDataCommand({
          StartTime: since,
          EndTime: this.now(),
          ScanBy: "TimestampDescending",
          MaxDatapoints: 100,
          MetricDataQueries: [
            {
              Id: "m",
              ReturnData: true,
              MetricStat: {
                Metric: {
                  Namespace: metric.namespace,
                  MetricName: metric.name,
                  Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({
                    Name,
                    Value,
                  })),
                },
                Period: 60,
                Stat: "Maximum",
              },
            },
          ],
        }),
      );
      const series = out.MetricDataResults?.find((r) => r.Id === "m");
      const at = series?.Timestamps?.[0];
      const value = series?.Values?.[0];
      return at && value !== undefined ? { value, at } : null;
    });
  }

  alarms(region: string, namePrefix: string, state: string) {
    return read(`cloudwatch:DescribeAlarms in ${region}`, async () => {
      const found = [];
      let token: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const out = await this.clients(region).cloudwatch.send(
          new DescribeAlarmsCommand({
            AlarmNamePrefix: namePrefix,
            StateValue: state as never,
            AlarmTypes: ["MetricAlarm", "CompositeAlarm"],
            NextToken: token,
          }),
        );
        for (const a of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]) {
          found.push({
            name: a.AlarmName ?? "",
            state: a.StateValue ?? state,
            since: a.StateUpdatedTimestamp ?? this.now(),
          });
        }
        token = out.NextToken;
        if (!token) break;
      }
      return found;
    });
  }
}
