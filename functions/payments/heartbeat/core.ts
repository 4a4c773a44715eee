// The heartbeat reader (review 23-18 H2): what the writer heartbeat row of this region's OWN
// cluster holds, for the DR tasks and the prober, through the Lambda API instead of the public
// /health. The veto at Preflight counts only positive evidence of a live writer; a /health
// flooded into API Gateway's 500s (the health function's reservation exhausted) used to hide that
// evidence, and an unreadable heartbeat means no veto. This function has no route and its own
// reservation, so no flood of /health reaches it (WRITER_HEARTBEAT.readerComponent).

/** The answer: the newest beat this region's cluster holds, and who wrote it (review 23-18 L2). */
export interface HeartbeatReading {
  /** ISO 8601, or null when the row holds none. */
  readonly beatAt: string | null;
  /**
   * The DB instance that committed the beat (aurora_db_instance_identifier(), migration 013); its
   * name carries the region code. null for a beat before 013, or off Aurora.
   */
  readonly writer: string | null;
  /** The region this function runs in: whose cluster was read. */
  readonly readIn: string;
}

export interface HeartbeatDeps {
  readonly region: string;
  /** The row as this region's own cluster (reader endpoint) holds it; null: no row. */
  readonly readRow: () => Promise<{ beatAt: Date; writer: string | null } | null>;
}

export async function readHeartbeat(deps: HeartbeatDeps): Promise<HeartbeatReading> {
  const row = await deps.readRow();
  return {
    beatAt: row ? row.beatAt.toISOString() : null,
    writer: row?.writer ?? null,
    readIn: deps.region,
  };
}
