import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import type { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SfnStateMachine } from "@cdktf/provider-aws/lib/sfn-state-machine";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { SqsQueuePolicy } from "@cdktf/provider-aws/lib/sqs-queue-policy";
import type { ITerraformDependable } from "cdktf";
import type { DrTaskName } from "../../functions/dr/tasks";
import type { Statement } from "../lib/policy";
import { Construct } from "constructs";
import {
  CONTROL,
  DR_ENV,
  heartbeatReaderName,
  LEASE_RENEWAL_ATTRIBUTES,
  METRICS,
  REPORTS_ENV,
} from "../../functions/common/contract";
import { DR_TASK_NAMES, drTask, taskPlaceholder, workflowTasks } from "../../functions/dr/tasks";
import type { FailoverConfig, RoutingConfig } from "../config";
import type { WorkflowName } from "../lib/asl";
import { readAsl, renderAsl, tuneWorkflow, WORKFLOWS } from "../lib/asl";
import { DEFAULT_SETTINGS } from "../../functions/dr/shared/settings";
import {
  deployedWritePath,
  fenceSettleSeconds,
  leaseSettleSeconds,
  writerStopBoundSeconds,
} from "../lib/fence-bound";
import { writeTimeoutSeconds } from "./payments-api";
import { NodejsFunction } from "../lib/nodejs-function";
import { policyDocument, tlsOnlyStatement } from "../lib/policy";
import type { Naming } from "../naming";
import { PROBER_COMPONENT, regionCode } from "../naming";
import type { PlatformKey } from "./keys";

export const DR_MEMORY_MB = 256;

/** Physical names of the DR task functions, identical in both regions, in registry order. */
export function drTaskFunctionNames(naming: Naming): string[] {
  return DR_TASK_NAMES.map((t) => naming.name("lambdaFunction", `dr-${t}`));
}

interface AslTask {
  readonly Type: string;
  readonly Resource?: string;
  TimeoutSeconds?: number;
  readonly Parameters?: { readonly FunctionName?: string; Payload?: Record<string, unknown> };
}

type Definition = { States: Record<string, AslTask & Record<string, unknown>> };

/** Headroom between a Lambda's timeout and its state's: invoke latency and cold start. */
export const STATE_HEADROOM_SECONDS = 2;

/**
 * Each function's Lambda timeout: the shortest TimeoutSeconds of the states that run it, less
 * the headroom, so the Lambda always gives up before the state does and a retry never runs
 * beside a still-running attempt. A callback task (`.waitForTaskToken`) only publishes and
 * returns; its TimeoutSeconds is the wait for on-call, not the function's.
 */
export function taskTimeouts(definitions: readonly string[]): Record<string, number> {
  const timeouts: Record<string, number> = {};
  for (const definition of definitions) {
    for (const state of Object.values((JSON.parse(definition) as Definition).States)) {
      if (state.Type !== "Task") continue;
      const callback = state.Resource?.endsWith(".waitForTaskToken") ?? false;
      const reference = callback ? state.Parameters?.FunctionName : state.Resource;
      const task = DR_TASK_NAMES.find((t) => reference === `\${${taskPlaceholder(t)}}`);
      if (!task) continue;
      const timeout = callback
        ? 10
        : Math.max(3, (state.TimeoutSeconds ?? 60) - STATE_HEADROOM_SECONDS);
      timeouts[task] = Math.min(timeouts[task] ?? Infinity, timeout);
    }
  }
  return timeouts;
}

/** What the NotApproved state tells on-call, for an approval window of `seconds`. */
export function notApprovedCause(seconds: number): string {
  const window = seconds % 60 === 0 ? `${seconds / 60} minutes` : `${seconds} seconds`;
  return `On-call rejected the failover or did not answer within ${window}; nothing was changed and the lock was released.`;
}

/**
 * The failover definition with the approval wait set from config (seconds): the callback's
 * TimeoutSeconds, the window the request quotes, and the window NotApproved reports.
 */
export function withApprovalTimeout(definition: string, seconds: number): string {
  const parsed = JSON.parse(definition) as Definition;
  const approval = parsed.States.RequestApproval;
  const notApproved = parsed.States.NotApproved as { Cause?: string } | undefined;
  if (!approval?.Parameters?.Payload || notApproved?.Cause === undefined) {
    throw new Error(
      "failover workflow must have a RequestApproval callback task and a NotApproved state with a Cause",
    );
  }
  approval.TimeoutSeconds = seconds;
  approval.Parameters.Payload.timeoutSeconds = seconds;
  notApproved.Cause = notApprovedCause(seconds);
  return JSON.stringify(parsed);
}

export interface RegionalOrchestrationProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly region: string;
  readonly key: PlatformKey;
  readonly logRetentionDays: number;
  /** Retention of the state machines' execution logs (an audit trail: PCI DSS 10.5.1). */
  readonly workflowLogRetentionDays: number;
  /** The role of this region's state machines (from DrIam): invoke their tasks only. */
  readonly workflowRole: IamRole;
  /** Its policy: the workflows are created after it (Step Functions checks log permissions). */
  readonly workflowPolicy: ITerraformDependable;
  /** Each task's own role: exactly the calls it declares (DrIam.taskStatements). */
  readonly taskStatements: (task: DrTaskName) => Statement[];
  /** `DR_TOPOLOGY`, identical in both regions. */
  readonly topology: string;
  /** `DR_DATABASE` (jsonencoded DrDatabaseSpec), for the tasks that rebuild a cluster. */
  readonly databaseSpec: string;
  readonly failover: FailoverConfig;
  /** rds.global_db_rpo of the deployed primary's cluster (DB_RPO_SECONDS). */
  readonly dbRpoSeconds: number;
  /** DB_PROOF_MARGIN_SECONDS: the database proof's margin (DR_WRITER_STOP_MARGIN_SECONDS). */
  readonly dbProofMarginSeconds: number;
  /** Where the tasks send this region's run reports. */
  readonly reports: { readonly writerFunctionName: string; readonly bucketName: string };
  /** `DR_CAPACITY` (drCapacity()), identical in both regions. */
  readonly capacity: string;
}

/**
 * The failover orchestration service of one region: the DR task functions and the three
 * workflows, so each region can drive a failover toward itself.
 */
export class RegionalOrchestration extends Construct {
  public readonly stateMachines: Record<WorkflowName, SfnStateMachine>;
  public readonly functions: Record<string, NodejsFunction> = {};

  constructor(scope: Construct, id: string, props: RegionalOrchestrationProps) {
    super(scope, id);
    const { provider, naming, region, key } = props;
    const settle = fenceSettleSeconds(deployedWritePath(writeTimeoutSeconds()));
    const leaseSettle = leaseSettleSeconds(deployedWritePath(writeTimeoutSeconds()));
    const bounds = {
      writerStopBoundSeconds: writerStopBoundSeconds(
        props.dbRpoSeconds,
        DEFAULT_SETTINGS.heartbeatSeconds,
        props.dbProofMarginSeconds,
      ),
      promotionTimeoutSeconds: props.failover.promotionTimeoutMinutes * 60,
      promotionSlowSeconds: props.failover.promotionSlowSeconds,
    };
    const definitions = Object.fromEntries(
      WORKFLOWS.map((w) => {
        // Re-protect moves no writer: it has no old-writer or promotion bounds to set.
        const raw = w === "reprotect" ? readAsl(w) : tuneWorkflow(readAsl(w), w, bounds);
        const tuned =
          w === "failover"
            ? withApprovalTimeout(raw, props.failover.approvalTimeoutMinutes * 60)
            : raw;
        return [w, tuned];
      }),
    ) as Record<WorkflowName, string>;
    const timeouts = taskTimeouts(Object.values(definitions));

    for (const task of DR_TASK_NAMES) {
      const definition = drTask(task);
      this.functions[task] = new NodejsFunction(this, `task-${task}`, {
        provider,
        naming,
        region,
        key,
        group: "dr",
        source: task,
        component: `dr-${task}`,
        description: `payments-dr ${definition.step}: ${definition.description}`,
        memorySize: definition.memoryMb ?? DR_MEMORY_MB,
        timeoutSeconds: timeouts[task] ?? 30,
        environment: {
          [DR_ENV.topology]: props.topology,
          [DR_ENV.cooldownMinutes]: String(props.failover.cooldownMinutes),
          [DR_ENV.fenceSettleSeconds]: String(settle),
          [DR_ENV.leaseSettleSeconds]: String(leaseSettle),
          [DR_ENV.dbRpoSeconds]: String(props.dbRpoSeconds),
          [DR_ENV.writerStopMarginSeconds]: String(props.dbProofMarginSeconds),
          [REPORTS_ENV.writerFunction]: props.reports.writerFunctionName,
          [REPORTS_ENV.bucket]: props.reports.bucketName,
          [DR_ENV.capacity]: props.capacity,
          ...(definition.needsDatabaseSpec ? { [DR_ENV.database]: props.databaseSpec } : {}),
        },
        statements: props.taskStatements(task),
        logRetentionDays: props.logRetentionDays,
      });
    }

    const stateMachines: Partial<Record<WorkflowName, SfnStateMachine>> = {};
    for (const workflow of WORKFLOWS) {
      const logs = new CloudwatchLogGroup(this, `workflow-${workflow}-logs`, {
        provider,
        name: `/aws/vendedlogs/states/${naming.name("stateMachine", workflow, region)}`,
        retentionInDays: props.workflowLogRetentionDays,
        kmsKeyId: key.arn,
        dependsOn: [key.policy],
      });
      // Exactly the tasks the registry lists for this workflow: renderAsl refuses a placeholder
      // without a task and a task the ASL does not use.
      const substitutions = Object.fromEntries(
        workflowTasks(workflow).map((t) => [taskPlaceholder(t), this.functions[t]!.function.arn]),
      );
      stateMachines[workflow] = new SfnStateMachine(this, `workflow-${workflow}`, {
        provider,
        name: naming.name("stateMachine", workflow),
        type: "STANDARD",
        roleArn: props.workflowRole.arn,
        definition: renderAsl(definitions[workflow], substitutions),
        // The definition and execution history under the platform key (provider >= 5.61).
        encryptionConfiguration: {
          type: "CUSTOMER_MANAGED_KMS_KEY",
          kmsKeyId: key.arn,
          kmsDataKeyReusePeriodSeconds: 300,
        },
        loggingConfiguration: {
          level: "ALL",
          includeExecutionData: true,
          logDestination: `${logs.arn}:*`,
        },
        tracingConfiguration: { enabled: true },
        tags: { "region-code": regionCode(region) },
        dependsOn: [props.workflowPolicy],
      });
    }
    this.stateMachines = stateMachines as Record<WorkflowName, SfnStateMachine>;
  }
}

export interface FailoverTriggerProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  /** The region failed over to, where the alarms, the rule and the workflow live. */
  readonly region: string;
  readonly alarms: CloudwatchMetricAlarm[];
  readonly stateMachine: SfnStateMachine;
  /** EventBridge's role (DrIam.eventsRole): may start the failover workflow. */
  readonly role: IamRole;
  readonly failover: FailoverConfig;
  /** Encrypts the dead-letter queue; its policy lets EventBridge use it. */
  readonly key: PlatformKey;
}

/** The alarm state changes that start the failover workflow. */
export function triggerPattern(alarmArns: string[]): Record<string, unknown> {
  return {
    source: ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    resources: alarmArns,
    detail: { state: { value: ["ALARM"] } },
  };
}

/**
 * The failover trigger's dead-letter queue, as construct "dlq" of `scope`. The stack also keeps
 * one in the slot that does not host the trigger (WRITER_REGION decides which does), so moving
 * the writer never destroys a queue of undelivered failover triggers, a data store
 * (infra/lib/addresses.ts).
 */
export function failoverTriggerDlq(
  scope: Construct,
  props: Pick<FailoverTriggerProps, "provider" | "naming" | "region" | "key">,
): SqsQueue {
  return new SqsQueue(scope, "dlq", {
    provider: props.provider,
    name: props.naming.name("sqsQueue", "failover-trigger-dlq", props.region),
    kmsMasterKeyId: props.key.arn,
    kmsDataKeyReusePeriodSeconds: 300,
    messageRetentionSeconds: 1_209_600,
  });
}

/**
 * Starts `failover` toward this region when the prober's or the writer's alarm enters ALARM.
 * The mode comes from config; the cooldown and the lock in the workflow stop a second alarm from
 * doubling a failover. An alarm EventBridge could not deliver lands in a dead-letter queue instead
 * of being dropped ("If an event isn't delivered after all retry attempts are exhausted, the event
 * is dropped", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
 */
export class FailoverTrigger extends Construct {
  public readonly rule: CloudwatchEventRule;
  public readonly deadLetterQueue: SqsQueue;

  constructor(scope: Construct, id: string, props: FailoverTriggerProps) {
    super(scope, id);
    const { provider, naming, region } = props;
    this.rule = new CloudwatchEventRule(this, "rule", {
      provider,
      name: naming.name("eventRule", "failover-trigger", region),
      description: `Start the failover toward ${region} when its failure-detection alarms fire`,
      eventPattern: JSON.stringify(triggerPattern(props.alarms.map((a) => a.arn))),
    });
    // A standard queue in the rule's region: EventBridge supports no other DLQ.
    this.deadLetterQueue = failoverTriggerDlq(this, props);
    new SqsQueuePolicy(this, "dlq-access", {
      provider,
      queueUrl: this.deadLetterQueue.url,
      policy: policyDocument(this, "dlq-policy", provider, [
        {
          principals: [{ type: "Service", identifiers: ["events.amazonaws.com"] }],
          actions: ["sqs:SendMessage"],
          resources: [this.deadLetterQueue.arn],
          condition: [{ test: "ArnEquals", variable: "aws:SourceArn", values: [this.rule.arn] }],
        },
        tlsOnlyStatement("sqs", this.deadLetterQueue.arn),
      ]),
    });
    new CloudwatchEventTarget(this, "target", {
      provider,
      rule: this.rule.name,
      targetId: "failover-workflow",
      arn: props.stateMachine.arn,
      roleArn: props.role.arn,
      inputTransformer: {
        inputPaths: { alarm: "$.detail.alarmName", at: "$.detail.state.timestamp" },
        // Only names and timestamps are interpolated: they never contain quotes.
        inputTemplate: `{"targetRegion":"${region}","reason":"alarm <alarm> entered ALARM at <at>","trigger":"alarm","mode":"${props.failover.mode}"}`,
      },
      retryPolicy: { maximumEventAgeInSeconds: 300, maximumRetryAttempts: 10 },
      deadLetterConfig: { arn: this.deadLetterQueue.arn },
    });
  }
}

export interface ProberProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  /** The standby region (not WRITER_REGION), where the prober runs. */
  readonly region: string;
  readonly key: PlatformKey;
  /** `DR_TOPOLOGY`, identical in both regions. */
  readonly topology: string;
  readonly routing: RoutingConfig;
  readonly logRetentionDays: number;
  /** ARN of the control table in the prober's region (the table or its replica). */
  readonly controlTableArn: string;
  /**
   * The writer's region's copy of the control table and its key: the prober reads the peer
   * lease there back (best-effort) to publish the age the writer's payment functions see.
   */
  readonly writerControl: {
    readonly region: string;
    readonly tableArn: string;
    readonly keyArn: string;
  };
  /** rds.global_db_rpo of the deployed primary: the writer heartbeat's stale threshold. */
  readonly dbRpoSeconds: number;
}

/**
 * The prober: in the standby region, outside any VPC (it needs neither the database nor NAT),
 * every minute, probing the active region's /health every PROBE_INTERVAL_SECONDS.
 */
export class Prober extends Construct {
  public readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: ProberProps) {
    super(scope, id);
    const { provider, naming, region, key, routing } = props;
    this.function = new NodejsFunction(this, "function", {
      provider,
      naming,
      region,
      key,
      group: "monitoring",
      source: "prober",
      component: PROBER_COMPONENT,
      description:
        "Probes the active region's /health, publishes PaymentsDR/PrimaryHealthy, renews the peer lease",
      memorySize: DR_MEMORY_MB,
      // One invocation spans the minute of probes plus the last probe's timeout.
      timeoutSeconds: 70,
      environment: {
        [DR_ENV.topology]: props.topology,
        [DR_ENV.probeIntervalSeconds]: String(routing.probeIntervalSeconds),
        [DR_ENV.probeTimeoutMs]: String(routing.probeTimeoutSeconds * 1000),
        [DR_ENV.dbRpoSeconds]: String(props.dbRpoSeconds),
      },
      statements: [
        {
          sid: "PublishProbeResults",
          actions: ["cloudwatch:PutMetricData"],
          resources: ["*"],
          condition: [
            {
              test: "StringEquals",
              variable: "cloudwatch:namespace",
              values: [METRICS.namespace],
            },
          ],
        },
        {
          sid: "ReadActiveRegion",
          actions: ["dynamodb:GetItem"],
          resources: [props.controlTableArn],
        },
        {
          // The writer heartbeat its own region's cluster holds, through that region's heartbeat
          // reader, off the public /health (review 23-18 H2; functions/dr/shared/aws/replica.ts).
          sid: "ReadWriterHeartbeat",
          actions: ["lambda:InvokeFunction"],
          resources: [
            `arn:aws:lambda:${region}:${key.accountId}:function:${heartbeatReaderName(naming.suffix)}`,
          ],
        },
        {
          // The heartbeat watch (functions/dr/shared/heartbeat-watch.ts), its item only.
          sid: "WatchWriterHeartbeat",
          actions: ["dynamodb:PutItem"],
          resources: [props.controlTableArn],
          condition: [
            {
              test: "ForAllValues:StringEquals",
              variable: "dynamodb:LeadingKeys",
              values: [CONTROL.heartbeatWatchItem],
            },
          ],
        },
        {
          // The peer lease (PEER_LEASE): UpdateItem of the active-region item only, conditional
          // on the flag naming the other region (functions/dr/shared/aws/control-table.ts), with
          // only the attributes the renewal names, and nothing returned. DynamoDB's condition
          // keys (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html):
          // dynamodb:Attributes, the top-level attribute names the request accesses (the key
          // attribute must be among them; the listed attributes "can be read, written, or
          // evaluated in a conditional write or scan filter", and a caller without one "cannot
          // perform conditional write operations based on any other attributes", so the
          // condition's names are listed too: LEASE_RENEWAL_ATTRIBUTES); dynamodb:ReturnValues,
          // the request's ReturnValues, StringEquals because for a write-only UpdateItem "the
          // `ReturnValues` parameter always has a value (`NONE` unless otherwise specified)"
          // (same page, example 3). dynamodb:Select applies to reads (GetItem, Query, Scan), not
          // to UpdateItem.
          sid: "RenewPeerLease",
          actions: ["dynamodb:UpdateItem"],
          resources: [props.controlTableArn],
          condition: [
            {
              test: "ForAllValues:StringEquals",
              variable: "dynamodb:LeadingKeys",
              values: [CONTROL.activeRegionItem],
            },
            {
              test: "ForAllValues:StringEquals",
              variable: "dynamodb:Attributes",
              values: [...LEASE_RENEWAL_ATTRIBUTES],
            },
            {
              test: "StringEquals",
              variable: "dynamodb:ReturnValues",
              values: ["NONE"],
            },
          ],
        },
        {
          // The lease's age as the writer's replica holds it (PeerLeaseAgeSeconds).
          sid: "ReadWriterLease",
          actions: ["dynamodb:GetItem"],
          resources: [props.writerControl.tableArn],
          condition: [
            {
              test: "ForAllValues:StringEquals",
              variable: "dynamodb:LeadingKeys",
              values: [CONTROL.activeRegionItem],
            },
          ],
        },
        {
          sid: "ReadWriterTableKey",
          actions: ["kms:Decrypt"],
          resources: [props.writerControl.keyArn],
          condition: [
            {
              test: "StringEquals",
              variable: "kms:ViaService",
              values: [`dynamodb.${props.writerControl.region}.amazonaws.com`],
            },
          ],
        },
        {
          sid: "UseTableKey",
          actions: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
          resources: [key.arn],
          condition: [
            {
              test: "StringEquals",
              variable: "kms:ViaService",
              values: [`dynamodb.${region}.amazonaws.com`],
            },
          ],
        },
      ],
      logRetentionDays: props.logRetentionDays,
    });
    const schedule = new CloudwatchEventRule(this, "schedule", {
      provider,
      name: naming.name("eventRule", "prober", region),
      description: "Run the prober every minute",
      scheduleExpression: "rate(1 minute)",
    });
    new CloudwatchEventTarget(this, "target", {
      provider,
      rule: schedule.name,
      arn: this.function.function.arn,
    });
    new LambdaPermission(this, "invoke", {
      provider,
      functionName: this.function.function.functionName,
      action: "lambda:InvokeFunction",
      principal: "events.amazonaws.com",
      sourceArn: schedule.arn,
    });
  }
}
