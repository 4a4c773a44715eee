// The heartbeat reader, invoked synchronously through the Lambda API by the DR tasks and the
// prober (never routed by API Gateway): the writer heartbeat row this region's own cluster holds.
// An error is thrown, not answered: the caller's InvokeCommand sees FunctionError and treats the
// read as unreadable (which never vetoes a failover).
import { WRITER_HEARTBEAT } from "../../common/contract";
import { baseRuntime } from "../shared/runtime";
import { readHeartbeat } from "./core";

const base = baseRuntime({ functionName: "heartbeat", apiKeys: false, ownCluster: true });
// The caller waits for this answer inside a 12 s task: one short statement.
const STATEMENT_TIMEOUT_MS = 1000;

// to_jsonb(h) ->> 'writer': the column arrives with migration 013; a function deployed before
// the migration ran reads null instead of failing.
const SQL = `SELECT beat_at, to_jsonb(h) ->> 'writer' AS writer
  FROM ${WRITER_HEARTBEAT.table} h WHERE id = 1`;

export const handler = async () =>
  readHeartbeat({
    region: base.region,
    readRow: () =>
      base.ownCluster.transaction(async (client) => {
        await client.query(`SET LOCAL statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
        const { rows } = await client.query<{ beat_at: Date; writer: string | null }>(SQL);
        const row = rows[0];
        return row ? { beatAt: row.beat_at, writer: row.writer } : null;
      }),
  });
