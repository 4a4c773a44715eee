// Builds the AWS adapters for one region and profile, once per process (memoised).
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { RDSClient } from "@aws-sdk/client-rds";
import { Route53Client } from "@aws-sdk/client-route-53";
import { SNSClient } from "@aws-sdk/client-sns";
import { SSMClient } from "@aws-sdk/client-ssm";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { DrTopology } from "../../../common/contract";
import { fetchHttp } from "../http-client";
import type { DnsPort, Profile, RegionPorts } from "../ports";
import { DEFAULT_SETTINGS } from "../settings";
import { apiBase, regionOf } from "../topology";
import { clientSettings, ROUTE53_REGION } from "./clients";
import { CloudWatchMetrics } from "./cloudwatch";
import { DynamoControlTable } from "./control-table";
import { EventBridgeEvents } from "./events";
import { SnsNotifier } from "./notifier";
import { SsmParameters } from "./parameters";
import { RdsDatabase } from "./rds";
import { HealthReplica } from "./replica";
import { Route53Dns } from "./route53";

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
        database: new RdsDatabase(new RDSClient(settings)),
        control: new DynamoControlTable(
          DynamoDBDocumentClient.from(new DynamoDBClient(settings), {
            marshallOptions: { removeUndefinedValues: true },
          }),
          topology.controlTable,
        ),
        parameters: new SsmParameters(new SSMClient(settings)),
        metrics: new CloudWatchMetrics(new CloudWatchClient(settings)),
        events: new EventBridgeEvents(new EventBridgeClient(settings), info.eventBusName),
        notifier: new SnsNotifier(new SNSClient(settings), info.alertTopicArn),
        replica: new HealthReplica(
          fetchHttp,
          apiBase(topology, region),
          DEFAULT_SETTINGS.replicaTimeoutMs,
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
    (dns ??= new Route53Dns(new Route53Client(clientSettings(ROUTE53_REGION, "bestEffort"))));
}
