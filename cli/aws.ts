// The CLI's AWS SDK v3 clients: the standard credential chain (environment, SSO, profiles,
// instance roles), `--profile` when given, one client per service and region, built on first use.
// Short timeouts and few attempts: a region that does not answer must cost seconds, not minutes,
// so `status` can say so and show the other region.
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { enforcedTimeouts } from "../functions/common/sdk-timeouts";

export interface AwsClients {
  sfn(region: string): SFNClient;
  ssm(region: string): SSMClient;
  cloudwatch(region: string): CloudWatchClient;
  dynamo(region: string): DynamoDBDocumentClient;
  sts(region: string): STSClient;
  lambda(region: string): LambdaClient;
}

/** Attempts and timeouts of every CLI call (ms). */
export const CLI_CLIENT_SETTINGS = {
  maxAttempts: 3,
  requestHandler: enforcedTimeouts({ connectionTimeout: 3_000, requestTimeout: 10_000 }),
} as const;

export function awsClients(profile?: string): AwsClients {
  const cache = new Map<string, unknown>();
  const config = (region: string) => ({
    region,
    ...(profile ? { profile } : {}),
    ...CLI_CLIENT_SETTINGS,
  });
  function memo<T>(key: string, build: () => T): T {
    if (!cache.has(key)) cache.set(key, build());
    return cache.get(key) as T;
  }
  return {
    sfn: (region) => memo(`sfn/${region}`, () => new SFNClient(config(region))),
    ssm: (region) => memo(`ssm/${region}`, () => new SSMClient(config(region))),
    cloudwatch: (region) => memo(`cw/${region}`, () => new CloudWatchClient(config(region))),
    dynamo: (region) =>
      memo(`ddb/${region}`, () => DynamoDBDocumentClient.from(new DynamoDBClient(config(region)))),
    sts: (region) => memo(`sts/${region}`, () => new STSClient(config(region))),
    lambda: (region) => memo(`lambda/${region}`, () => new LambdaClient(config(region))),
  };
}

/**
 * Every IAM action the CLI calls. The on-call operator role (infra/constructs/dr-iam.ts) must
 * allow each; test/cli/deployment.test.ts checks it against the synthesized policy.
 * sts:GetCallerIdentity needs no permission.
 */
export const CLI_IAM_ACTIONS = [
  "states:StartExecution",
  "states:DescribeExecution",
  "states:GetExecutionHistory",
  "states:ListExecutions",
  "states:SendTaskSuccess",
  "states:SendTaskFailure",
  "ssm:StartAutomationExecution",
  "ssm:GetAutomationExecution",
  "ssm:DescribeAutomationExecutions",
  "ssm:GetParameter",
  // reconcile: the point-of-failure snapshot (cli/commands/reconcile.ts, checkSnapshot).
  "rds:DescribeDBClusterSnapshots",
  "dynamodb:GetItem",
  "cloudwatch:GetMetricData",
  "cloudwatch:DescribeAlarms",
  "lambda:InvokeFunction",
] as const;

/**
 * Every IAM action `payments-dr reconcile` calls (cli/commands/reconcile.ts). It runs as the
 * reconciler role (infra/constructs/reconcile.ts), which must allow each; its writes
 * (events:PutEvents, s3:PutObject, the report writer) are not the operator role's, which changes
 * no data. test/cli/deployment.test.ts checks both against the synthesized policies.
 */
export const RECONCILE_IAM_ACTIONS = [
  "dynamodb:GetItem",
  "rds:DescribeDBClusterSnapshots",
  "ssm:GetParameter",
  "lambda:GetFunctionConfiguration",
  "lambda:InvokeFunction",
  "s3:PutObject",
  "events:PutEvents",
] as const;
