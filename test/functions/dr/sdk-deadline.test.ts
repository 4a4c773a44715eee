// Review L2 (issue 10): a DR task's AWS calls respect the invocation's deadline, not only each
// call's own budget (functions/dr/shared/aws/deadline.ts). The real AcquireLock handler, its real
// SDK clients (retry strategy and all) and a local DynamoDB endpoint that throttles: every first
// attempt is answered 400 ThrottlingException with a Retry-After hint, every retry succeeds. The
// SDK honours the hint: its standard mode backs off "with exponential backoff with jitter"
// ("Retry behavior", https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html)
// and a Retry-After stretches the wait by up to 5 s (@smithy/core 3.41). The Lambda context
// reports the shortest task's Lambda timeout, 8 s (a state's TimeoutSeconds 10 minus 2 s,
// infra/constructs/orchestration.ts).
import "./support/aws-env";
import type { IncomingMessage, ServerResponse } from "node:http";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { handler as acquireLock } from "../../../functions/dr/acquire-lock/handler";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import {
  DEADLINE_MARGIN_MS,
  deadlineBound,
  shapeWarnings,
  withDeadline,
} from "../../../functions/dr/shared/aws/deadline";
import type { DrRequest, WorkflowState } from "../../../functions/dr/shared/types";
import { EAST, WEST } from "./support/fake-world";
import { startLocalDynamoDb } from "./support/local-dynamodb";
import type { LocalDynamoDb } from "./support/local-dynamodb";

jest.setTimeout(30_000);

/** The shortest DR task's Lambda timeout. */
const LAMBDA_TIMEOUT_MS = 8000;

let endpoint: LocalDynamoDb;
let mode: "throttle-first" | "hang" = "throttle-first";
let retryAfterSeconds = 3;
const seen: { target: string; attempt: string; at: number }[] = [];
let t0 = 0;

function answer(req: IncomingMessage, _body: string, res: ServerResponse): void {
  const target = String(req.headers["x-amz-target"] ?? "");
  // The SDK numbers its attempts: "attempt=1; max=2".
  const attempt = String(req.headers["amz-sdk-request"] ?? "");
  seen.push({ target, attempt, at: Date.now() - t0 });
  if (mode === "hang") {
    endpoint.hold(res);
    return;
  }
  res.setHeader("content-type", "application/x-amz-json-1.0");
  res.setHeader("x-amzn-requestid", `req-${seen.length}`);
  if (attempt.startsWith("attempt=1;")) {
    // DynamoDB's throttling error (JSON 1.0 protocol), with a hint.
    res.statusCode = 400;
    res.setHeader("retry-after", String(retryAfterSeconds));
    res.end(
      JSON.stringify({
        __type: "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        message: "Rate of requests exceeds the allowed throughput.",
      }),
    );
    return;
  }
  // A retry succeeds: no such item (GetItem), written (PutItem).
  res.statusCode = 200;
  res.end("{}");
}

beforeAll(async () => {
  endpoint = await startLocalDynamoDb(answer);
});

afterAll(() => endpoint.close());

beforeEach(() => {
  seen.length = 0;
  mode = "throttle-first";
});

function state(): WorkflowState {
  const request: DrRequest = {
    workflow: "failover",
    failoverId: "run-1",
    resumed: false,
    executionId: "arn:aws:states:us-west-2:123456789012:execution:payments-dr-failover-test:run-1",
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
  };
  return { input: {}, request, steps: {} };
}

/** Runs the task as Lambda would, with `timeoutMs` on its clock; returns its error and time. */
async function invoke(timeoutMs: number): Promise<{ error: Error; ms: number }> {
  t0 = Date.now();
  const context = { getRemainingTimeInMillis: () => timeoutMs - (Date.now() - t0) };
  try {
    await acquireLock(state(), context);
  } catch (error) {
    return { error: error as Error, ms: Date.now() - t0 };
  }
  throw new Error("AcquireLock succeeded against a throttling DynamoDB");
}

/** The error names every Task state's Retry in state-machines/*.asl.json matches. */
function retriedByEveryTask(): Set<string> {
  const dir = join(__dirname, "../../../state-machines");
  let names: Set<string> | undefined;
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const s of Object.values(states)) {
      if (s.Type === "Task") {
        const retried = new Set(
          ((s.Retry ?? []) as { ErrorEquals: string[] }[]).flatMap((r) => r.ErrorEquals),
        );
        names = names ? new Set([...names].filter((n) => retried.has(n))) : retried;
      }
      for (const b of (s.Branches ?? []) as { States: typeof states }[]) visit(b.States);
    }
  };
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".asl.json"))) {
    visit(JSON.parse(readFileSync(join(dir, file), "utf8")).States);
  }
  return names ?? new Set();
}

describe("a DR task's AWS calls under throttling", () => {
  it("fails with a retried TransientError before its Lambda timeout when several throttled calls and their Retry-After hints would outlast it", async () => {
    retryAfterSeconds = 3;

    const { error, ms } = await invoke(LAMBDA_TIMEOUT_MS);

    // getLock: throttled, retried after the 3 s hint, answered. getCooldown at ~3 s: throttled
    // again, and its retry (3 s wait + a 3 s attempt) could not end before the deadline (7 s):
    // not started. Without the deadline it would wait, and putLock's own throttled retry
    // would run past 8 s: the Lambda killed mid-task.
    expect(error.name).toBe("TransientError");
    expect(error.message).toMatch(/no time for another attempt in this invocation/);
    expect(error.message).toMatch(/ThrottlingException/);
    expect(ms).toBeLessThan(LAMBDA_TIMEOUT_MS - DEADLINE_MARGIN_MS);
    // On a quiet box: getLock's two attempts, then getCooldown's first. On a loaded one the
    // task starts later on its clock and the deadline refuses a retry sooner; either way no
    // attempt starts that the deadline could not let finish, and the task ends before it.
    const attempts = seen.map((s) => s.attempt.split(";")[0]);
    expect(attempts[0]).toBe("attempt=1");
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    expect(attempts.length).toBeLessThanOrEqual(3);
    expect(new Set(seen.map((s) => s.target))).toEqual(new Set(["DynamoDB_20120810.GetItem"]));
    expect(retriedByEveryTask().has(error.name)).toBe(true);
  });

  it("still retries a throttled call whose hinted retry fits before the deadline", async () => {
    retryAfterSeconds = 1;

    const { error } = await invoke(LAMBDA_TIMEOUT_MS);

    // getLock and getCooldown: each throttled and retried after the 1 s hint (1 s + a 3 s
    // attempt fits); the first refusal comes only once it no longer does.
    expect(seen.slice(0, 4).map((s) => s.attempt.split(";")[0])).toEqual([
      "attempt=1",
      "attempt=2",
      "attempt=1",
      "attempt=2",
    ]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(950);
    expect(error.name).toBe("TransientError");
  });

  it("cuts an attempt still running at the deadline instead of letting it reach the Lambda timeout", async () => {
    mode = "hang";

    // 2.5 s left: the deadline is 1.5 s away, inside the first attempt's 2 s request timeout.
    const { error, ms } = await invoke(2500);

    expect(error.name).toBe("TransientError");
    expect(error.message).toMatch(/still running at the task's deadline/);
    expect(ms).toBeGreaterThanOrEqual(2500 - DEADLINE_MARGIN_MS - 50);
    expect(ms).toBeLessThan(2500 - DEADLINE_MARGIN_MS + 400);
    expect(seen).toHaveLength(1);
  });
});

// Review 23 M3: production runs the Lambda runtime's SDK (infra/lib/bundle.ts keeps
// @aws-sdk/client-* external), which AWS updates with the runtime
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html). A client whose shape the
// wrapper does not know must still work: unbounded, with a warning, never an exception that
// stops every DR task.
describe("a DR client of an unexpected shape", () => {
  let warnings: { message: string; detail: Record<string, unknown> }[];
  beforeEach(() => {
    warnings = [];
    jest
      .spyOn(shapeWarnings, "warn")
      .mockImplementation((message, detail) => void warnings.push({ message, detail }));
  });
  afterEach(() => jest.restoreAllMocks());

  it("is returned as it is, with a warning, when it has no retry strategy or middleware stack", () => {
    const odd = { config: {}, middlewareStack: {} };
    expect(deadlineBound(odd, 3000, 2, "DynamoDB us-east-1")).toBe(odd);
    expect(warnings).toEqual([
      {
        message: expect.stringMatching(/run without the invocation's deadline/),
        detail: { service: "DynamoDB us-east-1", why: "no retryStrategy provider" },
      },
    ]);
  });

  it("runs its calls unbounded when the SDK's middleware stack lacks what the wrapper needs", async () => {
    const client = new DynamoDBClient({ region: "us-east-1", maxAttempts: 1 });
    // A stack that can no longer list its middleware (the wrapper cannot check its anchor).
    (client.middlewareStack as { identify?: unknown }).identify = undefined;
    const bound = deadlineBound(client, 3000, 1, "DynamoDB us-east-1");
    expect(warnings.map((w) => w.detail.why)).toEqual(["no middlewareStack.identify"]);
    // A deadline already passed: a bound client would refuse the call before sending it. This
    // one sends it, and the endpoint's answer (throttled) comes back as the SDK's own error.
    const call = withDeadline(Date.now() - 1, () =>
      bound.send(new GetItemCommand({ TableName: "t", Key: { pk: { S: "x" } } })),
    );
    await expect(call).rejects.toMatchObject({ name: "ThrottlingException" });
    expect(seen).toHaveLength(1);
    client.destroy();
  });
});
