// One region's payment API: the real payment handlers (functions/payments/<handler>/handler.ts)
// behind a local HTTP server that turns each request into the API Gateway HTTP API (payload 2.0)
// event the deployed routes deliver. Run as its own process per region (the handlers read their
// environment and build their clients at module load, like a Lambda execution environment), so
// killing a region's API is killing this process. Routes come from the infrastructure's own list
// (PAYMENT_FUNCTIONS), so a route added there is served here too.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import { PAYMENT_FUNCTIONS } from "../infra/constructs/payments-api";
import { Client } from "pg";
import { StageThrottle } from "./stage-throttle";
import { poolStats } from "../functions/payments/shared/database";
import { cutStatementsPastDeadline, endInvocation } from "./invocation";
import type { Invocation } from "./invocation";
import { ActiveRegionGuard } from "../functions/payments/shared/fencing";
import { PEER_LEASE } from "../functions/common/contract";
import { healthBodyOnLabClock, leaseOnLabClock } from "./lease-clock";
import { LabClock } from "./world/clock";
import {
  deployHandlerBudgets,
  handlerBudgetsInUse,
  labFunctionTimeoutMs,
  labHandlerBudgets,
} from "./write-path";
import type { HandlerBudgets } from "./write-path";

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

interface Route {
  readonly routeKey: string;
  readonly method: string;
  readonly pattern: RegExp;
  readonly params: string[];
  readonly source: string;
  readonly timeoutSeconds: number;
  handler?: Handler;
}

function compile(routeKey: string, source: string, timeoutSeconds: number): Route {
  const [method, path] = routeKey.split(" ") as [string, string];
  const params: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/\{(\w+)\}/g, (_, name: string) => {
      params.push(name);
      return "([^/]+)";
    })}$`,
  );
  return { routeKey, method, pattern, params, source, timeoutSeconds };
}

const routes: Route[] = PAYMENT_FUNCTIONS.filter((f) => f.route).map((f) =>
  compile(f.route!, f.source, f.timeoutSeconds),
);

/**
 * Concurrency per function, for the surge report. Lambda runs one request per environment and
 * throttles a function whose reserved environments are all busy ("Lambda scaling behavior",
 * https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html: "additional requests fail
 * with a throttling error (429 status code)"), which the client gets from API Gateway as a 500,
 * not the documented 503 ("If the Lambda API rejects the invocation request, API Gateway returns
 * a 500 error code", https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html).
 * This process
 * plays LAB_ENVIRONMENTS of each function and does not refuse the extra request (the other
 * scenarios keep their behaviour): it counts it as a throttle production would have answered.
 */
const environments = Number(process.env.LAB_ENVIRONMENTS ?? "16");
const concurrency = new Map<
  string,
  { inflight: number; peak: number; overLimit: number; tooManyRequests: number }
>();
let requests = { inflight: 0, peak: 0 };

function counters(route: Route) {
  const c = concurrency.get(route.source) ?? {
    inflight: 0,
    peak: 0,
    overLimit: 0,
    tooManyRequests: 0,
  };
  concurrency.set(route.source, c);
  return c;
}

function enter(route: Route): () => void {
  const c = counters(route);
  if (c.inflight >= environments) c.overLimit += 1;
  c.inflight += 1;
  c.peak = Math.max(c.peak, c.inflight);
  requests.inflight += 1;
  requests.peak = Math.max(requests.peak, requests.inflight);
  return () => {
    c.inflight -= 1;
    requests.inflight -= 1;
  };
}

/**
 * The stage's route throttle, as deployed (infra/constructs/payments-api.ts,
 * paymentRouteThrottles), from the environments this process plays (lab/stage-throttle.ts), in
 * real time as the handlers run in real time. Above it the request gets API Gateway's own 429 and
 * never reaches a function. Not /health: deployed, it keeps the stage default (500/s, burst 1000:
 * review H1, an unauthenticated route must not have a bucket anyone drains cheaply), which the
 * lab's Route 53 checkers and prober never reach.
 */
const stage = new StageThrottle(
  environments,
  PAYMENT_FUNCTIONS.filter((f) => f.access !== "health"),
);

/** The lab asks for a sample: peaks since the last one, then they restart from now. */
function sample() {
  const functions = Object.fromEntries(
    [...concurrency.entries()].map(([name, c]) => [
      name,
      {
        inflight: c.inflight,
        peak: c.peak,
        overLimit: c.overLimit,
        tooManyRequests: c.tooManyRequests,
      },
    ]),
  );
  for (const c of concurrency.values()) c.peak = c.inflight;
  const out = {
    inflight: requests.inflight,
    peak: requests.peak,
    environments,
    functions,
    pools: poolStats(),
    timedOut,
    throttles: stage.limits(),
  };
  requests = { inflight: requests.inflight, peak: requests.inflight };
  return out;
}

// Lambda ends an invocation at its function's timeout (lab/invocation.ts); the timeout is the
// deployed one scaled by LAB_FAST (lab/write-path.ts), consistent with the lab's settle times.
const FAST = Number(process.env.LAB_FAST ?? "1");
const invocation = cutStatementsPastDeadline(Client);
// The handlers' own budgets the lab's settle times count (lab/write-path.ts), deployed before the
// first handler loads; the lab reports what they run with (its ready message, report.json
// `writePath`).
deployHandlerBudgets(
  process.env.LAB_HANDLER_BUDGETS
    ? (JSON.parse(process.env.LAB_HANDLER_BUDGETS) as HandlerBudgets)
    : labHandlerBudgets(FAST),
);
let timedOut = 0;
// The peer lease runs on the lab clock (lab/lease-clock.ts), the lab's start passed in.
const CLOCK_STARTED_AT = Number(process.env.LAB_CLOCK_STARTED_AT ?? Date.now());
const labClock = new LabClock(FAST, CLOCK_STARTED_AT);
// Its term, floored in real time (lab/write-path.ts labLeaseSeconds); every refusal is sent to
// the lab with the renewal age it saw (report.json `lease.lapses`, the check lease-held-while-renewed).
const LEASE_MS = Number(process.env.LAB_LEASE_MS ?? String(PEER_LEASE.seconds * 1000));
leaseOnLabClock(
  ActiveRegionGuard,
  () => labClock.nowMs(),
  LEASE_MS,
  (lapse) => process.send?.({ leaseLapse: lapse }),
);

async function load(route: Route): Promise<Handler> {
  if (!route.handler) {
    const module = (await import(`../functions/payments/${route.source}/handler`)) as {
      handler: Handler;
    };
    route.handler = module.handler;
  }
  return route.handler;
}

function lambdaContext(route: Route, deadline: number): Context {
  const region = process.env.AWS_REGION ?? "lab";
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `payments-${route.source}-lab`,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${region}:123456789012:function:payments-${route.source}-lab`,
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/payments-${route.source}-lab`,
    logStreamName: "lab",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://lab");
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const send = (status: number, headers: Record<string, string>, body: string) => {
    res.writeHead(status, headers);
    res.end(body);
  };
  let route: Route | undefined;
  let match: RegExpExecArray | null = null;
  for (const r of routes) {
    if (r.method !== req.method) continue;
    match = r.pattern.exec(url.pathname);
    if (match) {
      route = r;
      break;
    }
  }
  if (!route || !match) {
    send(404, { "content-type": "application/json" }, JSON.stringify({ message: "Not Found" }));
    return;
  }
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers[key.toLowerCase()] = value;
  }
  const body = Buffer.concat(chunks);
  const pathParameters = Object.fromEntries(
    route.params.map((name, i) => [name, decodeURIComponent(match![i + 1]!)]),
  );
  const now = new Date();
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ""),
    headers,
    pathParameters: route.params.length > 0 ? pathParameters : undefined,
    // HTTP APIs base64-encode bodies that are not text; JSON stays text.
    body: body.length > 0 ? body.toString("utf8") : undefined,
    isBase64Encoded: false,
    requestContext: {
      accountId: "123456789012",
      apiId: "lab",
      domainName: String(req.headers.host ?? "lab"),
      domainPrefix: "lab",
      http: {
        method: route.method,
        path: url.pathname,
        protocol: "HTTP/1.1",
        sourceIp: "127.0.0.1",
        userAgent: String(req.headers["user-agent"] ?? "lab"),
      },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
  };
  if (!stage.admit(route.routeKey)) {
    counters(route).tooManyRequests += 1;
    send(
      429,
      { "content-type": "application/json" },
      JSON.stringify({ message: "Too Many Requests" }),
    );
    return;
  }
  const leave = enter(route);
  const timeoutMs = labFunctionTimeoutMs(route.timeoutSeconds, FAST);
  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  try {
    const handler = await load(route);
    const expired = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const current: Invocation = { deadline, checkouts: new Set() };
    const result = await Promise.race([
      invocation.run(current, () => handler(event, lambdaContext(route, deadline))),
      expired,
    ]);
    if (result === "timeout") {
      // The environment goes with its connections; the next request opens a new one.
      endInvocation(current);
      // An HTTP API whose Lambda integration fails answers 500 {"message":"Internal Server
      // Error"} ("Troubleshooting issues with HTTP API Lambda integrations",
      // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html),
      // and a function that timed out has failed. The deployed integration waits the function's
      // timeout plus 500 ms (infra/constructs/payments-api.ts), so a warm environment's timeout
      // ends first and answers this 500. Not always (review 23 L4): on a cold start Lambda runs
      // the Init phase (up to 10 s) before the handler's timeout starts ("The Init phase is
      // limited to 10 seconds", lambda-runtime-environment.html), so the client can get API
      // Gateway's 504 while the function still runs and may still commit
      // (https://repost.aws/knowledge-center/api-gateway-504-errors). The lab loads every
      // handler before it serves (main below), so it models no Init and never answers 504; both
      // are ambiguous outcomes a client retries with the same Idempotency-Key (README).
      timedOut += 1;
      process.stderr.write(`${route.routeKey} timed out after ${timeoutMs} ms\n`);
      // Each one to the lab as it happens: a region killed later takes its counters with it.
      process.send?.({ timedOut: { function: route.source, at: Date.now(), timeoutMs } });
      send(
        500,
        { "content-type": "application/json" },
        JSON.stringify({ message: "Internal Server Error" }),
      );
      return;
    }
    // /health's lease on the lab clock, like the guard's (lab/lease-clock.ts, review 23 L5).
    const body =
      route.source === "health" && result.body
        ? healthBodyOnLabClock(result.body, labClock.nowMs(), LEASE_MS)
        : (result.body ?? "");
    send(result.statusCode ?? 200, (result.headers ?? {}) as Record<string, string>, body);
  } catch (error) {
    // An unhandled error fails the invocation: API Gateway answers 500.
    process.stderr.write(`${route.routeKey} failed: ${(error as Error).stack}\n`);
    send(
      500,
      { "content-type": "application/json" },
      JSON.stringify({ message: "Internal Server Error" }),
    );
  } finally {
    clearTimeout(timer);
    leave();
  }
}

async function main(): Promise<void> {
  // Load every handler before saying ready: a cold start is not what the lab measures.
  await Promise.all(routes.map(load));
  const server = createServer((req, res) => void serve(req, res));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  process.send?.({ ready: true, port, handlerBudgets: await handlerBudgetsInUse() });
  process.on("message", (m: { sample?: number }) => {
    if (typeof m?.sample === "number") process.send?.({ sampleOf: m.sample, ...sample() });
  });
  // The lab is gone: so is this region.
  process.on("disconnect", () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`region API failed to start: ${(error as Error).stack}\n`);
  process.exit(1);
});
