// Builds the AWS adapters for one region and profile, once per process (memoised). Each adapter,
// and the SDK client package behind it, is loaded on its first use: a task touches one to three
// of the seven services (Fence: the control table; Promote: RDS and the control table; Notify:
// SNS and the control table), and loading all seven at init cost every task ~150 ms of cold
// start (npm run bench:cold-init). The adapter modules are pulled in with require() so that
// esbuild wraps them in lazy initialisers and Node resolves the external @aws-sdk/* package only
// then; `import type` keeps the types.
import type { DrTopology } from "../../../common/contract";
import { lazy } from "../../../common/lazy";
import { fetchHttp } from "../http-client";
import type { DnsPort, Profile, RegionPorts } from "../ports";
import { DEFAULT_SETTINGS } from "../settings";
import { apiBase, regionOf } from "../topology";
import { clientSettings, regionClient, ROUTE53_REGION } from "./clients";
import type * as RdsModule from "./rds";
import type * as RdsSdk from "@aws-sdk/client-rds";
import type * as ControlTableModule from "./control-table";
import type * as DynamodbSdk from "@aws-sdk/client-dynamodb";
import type * as LibDynamodbSdk from "@aws-sdk/lib-dynamodb";
import type * as ParametersModule from "./parameters";
import type * as SsmSdk from "@aws-sdk/client-ssm";
import type * as CloudwatchModule from "./cloudwatch";
import type * as CloudwatchSdk from "@aws-sdk/client-cloudwatch";
import type * as EventsModule from "./events";
import type * as EventbridgeSdk from "@aws-sdk/client-eventbridge";
import type * as NotifierModule from "./notifier";
import type * as SnsSdk from "@aws-sdk/client-sns";
import type * as Route53Module from "./route53";
import type * as Route53Sdk from "@aws-sdk/client-route-53";
import type * as ReplicaModule from "./replica";
import type * as LambdaSdk from "@aws-sdk/client-lambda";
import { heartbeatReaderName } from "../../../common/contract";

/* eslint-disable @typescript-eslint/no-require-imports -- deliberate lazy loading, see above */
const load = {
  rds: () => require("./rds") as typeof RdsModule,
  rdsSdk: () => require("@aws-sdk/client-rds") as typeof RdsSdk,
  control: () => require("./control-table") as typeof ControlTableModule,
  dynamoSdk: () => require("@aws-sdk/client-dynamodb") as typeof DynamodbSdk,
  documentSdk: () => require("@aws-sdk/lib-dynamodb") as typeof LibDynamodbSdk,
  parameters: () => require("./parameters") as typeof ParametersModule,
  ssmSdk: () => require("@aws-sdk/client-ssm") as typeof SsmSdk,
  metrics: () => require("./cloudwatch") as typeof CloudwatchModule,
  cloudwatchSdk: () => require("@aws-sdk/client-cloudwatch") as typeof CloudwatchSdk,
  events: () => require("./events") as typeof EventsModule,
  eventBridgeSdk: () => require("@aws-sdk/client-eventbridge") as typeof EventbridgeSdk,
  notifier: () => require("./notifier") as typeof NotifierModule,
  snsSdk: () => require("@aws-sdk/client-sns") as typeof SnsSdk,
  route53: () => require("./route53") as typeof Route53Module,
  route53Sdk: () => require("@aws-sdk/client-route-53") as typeof Route53Sdk,
  replica: () => require("./replica") as typeof ReplicaModule,
  lambdaSdk: () => require("@aws-sdk/client-lambda") as typeof LambdaSdk,
};
/* eslint-enable @typescript-eslint/no-require-imports */

export function awsPorts(topology: DrTopology): (region: string, profile: Profile) => RegionPorts {
  const cache = new Map<string, RegionPorts>();
  return (region, profile) => {
    const key = `${region}/${profile}`;
    let ports = cache.get(key);
    if (!ports) {
      const settings = clientSettings(region, profile);
      const info = regionOf(topology, region);
      ports = {
        region,
        database: lazy(
          () =>
            new (load.rds().RdsDatabase)(
              regionClient(new (load.rdsSdk().RDSClient)(settings), settings, "RDS"),
            ),
        ),
        control: lazy(
          () =>
            new (load.control().DynamoControlTable)(
              load
                .documentSdk()
                .DynamoDBDocumentClient.from(
                  regionClient(
                    new (load.dynamoSdk().DynamoDBClient)(settings),
                    settings,
                    "DynamoDB",
                  ),
                  {
                    marshallOptions: { removeUndefinedValues: true },
                  },
                ),
              topology.controlTable,
            ),
        ),
        parameters: lazy(
          () =>
            new (load.parameters().SsmParameters)(
              regionClient(new (load.ssmSdk().SSMClient)(settings), settings, "SSM"),
            ),
        ),
        metrics: lazy(
          () =>
            new (load.metrics().CloudWatchMetrics)(
              regionClient(
                new (load.cloudwatchSdk().CloudWatchClient)(settings),
                settings,
                "CloudWatch",
              ),
            ),
        ),
        events: lazy(
          () =>
            new (load.events().EventBridgeEvents)(
              regionClient(
                new (load.eventBridgeSdk().EventBridgeClient)(settings),
                settings,
                "EventBridge",
              ),
              info.eventBusName,
            ),
        ),
        notifier: lazy(
          () =>
            new (load.notifier().SnsNotifier)(
              regionClient(new (load.snsSdk().SNSClient)(settings), settings, "SNS"),
              info.alertTopicArn,
            ),
        ),
        // The heartbeat reader first, off the public path (review 23-18 H2); /health after it.
        replica: lazy(
          () =>
            new (load.replica().FirstAnsweringReplica)(
              new (load.replica().LambdaReplica)(
                regionClient(new (load.lambdaSdk().LambdaClient)(settings), settings, "Lambda"),
                heartbeatReaderName(topology.environmentSuffix),
              ),
              new (load.replica().HealthReplica)(
                fetchHttp,
                apiBase(topology, region),
                DEFAULT_SETTINGS.replicaTimeoutMs,
              ),
            ),
        ),
      };
      cache.set(key, ports);
    }
    return ports;
  };
}

export function awsDns(): () => DnsPort {
  let dns: DnsPort | undefined;
  return () =>
    (dns ??= new (load.route53().Route53Dns)(
      regionClient(
        new (load.route53Sdk().Route53Client)(clientSettings(ROUTE53_REGION, "bestEffort")),
        clientSettings(ROUTE53_REGION, "bestEffort"),
        "Route 53",
      ),
    ));
}
