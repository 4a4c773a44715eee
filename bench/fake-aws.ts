// A local HTTP endpoint that answers like DynamoDB, EventBridge and SSM for the calls of the
// payment write path, so the benchmark runs the real SDK clients end to end: serialization,
// SigV4 signing, the retry middleware, the HTTP agent and response parsing, over loopback.
// The SDK reaches it through AWS_ENDPOINT_URL (SDK v3's standard endpoint override). It runs in
// its own process (bench/fake-aws-server.ts) so its CPU is not counted as the handler's.
//
// Wire format: the AWS JSON protocols. Requests are POST / with `X-Amz-Target:
// <service prefix>.<Operation>` and an application/x-amz-json-1.0 (DynamoDB) or 1.1 (SSM,
// EventBridge) body; errors are HTTP 400 with `__type` naming the exception
// (https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html).
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";

type AttributeValue = Record<string, unknown>;
type Item = Record<string, AttributeValue>;

export interface FakeAwsOptions {
  readonly region: string;
  readonly controlTable: string;
  readonly parameters: Readonly<Record<string, string>>;
}

class AwsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Publication delays (ms) of the PutEvents entries received since the last read. */
const delays: number[] = [];

/** Count, p50, p99 and max of the delays received since the last call, which resets them. */
export function takeDelays(): { count: number; p50: number; p99: number; max: number } {
  const sorted = delays.splice(0).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

/** The operations the write path makes, with the semantics it relies on. */
export function fakeAwsOperations(options: FakeAwsOptions) {
  const items = new Map<string, Item>();
  const keyOf = (table: string, key: Item) => `${table}#${JSON.stringify(key)}`;
  let eventIds = 0;
  const flag: Item = {
    pk: { S: "active-region" },
    activeRegion: { S: options.region },
    fencingToken: { N: "1" },
    phase: { S: "open" },
  };
  return {
    // DynamoDB GetItem: the control flag is seeded; anything else from what was written.
    "DynamoDB_20120810.GetItem": (body: { TableName: string; Key: Item }) => {
      if (body.TableName === options.controlTable) return { Item: flag };
      const item = items.get(keyOf(body.TableName, body.Key));
      return item ? { Item: item } : {};
    },
    // PutItem with the idempotency lock's condition (attribute_not_exists(#id) OR
    // #lockExpiresAt < :now): refuse while a live lock holds the key, returning it
    // (ReturnValuesOnConditionCheckFailure ALL_OLD).
    "DynamoDB_20120810.PutItem": (body: {
      TableName: string;
      Item: Item;
      ConditionExpression?: string;
      ExpressionAttributeValues?: Record<string, AttributeValue>;
    }) => {
      const key = keyOf(body.TableName, { id: body.Item.id! });
      const existing = items.get(key);
      const heldUntil = Number((existing?.lockExpiresAt as { N?: string } | undefined)?.N ?? 0);
      const now = Number((body.ExpressionAttributeValues?.[":now"] as { N?: string })?.N ?? 0);
      if (body.ConditionExpression && existing && heldUntil >= now) {
        throw new AwsFault("ConditionalCheckFailedException", "The conditional request failed", {
          Item: existing,
        });
      }
      items.set(key, body.Item);
      return {};
    },
    "DynamoDB_20120810.UpdateItem": (body: {
      TableName: string;
      Key: Item;
      ExpressionAttributeValues?: Record<string, AttributeValue>;
    }) => {
      const key = keyOf(body.TableName, body.Key);
      const values = body.ExpressionAttributeValues ?? {};
      items.set(key, {
        ...body.Key,
        ...items.get(key),
        ...(values[":status"] ? { status: values[":status"] } : {}),
        ...(values[":response_data"] ? { data: values[":response_data"] } : {}),
      });
      return {};
    },
    // DeleteItem releasing a lock: only for the holder that took it (#holder = :holder).
    "DynamoDB_20120810.DeleteItem": (body: {
      TableName: string;
      Key: Item;
      ExpressionAttributeValues?: Record<string, AttributeValue>;
    }) => {
      const key = keyOf(body.TableName, body.Key);
      const holder = body.ExpressionAttributeValues?.[":holder"];
      if (holder && JSON.stringify(items.get(key)?.holder) !== JSON.stringify(holder)) {
        throw new AwsFault("ConditionalCheckFailedException", "The conditional request failed");
      }
      items.delete(key);
      return {};
    },
    // Each entry's delay, from its Time (the event's creation, set before its commit) to now.
    "AWSEvents.PutEvents": (body: { Entries?: { Time?: number }[] }) => {
      const now = Date.now();
      for (const entry of body.Entries ?? []) {
        if (typeof entry.Time === "number") delays.push(now - entry.Time * 1000);
      }
      return {
        FailedEntryCount: 0,
        Entries: (body.Entries ?? []).map(() => ({ EventId: `fake-${++eventIds}` })),
      };
    },
    "AmazonSSM.GetParameters": (body: { Names?: string[] }) => {
      const names = body.Names ?? [];
      return {
        Parameters: names
          .filter((n) => n in options.parameters)
          .map((Name) => ({
            Name,
            Value: options.parameters[Name],
            Type: "SecureString",
            Version: 1,
          })),
        InvalidParameters: names.filter((n) => !(n in options.parameters)),
      };
    },
  } as Record<string, (body: never) => unknown>;
}

export function fakeAwsServer(options: FakeAwsOptions): Server {
  const operations = fakeAwsOperations(options);
  const counts = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      const contentType = target.startsWith("DynamoDB")
        ? "application/x-amz-json-1.0"
        : "application/x-amz-json-1.1";
      const send = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, {
          "content-type": contentType,
          "content-length": Buffer.byteLength(text),
          "x-amzn-requestid": `req-${Date.now()}`,
        });
        res.end(text);
      };
      if (req.method === "GET" && req.url === "/__counts")
        return send(200, Object.fromEntries(counts));
      if (req.method === "GET" && req.url === "/__delays") return send(200, takeDelays());
      // A signed request carries SigV4: refuse an unsigned one, as AWS would.
      if (!String(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 ")) {
        return send(400, {
          __type: "MissingAuthenticationTokenException",
          message: "Missing Authentication Token",
        });
      }
      const operation = operations[target];
      if (!operation)
        return send(400, { __type: "UnknownOperationException", message: `unsupported ${target}` });
      counts.set(target, (counts.get(target) ?? 0) + 1);
      try {
        send(200, operation(JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as never));
      } catch (error) {
        if (error instanceof AwsFault)
          return send(400, { __type: error.type, message: error.message, ...error.extra });
        send(500, { __type: "InternalServerError", message: String(error) });
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  return server;
}
