// The writer heartbeat one region's cluster holds, read in that region only, so this needs
// nothing from any other region and the DR tasks need no database access of their own:
// - LambdaReplica (first): the region's heartbeat reader function through the Lambda API
//   (functions/payments/heartbeat). No route reaches it and its reservation is its own, so a
//   flood of the public /health cannot hide the beat (review 23-18 H2).
// - HealthReplica (fallback): the region's public /health, which reports the same row; used when
//   the reader cannot answer (not deployed yet, its reservation busy).
// The evidence only ever adds a veto when it is positive and fresh (functions/dr/preflight): a
// read that fails on both paths is "unreadable", which never holds a failover.
import { InvokeCommand } from "@aws-sdk/client-lambda";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import { WRITER_HEARTBEAT } from "../../../common/contract";
import { TransientError } from "../errors";
import type { HttpPort, ReplicaPort, WriterHeartbeat } from "../ports";

export class HealthReplica implements ReplicaPort {
  constructor(
    private readonly http: HttpPort,
    /** The region's API base URL, without a trailing slash. */
    private readonly apiBase: string,
    private readonly timeoutMs: number,
  ) {}

  async writerHeartbeat(): Promise<WriterHeartbeat | null> {
    let body: unknown;
    try {
      // A passive region answers 503 with the same body: the status says nothing here.
      ({ body } = await this.http.request("GET", `${this.apiBase}/health`, {
        timeoutMs: this.timeoutMs,
      }));
    } catch (error) {
      throw new TransientError(
        `GET ${this.apiBase}/health failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const replication = (body as { replication?: Record<string, unknown> } | null)?.replication;
    const beatAt = replication?.[WRITER_HEARTBEAT.healthField];
    return typeof beatAt === "string" && !Number.isNaN(Date.parse(beatAt)) ? { beatAt } : null;
  }
}

/**
 * The region's heartbeat reader, invoked synchronously ("RequestResponse"). Lambda answers a
 * function error with status 200 and `FunctionError` set, the error object as the payload
 * (Lambda API reference, Invoke: https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html);
 * a throttle of its reservation is a TooManyRequestsException (429). Both are transient here.
 */
export class LambdaReplica implements ReplicaPort {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly functionName: string,
  ) {}

  async writerHeartbeat(): Promise<WriterHeartbeat | null> {
    let out;
    try {
      out = await this.lambda.send(
        new InvokeCommand({ FunctionName: this.functionName, InvocationType: "RequestResponse" }),
      );
    } catch (error) {
      throw new TransientError(
        `lambda:InvokeFunction ${this.functionName} failed: ${error instanceof Error ? `${error.name} ${error.message}` : String(error)}`,
      );
    }
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : "";
    if (out.FunctionError) {
      throw new TransientError(
        `${this.functionName} failed (${out.FunctionError}): ${text.slice(0, 300)}`,
      );
    }
    let body: { beatAt?: unknown; writer?: unknown } | null;
    try {
      body = JSON.parse(text) as { beatAt?: unknown; writer?: unknown } | null;
    } catch {
      throw new TransientError(
        `${this.functionName} answered something other than JSON: ${text.slice(0, 100)}`,
      );
    }
    const beatAt = body?.beatAt;
    if (typeof beatAt !== "string" || Number.isNaN(Date.parse(beatAt))) return null;
    return { beatAt, writer: typeof body?.writer === "string" ? body.writer : null };
  }
}

/**
 * The first path that answers. A fallback's answer is only ever used when the first path threw;
 * when both throw, the first path's error is what the caller sees.
 */
export class FirstAnsweringReplica implements ReplicaPort {
  constructor(
    private readonly first: ReplicaPort,
    private readonly fallback: ReplicaPort,
  ) {}

  async writerHeartbeat(): Promise<WriterHeartbeat | null> {
    try {
      return await this.first.writerHeartbeat();
    } catch (error) {
      try {
        return await this.fallback.writerHeartbeat();
      } catch {
        throw error;
      }
    }
  }
}
