// Review 23-18 H2: the writer heartbeat the veto at Preflight counts must not come only through
// the public /health, which a flood turns into API Gateway's generic 500 (the health function's
// reservation exhausted: "If the Lambda API rejects the invocation request, API Gateway returns a
// 500 error code", https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html).
// The DR adapters read it first through the region's heartbeat reader (Lambda API, no route, its
// own reservation), then /health. The Lambda SDK is mocked; nothing here reaches the network.
import { InvokeCommand, LambdaClient, TooManyRequestsException } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { heartbeatReaderName } from "../../../functions/common/contract";
import { awsPorts } from "../../../functions/dr/shared/aws/ports";
import {
  FirstAnsweringReplica,
  HealthReplica,
  LambdaReplica,
} from "../../../functions/dr/shared/aws/replica";
import { TransientError } from "../../../functions/dr/shared/errors";
import type { HttpPort } from "../../../functions/dr/shared/ports";
import { observeHeartbeat } from "../../../functions/dr/shared/heartbeat-watch";
import { readHeartbeat } from "../../../functions/payments/heartbeat/core";
import { TOPOLOGY, WEST } from "./support/fake-world";

const lambda = mockClient(LambdaClient);
// The SDK wraps the bytes in its blob adapter; the adapter reads them as bytes.
const payload = (body: unknown) => new TextEncoder().encode(JSON.stringify(body)) as never;

/** /health under a flood: API Gateway's own 500, with no heartbeat in it. */
const flooded: HttpPort = {
  request: () =>
    Promise.resolve({ status: 500, body: { message: "Internal Server Error" } }) as never,
};
const unreachable: HttpPort = {
  request: () => Promise.reject(new Error("connect ETIMEDOUT")),
};

beforeEach(() => lambda.reset());

describe("the heartbeat reader path (review 23-18 H2)", () => {
  it("reads the beat and its writer through the region's heartbeat reader, not /health", async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: payload({
        beatAt: "2026-11-30T23:00:05.000Z",
        writer: "payments-db-1-use1-test",
        readIn: WEST,
      }),
    });
    const replica = new FirstAnsweringReplica(
      new LambdaReplica(new LambdaClient({ region: WEST }), "payments-heartbeat-test"),
      new HealthReplica(flooded, "https://api", 1000),
    );
    await expect(replica.writerHeartbeat()).resolves.toEqual({
      beatAt: "2026-11-30T23:00:05.000Z",
      writer: "payments-db-1-use1-test",
    });
    expect(lambda.commandCalls(InvokeCommand).map((c) => c.args[0].input)).toEqual([
      { FunctionName: "payments-heartbeat-test", InvocationType: "RequestResponse" },
    ]);
  });

  it("is what the DR ports of a region read: its own reader function, by name", async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: payload({ beatAt: "2026-11-30T23:00:05.000Z", writer: null, readIn: WEST }),
    });
    const { replica } = awsPorts(TOPOLOGY)(WEST, "critical");
    await expect(replica.writerHeartbeat()).resolves.toMatchObject({
      beatAt: "2026-11-30T23:00:05.000Z",
    });
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls.map((c) => c.args[0].input.FunctionName)).toEqual([
      heartbeatReaderName(TOPOLOGY.environmentSuffix),
    ]);
    expect(await calls[0]!.thisValue.config.region()).toBe(WEST);
  });

  it("falls back to /health when the reader is throttled or fails", async () => {
    const health: HttpPort = {
      request: () =>
        Promise.resolve({
          status: 503,
          body: { replication: { writerHeartbeatAt: "2026-11-30T23:00:00.000Z" } },
        }) as never,
    };
    lambda
      .on(InvokeCommand)
      .rejectsOnce(new TooManyRequestsException({ message: "Rate exceeded", $metadata: {} }))
      .resolvesOnce({
        StatusCode: 200,
        FunctionError: "Unhandled",
        Payload: payload({ errorMessage: "timeout" }),
      });
    const replica = new FirstAnsweringReplica(
      new LambdaReplica(new LambdaClient({}), "payments-heartbeat-test"),
      new HealthReplica(health, "https://api", 1000),
    );
    await expect(replica.writerHeartbeat()).resolves.toEqual({
      beatAt: "2026-11-30T23:00:00.000Z",
    });
    await expect(replica.writerHeartbeat()).resolves.toEqual({
      beatAt: "2026-11-30T23:00:00.000Z",
    });
  });

  it("fails as unreadable (a transient error, never a beat) when both paths fail", async () => {
    lambda.on(InvokeCommand).rejects(new Error("socket hang up"));
    const replica = new FirstAnsweringReplica(
      new LambdaReplica(new LambdaClient({}), "payments-heartbeat-test"),
      new HealthReplica(unreachable, "https://api", 1000),
    );
    const error = await replica.writerHeartbeat().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(String(error)).toContain("payments-heartbeat-test");
  });

  it("reads no beat from a reader whose row holds none", async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: payload(await readHeartbeat({ region: WEST, readRow: async () => null })),
    });
    const replica = new LambdaReplica(new LambdaClient({}), "payments-heartbeat-test");
    await expect(replica.writerHeartbeat()).resolves.toBeNull();
  });

  it("answers the row the reader function read, with its writer", async () => {
    await expect(
      readHeartbeat({
        region: WEST,
        readRow: async () => ({
          beatAt: new Date("2026-11-30T23:00:05.000Z"),
          writer: "payments-db-1-use1-test",
        }),
      }),
    ).resolves.toEqual({
      beatAt: "2026-11-30T23:00:05.000Z",
      writer: "payments-db-1-use1-test",
      readIn: WEST,
    });
  });

  // Review 23-18 L2: the prober's record keeps who wrote each of the two values Preflight reads.
  it("records the writer of the newest beat and of the one it replaced in the prober's record", () => {
    const first = observeHeartbeat(
      null,
      "2026-11-30T23:00:00.000Z",
      new Date("2026-11-30T23:00:01.000Z"),
      true,
      80,
      "payments-db-1-use1-test",
    );
    const next = observeHeartbeat(
      first,
      "2026-11-30T23:00:05.000Z",
      new Date("2026-11-30T23:00:06.000Z"),
      true,
      80,
      "payments-db-1-usw2-test",
    );
    expect(next).toMatchObject({
      beatAt: "2026-11-30T23:00:05.000Z",
      writer: "payments-db-1-usw2-test",
      previousBeatAt: "2026-11-30T23:00:00.000Z",
      previousWriter: "payments-db-1-use1-test",
    });
    // A look with no new value keeps both.
    expect(
      observeHeartbeat(next, null, new Date("2026-11-30T23:00:07.000Z"), false, 80),
    ).toMatchObject({
      writer: "payments-db-1-usw2-test",
      previousWriter: "payments-db-1-use1-test",
    });
  });
});
