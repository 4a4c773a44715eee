// The deployed report functions (env, adapters, SDK clients) with the AWS SDK mocked: the exact
// API parameters of every call.
import "./support/env";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetExecutionHistoryCommand, SFNClient } from "@aws-sdk/client-sfn";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { handler as watch } from "../../functions/reports/drill-watch/handler";
import { handler as widget } from "../../functions/reports/ledger-widget/handler";
import { handler as writer } from "../../functions/reports/writer/handler";
import { entry, switchoverReport } from "./support/samples";

const s3 = mockClient(S3Client);
const ddb = mockClient(DynamoDBDocumentClient);
const raw = mockClient(DynamoDBClient);
const sfn = mockClient(SFNClient);
const cloudwatch = mockClient(CloudWatchClient);

beforeEach(() => {
  for (const mock of [s3, ddb, raw, sfn, cloudwatch]) mock.reset();
  jest.spyOn(process.stdout, "write").mockImplementation(() => true);
});

describe("the report writer, deployed", () => {
  it("puts the JSON and the page in the region's bucket and a ledger row that expires with them", async () => {
    s3.on(PutObjectCommand).resolves({});
    ddb.on(GetCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    const before = Math.floor(Date.now() / 1000);
    await writer({ action: "write", report: switchoverReport() });
    expect(s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input)).toEqual([
      {
        Bucket: "payments-dr-reports-usw2-dev-abc",
        Key: "reports/switchover/2026-11/drill-5f1c-out.json",
        Body: expect.stringContaining('"schemaVersion": 1'),
        ContentType: "application/json",
      },
      {
        Bucket: "payments-dr-reports-usw2-dev-abc",
        Key: "reports/switchover/2026-11/drill-5f1c-out.html",
        Body: expect.stringMatching(/^<!DOCTYPE html>/),
        ContentType: "text/html; charset=utf-8",
      },
    ]);
    const put = ddb.commandCalls(PutCommand)[0]!.args[0].input;
    expect(put.TableName).toBe("payments-dr-ledger-dev");
    expect(put.ConditionExpression).toBeUndefined();
    expect(put.Item).toMatchObject({
      id: "switchover/us-west-2/drill-5f1c-out",
      ledger: "run",
      endedAt: "2026-11-10T15:02:20.000Z",
    });
    expect(put.Item!.expiresAt).toBeGreaterThanOrEqual(before + 400 * 86_400);
    expect(put.Item!.expiresAt).toBeLessThan(before + 400 * 86_400 + 60);
  });

  it("writes a history report only where none exists: a conditional row, then objects with If-None-Match", async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    s3.on(PutObjectCommand).rejects(
      Object.assign(new Error("At least one of the pre-conditions you specified did not hold"), {
        name: "PreconditionFailed",
        $metadata: { httpStatusCode: 412 },
      }),
    );
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          type: "TaskStateEntered",
          timestamp: new Date("2026-11-10T03:02:00Z"),
          id: 2,
          stateEnteredEventDetails: { name: "ValidateInput" },
        },
        {
          type: "TaskStateExited",
          timestamp: new Date("2026-11-10T03:02:01Z"),
          id: 3,
          stateExitedEventDetails: { name: "ValidateInput" },
        },
        {
          type: "ExecutionAborted",
          timestamp: new Date("2026-11-10T03:02:05Z"),
          id: 4,
          executionAbortedEventDetails: {},
        },
      ],
    });
    const arn = "arn:aws:states:us-west-2:123456789012:execution:payments-failover-dev:run-9";
    const result = await writer({
      source: "aws.states",
      "detail-type": "Step Functions Execution Status Change",
      detail: {
        executionArn: arn,
        stateMachineArn: "arn:aws:states:us-west-2:123456789012:stateMachine:payments-failover-dev",
        name: "run-9",
        status: "ABORTED",
        startDate: Date.parse("2026-11-10T03:02:00Z"),
        stopDate: Date.parse("2026-11-10T03:02:05Z"),
        input: "{}",
      },
    });
    expect(result).toMatchObject({ written: true, outcome: "failed" });
    expect(sfn.commandCalls(GetExecutionHistoryCommand)[0]!.args[0].input).toEqual({
      executionArn: arn,
      maxResults: 1000,
      includeExecutionData: false,
    });
    expect(ddb.commandCalls(PutCommand)[0]!.args[0].input).toMatchObject({
      ConditionExpression: "attribute_not_exists(#id)",
      ExpressionAttributeNames: { "#id": "id" },
    });
    // The run's own report landed first: the objects stay as they are.
    expect(s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.IfNoneMatch)).toEqual([
      "*",
      "*",
    ]);
  });

  it("fails loudly when S3 refuses, so the asynchronous invoke is retried and then sent to its on-failure destination", async () => {
    s3.on(PutObjectCommand).rejects(
      Object.assign(new Error("Access Denied"), {
        name: "AccessDenied",
        $metadata: { httpStatusCode: 403 },
      }),
    );
    ddb.on(GetCommand).resolves({});
    await expect(writer({ action: "write", report: switchoverReport() })).rejects.toThrow(
      "s3:PutObject reports/switchover/2026-11/drill-5f1c-out.json failed: AccessDenied: Access Denied",
    );
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });
});

describe("the drill watch and the ledger widget, deployed", () => {
  const day = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();

  beforeEach(() => {
    raw.on(DescribeTableCommand).resolves({ Table: { CreationDateTime: new Date(day(100)) } });
    ddb.on(QueryCommand).resolves({
      Items: [
        {
          ...entry({ kind: "failover-drill", endedAt: day(2), outcome: "failed" }),
          ledger: "run",
          expiresAt: 1,
        },
        { ...entry({ kind: "failover-drill", endedAt: day(30) }), ledger: "run", expiresAt: 1 },
      ],
    });
  });

  it("publishes each drill's days since success and whether its newest run failed", async () => {
    cloudwatch.on(PutMetricDataCommand).resolves({});
    await watch();
    expect(ddb.commandCalls(QueryCommand)[0]!.args[0].input).toEqual({
      TableName: "payments-dr-ledger-dev",
      IndexName: "by-time",
      KeyConditionExpression: "#p = :p",
      ExpressionAttributeNames: { "#p": "ledger" },
      ExpressionAttributeValues: { ":p": "run" },
      ScanIndexForward: false,
      Limit: 100,
    });
    const data = cloudwatch.commandCalls(PutMetricDataCommand)[0]!.args[0].input;
    expect(data.Namespace).toBe("PaymentsDR");
    const byName = Object.fromEntries(
      data.MetricData!.map((m) => [
        `${m.MetricName} ${m.Dimensions![0]!.Value}`,
        Math.round(m.Value!),
      ]),
    );
    expect(byName).toEqual({
      "DrillDaysSinceSuccess failover-drill": 30,
      "DrillFailing failover-drill": 1,
      "DrillDaysSinceSuccess restore-drill": 100,
      "DrillFailing restore-drill": 0,
    });
  });

  it("renders the ledger for the dashboard, without the storage attributes", async () => {
    const html = await widget({ widgetContext: { params: { limit: 5 } } });
    expect(html).toContain("<h3>Last 2 runs</h3>");
    expect(html).not.toContain("expiresAt");
    expect(await widget({ describe: true })).toMatch(/^The payments-dr ledger/);
  });
});
