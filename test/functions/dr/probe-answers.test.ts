// Review 23-18 H1: the prober records what kind of answer each probe got, where Preflight's veto
// reads it (the heartbeat record in the prober's own region's control table). API Gateway's own
// answer to a Lambda invocation it cannot complete, a throttle among them, is HTTP 500 with the
// body {"message":"Internal Server Error"}
// (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html,
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html).
import "./support/aws-env";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { DynamoControlTable } from "../../../functions/dr/shared/aws/control-table";
import { classifyAnswer, PROBE_ANSWERS_KEPT } from "../../../functions/dr/shared/heartbeat-watch";
import { TransientError } from "../../../functions/dr/shared/errors";
import { probe } from "../../../functions/monitoring/prober/core";
import type { ProberDeps } from "../../../functions/monitoring/prober/core";
import type { HeartbeatWatch, HttpResponse } from "../../../functions/dr/shared/ports";
import { EAST, silentLog, WEST } from "./support/fake-world";

describe("the class of a probe's answer", () => {
  it.each([
    [{ status: 200, body: { status: "healthy" } }, "ok"],
    [{ status: 500, body: { message: "Internal Server Error" } }, "lambda-500"],
    [{ status: 500, body: { message: "Internal server error" } }, "lambda-500"],
    [{ status: 429, body: { message: "Too Many Requests" } }, "throttled"],
    [
      { status: 503, body: { status: "unhealthy", reason: "database unreachable: ETIMEDOUT" } },
      "own-503",
    ],
    [{ status: 503, body: { message: "Service Unavailable" } }, "other-5xx"],
    [{ status: 500, body: { error: "boom", message: "Internal Server Error" } }, "other-5xx"],
    [{ status: 500, body: "Internal Server Error" }, "other-5xx"],
    [{ status: 502, body: { message: "Bad Gateway" } }, "other-5xx"],
    [{ status: 504, body: { message: "Gateway Timeout" } }, "other-5xx"],
    [{ status: 403, body: { message: "Forbidden" } }, "other"],
  ] as const)("classifies %j as %s", (response, expected) => {
    expect(classifyAnswer(response)).toBe(expected);
  });

  it("classifies a timeout and a connection error apart", () => {
    expect(
      classifyAnswer({
        error: new TransientError("GET https://x/health: no answer within 3000 ms"),
      }),
    ).toBe("timeout");
    expect(
      classifyAnswer({
        error: new TransientError("GET https://x/health: fetch failed ECONNREFUSED"),
      }),
    ).toBe("unreachable");
  });
});

describe("the prober's record of its answers", () => {
  it("keeps each probe's class, newest first and bounded, in the heartbeat record", async () => {
    let clock = Date.parse("2026-11-30T08:00:00.000Z");
    let stored: HeartbeatWatch | null = null;
    const answers: HttpResponse[] = [
      { status: 500, body: { message: "Internal Server Error" } },
      { status: 429, body: { message: "Too Many Requests" } },
      { status: 503, body: { status: "unhealthy", reason: "control flag unreadable" } },
    ];
    let beat = clock - 4000;
    const d: ProberDeps = {
      activeRegion: async () => EAST,
      now: () => new Date(clock),
      sleep: async (ms) => {
        clock += ms;
      },
      http: { request: async () => answers[(clock / 10_000) % 3]! },
      metrics: {
        put: async () => undefined,
        replicationLag: async () => null,
        replicationLagHistory: async () => [],
        probeResults: async () => [],
      },
      replica: {
        writerHeartbeat: async () => {
          beat += 5000;
          return { beatAt: new Date(beat).toISOString() };
        },
      },
      control: {
        getHeartbeatWatch: async () => stored,
        putHeartbeatWatch: async (next) => {
          stored = next;
          return true;
        },
      },
      log: silentLog,
    };
    const config = {
      targets: [{ region: EAST, url: "https://use1/health" }],
      intervalMs: 10_000,
      timeoutMs: 3000,
      windowMs: 60_000,
      heartbeatRegion: WEST,
      heartbeatStaleAfterSeconds: 80,
    };
    for (let i = 0; i < 8; i++) await probe(config, d);
    const watch = stored as HeartbeatWatch | null;
    expect(watch?.answers).toHaveLength(PROBE_ANSWERS_KEPT);
    const newest = watch!.answers!.slice(0, 3);
    expect(newest.map((a) => a.answer).sort()).toEqual(["lambda-500", "own-503", "throttled"]);
    expect(Date.parse(newest[0]!.at)).toBeGreaterThan(Date.parse(newest[1]!.at));
    expect(watch?.previousBeatAt).toBeDefined();
    expect(Date.parse(watch!.beatAt)).toBeGreaterThan(Date.parse(watch!.previousBeatAt!));
  });
});

describe("the control table's copy of the record (review 23-18 H1)", () => {
  it("round-trips the answers and the previous beat through DynamoDB, dropping malformed answers", async () => {
    const ddb = mockClient(DynamoDBDocumentClient);
    const table = new DynamoControlTable(
      DynamoDBDocumentClient.from(new DynamoDBClient({})),
      "payments-control-prod",
    );
    const watch: HeartbeatWatch = {
      beatAt: "2026-11-30T08:00:25.000Z",
      firstSeenAt: "2026-11-30T08:00:26.000Z",
      advanced: true,
      checkedAt: "2026-11-30T08:00:26.000Z",
      previousBeatAt: "2026-11-30T08:00:20.000Z",
      answers: [{ at: "2026-11-30T08:00:20.000Z", answer: "lambda-500" }],
    };
    ddb.on(PutCommand).resolves({});
    await table.putHeartbeatWatch(watch, "2026-11-30T08:00:16.000Z");
    const item = ddb.commandCalls(PutCommand)[0]!.args[0].input.Item!;
    expect(item).toMatchObject({
      previousBeatAt: watch.previousBeatAt,
      answers: watch.answers,
    });
    ddb.on(GetCommand).resolves({
      Item: { ...item, answers: [...watch.answers!, { at: 5 }, null] },
    });
    expect(await table.getHeartbeatWatch()).toEqual(watch);
    ddb.restore();
  });
});
