// The report functions' AWS adapters, each built with its SDK package on its first call, not at
// init (functions/common/lazy.ts): a report function loads one to three SDK packages, which
// cost ~100-170 ms of cold init when they load at module scope (npm run bench:cold-init), and
// most invocations need only some of them (a widget render reads the ledger only; a writer
// event for a run that reported itself never reads Step Functions' history).
/* eslint-disable @typescript-eslint/no-require-imports -- deliberate lazy loading, see above */
import type * as CloudWatchSdk from "@aws-sdk/client-cloudwatch";
import type * as DynamoDbSdk from "@aws-sdk/client-dynamodb";
import type * as S3Sdk from "@aws-sdk/client-s3";
import type * as SfnSdk from "@aws-sdk/client-sfn";
import { lazy } from "../../../common/lazy";
import type { ClientSettings } from "../../../dr/shared/aws/clients";
import type { ExecutionsPort, LedgerStore, MetricsSink, ReportStore } from "../ports";
import type * as CloudWatchModule from "./cloudwatch";
import type * as ExecutionsModule from "./executions";
import type * as LedgerModule from "./ledger";
import type * as S3Module from "./s3";

/** The ledger table (DynamoLedger) in the client's region. */
export function lazyLedger(
  settings: ClientSettings,
  tableName: string,
  retentionSeconds: number,
): LedgerStore {
  return lazy(() => {
    const { DynamoDBClient } = require("@aws-sdk/client-dynamodb") as typeof DynamoDbSdk;
    const { DynamoLedger } = require("./ledger") as typeof LedgerModule;
    return new DynamoLedger(new DynamoDBClient(settings), tableName, retentionSeconds);
  });
}

/** The region's report bucket (S3ReportStore). */
export function lazyReportStore(settings: ClientSettings, bucket: string): ReportStore {
  return lazy(() => {
    const { S3Client } = require("@aws-sdk/client-s3") as typeof S3Sdk;
    const { S3ReportStore } = require("./s3") as typeof S3Module;
    return new S3ReportStore(new S3Client(settings), bucket);
  });
}

/** Step Functions execution history (SfnExecutions). */
export function lazyExecutions(settings: ClientSettings): ExecutionsPort {
  return lazy(() => {
    const { SFNClient } = require("@aws-sdk/client-sfn") as typeof SfnSdk;
    const { SfnExecutions } = require("./executions") as typeof ExecutionsModule;
    return new SfnExecutions(new SFNClient(settings));
  });
}

/** CloudWatch metrics (CloudWatchSink). */
export function lazyMetricsSink(settings: ClientSettings): MetricsSink {
  return lazy(() => {
    const { CloudWatchClient } = require("@aws-sdk/client-cloudwatch") as typeof CloudWatchSdk;
    const { CloudWatchSink } = require("./cloudwatch") as typeof CloudWatchModule;
    return new CloudWatchSink(new CloudWatchClient(settings));
  });
}
