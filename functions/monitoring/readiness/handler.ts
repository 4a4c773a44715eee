// Lambda entry point of the readiness evaluator (EventBridge schedule in each region, or on
// demand: `aws lambda invoke` / `payments-dr readiness --now`). Evaluates, publishes a metric per
// check and the overall status, stores the evaluation in the control table and returns it.
// An event `{ "checks": ["kms-keys", ...] }` runs only those checks (nothing stored then).
import { BackupClient } from "@aws-sdk/client-backup";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { IAMClient } from "@aws-sdk/client-iam";
import { KMSClient } from "@aws-sdk/client-kms";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { RDSClient } from "@aws-sdk/client-rds";
import { ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SSMClient } from "@aws-sdk/client-ssm";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DR_ENV, METRICS, REPORTS_ENV } from "../../common/contract";
import { requireEnv } from "../../common/env";
import { asLog, createLogger } from "../../common/logger";
import { CloudWatchMetrics } from "../../dr/shared/aws/cloudwatch";
import { DynamoControlTable } from "../../dr/shared/aws/control-table";
import { LambdaReports } from "../../dr/shared/aws/reports";
import { parseTopology } from "../../dr/shared/topology";
import type { RegionClients } from "./aws";
import { AwsReadinessSource } from "./aws";
import { evaluateAndPublish, parseReadinessEvent, READINESS_CLIENTS } from "./run";
import { parseReadinessSettings } from "./settings";

const topology = parseTopology(requireEnv(DR_ENV.topology));
const region = requireEnv("AWS_REGION");
const settings = parseReadinessSettings(
  requireEnv(DR_ENV.readinessSettings),
  Object.keys(topology.regions),
);
const logger = asLog(createLogger());

const cache = new Map<string, RegionClients>();
function clients(forRegion: string): RegionClients {
  let found = cache.get(forRegion);
  if (!found) {
    const { maxAttempts, connectionTimeout, requestTimeout } =
      READINESS_CLIENTS[forRegion === region ? "own" : "peer"];
    const config = {
      region: forRegion,
      maxAttempts,
      requestHandler: { connectionTimeout, requestTimeout },
    };
    found = {
      rds: new RDSClient(config),
      kms: new KMSClient(config),
      lambda: new LambdaClient(config),
      ssm: new SSMClient(config),
      dynamodb: new DynamoDBClient(config),
      sfn: new SFNClient(config),
      serviceQuotas: new ServiceQuotasClient(config),
      backup: new BackupClient(config),
      cloudwatch: new CloudWatchClient(config),
    };
    cache.set(forRegion, found);
  }
  return found;
}
// IAM's endpoint is in us-east-1, whatever region the evaluator runs in.
const peer = READINESS_CLIENTS.peer;
const iam = new IAMClient({
  region: "us-east-1",
  maxAttempts: peer.maxAttempts,
  requestHandler: {
    connectionTimeout: peer.connectionTimeout,
    requestTimeout: peer.requestTimeout,
  },
});
const own = clients(region);
const metrics = new CloudWatchMetrics(own.cloudwatch);
const control = new DynamoControlTable(
  DynamoDBDocumentClient.from(own.dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
  topology.controlTable,
);

// The report store, when the stack has one: a change of the overall status is written there.
const writer = process.env[REPORTS_ENV.writerFunction];
const bucket = process.env[REPORTS_ENV.bucket];
const reports =
  writer && bucket ? new LambdaReports(own.lambda, writer, bucket, region) : undefined;

export const handler = async (event: unknown) => {
  logger.resetKeys();
  logger.appendKeys({ step: "Readiness", targetRegion: region, executionId: "readiness" });
  return evaluateAndPublish(parseReadinessEvent(event), {
    topology,
    settings,
    // A fresh source per run: its per-run memo of function reads must not outlive the run.
    source: new AwsReadinessSource(clients, () => iam),
    region,
    now: () => new Date(),
    log: logger,
    checkTimeoutMs: 60_000,
    metrics,
    control,
    namespace: METRICS.namespace,
    ...(reports ? { reports } : {}),
  });
};
