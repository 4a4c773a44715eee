// The deployed handlers (env, adapters, SDK clients) with the AWS SDK mocked: exact API
// parameters, the region and retry profile of every client, conditional expressions.
import "./support/aws-env";
import {
  CloudWatchClient,
  GetMetricDataCommand,
  PutMetricDataCommand,
} from "@aws-sdk/client-cloudwatch";
import type { GetMetricDataCommandInput } from "@aws-sdk/client-cloudwatch";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import {
  DescribeDBClustersCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  RDSClient,
  RemoveFromGlobalClusterCommand,
  SwitchoverGlobalClusterCommand,
} from "@aws-sdk/client-rds";
import {
  ChangeResourceRecordSetsCommand,
  GetHealthCheckStatusCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from "@aws-sdk/client-route-53";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { handler as acquireLock } from "../../../functions/dr/acquire-lock/handler";
import { PLANNED_CLAIM } from "../../../functions/dr/acquire-lock/core";
import { handler as checkOldWriter } from "../../../functions/dr/check-old-writer/handler";
import { handler as checkPromotion } from "../../../functions/dr/check-promotion/handler";
import { handler as fence } from "../../../functions/dr/fence/handler";
import { handler as notify } from "../../../functions/dr/notify/handler";
import { handler as preflight } from "../../../functions/dr/preflight/handler";
import { handler as prober } from "../../../functions/monitoring/prober/handler";
import { handler as promote } from "../../../functions/dr/promote/handler";
import { handler as recordTimeline } from "../../../functions/dr/record-timeline/handler";
import { handler as releaseLock } from "../../../functions/dr/release-lock/handler";
import { handler as requestApproval } from "../../../functions/dr/request-approval/handler";
import { CONDITIONS, DynamoControlTable } from "../../../functions/dr/shared/aws/control-table";
import { DeadlineError } from "../../../functions/dr/shared/aws/deadline";
import type { DrRequest, Steps, Workflow, WorkflowState } from "../../../functions/dr/shared/types";
import { handler as shiftTraffic } from "../../../functions/dr/shift-traffic/handler";
import { handler as switchover } from "../../../functions/dr/switchover/handler";
import { handler as unfence } from "../../../functions/dr/unfence/handler";
import { handler as updateParameters } from "../../../functions/dr/update-parameters/handler";
import { handler as validateInput } from "../../../functions/dr/validate-input/handler";
import { handler as verify } from "../../../functions/dr/verify/handler";
import { EAST, TOPOLOGY, WEST } from "./support/fake-world";

const WEST_ARN = TOPOLOGY.regions[WEST]!.clusterArn;
const GLOBAL = TOPOLOGY.globalClusterIdentifier;
const EXECUTION = "arn:aws:states:us-west-2:123456789012:execution:payments-dr-failover-test:run-1";

const rds = mockClient(RDSClient);
const ddb = mockClient(DynamoDBDocumentClient);
const ssm = mockClient(SSMClient);
const cloudwatch = mockClient(CloudWatchClient);
const events = mockClient(EventBridgeClient);
const sns = mockClient(SNSClient);
const route53 = mockClient(Route53Client);
const lambda = mockClient(LambdaClient);

let output: string[] = [];

beforeEach(() => {
  for (const mock of [rds, ddb, ssm, cloudwatch, events, sns, route53, lambda]) mock.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  output = [];
  const capture = (chunk: unknown) => {
    output.push(String(chunk));
    return true;
  };
  jest.spyOn(process.stdout, "write").mockImplementation(capture);
  jest.spyOn(process.stderr, "write").mockImplementation(capture);
});

afterEach(() => jest.restoreAllMocks());

/** Region and max attempts of the client that sent the n-th call of a mock. */
async function clientOf(
  mock: { call(index: number): { thisValue: unknown } },
  index = 0,
): Promise<{ region: string; maxAttempts: number }> {
  const client = mock.call(index).thisValue as RDSClient;
  return { region: await client.config.region(), maxAttempts: await client.config.maxAttempts() };
}

/**
 * What a DR client throws when the task's own deadline refused or cut its call
 * (shared/aws/deadline.ts): the invocation ran out of time, the region called may be fine.
 */
function ownDeadline(): DeadlineError {
  return new DeadlineError(
    "test: the task's deadline passed before this attempt; retried by the state",
  );
}

/** Review 23 M2: the step is retried by the state (TransientError), nothing recorded. */
const RETRIED_ON_OWN_DEADLINE = {
  name: "TransientError",
  message: expect.stringMatching(/^test: the task's deadline/),
};

function state(workflow: Workflow = "failover", steps: Steps = {}, extra: Partial<DrRequest> = {}) {
  const request: DrRequest = {
    workflow,
    failoverId: "run-1",
    resumed: false,
    executionId: EXECUTION,
    executionName: "run-1",
    stateMachineArn: "arn:aws:states:us-west-2:123456789012:stateMachine:payments-dr-failover-test",
    startedAt: "2026-01-01T00:00:00.000Z",
    targetRegion: WEST,
    sourceRegion: EAST,
    reason: "drill",
    trigger: "drill",
    mode: "automatic",
    forceDetach: false,
    ignoreCooldown: false,
    allowUnknownLag: false,
    assumeOldWriterStopped: false,
    ...extra,
  };
  return { input: {}, request, steps } satisfies WorkflowState;
}

const times = { startedAt: "2026-01-01T00:00:01.000Z", endedAt: "2026-01-01T00:00:02.000Z" };
const fenced: Steps = {
  Fence: {
    ...times,
    activeRegion: WEST,
    previousRegion: EAST,
    fencingToken: 4,
    fencedAt: times.startedAt,
    phase: "fenced",
  },
};
const ourFlag = { pk: "active-region", activeRegion: WEST, fencingToken: 4, updatedBy: "run-1" };
const confirmedLook = {
  ...times,
  stopped: true,
  evidence: "confirmed",
  oldRegionFlag: "confirmed",
  confirmedAt: "2026-01-01T00:00:03.000Z",
  heartbeatAt: null,
  stoppedAt: "2026-01-01T00:00:23.000Z",
  nextCheckSeconds: 0,
  elapsedSeconds: 21,
  looks: 5,
} as const;
/** Fenced, and the old region shown unable to commit: what Promote and Switchover need. */
const proven: Steps = { ...fenced, CheckOldWriter: confirmedLook };

function globalCluster(writer: string, failover?: object) {
  return {
    GlobalClusters: [
      {
        GlobalClusterIdentifier: GLOBAL,
        Status: "available",
        Endpoint: "global.endpoint",
        GlobalClusterMembers: [
          { DBClusterArn: TOPOLOGY.regions[EAST]!.clusterArn, IsWriter: writer === EAST },
          { DBClusterArn: WEST_ARN, IsWriter: writer === WEST },
        ],
        ...(failover ? { FailoverState: failover } : {}),
      },
    ],
  };
}

function sdkError(name: string, status = 400): Error {
  return Object.assign(new Error(`${name} from AWS`), {
    name,
    $fault: "client",
    $metadata: { httpStatusCode: status },
  });
}

describe("ValidateInput handler", () => {
  it("reads the flag strongly consistently in the target region and returns the request", async () => {
    ddb.on(GetCommand).resolves({});
    const result = await validateInput({
      workflow: "failover",
      input: { targetRegion: WEST, reason: "drill", trigger: "drill" },
      context: {
        executionId: EXECUTION,
        executionName: "run-1",
        startTime: "2026-01-01T00:00:00Z",
        stateMachineArn: "arn:sm",
      },
    });
    expect(result.request).toMatchObject({ failoverId: "run-1", sourceRegion: EAST });
    expect(ddb.commandCalls(GetCommand)[0]!.args[0].input).toEqual({
      TableName: TOPOLOGY.controlTable,
      Key: { pk: "active-region" },
      ConsistentRead: true,
    });
    expect(await clientOf(ddb)).toEqual({ region: WEST, maxAttempts: 2 });
  });
});

describe("Preflight handler", () => {
  it("confirms an alarm with the prober's results, read in the target region only", async () => {
    const now = Date.now();
    rds
      .on(DescribeDBClustersCommand)
      .resolves({ DBClusters: [{ DBClusterArn: WEST_ARN, Status: "available" }] });
    rds.on(DescribeGlobalClustersCommand).resolves(globalCluster(EAST));
    // Lag: 120 ms just now. Probes: us-east-1 answered 200 five seconds ago.
    cloudwatch.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => {
      const query = input.MetricDataQueries![0]!;
      const probes = query.MetricStat!.Metric!.MetricName === "PrimaryHealthy";
      return {
        MetricDataResults: [
          {
            Id: query.Id,
            Values: [probes ? 1 : 120],
            Timestamps: [new Date(now - (probes ? 5000 : 0))],
          },
        ],
      };
    });
    await expect(preflight(state("failover", {}, { trigger: "alarm" }))).rejects.toMatchObject({
      name: "AlarmNotCorroboratedError",
      message: expect.stringContaining(`the prober saw ${EAST} /health answer 200 at`),
    });
    const probes = cloudwatch
      .commandCalls(GetMetricDataCommand)
      .find(
        (c) =>
          c.args[0].input.MetricDataQueries?.[0]?.MetricStat?.Metric?.MetricName ===
          "PrimaryHealthy",
      )!;
    expect(probes.args[0].input.MetricDataQueries![0]!.MetricStat).toEqual({
      Metric: {
        Namespace: "PaymentsDR",
        MetricName: "PrimaryHealthy",
        Dimensions: [{ Name: "Region", Value: EAST }],
      },
      Period: 10,
      Stat: "Minimum",
    });
    expect(await (probes.thisValue as CloudWatchClient).config.region()).toBe(WEST);
  });
});

describe("AcquireLock handler", () => {
  it("puts the lock conditionally, in the target region, then claims the other region's copy", async () => {
    ddb
      .on(GetCommand)
      .resolves({})
      .on(PutCommand)
      .resolves({})
      .on(UpdateCommand)
      .resolves({ Attributes: { facts: { lockScope: `${WEST} and ${EAST}` } } });
    const result = await acquireLock(state());
    const [put, claim] = ddb.commandCalls(PutCommand);
    expect(put!.args[0].input).toMatchObject({
      TableName: TOPOLOGY.controlTable,
      Item: { pk: "failover-lock", owner: "run-1", operation: "failover", targetRegion: WEST },
      ConditionExpression: "attribute_not_exists(#pk) OR #expiresAt < :now",
      ExpressionAttributeNames: { "#pk": "pk", "#expiresAt": "expiresAt" },
    });
    expect(CONDITIONS.lockFree).toBe(put!.args[0].input.ConditionExpression);
    expect(await clientOf(ddb, 2)).toEqual({ region: WEST, maxAttempts: 2 });
    // The same item in us-east-1's copy, free or already this run's; one attempt (bestEffort).
    expect(claim!.args[0].input).toMatchObject({
      TableName: TOPOLOGY.controlTable,
      Item: { pk: "failover-lock", owner: "run-1", targetRegion: WEST },
      ConditionExpression: "attribute_not_exists(#pk) OR #expiresAt < :now OR #owner = :owner",
      ExpressionAttributeNames: { "#pk": "pk", "#expiresAt": "expiresAt", "#owner": "owner" },
      ExpressionAttributeValues: { ":owner": "run-1", ":now": expect.any(Number) },
    });
    expect(await clientOf(ddb, 3)).toEqual({ region: EAST, maxAttempts: 1 });
    expect(result).toMatchObject({
      owner: "run-1",
      startedAt: expect.any(String),
      facts: { lockScope: `${WEST} and ${EAST}` },
    });
  });

  it("keeps the lock in its own copy when the other region fails in any way but IAM's", async () => {
    // What the lab's dead region gave: the SDK wraps a socket timeout in a plain Error.
    ddb
      .on(GetCommand)
      .resolves({})
      .on(PutCommand)
      .resolvesOnce({})
      .rejects(new Error("AWS SDK error wrapper for TimeoutError: socket hang up"))
      .on(UpdateCommand)
      .resolves({ Attributes: { facts: {} } });
    const result = await acquireLock(state());
    expect(result).toMatchObject({ owner: "run-1" });
    expect(String(result.facts.lockScope)).toMatch(/^us-west-2 only: us-east-1 did not answer/);
  });

  it("rejects a planned run when IAM refuses the claim of the other region's copy", async () => {
    ddb
      .on(GetCommand)
      .resolves({})
      .on(PutCommand)
      .resolvesOnce({})
      .rejects(sdkError("AccessDeniedException"));
    await expect(acquireLock(state("switchover"))).rejects.toMatchObject({
      name: "AccessDeniedError",
    });
    // It stops without keeping its lock: released in both copies, conditional on its run id.
    expect(
      ddb.commandCalls(DeleteCommand).map((d) => d.args[0].input.ExpressionAttributeValues),
    ).toEqual([{ ":owner": "run-1" }, { ":owner": "run-1" }]);
  });

  it("never stops an unplanned failover on the failed region's answer, IAM's included", async () => {
    // The other region is the one that failed: a 403 from its auth layer is not a reason to
    // stay down (recover without the failed region).
    ddb
      .on(GetCommand)
      .resolves({})
      .on(PutCommand)
      .resolvesOnce({})
      .rejects(sdkError("AccessDeniedException"))
      .on(UpdateCommand)
      .resolves({ Attributes: { facts: {} } });
    const result = await acquireLock(state("failover"));
    expect(result).toMatchObject({ owner: "run-1" });
    expect(String(result.facts.lockScope)).toMatch(/^us-west-2 only: us-east-1 did not answer/);
  });

  it("stops, touching nothing, when a run settled in the other region took this copy meanwhile", async () => {
    // The other region's claim failed once (a 500), and in between the run started there won
    // the tie-break and wrote its lock over this one in this copy: recordFact finds no lock of
    // this run's to write to.
    ddb
      .on(GetCommand, { Key: { pk: "failover-lock" } })
      .resolvesOnce({})
      .resolves({
        Item: {
          pk: "failover-lock",
          owner: "run-0",
          operation: "failover",
          expiresAt: 9e9,
          acquiredAt: "2026-11-30T00:00:00.000Z",
          targetRegion: EAST,
          sourceRegion: WEST,
        },
      })
      .on(GetCommand, { Key: { pk: "failover-cooldown" } })
      .resolves({})
      .on(PutCommand)
      .resolvesOnce({})
      .rejects(sdkError("InternalServerError"))
      .on(UpdateCommand)
      .rejects(sdkError("ConditionalCheckFailedException"));
    // A failover: it claims once and goes local-only (a switchover retries and never does).
    await expect(acquireLock(state("failover"))).rejects.toMatchObject({
      name: "LockHeldError",
      message: expect.stringMatching(/run-0/),
    });
  });

  // Review H2 (session 22): the Lambda context's getRemainingTimeInMillis reaches the core
  // (https://docs.aws.amazon.com/lambda/latest/dg/nodejs-context.html): with 5.6 s left (4.6 s
  // before the SDK deadline, review 23 M1), a retry (3 s at worst, then the 1.5 s release) could
  // not end before it, so none is started.
  it("retries a planned claim only while the Lambda context leaves time for it to end", async () => {
    ddb
      .on(GetCommand)
      .resolves({})
      .on(PutCommand)
      .resolvesOnce({})
      .rejects(sdkError("InternalServerError", 500))
      .on(DeleteCommand)
      .resolves({});
    const started = Date.now();
    const context = { getRemainingTimeInMillis: () => 5600 - (Date.now() - started) };
    await expect(acquireLock(state("switchover"), context)).rejects.toMatchObject({
      name: "LockUnconfirmedError",
    });
    expect(ddb.commandCalls(PutCommand).slice(1)).toHaveLength(1);
  });

  it("stops a planned run whose claim of the other copy keeps failing, after releasing its own lock in both copies", async () => {
    ddb
      .on(GetCommand)
      .resolves({})
      .on(PutCommand)
      .resolvesOnce({})
      .rejects(sdkError("InternalServerError", 500))
      .on(DeleteCommand)
      .resolves({});
    await expect(acquireLock(state("switchover"))).rejects.toMatchObject({
      name: "LockUnconfirmedError",
      message: expect.stringMatching(
        /could not claim the failover lock in us-east-1's copy .*its lock was released in us-west-2's copy and in us-east-1's/,
      ),
    });
    // Retried (more than one claim), within the bound.
    const claims = ddb.commandCalls(PutCommand).slice(1);
    expect(claims.length).toBeGreaterThan(1);
    expect(claims.length).toBeLessThanOrEqual(PLANNED_CLAIM.attempts);
    // Only its own lock, in each copy: this region's first (clients 0.. are per call).
    const deletes = ddb.commandCalls(DeleteCommand);
    expect(deletes).toHaveLength(2);
    for (const d of deletes) {
      expect(d.args[0].input).toEqual({
        TableName: TOPOLOGY.controlTable,
        Key: { pk: "failover-lock" },
        ConditionExpression: "attribute_not_exists(#pk) OR #owner = :owner",
        ExpressionAttributeNames: { "#pk": "pk", "#owner": "owner" },
        ExpressionAttributeValues: { ":owner": "run-1" },
      });
    }
    expect(await (deletes[0]!.thisValue as DynamoDBClient).config.region()).toBe(WEST);
    expect(await (deletes[1]!.thisValue as DynamoDBClient).config.region()).toBe(EAST);
  }, 15_000);

  it("tells a planned run to delete, not resume, a planned lock that was never confirmed and whose AcquireLock has stopped", async () => {
    // Review 22b-12 M1: a switchover killed before its release left its lock with no scope. A
    // resume of it would claim again while a failover may take the lock over; the item is safe
    // to delete (the run changed nothing).
    ddb.on(GetCommand, { Key: { pk: "failover-lock" } }).resolves({
      Item: {
        pk: "failover-lock",
        owner: "dead-switchover",
        operation: "switchover",
        expiresAt: 9e9,
        acquiredAt: new Date(Date.now() - 10 * 60_000).toISOString(),
        targetRegion: WEST,
        sourceRegion: EAST,
        facts: {},
      },
    });
    const refused = acquireLock(state("failback"));
    await expect(refused).rejects.toMatchObject({ name: "LockHeldError" });
    await expect(refused).rejects.toThrow(
      /never confirmed it in both regions, .*Do not resume it; delete the lock item/,
    );
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it("rejects with LockHeldError when the conditional put loses", async () => {
    ddb
      .on(GetCommand, { Key: { pk: "failover-lock" } })
      .resolvesOnce({})
      .resolves({
        Item: { pk: "failover-lock", owner: "other", expiresAt: 9e9, operation: "failover" },
      })
      .on(GetCommand, { Key: { pk: "failover-cooldown" } })
      .resolves({})
      .on(PutCommand)
      .rejects(sdkError("ConditionalCheckFailedException"));
    await expect(acquireLock(state())).rejects.toMatchObject({ name: "LockHeldError" });
  });
});

describe("Fence handler", () => {
  it("flips the flag conditional on the region and token it read, in the target region", async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({
        Item: {
          pk: "active-region",
          activeRegion: EAST,
          fencingToken: 3,
          updatedBy: "x",
          updatedAt: "2026-11-10T08:00:00.000Z",
        },
      })
      .resolves({ Item: { pk: "active-region", activeRegion: WEST, fencingToken: 4 } })
      .on(UpdateCommand)
      .resolves({});
    const result = await fence(state());
    const update = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(update).toMatchObject({
      TableName: TOPOLOGY.controlTable,
      Key: { pk: "active-region" },
      ConditionExpression: "#activeRegion = :expectedRegion AND #fencingToken = :expectedToken",
      ExpressionAttributeValues: expect.objectContaining({
        ":expectedRegion": EAST,
        ":expectedToken": 3,
        ":activeRegion": WEST,
        ":fencingToken": 4,
        ":updatedBy": "run-1",
        ":phase": "fenced",
        // When the flag moved before: re-protect's bound for the point-of-failure snapshot.
        ":previousUpdatedAt": "2026-11-10T08:00:00.000Z",
      }),
    });
    expect(update.UpdateExpression).toContain("#previousUpdatedAt = :previousUpdatedAt");
    // A new move: the previous move's proof stamp goes (review 23 M2).
    expect(update.UpdateExpression).toMatch(/ REMOVE #promotingAt$/);
    expect(update.ExpressionAttributeNames).toMatchObject({ "#promotingAt": "promotingAt" });
    expect(result).toMatchObject({ activeRegion: WEST, fencingToken: 4 });
    // The read and the write in the target region only: the old region is CheckOldWriter's.
    expect(ddb.calls()).toHaveLength(2);
    expect(await clientOf(ddb, 0)).toEqual({ region: WEST, maxAttempts: 2 });
    expect(await clientOf(ddb, 1)).toEqual({ region: WEST, maxAttempts: 2 });
  });

  it("creates the flag only if it does not exist yet", async () => {
    ddb.on(GetCommand).resolvesOnce({}).resolves({}).on(UpdateCommand).resolves({});
    await fence(state());
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toMatchObject({
      ConditionExpression: "attribute_not_exists(#pk)",
      ExpressionAttributeValues: expect.objectContaining({ ":fencingToken": 1 }),
    });
  });

  it("treats a flag seeded without a token as token 0", async () => {
    ddb
      .on(GetCommand)
      .resolvesOnce({ Item: { pk: "active-region", activeRegion: EAST } })
      .resolves({})
      .on(UpdateCommand)
      .resolves({});
    await fence(state());
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toMatchObject({
      ConditionExpression:
        "#activeRegion = :expectedRegion AND (attribute_not_exists(#fencingToken) OR #fencingToken = :expectedToken)",
      ExpressionAttributeValues: expect.objectContaining({
        ":expectedToken": 0,
        ":fencingToken": 1,
      }),
    });
  });

  it("rejects with FencingConflictError when someone else holds the flag", async () => {
    ddb.on(GetCommand).resolves({
      Item: { pk: "active-region", activeRegion: WEST, fencingToken: 9, updatedBy: "someone" },
    });
    await expect(fence(state())).rejects.toMatchObject({ name: "FencingConflictError" });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });
});

describe("CheckOldWriter handler", () => {
  it("is retried, not told the old region is unreachable, when its own deadline refuses the read of the old region's flag (review 23 M2)", async () => {
    ddb
      .on(GetCommand, { Key: { pk: "failover-lock" } })
      .resolves({ Item: { pk: "failover-lock", owner: "run-1", facts: {} } })
      .on(GetCommand, { Key: { pk: "active-region" } })
      .rejects(ownDeadline());
    await expect(checkOldWriter(state("switchover", fenced))).rejects.toMatchObject(
      RETRIED_ON_OWN_DEADLINE,
    );
  });

  it("reads the old region's flag with one attempt and the target's heartbeat through its /health", async () => {
    const now = Date.now();
    ddb
      .on(GetCommand, { Key: { pk: "failover-lock" } })
      .resolves({ Item: { pk: "failover-lock", owner: "run-1", facts: {} } })
      .on(GetCommand, { Key: { pk: "active-region" } })
      .resolves({ Item: { ...ourFlag, activeRegion: EAST, fencingToken: 3 } })
      // The prober in us-west-2 saw that heartbeat arrive two minutes ago, after earlier ones.
      .on(GetCommand, { Key: { pk: "writer-heartbeat-watch" } })
      .resolves({
        Item: {
          pk: "writer-heartbeat-watch",
          beatAt: new Date(now - 121_000).toISOString(),
          firstSeenAt: new Date(now - 120_000).toISOString(),
          advanced: true,
          checkedAt: new Date(now - 4_000).toISOString(),
        },
      });
    const fetchMock = jest.spyOn(global, "fetch").mockImplementation(
      async () =>
        new Response(
          JSON.stringify({
            status: "passive",
            replication: { writerHeartbeatAt: new Date(now - 121_000).toISOString() },
          }),
          { status: 503 },
        ),
    );
    const result = await checkOldWriter(state("failover", fenced));
    // us-east-1's replica still names itself, but its last heartbeat reached us-west-2 two
    // minutes ago: the RPO guard (60 s) has stopped it.
    expect(result).toMatchObject({
      stopped: true,
      evidence: "database",
      oldRegionFlag: "replicating",
      nextCheckSeconds: 0,
    });
    const flagRead = ddb
      .calls()
      .findIndex((c) => (c.args[0].input as { Key?: { pk?: string } }).Key?.pk === "active-region");
    expect(await clientOf(ddb, flagRead)).toEqual({ region: EAST, maxAttempts: 1 });
    expect(ddb.call(flagRead).args[0].input).toMatchObject({
      TableName: TOPOLOGY.controlTable,
      ConsistentRead: true,
    });
    const watchRead = ddb
      .calls()
      .findIndex(
        (c) => (c.args[0].input as { Key?: { pk?: string } }).Key?.pk === "writer-heartbeat-watch",
      );
    expect(await clientOf(ddb, watchRead)).toEqual({ region: WEST, maxAttempts: 2 });
    expect(fetchMock.mock.calls.map(([url, init]) => [String(url), init?.method])).toEqual([
      ["https://usw2.api.test/health", "GET"],
    ]);
  });

  it("records the old region's confirmation on the lock and waits out the payment path's bound", async () => {
    ddb
      .on(GetCommand, { Key: { pk: "failover-lock" } })
      .resolves({ Item: { pk: "failover-lock", owner: "run-1", facts: {} } })
      .on(GetCommand, { Key: { pk: "active-region" } })
      .resolves({ Item: ourFlag })
      .on(UpdateCommand)
      .callsFake((input: { ExpressionAttributeValues: Record<string, unknown> }) => ({
        Attributes: { facts: { fenceConfirmedAt: input.ExpressionAttributeValues[":value"] } },
      }));
    jest.spyOn(global, "fetch").mockRejectedValue(new Error("unused"));
    const result = await checkOldWriter(state("switchover", fenced));
    expect(result).toMatchObject({
      stopped: false,
      evidence: "none",
      oldRegionFlag: "confirmed",
      nextCheckSeconds: 5,
    });
    expect(Date.parse(result.stoppedAt!) - Date.parse(result.confirmedAt!)).toBe(25_000);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toMatchObject({
      Key: { pk: "failover-lock" },
      ExpressionAttributeNames: { "#name": "fenceConfirmedAt" },
      ConditionExpression: "#owner = :owner",
    });
  });
});

describe("CheckOldWriter, confirmed path from the guarded primary (review 24-10k M3)", () => {
  const at = (ms: number) => new Date(ms).toISOString();
  function arrange(beatAt: string) {
    ddb
      .on(GetCommand, { Key: { pk: "failover-lock" } })
      .resolves({ Item: { pk: "failover-lock", owner: "run-1", facts: {} } })
      .on(GetCommand, { Key: { pk: "active-region" } })
      .resolves({ Item: ourFlag })
      .on(GetCommand, { Key: { pk: "writer-heartbeat-watch" } })
      .resolves({});
    jest
      .spyOn(global, "fetch")
      .mockImplementation(
        async () =>
          new Response(
            JSON.stringify({ status: "passive", replication: { writerHeartbeatAt: beatAt } }),
            { status: 503 },
          ),
      );
  }
  const look = (now: number, extra: object) => ({
    ...confirmedLook,
    stopped: false,
    evidence: "none",
    stoppedAt: null,
    nextCheckSeconds: 5,
    confirmedAt: at(now - 60_000),
    heartbeatAt: at(now - 8_000),
    heartbeatSeenAt: at(now - 8_000),
    pausedCommitsFirstBeatAt: at(now - 13_000),
    pausedCommitsResumedSeenAt: null,
    ...extra,
  });

  // The margin: "as soon as" is given one heartbeat interval (5 s) after the second beat was seen.
  it("waits one heartbeat interval after the second beat before the confirmation holds", async () => {
    const now = Date.now();
    arrange(at(now - 1_000));
    const early = await checkOldWriter(
      state("failover", {
        ...fenced,
        CheckOldWriter: look(now, { pausedCommitsResumedSeenAt: at(now - 3_000) }) as never,
      }),
    );
    expect(early).toMatchObject({ stopped: false, evidence: "none" });
    expect(early.stoppedAt).toBe(at(now + 2_000));
    const late = await checkOldWriter(
      state("failover", {
        ...fenced,
        CheckOldWriter: look(now, { pausedCommitsResumedSeenAt: at(now - 6_000) }) as never,
      }),
    );
    expect(late).toMatchObject({ stopped: true, evidence: "confirmed" });
  });

  it("counts a second beat only one heartbeat interval after the first", async () => {
    const now = Date.now();
    arrange(at(now - 9_000)); // 4 s after the first beat: too close
    const close = await checkOldWriter(
      state("failover", { ...fenced, CheckOldWriter: look(now, {}) as never }),
    );
    expect(close).toMatchObject({ stopped: false, pausedCommitsResumedSeenAt: null });
    arrange(at(now - 8_000)); // 5 s after it
    const apart = await checkOldWriter(
      state("failover", { ...fenced, CheckOldWriter: look(now, {}) as never }),
    );
    expect(apart.pausedCommitsResumedSeenAt).not.toBeNull();
  });

  // The beat's value is the DB server's clock, the settle this Lambda's: 1 s allowed between them.
  it("does not count a beat begun within the clock-skew allowance after the settle", async () => {
    const now = Date.now();
    const settledAt = now - 30_000;
    const confirmedAt = at(settledAt - 25_000);
    arrange(at(settledAt + 500));
    const skewed = await checkOldWriter(
      state("failover", {
        ...fenced,
        CheckOldWriter: look(now, { confirmedAt, pausedCommitsFirstBeatAt: null }) as never,
      }),
    );
    expect(skewed.pausedCommitsFirstBeatAt).toBeNull();
    arrange(at(settledAt + 1_000));
    const clear = await checkOldWriter(
      state("failover", {
        ...fenced,
        CheckOldWriter: look(now, { confirmedAt, pausedCommitsFirstBeatAt: null }) as never,
      }),
    );
    expect(clear.pausedCommitsFirstBeatAt).toBe(at(settledAt + 1_000));
  });
});

describe("Promote handler", () => {
  // The newest old-primary heartbeat the target holds, from the target's own /health: mocked,
  // so no test waits on a DNS lookup of the fake API host (Promote reads it best effort, with a
  // 2.5 s timeout, which under load made the full run time out).
  const TARGET_HEARTBEAT = "2026-11-30T08:00:00.000Z";
  let healthFetch: jest.SpiedFunction<typeof fetch>;
  beforeEach(() => {
    healthFetch = jest.spyOn(global, "fetch").mockImplementation(
      async () =>
        new Response(
          JSON.stringify({
            status: "passive",
            replication: { writerHeartbeatAt: TARGET_HEARTBEAT },
          }),
          { status: 503 },
        ),
    );
    ddb
      .on(GetCommand, { Key: { pk: "active-region" } })
      .resolves({ Item: ourFlag })
      .on(GetCommand, { Key: { pk: "failover-lock" } })
      .resolves({ Item: { pk: "failover-lock", owner: "run-1", facts: {} } })
      .on(UpdateCommand)
      .resolves({});
    rds.on(DescribeGlobalClustersCommand).resolves(globalCluster(EAST));
  });

  it("calls FailoverGlobalCluster with AllowDataLoss, the target by ARN, in the target region", async () => {
    rds.on(FailoverGlobalClusterCommand).resolves({});
    const result = await promote(state("failover", proven));
    const calls = rds.commandCalls(FailoverGlobalClusterCommand);
    expect(calls.map((c) => c.args[0].input)).toEqual([
      { GlobalClusterIdentifier: GLOBAL, TargetDbClusterIdentifier: WEST_ARN, AllowDataLoss: true },
    ]);
    expect(await (calls[0]!.thisValue as RDSClient).config.region()).toBe(WEST);
    expect(rds.commandCalls(DescribeGlobalClustersCommand)[0]!.args[0].input).toEqual({
      GlobalClusterIdentifier: GLOBAL,
    });
    expect(result).toMatchObject({ method: "managed-failover" });
    // First the proof stamp on this run's flag in the target's replica (review 23 M2: /health
    // may answer taking-over only from here), then the fork and the method on the lock.
    const updates = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(updates[0]).toEqual({
      TableName: expect.any(String),
      Key: { pk: "active-region" },
      UpdateExpression: "SET #promotingAt = if_not_exists(#promotingAt, :at)",
      ConditionExpression:
        "#activeRegion = :region AND #fencingToken = :token AND #phase = :fenced",
      ExpressionAttributeNames: {
        "#activeRegion": "activeRegion",
        "#fencingToken": "fencingToken",
        "#phase": "phase",
        "#promotingAt": "promotingAt",
      },
      ExpressionAttributeValues: {
        ":region": WEST,
        ":token": ourFlag.fencingToken,
        ":fenced": "fenced",
        ":at": expect.any(String),
      },
    });
    expect(
      await (
        ddb.commandCalls(UpdateCommand)[0]!.thisValue as {
          config: { region: () => Promise<string> };
        }
      ).config.region(),
    ).toBe(WEST);
    const facts = updates.slice(1);
    expect(facts.map((f) => f.ExpressionAttributeNames?.["#name"])).toEqual([
      "forkFailoverAt",
      "forkLastReplicatedAt",
      "promotionMethod",
    ]);
    expect(facts[2]).toMatchObject({
      Key: { pk: "failover-lock" },
      UpdateExpression: "SET #facts.#name = if_not_exists(#facts.#name, :value)",
      ConditionExpression: "#owner = :owner",
      ExpressionAttributeValues: { ":value": "managed-failover", ":owner": "run-1" },
    });
    // Where the data forked, for the lost-write reconciliation: AWS's point-of-failure snapshot
    // is named after the old primary (aurora-global-database-disaster-recovery.html).
    expect(result.fork).toMatchObject({
      oldRegion: EAST,
      oldCluster: TOPOLOGY.regions[EAST]!.clusterIdentifier,
      oldClusterArn: TOPOLOGY.regions[EAST]!.clusterArn,
      snapshotPrefix: `rds:unplanned-global-failover-${TOPOLOGY.regions[EAST]!.clusterIdentifier}-`,
    });
    expect(Date.parse(result.fork!.failoverAt)).not.toBeNaN();
    // Read from the target only: the failed region is never asked.
    expect(result.fork!.lastReplicatedAt).toBe(TARGET_HEARTBEAT);
    expect(healthFetch.mock.calls.map(([url]) => String(url))).toEqual([
      "https://usw2.api.test/health",
    ]);
  });

  it("never detaches the target when the refusal comes from its own failover under way", async () => {
    rds
      .on(DescribeGlobalClustersCommand)
      .resolvesOnce(globalCluster(EAST))
      .resolves(
        globalCluster(EAST, {
          Status: "failing-over",
          FromDbClusterArn: TOPOLOGY.regions[EAST]!.clusterArn,
          ToDbClusterArn: WEST_ARN,
          IsDataLossAllowed: true,
        }),
      )
      .on(FailoverGlobalClusterCommand)
      .rejects(sdkError("InvalidGlobalClusterStateFault"));
    const result = await promote(state("failover", proven));
    expect(result).toMatchObject({ method: "managed-failover" });
    expect(rds.commandCalls(RemoveFromGlobalClusterCommand)).toHaveLength(0);
  });

  it.each(["InvalidGlobalClusterStateFault", "InvalidDBClusterStateFault"])(
    "detaches the target by ARN in the target region when RDS answers %s and us-east-1 is unreachable",
    async (code) => {
      rds
        .on(FailoverGlobalClusterCommand)
        .rejects(sdkError(code))
        .on(RemoveFromGlobalClusterCommand)
        .resolves({})
        .on(DescribeDBClustersCommand)
        .rejects(Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" }));
      cloudwatch.on(GetMetricDataCommand).resolves({
        MetricDataResults: [{ Id: "series", Values: [0, 0], Timestamps: [new Date(), new Date()] }],
      });
      const result = await promote(state("failover", proven));
      const calls = rds.commandCalls(RemoveFromGlobalClusterCommand);
      expect(calls.map((c) => c.args[0].input)).toEqual([
        { GlobalClusterIdentifier: GLOBAL, DbClusterIdentifier: WEST_ARN },
      ]);
      expect(await (calls[0]!.thisValue as RDSClient).config.region()).toBe(WEST);
      expect(result).toMatchObject({
        method: "detach",
        detachReason: expect.stringContaining(`FailoverGlobalCluster: ${code}; the old primary`),
      });
      // The old region asked once, best-effort: one attempt.
      const describe = rds.commandCalls(DescribeDBClustersCommand)[0]!;
      expect(describe.args[0].input).toEqual({
        DBClusterIdentifier: TOPOLOGY.regions[EAST]!.clusterIdentifier,
      });
      expect(await (describe.thisValue as RDSClient).config.region()).toBe(EAST);
      expect(await (describe.thisValue as RDSClient).config.maxAttempts()).toBe(1);
    },
  );

  it("refuses to detach while us-east-1 still answers, and says how to detach anyway", async () => {
    rds
      .on(FailoverGlobalClusterCommand)
      .rejects(sdkError("InvalidDBClusterStateFault"))
      .on(DescribeDBClustersCommand)
      .resolves({
        DBClusters: [{ DBClusterArn: TOPOLOGY.regions[EAST]!.clusterArn, Status: "available" }],
      });
    await expect(promote(state("failover", proven))).rejects.toMatchObject({
      name: "ManagedFailoverRefusedError",
      message: expect.stringContaining("resume with forceDetach: true"),
    });
    expect(rds.commandCalls(RemoveFromGlobalClusterCommand)).toHaveLength(0);
  });

  it("detaches without trying a managed failover when forceDetach is set", async () => {
    rds.on(RemoveFromGlobalClusterCommand).resolves({});
    await promote(state("failover", proven, { forceDetach: true }));
    expect(rds.commandCalls(FailoverGlobalClusterCommand)).toHaveLength(0);
    expect(rds.commandCalls(RemoveFromGlobalClusterCommand)).toHaveLength(1);
  });

  it("does not ask again while a failover to the target is under way", async () => {
    rds.on(DescribeGlobalClustersCommand).resolves(
      globalCluster(EAST, {
        Status: "failing-over",
        ToDbClusterArn: WEST_ARN,
        IsDataLossAllowed: true,
      }),
    );
    await promote(state("failover", proven));
    expect(rds.commandCalls(FailoverGlobalClusterCommand)).toHaveLength(0);
  });

  // Chaos schedule 4203 of seed 20261130: an attempt had FailoverGlobalCluster accepted, then its
  // recordFact of the method was throttled; the promoted target then beats for itself, and the
  // retry's re-read of the heartbeat took that for the old primary replicating again, refusing
  // every retry and resume (OldWriterActiveError -> CheckOldWriter, which never proves again).
  const databaseLook = {
    ...confirmedLook,
    evidence: "database",
    oldRegionFlag: "unreachable",
    confirmedAt: null,
    heartbeatAt: "2026-11-30T07:55:00.000Z",
  } as const;
  const underWay = globalCluster(EAST, {
    Status: "failing-over",
    FromDbClusterArn: TOPOLOGY.regions[EAST]!.clusterArn,
    ToDbClusterArn: WEST_ARN,
    IsDataLossAllowed: true,
  });

  /** This run got as far as the promotion call: captureFork's fact is on its lock. */
  const ownLockAfterFork = () =>
    ddb.on(GetCommand, { Key: { pk: "failover-lock" } }).resolves({
      Item: {
        pk: "failover-lock",
        owner: "run-1",
        facts: { forkFailoverAt: "2026-11-30T07:59:00.000Z" },
      },
    });

  it.each([
    ["under way", underWay],
    [
      "pending",
      globalCluster(EAST, {
        Status: "pending",
        FromDbClusterArn: TOPOLOGY.regions[EAST]!.clusterArn,
        ToDbClusterArn: WEST_ARN,
        IsDataLossAllowed: true,
      }),
    ],
    ["done", globalCluster(WEST)],
  ])(
    "records the managed failover when a newer heartbeat is the target's own, its promotion %s",
    async (_, global) => {
      ownLockAfterFork();
      rds.on(DescribeGlobalClustersCommand).resolves(global);
      const result = await promote(state("failover", { ...fenced, CheckOldWriter: databaseLook }));
      expect(result).toMatchObject({ method: "managed-failover" });
      expect(rds.commandCalls(FailoverGlobalClusterCommand)).toHaveLength(0);
      expect(rds.commandCalls(RemoveFromGlobalClusterCommand)).toHaveLength(0);
      const facts = ddb
        .commandCalls(UpdateCommand)
        .map((c) => c.args[0].input.ExpressionAttributeNames?.["#name"]);
      expect(facts).toContain("promotionMethod");
    },
  );

  // Review 24-10k M1: only this run's own failover may be adopted. A console failover or
  // switchover, or one being cancelled, is someone else moving the cluster: page, promote nothing.
  it.each([
    ["a failover this run never asked for (no intent on its lock)", false, underWay],
    ["a target promoted without this run's request", false, globalCluster(WEST)],
    [
      "a switchover",
      true,
      globalCluster(EAST, {
        Status: "switching-over",
        FromDbClusterArn: TOPOLOGY.regions[EAST]!.clusterArn,
        ToDbClusterArn: WEST_ARN,
        IsDataLossAllowed: false,
      }),
    ],
    [
      "a failover being cancelled",
      true,
      globalCluster(EAST, {
        Status: "cancelling",
        FromDbClusterArn: TOPOLOGY.regions[EAST]!.clusterArn,
        ToDbClusterArn: WEST_ARN,
        IsDataLossAllowed: true,
      }),
    ],
  ])(
    "rejects with ForeignFailoverError when a newer heartbeat arrives during %s",
    async (_, intent, global) => {
      if (intent) ownLockAfterFork();
      rds.on(DescribeGlobalClustersCommand).resolves(global);
      await expect(
        promote(state("failover", { ...fenced, CheckOldWriter: databaseLook })),
      ).rejects.toMatchObject({
        name: "ForeignFailoverError",
        message: expect.stringContaining("someone else is moving the global cluster"),
      });
      expect(rds.commandCalls(FailoverGlobalClusterCommand)).toHaveLength(0);
      expect(rds.commandCalls(RemoveFromGlobalClusterCommand)).toHaveLength(0);
      // Nothing recorded as this run's: no method, no fork.
      expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    },
  );

  // Review 24b-10 H1: with this run's intent on the lock, the newer beat may be the promoted
  // target's own after this run's accepted FailoverGlobalCluster, and CheckOldWriter would never
  // prove again: a failed look at RDS is retried (TransientError), never a halt fenced.
  it("rejects with TransientError when DescribeGlobalClusters fails and this run asked for a failover", async () => {
    ownLockAfterFork();
    rds.on(DescribeGlobalClustersCommand).rejects(sdkError("InternalFailure", 503));
    await expect(
      promote(state("failover", { ...fenced, CheckOldWriter: databaseLook })),
    ).rejects.toMatchObject({
      name: "TransientError",
      message: expect.stringContaining("DescribeGlobalClusters, the only way to tell, failed"),
    });
    expect(rds.commandCalls(FailoverGlobalClusterCommand)).toHaveLength(0);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  // Review 24-10k L1: without this run's intent nothing was asked of RDS, so a failed look keeps
  // the refusal (back to CheckOldWriter), not a TransientError repeated for minutes.
  it("rejects with OldWriterActiveError, not the RDS error, when DescribeGlobalClusters fails and this run asked for nothing", async () => {
    rds.on(DescribeGlobalClustersCommand).rejects(sdkError("InternalFailure", 503));
    await expect(
      promote(state("failover", { ...fenced, CheckOldWriter: databaseLook })),
    ).rejects.toMatchObject({ name: "OldWriterActiveError" });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it("rejects with OldWriterActiveError when a newer heartbeat arrives and nothing was promoted", async () => {
    await expect(
      promote(state("failover", { ...fenced, CheckOldWriter: databaseLook })),
    ).rejects.toMatchObject({
      name: "OldWriterActiveError",
      message: expect.stringContaining("replicates again"),
    });
    expect(rds.commandCalls(FailoverGlobalClusterCommand)).toHaveLength(0);
    // Nothing stamped or recorded before the proof holds again.
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it("refuses to promote when the flag is not the one this run fenced", async () => {
    ddb.on(GetCommand, { Key: { pk: "active-region" } }).resolves({
      Item: { ...ourFlag, activeRegion: EAST },
    });
    await expect(promote(state("failover", proven))).rejects.toMatchObject({
      name: "NotFencedError",
    });
    expect(rds.commandCalls(FailoverGlobalClusterCommand)).toHaveLength(0);
  });

  it("maps throttling to TransientError and a denial to AccessDeniedError", async () => {
    rds
      .on(FailoverGlobalClusterCommand)
      .rejectsOnce(sdkError("Throttling", 400))
      .rejects(sdkError("AccessDenied", 403));
    await expect(promote(state("failover", proven))).rejects.toMatchObject({
      name: "TransientError",
    });
    await expect(promote(state("failover", proven))).rejects.toMatchObject({
      name: "AccessDeniedError",
    });
  });
});

describe("the control table's recordFact", () => {
  // UpdateItem ReturnValues: "ALL_NEW - Returns all of the attributes of the item, as they appear
  // after the UpdateItem operation." Whether UPDATED_NEW includes an attribute that if_not_exists
  // left unchanged is undocumented and emulators disagree (getmoto/moto#2798 vs
  // ministackorg/ministack#1040); https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html
  it("asks for ALL_NEW and returns the value already stored, not the one it proposed", async () => {
    ddb
      .on(UpdateCommand, { ReturnValues: "ALL_NEW" })
      .resolves({
        Attributes: { pk: "failover-lock", owner: "run-1", facts: { promotionMethod: "detach" } },
      })
      .on(UpdateCommand, { ReturnValues: "UPDATED_NEW" })
      .resolves({});
    const table = new DynamoControlTable(
      DynamoDBDocumentClient.from(new DynamoDBClient({ region: WEST })),
      TOPOLOGY.controlTable,
    );
    const stored = await table.recordFact("run-1", "promotionMethod", "managed-failover");
    expect(stored).toBe("detach");
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toMatchObject({
      UpdateExpression: "SET #facts.#name = if_not_exists(#facts.#name, :value)",
      ConditionExpression: "#owner = :owner",
      ReturnValues: "ALL_NEW",
    });
  });
});

describe("the control table's claimLock", () => {
  it("writes over another run only while that run has recorded no scope", async () => {
    ddb.on(PutCommand).resolves({});
    const table = new DynamoControlTable(
      DynamoDBDocumentClient.from(new DynamoDBClient({ region: WEST })),
      TOPOLOGY.controlTable,
    );
    const lock = {
      owner: "run-1",
      operation: "switchover",
      acquiredAt: "2026-11-30T00:00:00.000Z",
      expiresAt: 1_796_000_000,
      targetRegion: WEST,
      sourceRegion: EAST,
      facts: {},
    };
    expect(await table.claimLock(lock, 1_795_000_000, "run-0")).toBe(true);
    const input = ddb.commandCalls(PutCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe(
      "attribute_not_exists(#pk) OR #expiresAt < :now OR #owner = :owner OR (#owner = :over AND attribute_not_exists(#facts.#scope))",
    );
    expect(input.ExpressionAttributeNames).toEqual({
      "#pk": "pk",
      "#expiresAt": "expiresAt",
      "#owner": "owner",
      "#facts": "facts",
      "#scope": "lockScope",
    });
    expect(input.ExpressionAttributeValues).toEqual({
      ":now": 1_795_000_000,
      ":owner": "run-1",
      ":over": "run-0",
    });
  });
});

describe("the control table's renewLock", () => {
  it("moves only the expiry, only while the owner still holds the lock", async () => {
    ddb.on(UpdateCommand).resolves({});
    const table = new DynamoControlTable(
      DynamoDBDocumentClient.from(new DynamoDBClient({ region: WEST })),
      TOPOLOGY.controlTable,
    );
    expect(await table.renewLock("run-1", 1_796_000_000)).toBe(true);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toEqual({
      TableName: TOPOLOGY.controlTable,
      Key: { pk: "failover-lock" },
      UpdateExpression: "SET #expiresAt = :expiresAt",
      ConditionExpression: "#owner = :owner",
      ExpressionAttributeNames: { "#expiresAt": "expiresAt", "#owner": "owner" },
      ExpressionAttributeValues: { ":expiresAt": 1_796_000_000, ":owner": "run-1" },
    });
  });

  it("reports a lock held by another run as not renewed, not as an error", async () => {
    ddb.on(UpdateCommand).rejects(
      Object.assign(new Error("The conditional request failed"), {
        name: "ConditionalCheckFailedException",
      }),
    );
    const table = new DynamoControlTable(
      DynamoDBDocumentClient.from(new DynamoDBClient({ region: WEST })),
      TOPOLOGY.controlTable,
    );
    expect(await table.renewLock("run-1", 1_796_000_000)).toBe(false);
  });
});

describe("Switchover handler", () => {
  it("calls SwitchoverGlobalCluster in the current primary region, the target by ARN", async () => {
    ddb.on(GetCommand).resolves({ Item: ourFlag });
    rds
      .on(DescribeGlobalClustersCommand)
      .resolves(globalCluster(EAST))
      .on(SwitchoverGlobalClusterCommand)
      .resolves({});
    await switchover(state("switchover", proven));
    const calls = rds.commandCalls(SwitchoverGlobalClusterCommand);
    expect(calls.map((c) => c.args[0].input)).toEqual([
      { GlobalClusterIdentifier: GLOBAL, TargetDbClusterIdentifier: WEST_ARN },
    ]);
    const client = calls[0]!.thisValue as RDSClient;
    expect(await client.config.region()).toBe(EAST);
    expect(await client.config.maxAttempts()).toBe(2);
  });
});

describe("CheckPromotion handler", () => {
  it("reports the target as writer from DescribeGlobalClusters in the target region", async () => {
    rds
      .on(DescribeGlobalClustersCommand)
      .resolves(globalCluster(WEST))
      .on(DescribeDBClustersCommand)
      .resolves({
        DBClusters: [
          { DBClusterArn: WEST_ARN, Status: "available", GlobalClusterIdentifier: GLOBAL },
        ],
      });
    const result = await checkPromotion(state("failover", fenced));
    expect(result).toMatchObject({ isWriter: true, polls: 1 });
    expect(rds.commandCalls(DescribeDBClustersCommand)[0]!.args[0].input).toEqual({
      DBClusterIdentifier: TOPOLOGY.regions[WEST]!.clusterIdentifier,
    });
    expect(await clientOf(rds)).toEqual({ region: WEST, maxAttempts: 2 });
  });
});

describe("UpdateParameters handler", () => {
  it("is retried, not told the other region is unreachable, when its own deadline refuses the other region's write (review 23 M2)", async () => {
    rds
      .on(DescribeDBClustersCommand)
      .resolves({
        DBClusters: [{ DBClusterArn: WEST_ARN, Status: "available", Endpoint: "west.cluster" }],
      })
      .on(DescribeGlobalClustersCommand)
      .resolves(globalCluster(WEST));
    // The target's two writes answer; the old region's first is refused by the deadline.
    ssm
      .on(GetParameterCommand)
      .rejects(sdkError("ParameterNotFound"))
      .on(PutParameterCommand)
      .resolvesOnce({})
      .resolvesOnce({})
      .rejects(ownDeadline());
    await expect(
      updateParameters(
        state("switchover", { ...fenced, Promote: { ...times, method: "managed-failover" } }),
      ),
    ).rejects.toMatchObject(RETRIED_ON_OWN_DEADLINE);
  });

  it("writes changed parameters in the target region and, best-effort, in the other", async () => {
    rds
      .on(DescribeDBClustersCommand)
      .resolves({
        DBClusters: [{ DBClusterArn: WEST_ARN, Status: "available", Endpoint: "west.cluster" }],
      })
      .on(DescribeGlobalClustersCommand)
      .resolves(globalCluster(WEST));
    ssm
      .on(GetParameterCommand)
      .rejects(sdkError("ParameterNotFound"))
      .on(PutParameterCommand)
      .resolves({});
    const result = await updateParameters(
      state("failover", { ...fenced, Promote: { ...times, method: "managed-failover" } }),
    );
    expect(result).toMatchObject({ writerEndpoint: "global.endpoint", otherRegion: "updated" });
    const puts = ssm.commandCalls(PutParameterCommand);
    const byRegion = await Promise.all(
      puts.map(async (c) => ({
        region: await (c.thisValue as SSMClient).config.region(),
        maxAttempts: await (c.thisValue as SSMClient).config.maxAttempts(),
        input: c.args[0].input,
      })),
    );
    expect(byRegion).toEqual([
      {
        region: WEST,
        maxAttempts: 2,
        input: {
          Name: "/payments/test/db/writer-endpoint",
          Value: "global.endpoint",
          Type: "String",
          Overwrite: true,
        },
      },
      {
        region: WEST,
        maxAttempts: 2,
        input: {
          Name: "/payments/test/active-region",
          Value: WEST,
          Type: "String",
          Overwrite: true,
        },
      },
      {
        region: EAST,
        maxAttempts: 1,
        input: {
          Name: "/payments/test/db/writer-endpoint",
          Value: "global.endpoint",
          Type: "String",
          Overwrite: true,
        },
      },
      {
        region: EAST,
        maxAttempts: 1,
        input: {
          Name: "/payments/test/active-region",
          Value: WEST,
          Type: "String",
          Overwrite: true,
        },
      },
    ]);
  });
});

describe("ShiftTraffic handler", () => {
  it("is retried, not told Route 53 did not answer, when its own deadline refuses the call (review 23 M2)", async () => {
    route53.onAnyCommand().rejects(ownDeadline());
    await expect(shiftTraffic(state())).rejects.toMatchObject(RETRIED_ON_OWN_DEADLINE);
  });

  it("swaps the failover records through Route 53 in us-east-1, one attempt", async () => {
    route53
      .on(GetHealthCheckStatusCommand)
      .resolves({
        HealthCheckObservations: [{ StatusReport: { Status: "Success: HTTP Status Code 200" } }],
      })
      .on(ListResourceRecordSetsCommand)
      .resolves({
        ResourceRecordSets: [
          {
            Name: "api.pay.acme-corp.com.",
            Type: "A",
            SetIdentifier: "primary",
            Failover: "PRIMARY",
            AliasTarget: {
              DNSName: "d-use1.execute-api.us-east-1.amazonaws.com.",
              HostedZoneId: "Z1",
              EvaluateTargetHealth: false,
            },
          },
        ],
      })
      .on(ChangeResourceRecordSetsCommand)
      .resolves({});
    const result = await shiftTraffic(state());
    expect(result).toMatchObject({ records: "switched" });
    const change = route53.commandCalls(ChangeResourceRecordSetsCommand)[0]!;
    expect(change.args[0].input).toEqual({
      HostedZoneId: "ZONE123",
      ChangeBatch: {
        Comment: "payments-dr: us-west-2 becomes PRIMARY",
        Changes: [
          {
            Action: "UPSERT",
            ResourceRecordSet: {
              Name: "api.pay.acme-corp.com",
              Type: "A",
              SetIdentifier: "primary",
              Failover: "PRIMARY",
              AliasTarget: {
                DNSName: "d-usw2.execute-api.us-west-2.amazonaws.com",
                HostedZoneId: "Z2OJLYMUO9EFXC",
                EvaluateTargetHealth: false,
              },
              HealthCheckId: "hc-usw2",
            },
          },
          {
            Action: "UPSERT",
            ResourceRecordSet: {
              Name: "api.pay.acme-corp.com",
              Type: "A",
              SetIdentifier: "secondary",
              Failover: "SECONDARY",
              AliasTarget: {
                DNSName: "d-use1.execute-api.us-east-1.amazonaws.com",
                HostedZoneId: "Z1UJRXOUMOOFQ8",
                EvaluateTargetHealth: false,
              },
              HealthCheckId: "hc-use1",
            },
          },
        ],
      },
    });
    const client = change.thisValue as Route53Client;
    expect(await client.config.region()).toBe("us-east-1");
    expect(await client.config.maxAttempts()).toBe(1);
  });

  it("carries on without throwing when Route 53 does not answer", async () => {
    const down = Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" });
    route53.onAnyCommand().rejects(down);
    const result = await shiftTraffic(state());
    expect(result).toMatchObject({
      records: "unreachable",
      healthChecks: { [WEST]: "unknown", [EAST]: "unknown" },
    });
  });
});

describe("Verify handler", () => {
  it("sends the synthetic payment and its void to the target region's API with its API key", async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: "k-1" } });
    const fetchMock = jest.spyOn(global, "fetch").mockImplementation(async (url, init) => {
      const path = new URL(String(url)).pathname;
      const status = path === "/health" ? 200 : path === "/payments" ? 201 : 200;
      void init;
      const body =
        path === "/payments"
          ? { id: "pay-1" }
          : path === "/health"
            ? { status: "taking-over", checks: { database: "writable" } }
            : {};
      return new Response(JSON.stringify(body), { status });
    });
    const result = await verify(state());
    expect(result).toMatchObject({ paymentId: "pay-1", healthStatus: 200, voidStatus: 200 });
    const calls = fetchMock.mock.calls.map(([url, init]) => ({
      url: String(url),
      method: init?.method,
      headers: init?.headers,
      body: init?.body,
    }));
    expect(calls).toEqual([
      { url: "https://usw2.api.test/health", method: "GET", headers: undefined, body: undefined },
      {
        url: "https://usw2.api.test/payments",
        method: "POST",
        headers: {
          "x-api-key": "k-1",
          "content-type": "application/json",
          "Idempotency-Key": "dr-verify-run-1",
        },
        body: JSON.stringify({
          amount: 1,
          currency: "USD",
          merchantId: "dr-synthetic",
          cardToken: "tok_dr_synthetic",
        }),
      },
      {
        url: "https://usw2.api.test/payments/pay-1/void",
        method: "POST",
        headers: {
          "x-api-key": "k-1",
          "content-type": "application/json",
          "Idempotency-Key": "dr-verify-run-1-void",
        },
        body: undefined,
      },
    ]);
    expect(ssm.commandCalls(GetParameterCommand)[0]!.args[0].input).toEqual({
      Name: "/payments/test/api/dr-verify-key",
      WithDecryption: true,
    });
    expect(await clientOf(ssm)).toEqual({ region: WEST, maxAttempts: 2 });
  });

  it("fails with VerificationFailedError when /health is not 200", async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: "k-1" } });
    jest.spyOn(global, "fetch").mockResolvedValue(new Response("", { status: 503 }));
    await expect(verify(state())).rejects.toMatchObject({
      name: "VerificationFailedError",
      message: expect.stringMatching(
        /^GET \/health in us-west-2 answered 503, expected 200 with a writable database/,
      ),
    });
  });

  // From the proof on, clients routed to the target retry their 503 region_fenced writes on the
  // same route: the stage throttle's 429 must not fail the synthetic payment at once.
  it("re-sends a request the stage throttle refused (429) within its budget", async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: "k-1" } });
    let throttled = 0;
    jest.spyOn(global, "fetch").mockImplementation(async (url) => {
      const path = new URL(String(url)).pathname;
      if (path === "/health")
        return new Response(
          JSON.stringify({ status: "taking-over", checks: { database: "writable" } }),
          {
            status: 200,
          },
        );
      if (path === "/payments" && throttled < 3) {
        throttled += 1;
        return new Response(JSON.stringify({ message: "Too Many Requests" }), { status: 429 });
      }
      return new Response(JSON.stringify(path === "/payments" ? { id: "pay-1" } : {}), {
        status: path === "/payments" ? 201 : 200,
      });
    });
    const result = await verify(state());
    expect(throttled).toBe(3);
    expect(result).toMatchObject({ paymentId: "pay-1", paymentStatus: 201 });
  });

  // Review 23 L3: before Unfence the target answers taking-over; only a writable (promoted) own
  // cluster says anything about writes.
  it("fails with VerificationFailedError when /health is taking-over with its database still in recovery", async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: "k-1" } });
    const fetchMock = jest.spyOn(global, "fetch").mockResolvedValue(
      new Response(JSON.stringify({ status: "taking-over", checks: { database: "in recovery" } }), {
        status: 200,
      }),
    );
    await expect(verify(state())).rejects.toMatchObject({
      name: "VerificationFailedError",
      message: expect.stringContaining("answered 200 (taking-over, database in recovery)"),
    });
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });
});

describe("Unfence handler", () => {
  it("opens the flag conditional on this run's region and token, without a token bump", async () => {
    ddb.on(UpdateCommand).resolves({});
    await unfence(state("failover", fenced));
    const update = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(update).toMatchObject({
      Key: { pk: "active-region" },
      UpdateExpression: "SET #phase = :phase, #phaseChangedAt = :at",
      ConditionExpression: CONDITIONS.phaseChange,
      ExpressionAttributeValues: expect.objectContaining({
        ":region": WEST,
        ":token": 4,
        ":phase": "open",
      }),
    });
  });
});

describe("RecordTimeline handler", () => {
  it("puts the metrics and the completed event in the target region", async () => {
    ddb
      .on(GetCommand)
      .resolves({ Item: { pk: "failover-lock", owner: "run-1", facts: {} } })
      .on(UpdateCommand)
      .resolves({});
    cloudwatch.on(PutMetricDataCommand).resolves({});
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "e" }] });
    await recordTimeline(
      state("failover", {
        ...fenced,
        AcquireLock: {
          ...times,
          owner: "run-1",
          operation: "failover",
          acquiredAt: times.startedAt,
          expiresAt: 1,
          facts: { replicationLagMs: 250 },
        },
        Verify: {
          ...times,
          paymentId: "p",
          healthStatus: 200,
          paymentStatus: 201,
          voidStatus: 200,
        },
      }),
    );
    const metrics = cloudwatch.commandCalls(PutMetricDataCommand)[0]!.args[0].input;
    expect(metrics.Namespace).toBe("PaymentsDR");
    expect(metrics.MetricData).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          MetricName: "RpoEstimateMilliseconds",
          Value: 250,
          Unit: "Milliseconds",
          Dimensions: [{ Name: "Workflow", Value: "failover" }],
        }),
        expect.objectContaining({
          MetricName: "StepDurationSeconds",
          Value: 1,
          Dimensions: [
            { Name: "Workflow", Value: "failover" },
            { Name: "Step", Value: "Fence" },
          ],
        }),
        expect.objectContaining({ MetricName: "RtoSeconds", Value: 2 }),
      ]),
    );
    const entry = events.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!;
    expect(entry).toMatchObject({
      EventBusName: TOPOLOGY.regions[WEST]!.eventBusName,
      Source: "payments.dr",
      DetailType: "dr.failover.completed",
    });
    expect(JSON.parse(entry.Detail!)).toMatchObject({
      eventId: "failover-run-1-completed",
      originRegion: WEST,
      rpoEstimateMs: 250,
    });
    expect(await clientOf(cloudwatch)).toEqual({ region: WEST, maxAttempts: 2 });
    expect(await clientOf(events)).toEqual({ region: WEST, maxAttempts: 2 });
  });

  it("queues the run's report with this region's writer and links it from the event", async () => {
    ddb.on(GetCommand).resolves({ Item: { pk: "failover-lock", owner: "run-1", facts: {} } });
    ddb.on(UpdateCommand).resolves({});
    cloudwatch.on(PutMetricDataCommand).resolves({});
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "e" }] });
    const result = await recordTimeline(state("switchover", fenced));
    const invoke = lambda.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(invoke).toMatchObject({
      FunctionName: "payments-report-writer-test",
      InvocationType: "Event",
    });
    const payload = JSON.parse(new TextDecoder().decode(invoke.Payload as Uint8Array));
    expect(payload).toMatchObject({
      action: "write",
      report: {
        kind: "switchover",
        runId: "run-1",
        groupId: "run-1",
        region: WEST,
        outcome: "succeeded",
        trigger: { kind: "drill", by: "the DR drill", reason: "drill" },
      },
    });
    // One short attempt: queuing a report never holds up the run.
    expect(await clientOf(lambda)).toEqual({ region: WEST, maxAttempts: 1 });
    const link = {
      uri: "s3://payments-dr-reports-usw2-test-x/reports/switchover/2026-01/run-1.html",
      consoleUrl: expect.stringContaining("payments-dr-reports-usw2-test-x?region=us-west-2"),
    };
    expect(result.report).toEqual(link);
    const detail = JSON.parse(
      events.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!.Detail!,
    );
    expect(detail.report).toEqual(link);
  });

  it("records the timeline even when the report cannot be queued, saying why", async () => {
    ddb.on(GetCommand).resolves({ Item: { pk: "failover-lock", owner: "run-1", facts: {} } });
    ddb.on(UpdateCommand).resolves({});
    cloudwatch.on(PutMetricDataCommand).resolves({});
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "e" }] });
    lambda.on(InvokeCommand).rejects(sdkError("TooManyRequestsException", 429));
    const result = await recordTimeline(state("failover", fenced));
    expect(result.report).toEqual({
      uri: null,
      consoleUrl: null,
      error: expect.stringMatching(
        /^TransientError: lambda:InvokeFunction payments-report-writer-test failed: TooManyRequestsException/,
      ),
    });
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(1);
  });
});

describe("ReleaseLock handler", () => {
  it("writes the cooldown and deletes the lock only if this run owns it", async () => {
    ddb.on(GetCommand).resolves({}).on(PutCommand).resolves({}).on(DeleteCommand).resolves({});
    const result = await releaseLock(
      state("failover", {
        ...fenced,
        Unfence: { ...times, activeRegion: WEST, fencingToken: 4, phase: "open" },
      }),
    );
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toMatchObject({
      Item: {
        pk: "failover-cooldown",
        lastExecution: "run-1",
        cooldownUntil: expect.any(Number),
        targetRegion: WEST,
      },
    });
    expect(ddb.commandCalls(DeleteCommand)[0]!.args[0].input).toEqual({
      TableName: TOPOLOGY.controlTable,
      Key: { pk: "failover-lock" },
      ConditionExpression: "attribute_not_exists(#pk) OR #owner = :owner",
      ExpressionAttributeNames: { "#pk": "pk", "#owner": "owner" },
      ExpressionAttributeValues: { ":owner": "run-1" },
    });
    expect(result).toMatchObject({ released: true });
  });
});

describe("Notify and RequestApproval handlers", () => {
  it("page the alert topic of the region the state machine runs in", async () => {
    sns.on(PublishCommand).resolves({ MessageId: "m" });
    const page = await notify({
      workflow: "failover",
      outcome: "halted",
      state: {
        ...state("failover", fenced),
        failures: { Promote: { Error: "AccessDeniedError", Cause: "denied" } },
      },
      context: {
        executionId: EXECUTION,
        executionName: "run-1",
        startTime: "t",
        stateMachineArn: "arn:sm",
      },
    });
    expect(page).toMatchObject({
      error: "AccessDeniedError",
      cause: expect.stringContaining("Promote: denied"),
      report: { uri: "s3://payments-dr-reports-usw2-test-x/reports/failover/2026-01/run-1.html" },
    });
    const halted = JSON.parse(
      new TextDecoder().decode(
        lambda.commandCalls(InvokeCommand)[0]!.args[0].input.Payload as Uint8Array,
      ),
    );
    expect(halted.report).toMatchObject({ outcome: "failed", rtoSeconds: null });
    expect(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message).toMatch(
      /\nReport: https:\/\/us-west-2\.console\.aws\.amazon\.com\/s3\/object\/payments-dr-reports-usw2-test-x\?/,
    );
    await requestApproval({ state: state(), taskToken: "tok'en", timeoutSeconds: 1800 });
    const publishes = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(publishes.map((p) => p.TopicArn)).toEqual([
      TOPOLOGY.regions[WEST]!.alertTopicArn,
      TOPOLOGY.regions[WEST]!.alertTopicArn,
    ]);
    expect(publishes[1]!.Message).toContain(
      `--task-token 'tok'\\''en' --task-output '{"approved":true}'`,
    );
    expect(await clientOf(sns)).toEqual({ region: WEST, maxAttempts: 2 });
  });
});

describe("Notify handler, capacity page (review 22b, L1')", () => {
  it("publishes the page before the metric, and still pages when PutMetricData is refused", async () => {
    const order: string[] = [];
    sns.on(PublishCommand).callsFake(() => {
      order.push("sns:Publish");
      return { MessageId: "m" };
    });
    cloudwatch.on(PutMetricDataCommand).callsFake(() => {
      order.push("cloudwatch:PutMetricData");
      throw sdkError("AccessDenied", 403);
    });
    const result = await notify({
      workflow: "failover",
      outcome: "capacity",
      state: {
        ...state("failover", fenced),
        warnings: {
          RestoreCapacity: { Error: "DependencyError", Cause: "payments-db-2-usw2-test is failed" },
        },
      },
      context: {
        executionId: EXECUTION,
        executionName: "run-1",
        startTime: "t",
        stateMachineArn: "arn:sm",
      },
    });
    expect(order).toEqual(["sns:Publish", "cloudwatch:PutMetricData"]);
    expect(sns.commandCalls(PublishCommand)[0]!.args[0].input).toEqual({
      TopicArn: TOPOLOGY.regions[WEST]!.alertTopicArn,
      Subject: `[payments-dr ${TOPOLOGY.environmentSuffix}] failover to ${WEST}: capacity not restored`,
      Message: expect.stringContaining("payments-db-2-usw2-test is failed"),
    });
    expect(cloudwatch.commandCalls(PutMetricDataCommand)[0]!.args[0].input).toEqual({
      Namespace: "PaymentsDR",
      MetricData: [
        {
          MetricName: "CapacityNotRestored",
          Value: 1,
          Unit: "Count",
          Dimensions: [
            { Name: "Workflow", Value: "failover" },
            { Name: "Region", Value: WEST },
          ],
        },
        // By region alone: what the capacity-not-restored alarm watches.
        {
          MetricName: "CapacityNotRestored",
          Value: 1,
          Unit: "Count",
          Dimensions: [{ Name: "Region", Value: WEST }],
        },
      ],
    });
    // Not thrown (the ASL's Retry would page again): recorded in the execution output.
    expect(result).toMatchObject({
      published: true,
      metric: expect.stringMatching(/^not published: AccessDeniedError: /),
    });
  });
});

describe("Notify handler, capacity page: the readers found deleting (review 23c, L1)", () => {
  it("does not claim this run deleted a reader it only found being deleted", async () => {
    sns.on(PublishCommand).resolves({ MessageId: "m" });
    cloudwatch.on(PutMetricDataCommand).resolves({});
    const base = state("failover", fenced);
    await notify({
      workflow: "failover",
      outcome: "capacity",
      state: {
        ...base,
        steps: {
          ...base.steps,
          RestoreCapacity: {
            startedAt: "2026-11-30T00:00:00Z",
            endedAt: "2026-11-30T00:30:00Z",
            desired: 2,
            existing: [],
            requested: [],
            released: ["payments-db-2-use1-test"],
            note: "",
          },
        },
        warnings: { RestoreCapacity: { Error: "CapacityTimeoutError", Cause: "bound" } },
      },
      context: {
        executionId: EXECUTION,
        executionName: "run-1",
        startTime: "t",
        stateMachineArn: "arn:sm",
      },
    });
    const message = String(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message);
    expect(message).toContain(
      `Deleted or being deleted in ${EAST} (by this run or an earlier one): payments-db-2-use1-test`,
    );
    expect(message).not.toMatch(/ {3}Deleted in /);
  });
});

describe("structured logs", () => {
  it("carry executionId, step and targetRegion on every line", async () => {
    ddb.on(UpdateCommand).resolves({});
    await unfence(state("failover", fenced));
    ddb.on(UpdateCommand).rejects(sdkError("AccessDeniedException", 400));
    await expect(unfence(state("failover", fenced))).rejects.toMatchObject({
      name: "AccessDeniedError",
    });
    const lines = output
      .join("")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines) {
      expect(line).toMatchObject({ executionId: EXECUTION, step: "Unfence", targetRegion: WEST });
    }
    expect(lines.at(-1)).toMatchObject({ level: "ERROR", errorName: "AccessDeniedError" });
  });

  it("carry the target region of ValidateInput's own input, before any state exists", async () => {
    ddb.on(GetCommand).resolves({});
    await validateInput({
      workflow: "failover",
      input: { targetRegion: WEST, reason: "drill", trigger: "console" },
      context: {
        executionId: EXECUTION,
        executionName: "run-1",
        startTime: "2026-11-30T03:00:00.000Z",
        stateMachineArn:
          "arn:aws:states:us-west-2:123456789012:stateMachine:payments-failover-test",
      },
    });
    const first = JSON.parse(output.join("").trim().split("\n")[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({
      executionId: EXECUTION,
      step: "ValidateInput",
      targetRegion: WEST,
    });
  });

  it("name the function's own service (POWERTOOLS_SERVICE_NAME), as the payment functions do", async () => {
    ddb.on(UpdateCommand).resolves({});
    await unfence(state("failover", fenced));
    const first = JSON.parse(output.join("").trim().split("\n")[0]!) as Record<string, unknown>;
    expect(first.service).toBe(process.env.POWERTOOLS_SERVICE_NAME);
    expect(first.service).toBe("dr-handler-test");
  });
});

describe("prober handler", () => {
  it("publishes each probe of the primary's /health as a high-resolution metric in its own region", async () => {
    cloudwatch.on(PutMetricDataCommand).resolves({});
    jest.spyOn(global, "fetch").mockResolvedValue(new Response("{}", { status: 200 }));
    const context = { awsRequestId: "req-1", getRemainingTimeInMillis: () => 2500 } as Context;
    const result = await prober({}, context);
    expect(result).toEqual({ probes: 1, healthy: 1 });
    // Beside the heartbeat (and a renewal failure: no flag is mocked here), the probe's datum.
    const input = cloudwatch
      .commandCalls(PutMetricDataCommand)
      .map((c) => c.args[0].input)
      .find((i) => i.MetricData?.[0]?.MetricName === "PrimaryHealthy");
    expect(input).toEqual({
      Namespace: "PaymentsDR",
      MetricData: [
        {
          MetricName: "PrimaryHealthy",
          Value: 1,
          Unit: "None",
          Dimensions: [{ Name: "Region", Value: EAST }],
          Timestamp: expect.any(Date),
          StorageResolution: 1,
        },
      ],
    });
    expect(await clientOf(cloudwatch)).toEqual({ region: WEST, maxAttempts: 2 });
    expect(String((global.fetch as jest.Mock).mock.calls[0]![0])).toBe(
      "https://use1.api.test/health",
    );
  });
});
