// Reading both sides for the reconciliation: the old primary's copy (a cluster restored from the
// point-of-failure snapshot, never a live cluster) and the new primary. Every read runs in one
// REPEATABLE READ READ ONLY transaction per side that is rolled back: PostgreSQL refuses any
// write in it ("cannot execute INSERT in a read-only transaction"), so the diff cannot change
// either database whatever its SQL says.
import type { QueryResult, QueryResultRow } from "pg";
import { currencyOf } from "../payments/shared/currencies";
import { WRITER_HEARTBEAT } from "../common/contract";
import type { EventRow, EventType, KeyRow, PaymentRow } from "./model";
import { CopyIncompleteError, InvalidRowError, LiveClusterError } from "./model";

/** A connection of its own (pg.Client or a pool client): the transaction belongs to it. */
export interface Connection {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<QueryResult<R>>;
}

export type Side = "old copy" | "new primary";

const EVENT_TYPES: readonly EventType[] = [
  "payments.authorized",
  "payments.captured",
  "payments.partially_refunded",
  "payments.refunded",
  "payments.voided",
  "payments.expired",
];

/** Runs `work` in a read-only snapshot of `conn`, then rolls back. */
export async function readOnly<T>(conn: Connection, work: () => Promise<T>): Promise<T> {
  await conn.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    return await work();
  } finally {
    await conn.query("ROLLBACK");
  }
}

export interface ServerIdentity {
  /** pg_control_system's system identifier when readable, else address/port/start time. */
  readonly id: string;
  readonly database: string;
  readonly inRecovery: boolean;
  readonly now: Date;
  readonly commitTimestamps: boolean;
}

export async function identify(conn: Connection): Promise<ServerIdentity> {
  const { rows } = await conn.query<{
    server: string;
    db: string;
    in_recovery: boolean;
    now: Date;
    commit_ts: string;
  }>(
    `SELECT coalesce(inet_server_addr()::text, 'local') || ':' || coalesce(inet_server_port(), 0)
              || '@' || pg_postmaster_start_time()::text AS server,
            current_database() AS db, pg_is_in_recovery() AS in_recovery, now() AS now,
            current_setting('track_commit_timestamp') AS commit_ts`,
  );
  const row = rows[0]!;
  // The system identifier tells two servers apart even behind one address; it may be
  // restricted to privileged roles, so it is a refinement, not a requirement. A physical copy
  // keeps it (a standby promoted to the new primary, a server started from the old primary's
  // files: both carry the identifier of the cluster they were copied from), so the running
  // server's start time goes with it: one server reached through two addresses shares both.
  let system: string | null = null;
  try {
    await conn.query("SAVEPOINT reconcile_identify");
    const sys = await conn.query<{ id: string }>(
      "SELECT system_identifier::text AS id FROM pg_control_system()",
    );
    system = sys.rows[0]?.id ?? null;
    await conn.query("RELEASE SAVEPOINT reconcile_identify");
  } catch {
    await conn.query("ROLLBACK TO SAVEPOINT reconcile_identify");
  }
  return {
    id: system ? `system:${system}@${row.server.split("@")[1]}` : `server:${row.server}`,
    database: row.db,
    inRecovery: row.in_recovery,
    now: row.now,
    commitTimestamps: row.commit_ts === "on",
  };
}

/**
 * Refuses an "old copy" that is a live cluster: the new primary itself, a server in recovery
 * (the old primary's cluster after Aurora re-added it as a secondary holds the NEW primary's
 * data on "a new storage volume", so diffing it would report nothing lost), one named among the
 * live endpoints, or one whose writer heartbeat is fresh (pg_cron beats every 5 s on a writer;
 * the reconcile runbook restores into a scratch parameter group without pg_cron).
 */
export function assertNotLive(
  copy: ServerIdentity,
  primary: ServerIdentity,
  copyHeartbeat: Date | null,
  options: { copyHost?: string; liveHosts?: readonly string[] },
): void {
  if (copy.id === primary.id && copy.database === primary.database) {
    throw new LiveClusterError(
      `the old copy (${copy.database}) is the new primary itself: restore the point-of-failure snapshot into a scratch cluster and point --old-url at it`,
    );
  }
  if (copy.inRecovery) {
    throw new LiveClusterError(
      "the old copy is a server in recovery (a live cluster's replica): after an unplanned failover Aurora re-adds the old primary as a secondary with a new storage volume, so it holds the new primary's data; restore the point-of-failure snapshot instead",
    );
  }
  const host = options.copyHost?.toLowerCase();
  if (host && (options.liveHosts ?? []).some((live) => live.toLowerCase() === host)) {
    throw new LiveClusterError(
      `the old copy's host ${host} is a live cluster endpoint of this deployment: restore the point-of-failure snapshot into a scratch cluster`,
    );
  }
  const liveWindowMs = WRITER_HEARTBEAT.intervalSeconds * 3 * 1000;
  if (copyHeartbeat && copy.now.getTime() - copyHeartbeat.getTime() < liveWindowMs) {
    throw new LiveClusterError(
      `the old copy committed a writer heartbeat ${Math.round((copy.now.getTime() - copyHeartbeat.getTime()) / 1000)} s ago: it is a live writer, not a copy`,
    );
  }
}

/**
 * The copy must carry the schema the diff reads: 005's columns, filled by 006 for the rows
 * written before 005. 005 adds them nullable; 006 numbers the older events and gives the older
 * authorizations their deadline, in batches outside a transaction, and is recorded in
 * schema_migrations only once every batch committed (shared/migrator.ts). Between the two, an
 * older payment's events have no versions and the copy would look truncated.
 */
export const BACKFILL_MIGRATION = 6;

export async function assertSchema(conn: Connection, side: Side): Promise<void> {
  const needed = [
    ["payments", "merchant_id"],
    ["payment_events", "payment_version"],
    ["payment_events", "request_id"],
    ["idempotency_keys", "request_id"],
    ["idempotency_keys", "origin_region"],
  ];
  const { rows } = await conn.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name IN ('payments', 'payment_events', 'idempotency_keys')`,
  );
  const have = new Set(rows.map((r) => `${r.table_name}.${r.column_name}`));
  const missing = needed.map(([t, c]) => `${t}.${c}`).filter((c) => !have.has(c));
  if (missing.length > 0) {
    throw new CopyIncompleteError(
      `${side} lacks ${missing.join(", ")}: it is not a payments database at migration 005 or later (a partial restore?)`,
    );
  }
  const applied = await conn.query<{ done: boolean }>(
    `SELECT to_regclass('schema_migrations') IS NOT NULL AS done`,
  );
  const backfilled =
    applied.rows[0]?.done === true &&
    (
      await conn.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM schema_migrations WHERE version = $1",
        [BACKFILL_MIGRATION],
      )
    ).rows[0]?.n === "1";
  if (!backfilled) {
    throw new CopyIncompleteError(
      `${side} has not completed migration 006 (006_merchant_api_backfill: schema_migrations lacks version ${BACKFILL_MIGRATION}): the events written before 005 are not numbered yet; run the migrations to the end on it (npm run db:migrate; the old copy is a scratch restore) and reconcile again`,
    );
  }
}

export async function writerHeartbeat(conn: Connection): Promise<Date | null> {
  try {
    await conn.query("SAVEPOINT reconcile_heartbeat");
    const { rows } = await conn.query<{ beat_at: Date }>(
      `SELECT beat_at FROM ${WRITER_HEARTBEAT.table} WHERE id = 1`,
    );
    await conn.query("RELEASE SAVEPOINT reconcile_heartbeat");
    return rows[0]?.beat_at ?? null;
  } catch {
    await conn.query("ROLLBACK TO SAVEPOINT reconcile_heartbeat");
    return null;
  }
}

interface RawEvent {
  event_id: string;
  payment_id: string;
  event_type: string;
  amount_minor: string;
  currency: string;
  payment_version: number;
  operation_id: string | null;
  operation_reference: string | null;
  final_capture: boolean | null;
  request_id: string | null;
  origin_region: string;
  created_at: Date;
  committed_at: Date;
}

interface RawKey {
  merchant_id: string;
  idempotency_key: string;
  operation: KeyRow["operation"];
  request_hash: string;
  payment_id: string;
  response_status: number;
  response_body: unknown;
  request_id: string | null;
  origin_region: string | null;
  created_at: Date;
  committed_at: Date;
}

interface RawPayment {
  id: string;
  merchant_id: string;
  card_token: string;
  amount_minor: string;
  currency: string;
  status: string;
  captured_minor: string;
  refunded_minor: string;
  reference: string | null;
  metadata: Record<string, string>;
  capture_before: Date | null;
  version: number;
  origin_region: string;
  created_at: Date;
}

/** The commit time of an insert-only row (005: "pg_xact_commit_timestamp(xmin)"). */
function committed(alias: string, commitTimestamps: boolean): string {
  return commitTimestamps
    ? `coalesce(pg_xact_commit_timestamp(${alias}.xmin), ${alias}.created_at)`
    : `${alias}.created_at`;
}

const EVENT_COLUMNS = (c: boolean) =>
  `e.event_id, e.payment_id, e.event_type, e.amount_minor::text AS amount_minor, e.currency,
   e.payment_version, e.operation_id, e.operation_reference, e.final_capture, e.request_id,
   e.origin_region, e.created_at, ${committed("e", c)} AS committed_at`;

const KEY_COLUMNS = (c: boolean) =>
  `k.merchant_id, k.idempotency_key, k.operation, k.request_hash, k.payment_id, k.response_status,
   k.response_body, k.request_id, k.origin_region, k.created_at, ${committed("k", c)} AS committed_at`;

const PAYMENT_COLUMNS = `id, merchant_id, card_token, amount_minor::text AS amount_minor, currency,
  status, captured_minor::text AS captured_minor, refunded_minor::text AS refunded_minor,
  reference, metadata, capture_before, version, origin_region, created_at`;

function known(side: Side, row: string, currency: string): string {
  const code = currency.trim();
  if (!currencyOf(code)) {
    throw new InvalidRowError(
      side,
      row,
      "currency",
      code,
      "an ISO 4217 code the payment API accepts (functions/payments/shared/currencies.ts)",
    );
  }
  return code;
}

function amountOf(side: Side, row: string, field: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidRowError(side, row, field, text, `an integer of minor units, at least ${min}`);
  }
  return value;
}

function toEvent(side: Side, r: RawEvent): EventRow {
  const row = `payment_events ${r.event_id}`;
  if (!EVENT_TYPES.includes(r.event_type as EventType)) {
    throw new InvalidRowError(side, row, "event_type", r.event_type, EVENT_TYPES.join(", "));
  }
  return {
    eventId: r.event_id,
    paymentId: r.payment_id,
    type: r.event_type as EventType,
    amount: amountOf(side, row, "amount_minor", r.amount_minor, 1),
    currency: known(side, row, r.currency),
    version: r.payment_version,
    operationId: r.operation_id,
    operationReference: r.operation_reference,
    finalCapture: r.final_capture,
    requestId: r.request_id,
    originRegion: r.origin_region,
    createdAt: r.created_at,
    committedAt: r.committed_at,
  };
}

function toKey(r: RawKey): KeyRow {
  return {
    merchantId: r.merchant_id,
    idempotencyKey: r.idempotency_key,
    operation: r.operation,
    requestHash: r.request_hash,
    paymentId: r.payment_id,
    responseStatus: r.response_status,
    responseBody: r.response_body,
    requestId: r.request_id,
    originRegion: r.origin_region,
    createdAt: r.created_at,
    committedAt: r.committed_at,
  };
}

function toPayment(side: Side, r: RawPayment): PaymentRow {
  const row = `payments ${r.id}`;
  return {
    id: r.id,
    merchantId: r.merchant_id,
    cardToken: r.card_token,
    amount: amountOf(side, row, "amount_minor", r.amount_minor, 1),
    currency: known(side, row, r.currency),
    status: r.status,
    capturedAmount: amountOf(side, row, "captured_minor", r.captured_minor, 0),
    refundedAmount: amountOf(side, row, "refunded_minor", r.refunded_minor, 0),
    reference: r.reference,
    metadata: r.metadata,
    captureBefore: r.capture_before,
    version: r.version,
    originRegion: r.origin_region,
    createdAt: r.created_at,
  };
}

/** Events and keys committed at or after `from` (the old side's window). */
export async function readWindow(
  conn: Connection,
  side: Side,
  from: Date,
  commitTimestamps: boolean,
): Promise<{ events: EventRow[]; keys: KeyRow[] }> {
  const ev = await conn.query<RawEvent>(
    `SELECT ${EVENT_COLUMNS(commitTimestamps)} FROM payment_events e
     WHERE GREATEST(e.created_at, ${committed("e", commitTimestamps)}) >= $1
     ORDER BY e.payment_id, e.payment_version`,
    [from],
  );
  const keys = await conn.query<RawKey>(
    `SELECT ${KEY_COLUMNS(commitTimestamps)} FROM idempotency_keys k
     WHERE GREATEST(k.created_at, ${committed("k", commitTimestamps)}) >= $1`,
    [from],
  );
  return { events: ev.rows.map((r) => toEvent(side, r)), keys: keys.rows.map(toKey) };
}

/** Payments by id, with every event of each (their whole histories). */
export async function readPayments(
  conn: Connection,
  side: Side,
  ids: readonly string[],
  commitTimestamps: boolean,
): Promise<{ payments: Map<string, PaymentRow>; events: Map<string, EventRow[]> }> {
  const payments = new Map<string, PaymentRow>();
  const events = new Map<string, EventRow[]>();
  if (ids.length === 0) return { payments, events };
  const p = await conn.query<RawPayment>(
    `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  for (const r of p.rows) payments.set(r.id, toPayment(side, r));
  const e = await conn.query<RawEvent>(
    `SELECT ${EVENT_COLUMNS(commitTimestamps)} FROM payment_events e
     WHERE e.payment_id = ANY($1::uuid[]) ORDER BY e.payment_id, e.payment_version`,
    [ids],
  );
  for (const r of e.rows) {
    const event = toEvent(side, r);
    events.set(event.paymentId, [...(events.get(event.paymentId) ?? []), event]);
  }
  return { payments, events };
}

/** Idempotency records by (merchant, key). */
export async function readKeys(
  conn: Connection,
  pairs: readonly { merchantId: string; idempotencyKey: string }[],
  commitTimestamps: boolean,
): Promise<Map<string, KeyRow>> {
  const out = new Map<string, KeyRow>();
  if (pairs.length === 0) return out;
  const { rows } = await conn.query<RawKey>(
    `SELECT ${KEY_COLUMNS(commitTimestamps)} FROM idempotency_keys k
     JOIN unnest($1::text[], $2::text[]) AS w(merchant_id, idempotency_key)
       ON k.merchant_id = w.merchant_id AND k.idempotency_key = w.idempotency_key`,
    [pairs.map((p) => p.merchantId), pairs.map((p) => p.idempotencyKey)],
  );
  for (const r of rows) out.set(keyOf(r.merchant_id, r.idempotency_key), toKey(r));
  return out;
}

export function keyOf(merchantId: string, idempotencyKey: string): string {
  return JSON.stringify([merchantId, idempotencyKey]);
}

/**
 * The overlap: rows the new primary received from the old one (their origin region) in
 * [from, to]. The old primary had every one of them, so a copy lacking any is truncated or
 * older than the fork, and would hide losses.
 */
export async function overlapIds(
  conn: Connection,
  oldRegion: string,
  from: Date,
  to: Date,
): Promise<{ events: string[]; keys: { merchantId: string; idempotencyKey: string }[] }> {
  const ev = await conn.query<{ event_id: string }>(
    `SELECT event_id FROM payment_events
     WHERE origin_region = $1 AND created_at >= $2 AND created_at <= $3`,
    [oldRegion, from, to],
  );
  const keys = await conn.query<{ merchant_id: string; idempotency_key: string }>(
    `SELECT merchant_id, idempotency_key FROM idempotency_keys
     WHERE origin_region = $1 AND created_at >= $2 AND created_at <= $3`,
    [oldRegion, from, to],
  );
  return {
    events: ev.rows.map((r) => r.event_id),
    keys: keys.rows.map((r) => ({ merchantId: r.merchant_id, idempotencyKey: r.idempotency_key })),
  };
}

export async function presentEventIds(
  conn: Connection,
  ids: readonly string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await conn.query<{ event_id: string }>(
    "SELECT event_id FROM payment_events WHERE event_id = ANY($1::uuid[])",
    [ids],
  );
  return new Set(rows.map((r) => r.event_id));
}

/** The newest row the copy holds (events, keys): where its history ends. */
export async function copyEnd(conn: Connection, commitTimestamps: boolean): Promise<Date | null> {
  const { rows } = await conn.query<{ end: Date | null }>(
    `SELECT GREATEST(
       (SELECT max(${committed("e", commitTimestamps)}) FROM payment_events e),
       (SELECT max(${committed("k", commitTimestamps)}) FROM idempotency_keys k)) AS end`,
  );
  return rows[0]?.end ?? null;
}
