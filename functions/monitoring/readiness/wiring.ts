// The readiness evaluator's AWS wiring: SDK clients per region (built on first use of each
// region), the IAM client, metrics and the control table. Required by handler.ts on the first
// run, so none of its SDK packages loads at init.
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
import { CloudWatchMetrics } from "../../dr/shared/aws/cloudwatch";
import { DynamoControlTable } from "../../dr/shared/aws/control-table";
import { LambdaReports } from "../../dr/shared/aws/reports";
import type { RegionClients } from "./aws";
import { AwsReadinessSource } from "./aws";
import { READINESS_CLIENTS } from "./run";

/** The SDK clients the evaluator reads one region with (the test world mocks these same ones). */
export function newRegionClients(config: {
  readonly region: string;
  readonly maxAttempts?: number;
  readonly requestHandler?: { connectionTimeout: number; requestTimeout: number };
}): RegionClients {
  return {
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
}

export function readinessWiring(
  region: string,
  controlTable: string,
  reportStore: { writerFunction?: string | undefined; bucket?: string | undefined },
) {
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
      found = newRegionClients(config);
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
    controlTable,
  );
  const { writerFunction, bucket } = reportStore;
  return {
    metrics,
    control,
    reports:
      writerFunction && bucket
        ? new LambdaReports(own.lambda, writerFunction, bucket, region)
        : undefined,
    // A fresh source per run: its per-run memo of function reads must not outlive the run.
    newSource: () => new AwsReadinessSource(clients, () => iam),
  };
}
