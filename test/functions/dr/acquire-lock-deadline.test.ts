// Review 23 M1 (issue 10): AcquireLock's own time budget and the SDK deadline
// (functions/dr/shared/aws/deadline.ts) must agree. The real AcquireLock handler and SDK clients
// against a local DynamoDB endpoint: a switchover to us-west-2 whose local calls answer slowly
// (1.9 s each, under the 2 s request timeout) while us-east-1's copy never answers. The Lambda
// context gives 8 s (a state's TimeoutSeconds 10 minus 2 s, infra/constructs/orchestration.ts;
// https://docs.aws.amazon.com/lambda/latest/dg/nodejs-context.html). The review's run: the
// claim of us-east-1's copy started at 5.9 s, the SDK deadline (7 s) cut it, and the release
// deletes were refused before they were sent: the run halted with its lock left for
// DR_LOCK_TTL_MINUTES. Conditional writes are checked against the local replica only
// (V2globaltables_HowItWorks), which this endpoint's per-region store models.
import "./support/aws-env";
import type { IncomingMessage, ServerResponse } from "node:http";
import { handler as acquireLock } from "../../../functions/dr/acquire-lock/handler";
import type { DrRequest, WorkflowState } from "../../../functions/dr/shared/types";
import { EAST, WEST } from "./support/fake-world";
import { startLocalDynamoDb } from "./support/local-dynamodb";
import type { LocalDynamoDb } from "./support/local-dynamodb";

jest.setTimeout(60_000);

const LAMBDA_TIMEOUT_MS = 8000;
const LOCAL_LATENCY_MS = 1900;

let endpoint: LocalDynamoDb;
const seen: { region: string; target: string; at: number }[] = [];
/** Each region's copy of the tables: key -> item. */
const stores: Record<string, Map<string, unknown>> = {};
let t0 = 0;

function regionOf(req: IncomingMessage): string {
  // SigV4 credential scope: Credential=AKID/date/<region>/dynamodb/aws4_request.
  return /Credential=[^/]+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization))?.[1] ?? "?";
}

function answer(req: IncomingMessage, body: string, res: ServerResponse): void {
  const region = regionOf(req);
  const target = String(req.headers["x-amz-target"] ?? "").replace("DynamoDB_20120810.", "");
  seen.push({ region, target, at: Date.now() - t0 });
  if (region === EAST) {
    endpoint.hold(res);
    return;
  }
  const store = (stores[region] ??= new Map());
  const input = JSON.parse(body) as { Key?: unknown; Item?: Record<string, unknown> };
  let out: unknown = {};
  if (target === "PutItem") {
    const item = input.Item!;
    store.set(JSON.stringify({ pk: item.pk }), item);
  } else if (target === "GetItem") {
    const item = store.get(JSON.stringify(input.Key));
    out = item ? { Item: item } : {};
  } else if (target === "DeleteItem") {
    store.delete(JSON.stringify(input.Key));
  }
  setTimeout(() => {
    res.setHeader("content-type", "application/x-amz-json-1.0");
    res.statusCode = 200;
    res.end(JSON.stringify(out));
  }, LOCAL_LATENCY_MS);
}

beforeAll(async () => {
  endpoint = await startLocalDynamoDb(answer);
});

afterAll(() => endpoint.close());

function state(): WorkflowState {
  const request: DrRequest = {
    workflow: "switchover",
    failoverId: "run-1",
    resumed: false,
    executionId:
      "arn:aws:states:us-west-2:123456789012:execution:payments-dr-switchover-test:run-1",
    executionName: "run-1",
    stateMachineArn:
      "arn:aws:states:us-west-2:123456789012:stateMachine:payments-dr-switchover-test",
    startedAt: "2026-01-01T00:00:00.000Z",
    targetRegion: WEST,
    sourceRegion: EAST,
    reason: "planned",
    trigger: "console",
    mode: "automatic",
    forceDetach: false,
    ignoreCooldown: false,
    allowUnknownLag: false,
    assumeOldWriterStopped: false,
  };
  return { input: {}, request, steps: {} };
}

/** One invocation, as Lambda runs it with `timeoutMs` on its clock. */
async function invoke(): Promise<{ error?: Error; ms: number }> {
  t0 = Date.now();
  seen.length = 0;
  const context = { getRemainingTimeInMillis: () => LAMBDA_TIMEOUT_MS - (Date.now() - t0) };
  try {
    await acquireLock(state(), context);
    return { ms: Date.now() - t0 };
  } catch (error) {
    return { error: error as Error, ms: Date.now() - t0 };
  }
}

describe("AcquireLock of a switchover under the SDK deadline", () => {
  it("never halts with its lock left behind when its own time runs out: the state retries it, and the run's last word releases the lock", async () => {
    const outcomes: { error?: Error; ms: number; sent: typeof seen }[] = [];
    // As the ASL's Retry would (TransientError; switchover.asl.json): invoke again until an
    // answer that is not a retry, at most 5 attempts.
    for (let attempt = 0; attempt < 5; attempt++) {
      const outcome = await invoke();
      outcomes.push({ ...outcome, sent: [...seen] });
      // Every invocation ends before its Lambda timeout (a kill would be silent).
      expect(outcome.ms).toBeLessThan(LAMBDA_TIMEOUT_MS);
      if (outcome.error?.name !== "TransientError") break;
    }
    const last = outcomes.at(-1)!;
    // us-east-1 never answers: a planned run never goes ahead on one copy of the lock.
    expect(last.error?.name).toBe("LockUnconfirmedError");
    // ... and it released its lock in its own copy before stopping: a DeleteItem reached
    // us-west-2 and the copy is empty, so a real failover is not refused for hours.
    expect(last.sent.filter((s) => s.region === WEST && s.target === "DeleteItem")).toHaveLength(1);
    expect([...(stores[WEST]?.values() ?? [])]).toEqual([]);
    // Every earlier end was a retry (the task's own time ran out), never a halt.
    expect(outcomes.slice(0, -1).every((o) => o.error?.name === "TransientError")).toBe(true);
  });
});
