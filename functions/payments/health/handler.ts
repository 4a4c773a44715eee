// GET /health (no API key: Route 53 health checks and the DR prober call it).
import { controlFlagReader, createDynamoDbClient } from "../shared/aws/dynamodb";
import { METRICS, PAYMENTS_ENV, WRITER_HEARTBEAT } from "../../common/contract";
import { requireEnv } from "../../common/env";
import { ActiveRegionGuard } from "../shared/fencing";
import { jsonResponse } from "../shared/http-api";
import { publishSingleMetric } from "../shared/observability";
import { baseRuntime, publicApiHandler } from "../shared/runtime";
import { activeRegionMetric, checkHealth } from "./core";
import type { DatabaseState } from "./core";

const base = baseRuntime({
  functionName: "health",
  apiKeys: false,
  ownCluster: true,
  ownClusterEndpoint: true,
});
const guard = new ActiveRegionGuard({
  region: base.region,
  read: controlFlagReader(createDynamoDbClient(), requireEnv(PAYMENTS_ENV.controlTable)),
  cacheMs: 0,
});
// Route 53 wants the status within 2 s of connecting: the flag read and the database check run
// one after the other (the database write depends on the flag), so each gets 700 ms.
const CHECK_TIMEOUT_MS = 700;

const HEARTBEAT_SQL = `
INSERT INTO health_heartbeats (region, beat_at) VALUES ($1, now())
ON CONFLICT (region) DO UPDATE SET beat_at = EXCLUDED.beat_at`;

async function probeDatabase(write: boolean): Promise<DatabaseState> {
  try {
    return await base.database.transaction(async (client) => {
      await client.query(`SET LOCAL statement_timeout = ${CHECK_TIMEOUT_MS}`);
      const { rows } = await client.query<{ writer: boolean }>(
        "SELECT NOT pg_is_in_recovery() AS writer",
      );
      if (!rows[0]?.writer) return "in recovery";
      if (!write) return "reachable";
      await client.query(HEARTBEAT_SQL, [base.region]);
      return "writable";
    });
  } catch (error) {
    // read_only_sql_transaction: connected, but the server refuses writes.
    if ((error as { cause?: { code?: string } }).cause?.code === "25006") return "read-only";
    throw error;
  }
}

/**
 * While a move into this region is fenced: its OWN cluster (cluster endpoint), read-only, in a
 * read-only transaction, so nothing is written anywhere while the old writer quiesces
 * (core.ts, "Taking over"; review 23 H1, L5).
 */
async function probeOwnCluster(): Promise<"writable" | "in recovery"> {
  return base.ownClusterEndpoint.transaction(async (client) => {
    await client.query("SET TRANSACTION READ ONLY");
    await client.query(`SET LOCAL statement_timeout = ${CHECK_TIMEOUT_MS}`);
    const { rows } = await client.query<{ writer: boolean }>(
      "SELECT NOT pg_is_in_recovery() AS writer",
    );
    return rows[0]?.writer ? "writable" : "in recovery";
  });
}

const WRITER_HEARTBEAT_SQL = `SELECT beat_at FROM ${WRITER_HEARTBEAT.table} WHERE id = 1`;

/** The writer heartbeat this region's own cluster holds (reader endpoint): a plain read. */
async function readWriterHeartbeat(): Promise<Date | null> {
  return base.ownCluster.transaction(async (client) => {
    await client.query(`SET LOCAL statement_timeout = ${CHECK_TIMEOUT_MS}`);
    const { rows } = await client.query<{ beat_at: Date }>(WRITER_HEARTBEAT_SQL);
    return rows[0]?.beat_at ?? null;
  });
}

export const handler = publicApiHandler(async () => {
  const report = await checkHealth({
    region: base.region,
    readFlag: () => guard.readFresh(),
    probeDatabase,
    probeOwnCluster,
    readWriterHeartbeat,
    checkTimeoutMs: CHECK_TIMEOUT_MS,
  });
  const active = activeRegionMetric(report.body);
  if (active !== null) publishSingleMetric(METRICS.activeRegion, active, { Region: base.region });
  return jsonResponse(report.statusCode, report.body);
});
