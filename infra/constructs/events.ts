import { CloudwatchEventArchive } from "@cdktf/provider-aws/lib/cloudwatch-event-archive";
import { CloudwatchEventBus } from "@cdktf/provider-aws/lib/cloudwatch-event-bus";
import { CloudwatchEventEndpoint } from "@cdktf/provider-aws/lib/cloudwatch-event-endpoint";
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { SqsQueuePolicy } from "@cdktf/provider-aws/lib/sqs-queue-policy";
import { Construct } from "constructs";
import { EVENTS } from "../../functions/common/contract";
import { accountIdOf, assumeRoleStatement, policyDocument, tlsOnlyStatement } from "../lib/policy";
import type { Naming } from "../naming";
import type { PlatformKey } from "./keys";

/** How long EventBridge keeps retrying a replication delivery before it goes to the DLQ. */
export const REPLICATION_RETRY = { maximumEventAgeInSeconds: 86_400, maximumRetryAttempts: 185 };

/**
 * The replication rule's pattern in `region`: critical events (`payments.*`, `dr.*`) that were
 * published in this region. A copy replicated into the other region keeps its originRegion, so
 * that region's rule never sends it back: no loops.
 */
export function replicationPattern(region: string): Record<string, unknown> {
  return {
    "detail-type": [{ prefix: EVENTS.paymentsPrefix }, { prefix: EVENTS.drPrefix }],
    detail: { [EVENTS.originRegionField]: [region] },
  };
}

export interface RegionalEventBusProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly region: string;
  readonly key: PlatformKey;
  /** @default 30 */
  readonly archiveRetentionDays?: number;
}

/**
 * The custom bus of one region, same name in both regions (so a global endpoint can front
 * them), with an archive for replay and a KMS-encrypted dead-letter queue for its targets.
 */
export class RegionalEventBus extends Construct {
  public readonly bus: CloudwatchEventBus;
  public readonly deadLetterQueue: SqsQueue;
  public readonly region: string;

  constructor(scope: Construct, id: string, props: RegionalEventBusProps) {
    super(scope, id);
    const { provider, naming, region, key } = props;
    this.region = region;
    this.bus = new CloudwatchEventBus(this, "bus", {
      provider,
      name: naming.name("eventBus", "events"),
      // Custom events at rest under the platform key (provider >= 5.60). The archive below
      // stays on an AWS owned key: aws_cloudwatch_event_archive has no kms_key_identifier in
      // provider 5.100.0, although AWS "strongly recommends" a CMK there too.
      kmsKeyIdentifier: key.arn,
      dependsOn: [key.policy],
    });
    new CloudwatchEventArchive(this, "archive", {
      provider,
      name: naming.name("generic", "events-archive", region),
      eventSourceArn: this.bus.arn,
      retentionDays: props.archiveRetentionDays ?? 30,
      description: "Replay payments and DR events after an incident",
    });
    this.deadLetterQueue = new SqsQueue(this, "dlq", {
      provider,
      name: naming.name("sqsQueue", "events-dlq", region),
      kmsMasterKeyId: key.arn,
      kmsDataKeyReusePeriodSeconds: 300,
      messageRetentionSeconds: 1_209_600,
    });
  }
}

export interface EventReplicationProps {
  readonly naming: Naming;
  readonly primary: { readonly provider: AwsProvider; readonly bus: RegionalEventBus };
  readonly secondary: { readonly provider: AwsProvider; readonly bus: RegionalEventBus };
}

/** Rules in both regions replicating critical events to the other region's bus. */
export class EventReplication extends Construct {
  public readonly rules: CloudwatchEventRule[] = [];

  constructor(scope: Construct, id: string, props: EventReplicationProps) {
    super(scope, id);
    this.replicate("primary", props.primary, props.secondary, props.naming);
    this.replicate("secondary", props.secondary, props.primary, props.naming);
  }

  private replicate(
    role: string,
    from: EventReplicationProps["primary"],
    to: EventReplicationProps["primary"],
    naming: Naming,
  ): void {
    const { provider, bus } = from;
    const rule = new CloudwatchEventRule(this, `${role}-rule`, {
      provider,
      name: naming.name("eventRule", "replicate", bus.region),
      description: `Replicate payments.* and dr.* events from ${bus.region} to ${to.bus.region}`,
      eventBusName: bus.bus.name,
      eventPattern: JSON.stringify(replicationPattern(bus.region)),
    });
    this.rules.push(rule);
    const role_ = new IamRole(this, `${role}-role`, {
      provider,
      name: naming.name("iamRole", "events-replicate", bus.region),
      assumeRolePolicy: policyDocument(this, `${role}-trust`, provider, [
        // EventBridge sends the rule's ARN as aws:SourceArn (EventBridge, "Using IAM roles").
        assumeRoleStatement(["events.amazonaws.com"], accountIdOf(bus.bus.arn), [rule.arn]),
      ]),
    });
    new IamRolePolicy(this, `${role}-policy`, {
      provider,
      role: role_.id,
      name: "put-events-on-peer-bus",
      policy: policyDocument(this, `${role}-permissions`, provider, [
        { actions: ["events:PutEvents"], resources: [to.bus.bus.arn] },
      ]),
    });
    new CloudwatchEventTarget(this, `${role}-target`, {
      provider,
      rule: rule.name,
      eventBusName: bus.bus.name,
      targetId: "peer-bus",
      arn: to.bus.bus.arn,
      roleArn: role_.arn,
      deadLetterConfig: { arn: bus.deadLetterQueue.arn },
      retryPolicy: REPLICATION_RETRY,
    });
    new SqsQueuePolicy(this, `${role}-dlq-policy`, {
      provider,
      queueUrl: bus.deadLetterQueue.url,
      policy: policyDocument(this, `${role}-dlq-permissions`, provider, [
        {
          principals: [{ type: "Service", identifiers: ["events.amazonaws.com"] }],
          actions: ["sqs:SendMessage"],
          resources: [bus.deadLetterQueue.arn],
          condition: [{ test: "ArnEquals", variable: "aws:SourceArn", values: [rule.arn] }],
        },
        tlsOnlyStatement("sqs", bus.deadLetterQueue.arn),
      ]),
    });
  }
}

export interface EventsGlobalEndpointProps {
  readonly naming: Naming;
  readonly primary: { readonly provider: AwsProvider; readonly bus: RegionalEventBus };
  readonly secondary: { readonly bus: RegionalEventBus };
  /** Route 53 health check deciding when the endpoint fails over. */
  readonly healthCheckArn: string;
}

/**
 * Optional EventBridge global endpoint (EVENTS_GLOBAL_ENDPOINT=true): publishers that send to
 * the endpoint fail over with a Route 53 health check and events are replicated. AWS publishes
 * an RTO/RPO of about 360 s (at most 420 s) for it, far slower than our rules, which is why the
 * replication rules above stay the primary path.
 */
export class EventsGlobalEndpoint extends Construct {
  public readonly endpoint: CloudwatchEventEndpoint;

  constructor(scope: Construct, id: string, props: EventsGlobalEndpointProps) {
    super(scope, id);
    const { provider } = props.primary;
    const buses = [props.primary.bus.bus.arn, props.secondary.bus.bus.arn];
    const role = new IamRole(this, "role", {
      provider,
      name: props.naming.name("iamRole", "events-endpoint"),
      // The endpoint's ARN would be a cycle (it names this role): the account only.
      assumeRolePolicy: policyDocument(this, "trust", provider, [
        assumeRoleStatement(["events.amazonaws.com"], accountIdOf(props.primary.bus.bus.arn)),
      ]),
    });
    new IamRolePolicy(this, "policy", {
      provider,
      role: role.id,
      name: "replicate-between-buses",
      policy: policyDocument(this, "permissions", provider, [
        { actions: ["events:PutEvents"], resources: buses },
      ]),
    });
    this.endpoint = new CloudwatchEventEndpoint(this, "endpoint", {
      provider,
      name: props.naming.name("generic", "events"),
      description: "Global endpoint over the payments buses of both regions",
      roleArn: role.arn,
      eventBus: buses.map((eventBusArn) => ({ eventBusArn })),
      replicationConfig: { state: "ENABLED" },
      routingConfig: {
        failoverConfig: {
          primary: { healthCheck: props.healthCheckArn },
          secondary: { route: props.secondary.bus.region },
        },
      },
    });
  }
}
