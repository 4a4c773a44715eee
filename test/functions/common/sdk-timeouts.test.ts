// The SDK clients' request timeouts end the call. @smithy/node-http-handler 4.x only warns when
// `requestTimeout` passes unless `throwOnRequestTimeout` is set (functions/common/sdk-timeouts.ts),
// so these tests point the real clients at an endpoint that accepts the request and never
// answers, and require the call to fail within the budget the settings promise.
import { createServer } from "node:http";
import type { Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { clientSettings } from "../../../functions/dr/shared/aws/clients";
import { enforcedTimeouts } from "../../../functions/common/sdk-timeouts";
import {
  createDynamoDbClient,
  controlFlagReader,
} from "../../../functions/payments/shared/aws/dynamodb";
import { FLAG_READ } from "../../../functions/payments/shared/fencing";

jest.setTimeout(30_000);

let server: Server;
let endpoint: string;
const hung: ServerResponse[] = [];
let requests = 0;

beforeAll(async () => {
  // Reads the request, then never answers: a hung endpoint (a half-dead region, a black hole).
  server = createServer((req, res) => {
    requests += 1;
    req.resume();
    hung.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hung) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  requests = 0;
});

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

async function timed(call: () => Promise<unknown>): Promise<{ error: Error; ms: number }> {
  const started = Date.now();
  try {
    await call();
  } catch (error) {
    return { error: error as Error, ms: Date.now() - started };
  }
  throw new Error("the call to a hung endpoint succeeded");
}

const getItem = () =>
  new GetItemCommand({ TableName: "payments-control-test", Key: { pk: { S: "active-region" } } });

describe("SDK request timeouts", () => {
  it("fails a best-effort DR call to a hung endpoint after its one 2 s attempt", async () => {
    const settings = clientSettings("us-east-1", "bestEffort");
    const client = new DynamoDBClient({ ...settings, endpoint, credentials });
    const { error, ms } = await timed(() => client.send(getItem()));
    expect(error.name).toBe("TimeoutError");
    expect(ms).toBeGreaterThanOrEqual(settings.requestHandler.requestTimeout - 50);
    expect(ms).toBeLessThan(settings.requestHandler.requestTimeout + 1000);
    expect(requests).toBe(1);
    client.destroy();
  });

  it("fails a critical DR call to a hung endpoint after its attempts, inside a task's budget", async () => {
    const settings = clientSettings("us-west-2", "critical");
    const client = new DynamoDBClient({ ...settings, endpoint, credentials });
    const { error, ms } = await timed(() => client.send(getItem()));
    expect(error.name).toBe("TimeoutError");
    expect(requests).toBe(settings.maxAttempts);
    // Attempts x request timeout plus the SDK's retry delay: inside the 8 s a task has
    // (functions/dr/shared/aws/clients.ts).
    expect(ms).toBeLessThan(8_000);
    client.destroy();
  });

  it("fails the payment path's flag read within its attempts x request timeout", async () => {
    process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
    process.env.AWS_REGION = "us-east-1";
    process.env.AWS_ACCESS_KEY_ID = "test";
    process.env.AWS_SECRET_ACCESS_KEY = "test";
    try {
      const client = createDynamoDbClient();
      const read = controlFlagReader(client, "payments-control-test");
      const { error, ms } = await timed(() => read());
      expect(error.name).toBe("TimeoutError");
      expect(requests).toBe(FLAG_READ.maxAttempts);
      // The SDK's standard retry waits at most a few hundred ms between these attempts.
      expect(ms).toBeLessThan(FLAG_READ.maxAttempts * FLAG_READ.requestTimeoutMs + 2_000);
    } finally {
      delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
    }
  });

  it("rejects a timeout that is not a positive whole number of ms, naming it", () => {
    expect(() => enforcedTimeouts({ connectionTimeout: 1000, requestTimeout: 0 })).toThrow(
      "requestTimeout must be a positive whole number of ms, got 0",
    );
  });
});
