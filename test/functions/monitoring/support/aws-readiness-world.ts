// Both regions as the readiness evaluator's AWS SDK clients see them: one mocked client per
// service and region (aws-sdk-client-mock on each instance), answering from plain data a test
// can change. The responses have the shapes and values AWS returns for a healthy deployment of
// this kit; each test breaks one thing and looks at the check that must notice.
import {
  ListCopyJobsCommand,
  ListRecoveryPointsByBackupVaultCommand,
} from "@aws-sdk/client-backup";
import { DescribeAlarmsCommand, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import type { GetMetricDataCommandInput } from "@aws-sdk/client-cloudwatch";
import { DescribeContinuousBackupsCommand, DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { IAMClient, SimulatePrincipalPolicyCommand } from "@aws-sdk/client-iam";
import type { SimulatePrincipalPolicyCommandInput } from "@aws-sdk/client-iam";
import { DescribeKeyCommand } from "@aws-sdk/client-kms";
import {
  GetAccountSettingsCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
} from "@aws-sdk/client-lambda";
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
} from "@aws-sdk/client-rds";
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
} from "@aws-sdk/client-service-quotas";
import { DescribeStateMachineCommand } from "@aws-sdk/client-sfn";
import {
  DescribeAutomationExecutionsCommand,
  GetParametersByPathCommand,
} from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import type { AwsClientStub } from "aws-sdk-client-mock";
import type { RegionClients } from "../../../../functions/monitoring/readiness/aws";
import { AwsReadinessSource } from "../../../../functions/monitoring/readiness/aws";
import { newRegionClients } from "../../../../functions/monitoring/readiness/wiring";
import type {
  ReadinessDeps,
  ReadinessSettings,
} from "../../../../functions/monitoring/readiness/core";
import { DR_TASK_NAMES } from "../../../../functions/dr/tasks";
import { EAST, silentLog, TOPOLOGY, WEST } from "../../dr/support/fake-world";
import type { PolicyStatement } from "./iam-simulator";
import { drRolePolicies, revoke, simulatePrincipalPolicy } from "./iam-simulator";

export const ACCOUNT = "123456789012";
export { EAST, WEST };

/** Each DR task's own role, named as infra/lib/nodejs-function.ts names it. */
const taskRoles = (code: string) =>
  Object.fromEntries(
    DR_TASK_NAMES.map((t) => [t, `arn:aws:iam::${ACCOUNT}:role/payments-fn-dr-${t}-${code}-test`]),
  );

export const SETTINGS: ReadinessSettings = {
  accountId: ACCOUNT,
  paymentFunctions: ["payments-authorize-test", "payments-capture-test"],
  taskFunctions: DR_TASK_NAMES.map((t) => `payments-dr-${t}-test`),
  reportWriter: "payments-report-writer-test",
  tables: ["payments-control-test", "payments-sessions-test"],
  stateMachines: ["payments-failover-test"],
  drillDocument: "payments-dr-drill-test",
  regions: {
    [EAST]: {
      keyArns: [
        `arn:aws:kms:${EAST}:${ACCOUNT}:key/mrk-1111`,
        `arn:aws:kms:${EAST}:${ACCOUNT}:key/aaaa`,
      ],
      taskRoleArns: taskRoles("use1"),
      workflowRoleArn: `arn:aws:iam::${ACCOUNT}:role/payments-dr-workflows-use1-test`,
      instanceIdentifiers: ["payments-db-1-use1-test", "payments-db-2-use1-test"],
      backupVault: "payments-vault-use1-test",
      // As infra/naming.ts names them (infra/constructs/database.ts).
      subnetGroup: "payments-db-use1-test",
      clusterParameterGroup: "payments-db-primary-use1-test",
    },
    [WEST]: {
      keyArns: [
        `arn:aws:kms:${WEST}:${ACCOUNT}:key/mrk-1111`,
        `arn:aws:kms:${WEST}:${ACCOUNT}:key/bbbb`,
      ],
      taskRoleArns: taskRoles("usw2"),
      workflowRoleArn: `arn:aws:iam::${ACCOUNT}:role/payments-dr-workflows-usw2-test`,
      instanceIdentifiers: ["payments-db-1-usw2-test", "payments-db-2-usw2-test"],
      backupVault: "payments-vault-usw2-test",
      // As infra/naming.ts names them (infra/constructs/database.ts).
      subnetGroup: "payments-db-usw2-test",
      clusterParameterGroup: "payments-db-secondary-usw2-test",
    },
  },
  proberRegion: WEST,
  alarmPrefix: "payments-",
  alarmSuffix: "-test",
  database: {
    instanceClass: "db.r6g.large",
    writerInstances: 2,
    standbyInstances: 1,
    engineVersion: "16.6",
    monitoringRoleArn: `arn:aws:iam::${ACCOUNT}:role/payments-rds-monitoring-test`,
  },
  lag: { warnMs: 1000, failMs: 300_000 },
  quotas: [
    { serviceCode: "lambda", quotaCode: "L-B99A9384", name: "Concurrent executions" },
    { serviceCode: "rds", quotaCode: "L-7B6409FD", name: "DB instances" },
  ],
  freshnessGraceHours: 48,
  unknownPageAfter: 4,
  scheduleMinutes: 30,
  // As the connection budget renders it by default: 1000 assumed, database functions reserved.
  lambdaBudget: {
    accountConcurrency: 1000,
    reserved: { [EAST]: 540, [WEST]: 545 },
    unreserved: [],
  },
};

type Stubs = { [K in keyof RegionClients]: AwsClientStub<RegionClients[K]> };

interface FunctionData {
  CodeSha256: string;
  MemorySize: number;
  Timeout: number;
  Runtime: string;
  Environment: { Variables: Record<string, string> };
  reserved?: number;
}

export function sdkError(name: string, status = 400): Error {
  const error = new Error(`${name}: simulated`) as Error & { $metadata: object; $fault: string };
  error.name = name;
  error.$metadata = { httpStatusCode: status };
  error.$fault = status >= 500 ? "server" : "client";
  return error;
}

/** The data behind the mocks: a healthy deployment, us-east-1 writing, 10:00 UTC. */
/**
 * ServiceQuota.UsageMetric of the compared quotas, as GetServiceQuota returns it. The evaluator
 * never names these metrics itself: it queries whatever UsageMetric Service Quotas answers
 * (Service Quotas API Reference, ServiceQuota / MetricInfo,
 * https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_MetricInfo.html), so
 * only this fixture carries the names, taken from AWS's pages:
 * - Lambda: `ConcurrentExecutions` in AWS/Lambda without dimensions is account-level, "View this
 *   metric using MAX" (Lambda Developer Guide, "Monitoring concurrency",
 *   https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html);
 * - RDS: usage metrics are published in AWS/Usage ("Amazon RDS publishes metrics to Amazon
 *   CloudWatch in the AWS/RDS and AWS/Usage namespaces", RDS User Guide, "Amazon CloudWatch
 *   metrics for Amazon RDS", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/
 *   rds-metrics.html#rds-metrics-usage), the DB instance count as ResourceCount with
 *   Service/Type/Resource/Class dimensions (CloudWatch User Guide, "AWS usage metrics",
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Service-Quota-Integration.html).
 */
const USAGE_METRICS: Record<
  string,
  {
    MetricNamespace: string;
    MetricName: string;
    MetricDimensions: Record<string, string>;
    MetricStatisticRecommendation: string;
  }
> = {
  "L-B99A9384": {
    MetricNamespace: "AWS/Lambda",
    MetricName: "ConcurrentExecutions",
    MetricDimensions: {},
    MetricStatisticRecommendation: "Maximum",
  },
  "L-7B6409FD": {
    MetricNamespace: "AWS/Usage",
    MetricName: "ResourceCount",
    MetricDimensions: { Service: "RDS", Type: "Resource", Resource: "DBInstances", Class: "None" },
    MetricStatisticRecommendation: "Maximum",
  },
};

export class ReadinessWorld {
  now = new Date("2026-11-30T10:00:00Z");
  readonly clients: Record<string, RegionClients> = {};
  readonly stubs: Record<string, Stubs> = {};
  readonly iam = new IAMClient({ region: "us-east-1" });
  readonly iamStub = mockClient(this.iam);

  /** Every client of a region throws this (a region that is down, or AccessDenied). */
  readonly broken = new Map<string, () => Error>();

  globalStatus = "available";
  members = [
    { DBClusterArn: TOPOLOGY.regions[EAST]!.clusterArn, IsWriter: true },
    { DBClusterArn: TOPOLOGY.regions[WEST]!.clusterArn, IsWriter: false },
  ];
  clusters: Record<string, { Status: string; EngineVersion: string } | null> = {
    [EAST]: { Status: "available", EngineVersion: "16.6" },
    [WEST]: { Status: "available", EngineVersion: "16.6" },
  };
  instances: Record<string, { id: string; status: string; cls: string }[]> = {
    [EAST]: [
      { id: "payments-db-1-use1-test", status: "available", cls: "db.r6g.large" },
      { id: "payments-db-2-use1-test", status: "available", cls: "db.r6g.large" },
    ],
    [WEST]: [{ id: "payments-db-1-usw2-test", status: "available", cls: "db.r6g.large" }],
  };
  keyStates: Record<string, string> = {};
  functions: Record<string, Record<string, FunctionData>> = {};
  accountConcurrency: Record<string, number> = { [EAST]: 1000, [WEST]: 1000 };
  parameters: Record<string, { Name: string; Type: string }[]> = {};
  replicaStatus: Record<string, Record<string, string>> = {};
  pitr: Record<string, Record<string, string>> = {};
  definitions: Record<string, string | null> = {};
  /**
   * Each DR role's identity policy as infra/constructs/dr-iam.ts renders it for this environment
   * (support/iam-simulator.ts): the simulator denies what they do not allow. `revoke` plants a
   * missing grant.
   */
  readonly policies: Map<string, PolicyStatement[]> = drRolePolicies(TOPOLOGY, SETTINGS);
  quotas: Record<string, Record<string, number | null>> = {
    [EAST]: { "L-B99A9384": 1000, "L-7B6409FD": 40 },
    [WEST]: { "L-B99A9384": 1000, "L-7B6409FD": 40 },
  };
  /**
   * Peak usage of each quota over the last week, by region and quota code (null: no
   * datapoint). Service Quotas names the metric that counts it (ServiceQuota.UsageMetric, API
   * reference): Lambda's concurrency in AWS/Lambda, RDS's instance count in AWS/Usage.
   */
  usage: Record<string, Record<string, number | null>> = {
    [EAST]: { "L-B99A9384": 420, "L-7B6409FD": 2 },
    [WEST]: { "L-B99A9384": 3, "L-7B6409FD": 1 },
  };
  /**
   * Hours ago each copy from us-east-1 landed in the standby's vault (its copy job's
   * CompletionDate), by source resource ARN.
   */
  copies: Record<string, number[]> = {};
  /**
   * Hours ago the source recovery point of each resource was created, which its copies keep as
   * their CreationDate ("Copies retain their source configuration, including creation dates",
   * cross-region-backup.html). The plan backs everything up continuously, and a continuous
   * recovery point is created once, when continuous backup starts: months before the copy.
   * Unset: a snapshot backup made 1 h before its copy landed.
   */
  sourceCreatedHoursAgo: Record<string, number> = {};
  drillDaysAgo: Record<string, number | null> = { [EAST]: null, [WEST]: 12 };
  lagMs: number | null = 85;
  heartbeatMinutesAgo: number | null = 1;
  /** Days ago the control table was created in each region (the environment's first deploy). */
  deployedDaysAgo = 200;
  /** DescribeTable answers without CreationDateTime. */
  tableCreatedAtMissing = false;
  insufficient: Record<string, { name: string; minutesAgo: number }[]> = {
    [EAST]: [],
    [WEST]: [],
  };

  constructor() {
    for (const region of [EAST, WEST]) {
      // The evaluator's own client set (wiring.ts), each instance mocked below.
      const clients: RegionClients = newRegionClients({ region });
      this.clients[region] = clients;
      const stubs = Object.fromEntries(
        Object.entries(clients).map(([k, c]) => [k, mockClient(c as never)]),
      ) as unknown as Stubs;
      this.stubs[region] = stubs;
      for (const arn of SETTINGS.regions[region]!.keyArns) this.keyStates[arn] = "Enabled";
      this.functions[region] = Object.fromEntries(
        SETTINGS.paymentFunctions.map((name) => [
          name,
          {
            CodeSha256: `sha-${name}`,
            MemorySize: 512,
            Timeout: 10,
            Runtime: "nodejs22.x",
            Environment: {
              Variables: { PARAMETER_PREFIX: "/payments/test", AWS_REGION_HINT: region },
            },
          },
        ]),
      );
      this.parameters[region] = [
        { Name: "/payments/test/active-region", Type: "String" },
        { Name: "/payments/test/db/password", Type: "SecureString" },
        { Name: "/payments/test/db/writer-endpoint", Type: "String" },
      ];
      this.replicaStatus[region] = {};
      this.pitr[region] = {};
      for (const table of SETTINGS.tables) {
        this.replicaStatus[region]![table] = "ACTIVE";
        this.pitr[region]![table] = "ENABLED";
      }
      for (const machine of SETTINGS.stateMachines) {
        this.definitions[`${region}/${machine}`] = JSON.stringify({
          StartAt: "Fence",
          States: {
            Fence: {
              Type: "Task",
              Resource: `arn:aws:lambda:${region}:${ACCOUNT}:function:payments-dr-fence-test`,
              End: true,
            },
          },
        });
      }
      this.install(region, stubs);
    }
    const east = TOPOLOGY.regions[EAST]!.clusterArn;
    this.copies[east] = [9, 33];
    // Aurora's continuous backup started when the environment was deployed, 90 days ago.
    this.sourceCreatedHoursAgo[east] = 90 * 24;
    for (const table of SETTINGS.tables) {
      this.copies[`arn:aws:dynamodb:${EAST}:${ACCOUNT}:table/${table}`] = [9];
    }
    this.iamStub.on(SimulatePrincipalPolicyCommand).callsFake((input) => this.simulate(input));
  }

  private guard(region: string): void {
    const error = this.broken.get(region);
    if (error) throw error();
  }

  private install(region: string, s: Stubs): void {
    const g = <T>(f: () => T) => {
      return async () => {
        this.guard(region);
        return f();
      };
    };
    const topologyRegion = TOPOLOGY.regions[region]!;
    s.rds.on(DescribeGlobalClustersCommand).callsFake(
      g(() => ({
        GlobalClusters: [
          {
            GlobalClusterIdentifier: TOPOLOGY.globalClusterIdentifier,
            Status: this.globalStatus,
            Engine: "aurora-postgresql",
            EngineVersion: "16.6",
            GlobalClusterMembers: this.members.map((m) => ({ ...m, Readers: [] })),
          },
        ],
      })),
    );
    s.rds.on(DescribeDBClustersCommand).callsFake(async (input) => {
      this.guard(region);
      const c = this.clusters[region];
      if (!c || input.DBClusterIdentifier !== topologyRegion.clusterIdentifier) {
        throw sdkError("DBClusterNotFoundFault", 404);
      }
      return { DBClusters: [{ DBClusterArn: topologyRegion.clusterArn, ...c }] };
    });
    s.rds.on(DescribeDBInstancesCommand).callsFake(async (input) => {
      this.guard(region);
      const cluster = input.Filters?.find((f: { Name?: string }) => f.Name === "db-cluster-id")
        ?.Values?.[0];
      if (cluster !== topologyRegion.clusterIdentifier) return { DBInstances: [] };
      return {
        DBInstances: this.instances[region]!.map((i) => ({
          DBInstanceIdentifier: i.id,
          DBInstanceStatus: i.status,
          DBInstanceClass: i.cls,
          DBClusterIdentifier: cluster,
          Engine: "aurora-postgresql",
        })),
      };
    });
    s.kms.on(DescribeKeyCommand).callsFake(async (input) => {
      this.guard(region);
      const arn = input.KeyId!;
      const multi = arn.includes("mrk-");
      return {
        KeyMetadata: {
          KeyId: arn.split("/").pop(),
          Arn: arn,
          KeyState: this.keyStates[arn] ?? "Enabled",
          Enabled: (this.keyStates[arn] ?? "Enabled") === "Enabled",
          MultiRegion: multi,
          ...(multi
            ? {
                MultiRegionConfiguration: {
                  MultiRegionKeyType: region === EAST ? "PRIMARY" : "REPLICA",
                  PrimaryKey: { Arn: arn.replace(region, EAST), Region: EAST },
                },
              }
            : {}),
        },
      } as never;
    });
    s.lambda.on(GetFunctionConfigurationCommand).callsFake(async (input) => {
      this.guard(region);
      const f = this.functions[region]![input.FunctionName!];
      if (!f) throw sdkError("ResourceNotFoundException", 404);
      const { reserved: _reserved, ...config } = f;
      return {
        FunctionName: input.FunctionName,
        ...config,
        FunctionArn: `arn:aws:lambda:${region}:${ACCOUNT}:function:${input.FunctionName}`,
      } as never;
    });
    s.lambda.on(GetFunctionConcurrencyCommand).callsFake(async (input) => {
      this.guard(region);
      const f = this.functions[region]![input.FunctionName!];
      if (!f) throw sdkError("ResourceNotFoundException", 404);
      // Lambda answers {} for a function without reserved concurrency.
      return f.reserved === undefined ? {} : { ReservedConcurrentExecutions: f.reserved };
    });
    s.lambda.on(GetAccountSettingsCommand).callsFake(
      g(() => ({
        AccountLimit: {
          ConcurrentExecutions: this.accountConcurrency[region],
          UnreservedConcurrentExecutions: this.accountConcurrency[region],
        },
        AccountUsage: { FunctionCount: 20 },
      })),
    );
    s.ssm.on(GetParametersByPathCommand).callsFake(async (input) => {
      this.guard(region);
      // 10 per page at most (MaxResults): page through them as SSM does.
      const all = this.parameters[region]!.filter((p) => p.Name.startsWith(`${input.Path}/`));
      const start = Number(input.NextToken ?? 0);
      const page = all.slice(start, start + 2);
      return {
        Parameters: page.map((p) => ({ ...p, Value: "x", Version: 1 })),
        ...(start + 2 < all.length ? { NextToken: String(start + 2) } : {}),
      };
    });
    s.ssm.on(DescribeAutomationExecutionsCommand).callsFake(
      g(() => {
        const days = this.drillDaysAgo[region];
        return {
          AutomationExecutionMetadataList:
            days === null || days === undefined
              ? []
              : [
                  {
                    AutomationExecutionId: "exec-1",
                    DocumentName: SETTINGS.drillDocument,
                    AutomationExecutionStatus: "Success",
                    ExecutionEndTime: new Date(this.now.getTime() - days * 86_400_000),
                  },
                ],
        };
      }),
    );
    s.dynamodb.on(DescribeTableCommand).callsFake(async (input) => {
      this.guard(region);
      const name = input.TableName!;
      if (!SETTINGS.tables.includes(name)) throw sdkError("ResourceNotFoundException");
      return {
        Table: {
          TableName: name,
          TableStatus: "ACTIVE",
          ...(this.tableCreatedAtMissing
            ? {}
            : {
                CreationDateTime: new Date(this.now.getTime() - this.deployedDaysAgo * 86_400_000),
              }),
          Replicas: [EAST, WEST]
            .filter((r) => r !== region && this.replicaStatus[r]![name] !== "none")
            .map((r) => ({ RegionName: r, ReplicaStatus: this.replicaStatus[r]![name] as never })),
        },
      };
    });
    s.dynamodb.on(DescribeContinuousBackupsCommand).callsFake(async (input) => {
      this.guard(region);
      return {
        ContinuousBackupsDescription: {
          ContinuousBackupsStatus: "ENABLED",
          PointInTimeRecoveryDescription: {
            PointInTimeRecoveryStatus: this.pitr[region]![input.TableName!] as never,
          },
        },
      };
    });
    s.sfn.on(DescribeStateMachineCommand).callsFake(async (input) => {
      this.guard(region);
      const name = input.stateMachineArn!.split(":").pop()!;
      const definition = this.definitions[`${region}/${name}`];
      if (
        !input.stateMachineArn!.startsWith(`arn:aws:states:${region}:${ACCOUNT}:`) ||
        !definition
      ) {
        throw sdkError("StateMachineDoesNotExist");
      }
      return {
        stateMachineArn: input.stateMachineArn,
        name,
        status: "ACTIVE",
        definition,
        roleArn: SETTINGS.regions[region]!.workflowRoleArn,
        type: "STANDARD",
        creationDate: new Date("2026-10-01T00:00:00Z"),
      };
    });
    s.serviceQuotas.on(GetServiceQuotaCommand).callsFake(async (input) => {
      this.guard(region);
      const value = this.quotas[region]![input.QuotaCode!];
      if (value === undefined) throw sdkError("NoSuchResourceException");
      return {
        Quota: {
          ServiceCode: input.ServiceCode,
          QuotaCode: input.QuotaCode,
          Value: value,
          UsageMetric: USAGE_METRICS[input.QuotaCode!],
        },
      };
    });
    s.serviceQuotas.on(GetAWSDefaultServiceQuotaCommand).callsFake(async (input) => {
      this.guard(region);
      const defaults: Record<string, number> = { "L-B99A9384": 1000, "L-7B6409FD": 40 };
      return { Quota: { QuotaCode: input.QuotaCode, Value: defaults[input.QuotaCode!] } };
    });
    s.backup.on(ListRecoveryPointsByBackupVaultCommand).callsFake(async (input) => {
      this.guard(region);
      if (input.BackupVaultName !== SETTINGS.regions[region]!.backupVault) {
        throw sdkError("ResourceNotFoundException");
      }
      const points = Object.entries(this.copies).flatMap(([arn, hours]) =>
        hours.map((h) => ({
          RecoveryPointArn: `arn:aws:backup:${region}:${ACCOUNT}:recovery-point:${arn.length}-${h}`,
          ResourceArn: arn,
          CreationDate: new Date(
            this.now.getTime() - (this.sourceCreatedHoursAgo[arn] ?? h + 1) * 3_600_000,
          ),
          Status: "COMPLETED" as const,
          SourceBackupVaultArn: `arn:aws:backup:${EAST}:${ACCOUNT}:backup-vault:payments-vault-use1-test`,
        })),
      );
      return {
        RecoveryPoints: points.filter((p) => p.CreationDate >= input.ByCreatedAfter!),
      };
    });
    // The copy jobs run where the backup plan that copies is: us-east-1's, into us-west-2's vault
    // (ListCopyJobs in the source region, API reference).
    s.backup.on(ListCopyJobsCommand).callsFake(async (input) => {
      this.guard(region);
      const westVault = `arn:aws:backup:${WEST}:${ACCOUNT}:backup-vault:${SETTINGS.regions[WEST]!.backupVault}`;
      if (region !== EAST || input.ByDestinationVaultArn !== westVault) return { CopyJobs: [] };
      const jobs = Object.entries(this.copies).flatMap(([arn, hours]) =>
        hours.map((h) => ({
          CopyJobId: `copy-${arn.length}-${h}`,
          ResourceArn: arn,
          DestinationBackupVaultArn: westVault,
          State: "COMPLETED" as const,
          CreationDate: new Date(this.now.getTime() - (h + 0.5) * 3_600_000),
          CompletionDate: new Date(this.now.getTime() - h * 3_600_000),
        })),
      );
      if (input.ByState !== "COMPLETED") throw new Error("the check must ask for COMPLETED jobs");
      return { CopyJobs: jobs.filter((j) => j.CompletionDate >= input.ByCompleteAfter!) };
    });
    s.cloudwatch.on(GetMetricDataCommand).callsFake(async (input: GetMetricDataCommandInput) => {
      this.guard(region);
      const query = input.MetricDataQueries![0]!;
      const metric = query.MetricStat!.Metric!;
      const quota = Object.entries(USAGE_METRICS).find(
        ([, m]) => m.MetricNamespace === metric.Namespace && m.MetricName === metric.MetricName,
      )?.[0];
      if (quota) {
        // A week of hourly maxima whose peak is the world's figure, the rest below it.
        const peak = this.usage[region]![quota] ?? null;
        if (query.MetricStat!.Stat !== "Maximum") throw new Error("usage is read at Maximum");
        const hours = Array.from({ length: 168 }, (_, i) => i);
        return {
          MetricDataResults: [
            {
              Id: query.Id,
              StatusCode: "Complete",
              Timestamps:
                peak === null ? [] : hours.map((h) => new Date(this.now.getTime() - h * 3_600_000)),
              Values:
                peak === null ? [] : hours.map((h) => (h === 37 ? peak : Math.floor(peak * 0.6))),
            },
          ],
        };
      }
      let minutesAgo: number | null = null;
      let value = 0;
      if (metric.MetricName === "AuroraGlobalDBReplicationLag") {
        // Published by the secondary cluster only, in its region.
        const standby = this.members.find((m) => !m.IsWriter)?.DBClusterArn;
        const here = TOPOLOGY.regions[region]!.clusterArn === standby;
        if (here && this.lagMs !== null) {
          minutesAgo = 1;
          value = this.lagMs;
        }
      } else if (metric.MetricName === "ProberHeartbeat" && region === SETTINGS.proberRegion) {
        minutesAgo = this.heartbeatMinutesAgo;
        value = 6;
      }
      const at = minutesAgo === null ? null : new Date(this.now.getTime() - minutesAgo * 60_000);
      return {
        MetricDataResults: [
          {
            Id: "m",
            StatusCode: "Complete",
            Timestamps: at && at >= input.StartTime! ? [at] : [],
            Values: at && at >= input.StartTime! ? [value] : [],
          },
        ],
      };
    });
    s.cloudwatch.on(DescribeAlarmsCommand).callsFake(
      g(() => ({
        MetricAlarms: this.insufficient[region]!.map((a) => ({
          AlarmName: a.name,
          StateValue: "INSUFFICIENT_DATA" as const,
          StateUpdatedTimestamp: new Date(this.now.getTime() - a.minutesAgo * 60_000),
        })),
        CompositeAlarms: [],
      })),
    );
  }

  private simulate(input: SimulatePrincipalPolicyCommandInput) {
    if (this.broken.has("iam")) throw this.broken.get("iam")!();
    return simulatePrincipalPolicy(this.policies, input);
  }

  /** The role loses `action` (on `resource` only, when given). */
  revoke(roleArn: string, action: string, resource?: string): void {
    revoke(this.policies, roleArn, action, resource);
  }

  deps(region = WEST, overrides: Partial<ReadinessDeps> = {}): ReadinessDeps {
    return {
      topology: TOPOLOGY,
      settings: SETTINGS,
      source: new AwsReadinessSource(
        (r) => this.clients[r]!,
        () => this.iam,
        () => this.now,
      ),
      region,
      now: () => this.now,
      log: silentLog,
      checkTimeoutMs: 2000,
      ...overrides,
    };
  }

  restore(): void {
    for (const stubs of Object.values(this.stubs)) {
      for (const stub of Object.values(stubs)) stub.restore();
    }
    this.iamStub.restore();
  }
}
