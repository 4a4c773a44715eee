// One region's AWS endpoint: an HTTP server on 127.0.0.1 speaking the JSON protocols of the
// services whose SDK clients the project's code builds itself (DynamoDB: awsJson1_0; SSM and
// EventBridge: awsJson1_1), so the payment functions and the DR adapters run unchanged, pointed
// here by AWS_ENDPOINT_URL_<SERVICE> or an explicit endpoint. Requests are dispatched on
// X-Amz-Target. Signatures are not checked. "Region down" closes the server (connections refused).
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { randomUUID } from "node:crypto";
import { ServiceError } from "./dynamodb";

export type ServiceApi = (
  operation: string,
  request: Record<string, unknown>,
) => Record<string, unknown>;

export interface EndpointServices {
  readonly dynamodb: ServiceApi;
  readonly ssm: ServiceApi;
  readonly events: ServiceApi;
}

const PREFIXES: Readonly<Record<string, { service: keyof EndpointServices; contentType: string }>> =
  {
    DynamoDB_20120810: { service: "dynamodb", contentType: "application/x-amz-json-1.0" },
    AmazonSSM: { service: "ssm", contentType: "application/x-amz-json-1.1" },
    AWSEvents: { service: "events", contentType: "application/x-amz-json-1.1" },
  };

export class AwsEndpoint {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;
  /** Calls per service and operation, for the report. */
  readonly calls = new Map<string, number>();

  constructor(
    readonly region: string,
    private readonly services: EndpointServices,
  ) {}

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const address = server.address();
    if (typeof address === "object" && address) this.port = address.port;
    this.server = server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get up(): boolean {
    return this.server !== undefined;
  }

  /** The region's services stop answering (a region outage). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers["x-amz-target"] ?? "");
    const [prefix, operation] = target.split(".");
    const route = PREFIXES[prefix ?? ""];
    const respond = (status: number, body: unknown, contentType = "application/x-amz-json-1.1") => {
      res.writeHead(status, { "content-type": contentType, "x-amzn-requestid": randomUUID() });
      res.end(JSON.stringify(body));
    };
    if (!route || !operation) {
      respond(400, { __type: "UnknownOperationException", message: `unknown target ${target}` });
      return;
    }
    const name = `${route.service}:${operation}`;
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
    try {
      const request = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<
        string,
        unknown
      >;
      respond(200, this.services[route.service](operation, request), route.contentType);
    } catch (error) {
      if (error instanceof ServiceError) {
        const type =
          route.service === "dynamodb"
            ? `com.amazonaws.dynamodb.v20120810#${error.type}`
            : error.type;
        respond(
          error.status,
          { __type: type, message: error.message, ...error.extra },
          route.contentType,
        );
      } else {
        respond(
          500,
          { __type: "InternalServerError", message: (error as Error).message },
          route.contentType,
        );
      }
    }
  }
}
