// The writer heartbeat one region's cluster holds, read through that region's own /health: the
// payment service's health function reads its region's cluster (reader endpoint), so this needs
// nothing from any other region and the DR tasks need no database access of their own.
import { WRITER_HEARTBEAT } from "../../../common/contract";
import { TransientError } from "../errors";
import type { HttpPort, ReplicaPort } from "../ports";

export class HealthReplica implements ReplicaPort {
  constructor(
    private readonly http: HttpPort,
    /** The region's API base URL, without a trailing slash. */
    private readonly apiBase: string,
    private readonly timeoutMs: number,
  ) {}

  async writerHeartbeat(): Promise<{ readonly beatAt: string } | null> {
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
