// A separate file from heartbeat-reader.test.ts: that one mocks the Lambda client's send for the
// whole file; this one needs the real SDK's request handler and retry strategy.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { heartbeatReplica } from "../../../functions/dr/shared/aws/ports";
import { HEARTBEAT_READER_PROFILE } from "../../../functions/dr/shared/aws/clients";
import { withDeadline } from "../../../functions/dr/shared/deadline";
import { TransientError } from "../../../functions/dr/shared/errors";
import { HEARTBEAT_READER_TIMEOUTS } from "../../../functions/payments/heartbeat/core";
import { WEST } from "./support/fake-world";

// Review 24-18 M2: one heartbeat read fits the task's deadline. The real SDK v3 LambdaClient (its
// request handler, its retry strategy) and the real fetch, against a local endpoint that accepts
// every request and never answers: before the fix, 2 Invokes (the SDK retried after its 2 s
// request timeout) and then a /health bound only by its own 3 s, 7.1 s in all (the review's
// measurement), past what Preflight has left after its first reads.
describe("one heartbeat read within the invocation's deadline (review 24-18 M2)", () => {
  let server: http.Server;
  let seen: string[];
  let base: string;
  beforeAll(async () => {
    seen = [];
    server = http.createServer((req) => void seen.push(req.url ?? ""));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("invokes the reader once, waits for a cold one, and cuts /health at the deadline", async () => {
    const deadlineMs = 5500;
    const replica = heartbeatReplica(WEST, "payments-heartbeat-test", base, {
      endpoint: base,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    const started = Date.now();
    const read = withDeadline(started + deadlineMs, () => replica.writerHeartbeat());
    await expect(read).rejects.toThrow(TransientError);
    const elapsed = Date.now() - started;
    const invokes = seen.filter((u) =>
      u.includes("/functions/payments-heartbeat-test/invocations"),
    );
    expect(invokes).toHaveLength(1);
    expect(seen.filter((u) => u === "/health").length).toBeLessThanOrEqual(1);
    // Waited the reader's whole request timeout (a cold reader answers within it), then /health
    // only for what the deadline left.
    expect(elapsed).toBeGreaterThanOrEqual(HEARTBEAT_READER_PROFILE.requestTimeout - 50);
    expect(elapsed).toBeLessThan(deadlineMs + 500);
  }, 15_000);

  it("gives the reader's own database connect and statement less than the caller waits", () => {
    expect(HEARTBEAT_READER_PROFILE.maxAttempts).toBe(1);
    expect(HEARTBEAT_READER_PROFILE.requestTimeout).toBeGreaterThanOrEqual(4000);
    expect(
      HEARTBEAT_READER_TIMEOUTS.connectMs + HEARTBEAT_READER_TIMEOUTS.statementMs,
    ).toBeLessThan(HEARTBEAT_READER_PROFILE.requestTimeout);
  });
});
