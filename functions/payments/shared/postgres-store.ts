// PaymentStore, ExpiryStore and OutboxStore on PostgreSQL. Every write is one transaction holding
// the payment change, its outbox row and its idempotency record, so a request either happened
// completely or not at all, and a retried request finds its own earlier answer.
import type { PoolClient, QueryResult, QueryResultRow } from "pg";
import { committing } from "./database";
import type { Database } from "./database";
import { replayOf } from "./idempotency";
import type { RecordedAnswer } from "./idempotency";
import {
  IdempotencyKeyInUseError,
  IllegalTransitionError,
  PaymentNotFoundError,
  RefundExceedsCapturedError,
} from "./errors";
import { PAYMENT_EVENTS } from "../../common/contract";
import { eventDetail, planExpire, toView } from "./payment";
import type {
  Payment,
  PaymentEventType,
  PaymentOperation,
  PaymentStatus,
  PaymentView,
  PlannedChange,
} from "./payment";
import type {
  ExpiryBatch,
  ExpiryStore,
  ListPage,
  ListQuery,
  NewAuthorization,
  OutboxEvent,
  OutboxStore,
  PaymentStore,
  PublishOutcome,
  TransitionRequest,
  WriteResult,
} from "./ports";

interface Queryable {
  query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

interface PaymentRow {
  id: string;
  merchant_id: string;
  amount_minor: string;
  currency: string;
  status: PaymentStatus;
  captured_minor: string;
  refunded_minor: string;
  reference: string | null;
  metadata: Record<string, string>;
  capture_before: Date | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** A payment row with its captures and refunds (OPERATIONS_JSON), as JSON. */
interface DetailedRow extends PaymentRow {
  operations: {
    id: string;
    type: PaymentEventType;
    amount: number;
    reference: string | null;
    final: boolean | null;
    createdAt: string;
  }[];
}

interface IdempotencyRow {
  request_hash: string;
  response_status: number;
  response_body: unknown;
}

interface AuthorizeRow {
  /** The in-flight lock was free (taken by this statement). */
  free: boolean;
  /** Set when the authorization was written. */
  event_id: string | null;
}

/**
 * Retry-After of a 409 for a key in flight: the holder is one transaction of a few
 * milliseconds, so the retry a second later finds its answer.
 */
export const IN_FLIGHT_RETRY_AFTER_SECONDS = 1;

const PAYMENT_COLUMNS =
  "id, merchant_id, amount_minor, currency, status, captured_minor, refunded_minor, reference, " +
  "metadata, capture_before, version, created_at, updated_at";

/** The same columns of `payments p`, for queries that join. */
const P_COLUMNS = PAYMENT_COLUMNS.split(", ")
  .map((c) => `p.${c}`)
  .join(", ");

/** A payment's captures and refunds from its events, in the order they happened. */
const OPERATIONS_JSON = `
CROSS JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object(
           'id', e.operation_id, 'type', e.event_type, 'amount', e.amount_minor,
           'reference', e.operation_reference, 'final', e.final_capture, 'createdAt', e.created_at)
         ORDER BY e.payment_version), '[]'::json) AS operations
  FROM payment_events e
  WHERE e.payment_id = p.id AND e.operation_id IS NOT NULL
) ops`;

function toPayment(row: PaymentRow): Payment {
  // bigint columns arrive as text; every amount is at most 10^12, well inside 2^53.
  return {
    id: row.id,
    merchantId: row.merchant_id,
    amount: Number(row.amount_minor),
    currency: row.currency,
    status: row.status,
    capturedAmount: Number(row.captured_minor),
    refundedAmount: Number(row.refunded_minor),
    reference: row.reference,
    metadata: row.metadata,
    captureBefore: row.capture_before,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toOperations(row: DetailedRow): PaymentOperation[] {
  return row.operations.map((o) => ({
    kind: o.type === PAYMENT_EVENTS.captured ? "capture" : "refund",
    id: o.id,
    amount: Number(o.amount),
    reference: o.reference,
    final: o.final,
    createdAt: new Date(o.createdAt),
  }));
}

function detailedView(row: DetailedRow): PaymentView {
  return toView(toPayment(row), toOperations(row));
}

/**
 * The in-flight lock of (merchant, key): a transaction-scoped advisory lock on the writer, taken
 * with pg_try_advisory_xact_lock, so a concurrent duplicate is turned away (409, Stripe's
 * `idempotency_key_in_use`) instead of queueing behind the first attempt, in the same round trip
 * that writes or reads the key. PostgreSQL releases it when the transaction ends, commit,
 * rollback or a dropped connection ("Advisory Locks", www.postgresql.org/docs/16/
 * explicit-locking.html#ADVISORY-LOCKS: "Transaction-level lock requests ... are automatically
 * released at the end of the transaction, and there is no explicit unlock operation"), so a
 * crashed attempt frees its key at once rather than after a lease lapses. It lives on the one
 * writer of the global database, so it holds across regions, which a DynamoDB conditional write
 * (evaluated in its own region only) never did.
 *
 * The key is a 64-bit hash of `merchant#key` (merchant ids cannot contain '#'). Two different
 * keys in flight at the same moment may share a hash (about 1 in 2^64 per pair): the second then
 * gets a retryable 409, never a wrong answer, since only idempotency_keys answers a request. The
 * migrator's session lock (migrator.ts) lives in the same single-key space: the same odds.
 */
export const IN_FLIGHT_LOCK = (merchantParam: string, keyParam: string) =>
  `pg_try_advisory_xact_lock(hashtextextended(${merchantParam}::text || '#' || ${keyParam}::text, ${IN_FLIGHT_LOCK_SEED}))`;
/** Seed of the lock's hash: any fixed value; changing it between versions would let a duplicate
 * of an in-flight request through to wait on the unique key (still one payment, no 409). */
const IN_FLIGHT_LOCK_SEED = 15;

// One statement: the in-flight lock, then the idempotency record claims the key (waiting for a
// concurrent holder of the same key to commit or roll back), and the payment and its outbox row
// exist only if both succeeded. One row back: `free` false means another attempt holds the key
// right now; a null event_id with `free` true means the key was already taken (replay).
const AUTHORIZE_SQL = `
WITH in_flight AS (
  SELECT ${IN_FLIGHT_LOCK("$2", "$6")} AS free
), claim AS (
  INSERT INTO idempotency_keys
    (merchant_id, idempotency_key, operation, request_hash, payment_id, response_status,
     response_body, created_at, request_id, origin_region)
  SELECT $2::text, $6::text, 'authorize', $7::text, $1::uuid, 201, $10::json, $9::timestamptz,
         $13::text, $8::text
  FROM in_flight WHERE free
  ON CONFLICT (merchant_id, idempotency_key) DO NOTHING
  RETURNING payment_id
), payment AS (
  INSERT INTO payments
    (id, merchant_id, card_token, amount_minor, currency, status, origin_region, created_at,
     updated_at, reference, metadata, capture_before)
  SELECT payment_id, $2::text, $3::text, $4::bigint, $5::char(3), 'authorized', $8::text,
         $9::timestamptz, $9::timestamptz, $14::text, $15::jsonb, $16::timestamptz
  FROM claim
  RETURNING id
), event AS (
  INSERT INTO payment_events
    (event_id, payment_id, event_type, amount_minor, currency, detail, origin_region, created_at,
     payment_version, request_id)
  SELECT $11::uuid, id, '${PAYMENT_EVENTS.authorized}', $4::bigint, $5::char(3), $12::json,
         $8::text, $9::timestamptz, 1, $13::text
  FROM payment
  RETURNING event_id
)
SELECT free, (SELECT event_id FROM event) AS event_id FROM in_flight`;

/** The key's recorded answer (if any) and its in-flight lock, in one round trip: the first
 * statement of every transition. */
const FIND_AND_LOCK_IDEMPOTENCY_SQL = `
SELECT l.free, k.request_hash, k.response_status, k.response_body
FROM (SELECT ${IN_FLIGHT_LOCK("$1", "$2")} AS free) l
LEFT JOIN idempotency_keys k ON k.merchant_id = $1 AND k.idempotency_key = $2`;

const FIND_IDEMPOTENCY_SQL = `
SELECT request_hash, response_status, response_body
FROM idempotency_keys WHERE merchant_id = $1 AND idempotency_key = $2`;

/**
 * A replay proves the recorded answer durable before answering it (review 23 H1). The answer's
 * commit may be one the client never saw confirmed (503 commit_unconfirmed: a commit wait cut by
 * a terminate, a cancel or a lost connection leaves the transaction "committed locally" and
 * visible, "marked fully committed once the primary database recovers",
 * https://www.postgresql.org/docs/16/warm-standby.html#SYNCHRONOUS-REPLICATION-HA), so reading
 * it back proves nothing about the secondary. This statement is a small write of its own: a row
 * lock on the record's payment (FOR KEY SHARE, the weakest: it waits only for a transaction
 * holding the payment FOR UPDATE, i.e. a capture of the same payment in flight). A row lock is
 * WAL-logged and takes a transaction id, so its commit is a real commit that waits where the
 * original's did: behind synchronous replication here (PostgreSQL waits for the standby only
 * for a transaction that has an xid and wrote WAL, src/backend/access/transam/xact.c
 * RecordTransactionCommit), behind `rds.global_db_rpo` on Aurora, which "Blocks the
 * transaction if all secondary DB clusters have RPO lag times that are larger than the RPO ...
 * no transactions can commit until the RPO is met" ("Managing RPOs for Aurora PostgreSQL-based
 * global databases", https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/
 * aurora-global-database-disaster-recovery.html#aurora-global-database-manage-recovery).
 * Why this commit covers the original: the original's commit record was written to WAL before
 * its row became visible to this statement, so this commit's record comes later in WAL; WAL is
 * shipped and replayed in order, and a synchronous standby confirms a position, not a
 * transaction ("the commit record of the transaction ... written to WAL on both the primary and
 * the standby", "each commit ... waits until ... confirmation", www.postgresql.org/docs/16/
 * warm-standby.html#SYNCHRONOUS-REPLICATION). What rds.global_db_rpo guarantees is a bound,
 * not a copy: once this commit is let through, some secondary's RPO lag was under the bound,
 * so a failover loses at most rds.global_db_rpo seconds of commits, and the original, older
 * in WAL, is lost only if this one is lost too: the same promise every acknowledged commit gets.
 * A commit the guard pauses, cancels or cuts is CommitUnconfirmedError again (committing()).
 * Read by the writer only (the guard refuses writes elsewhere); the app role's UPDATE on
 * payments covers FOR KEY SHARE (www.postgresql.org/docs/16/sql-select.html, "The Locking
 * Clause").
 */
const CONFIRM_IDEMPOTENCY_SQL = `
SELECT k.request_hash, k.response_status, k.response_body
FROM idempotency_keys k JOIN payments p ON p.id = k.payment_id
WHERE k.merchant_id = $1 AND k.idempotency_key = $2
FOR KEY SHARE OF p`;

const INSERT_EVENT_SQL = `
INSERT INTO payment_events
  (event_id, payment_id, event_type, amount_minor, currency, detail, origin_region, created_at,
   payment_version, operation_id, operation_reference, final_capture, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`;

const CLAIM_KEY_SQL = `
INSERT INTO idempotency_keys
  (merchant_id, idempotency_key, operation, request_hash, payment_id, response_status,
   response_body, created_at, request_id, origin_region)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (merchant_id, idempotency_key) DO NOTHING
RETURNING payment_id`;

const UPDATE_PAYMENT_SQL = `
UPDATE payments
SET status = $2, captured_minor = $3, refunded_minor = $4,
    updated_at = GREATEST($5::timestamptz, updated_at)
WHERE id = $1
RETURNING ${PAYMENT_COLUMNS}`;

/**
 * The lifecycle constraints of 001/005, as domain errors. The plan refuses these first; this
 * only matters if code and schema ever disagree (the database wins).
 */
function refusedByDatabase(error: unknown, current: Payment, operation: string): Error | undefined {
  const { code, constraint } = (error ?? {}) as { code?: string; constraint?: string };
  if (code !== "23514") return undefined;
  if (constraint === "payments_refund_within_capture") {
    return new RefundExceedsCapturedError(current.capturedAmount - current.refundedAmount);
  }
  return new IllegalTransitionError(current.status, operation);
}

function recorded(row: IdempotencyRow): RecordedAnswer {
  return {
    requestHash: row.request_hash,
    statusCode: row.response_status,
    body: row.response_body,
  };
}

function replay(row: IdempotencyRow | undefined, requestHash: string): WriteResult {
  if (!row) {
    // The conflicting record is committed (we waited for it) and records are never deleted.
    throw new Error("idempotency record vanished after a key conflict");
  }
  return { ...replayOf(recorded(row), requestHash), events: [] };
}

async function findRecord(
  db: Queryable,
  merchantId: string,
  key: string,
): Promise<IdempotencyRow | undefined> {
  const { rows } = await db.query<IdempotencyRow>(FIND_IDEMPOTENCY_SQL, [merchantId, key]);
  return rows[0];
}

/**
 * The key's recorded answer, proven durable (CONFIRM_IDEMPOTENCY_SQL). On a client with no
 * transaction open the statement commits itself; inside a transaction (`inTransaction`) it only
 * takes the lock, and the caller's COMMIT, run through committing(), proves it.
 */
async function confirmedRecord(
  client: PoolClient,
  merchantId: string,
  key: string,
  inTransaction = false,
): Promise<IdempotencyRow | undefined> {
  const run = () => client.query<IdempotencyRow>(CONFIRM_IDEMPOTENCY_SQL, [merchantId, key]);
  const { rows } = inTransaction
    ? await run()
    : await committing(client, "the replay's confirming commit", run);
  return rows[0];
}

/** The one statement of an authorization, its answer and its event (shared with the benchmark). */
export function authorizeStatement(input: NewAuthorization): {
  text: string;
  values: unknown[];
  body: PaymentView;
  event: OutboxEvent;
} {
  const payment: Payment = {
    id: input.paymentId,
    merchantId: input.merchantId,
    amount: input.amount,
    currency: input.currency,
    status: "authorized",
    capturedAmount: 0,
    refundedAmount: 0,
    reference: input.reference,
    metadata: input.metadata,
    captureBefore: input.captureBefore,
    version: 1,
    createdAt: input.at,
    updatedAt: input.at,
  };
  const body = toView(payment, []);
  const detail = JSON.stringify(
    eventDetail(
      payment,
      { eventType: PAYMENT_EVENTS.authorized, eventAmount: input.amount },
      { eventId: input.eventId, originRegion: input.originRegion, requestId: input.requestId },
    ),
  );
  return {
    text: AUTHORIZE_SQL,
    values: [
      input.paymentId,
      input.merchantId,
      input.cardToken,
      input.amount,
      input.currency,
      input.idempotencyKey,
      input.requestHash,
      input.originRegion,
      input.at,
      JSON.stringify(body),
      input.eventId,
      detail,
      input.requestId,
      input.reference,
      JSON.stringify(input.metadata),
      input.captureBefore,
    ],
    body,
    event: { eventId: input.eventId, type: PAYMENT_EVENTS.authorized, detail, createdAt: input.at },
  };
}

export const MARK_PUBLISHED_SQL = `
UPDATE payment_events
SET published_at = now(), publish_attempts = publish_attempts + 1, last_error = NULL
WHERE event_id = ANY($1::uuid[]) AND published_at IS NULL`;

/** Writes a planned change: the payment row and its event, in the caller's transaction. */
async function applyChange(
  client: PoolClient,
  current: Payment,
  change: PlannedChange,
  context: {
    operation: string;
    eventId: string;
    originRegion: string;
    requestId: string | null;
    at: Date;
  },
): Promise<{ payment: Payment; event: OutboxEvent }> {
  const updated = await client
    .query<PaymentRow>(UPDATE_PAYMENT_SQL, [
      current.id,
      change.status,
      change.capturedAmount,
      change.refundedAmount,
      context.at,
    ])
    .catch((error: unknown) => {
      throw refusedByDatabase(error, current, context.operation) ?? error;
    });
  const payment = toPayment(updated.rows[0]!);
  const detail = JSON.stringify(eventDetail(payment, change, context));
  const { operation } = change;
  await client.query(INSERT_EVENT_SQL, [
    context.eventId,
    payment.id,
    change.eventType,
    change.eventAmount,
    payment.currency,
    detail,
    context.originRegion,
    context.at,
    payment.version,
    operation?.id ?? null,
    operation?.reference ?? null,
    operation?.kind === "capture" ? operation.final : null,
    context.requestId,
  ]);
  return {
    payment,
    event: { eventId: context.eventId, type: change.eventType, detail, createdAt: context.at },
  };
}

/**
 * The page query of GET /payments: keyset pagination on payments_merchant_created (merchant_id,
 * created_at), newest first with ties broken by id (Stripe lists "in reverse chronological
 * order"), one row more than the page to tell whether more follow. With a reference filter,
 * payments_merchant_reference serves it; with a status filter, payments_merchant_status_created
 * (006), so a rare status does not walk the merchant's whole history. `cursor` is the (id, created_at) of the payment named
 * by startingAfter / endingBefore; endingBefore reads the other way and the caller reverses.
 */
export function listStatement(
  query: ListQuery,
  cursor?: { id: string; createdAt: Date },
): { text: string; values: unknown[] } {
  const values: unknown[] = [query.merchantId];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const where = ["p.merchant_id = $1"];
  if (query.status) where.push(`p.status = ${param(query.status)}`);
  if (query.reference) where.push(`p.reference = ${param(query.reference)}`);
  const { gt, gte, lt, lte } = query.created;
  if (gt) where.push(`p.created_at > ${param(gt)}`);
  if (gte) where.push(`p.created_at >= ${param(gte)}`);
  if (lt) where.push(`p.created_at < ${param(lt)}`);
  if (lte) where.push(`p.created_at <= ${param(lte)}`);
  const backwards = query.endingBefore !== undefined;
  if (cursor) {
    const c = param(cursor.createdAt);
    const i = param(cursor.id);
    // (created_at, id) beyond the cursor, spelled so the index range on created_at applies.
    where.push(
      backwards
        ? `p.created_at >= ${c} AND (p.created_at > ${c} OR p.id > ${i})`
        : `p.created_at <= ${c} AND (p.created_at < ${c} OR p.id < ${i})`,
    );
  }
  const order = backwards ? "p.created_at ASC, p.id ASC" : "p.created_at DESC, p.id DESC";
  return {
    text: `SELECT ${P_COLUMNS}, ops.operations FROM (
  SELECT * FROM payments p WHERE ${where.join(" AND ")}
  ORDER BY ${order} LIMIT ${param(query.limit + 1)}
) p ${OPERATIONS_JSON}
ORDER BY ${order}`,
    values,
  };
}

export class PostgresPaymentStore implements PaymentStore, ExpiryStore, OutboxStore {
  constructor(private readonly db: Database) {}

  async recordedAnswer(merchantId: string, key: string): Promise<RecordedAnswer | undefined> {
    const row = await findRecord(this.db, merchantId, key);
    return row && recorded(row);
  }

  async authorize(input: NewAuthorization): Promise<WriteResult> {
    const statement = authorizeStatement(input);
    return this.db.withClient(async (client) => {
      // One statement in autocommit: its commit is this query's own, and ends as a COMMIT does
      // (a commit wait cancelled, timed out, or cut by a lost connection is unconfirmed).
      const { rows } = await committing(client, "the authorization's commit", () =>
        client.query<AuthorizeRow>(statement.text, statement.values),
      );
      const { free, event_id: written } = rows[0]!;
      if (written) {
        return {
          statusCode: 201,
          body: statement.body,
          replayed: false,
          events: [statement.event],
        };
      }
      const earlier = await confirmedRecord(client, input.merchantId, input.idempotencyKey);
      // Held by an attempt still running: its answer is not committed yet, so there is none to
      // replay (if it committed in between, the record is read here and replayed).
      if (!free && !earlier) throw new IdempotencyKeyInUseError(IN_FLIGHT_RETRY_AFTER_SECONDS);
      return replay(earlier, input.requestHash);
    });
  }

  async transition(input: TransitionRequest): Promise<WriteResult> {
    try {
      return await this.db.transaction((client) => this.transitionIn(client, input));
    } catch (error) {
      if (!(error instanceof KeyTakenError)) throw error;
      // Rolled back: the key went to another request while this one ran. Answer as it did.
      return replay(
        await this.db.withClient((client) =>
          confirmedRecord(client, input.merchantId, input.idempotencyKey),
        ),
        input.requestHash,
      );
    }
  }

  private async transitionIn(client: PoolClient, input: TransitionRequest): Promise<WriteResult> {
    // The key is checked first: a retried capture must replay, not hit 409, and a key the
    // merchant used on another payment is refused before that payment is even looked at.
    // In the same round trip, the key's in-flight lock (IN_FLIGHT_LOCK), held until this
    // transaction ends: a concurrent duplicate is answered 409 instead of queueing on the row.
    const { rows: keyRows } = await client.query<IdempotencyRow & { free: boolean }>(
      FIND_AND_LOCK_IDEMPOTENCY_SQL,
      [input.merchantId, input.idempotencyKey],
    );
    const { free, ...earlier } = keyRows[0]!;
    if (earlier.request_hash !== null) {
      // Proven durable by this transaction's COMMIT (CONFIRM_IDEMPOTENCY_SQL), before answering.
      const confirmed = await confirmedRecord(client, input.merchantId, input.idempotencyKey, true);
      return replay(confirmed, input.requestHash);
    }
    if (!free) throw new IdempotencyKeyInUseError(IN_FLIGHT_RETRY_AFTER_SECONDS);

    // Lock first, then read the captures and refunds in a statement of their own. In READ
    // COMMITTED a FOR UPDATE that waited re-reads only the locked row (EvalPlanQual); anything
    // else in the same statement, such as the operations, would keep the snapshot taken before
    // the wait, so a racing capture would be answered (and recorded) with a stale list and the
    // per-payment limits would count too few ("Read Committed Isolation Level",
    // www.postgresql.org/docs/16/transaction-iso.html). The next statement takes a new snapshot,
    // which includes every commit made before this lock was granted.
    // Another merchant's payment is not found: the same 404 as an id that does not exist.
    const locked = await client.query<PaymentRow>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1 AND merchant_id = $2 FOR UPDATE`,
      [input.paymentId, input.merchantId],
    );
    const row = locked.rows[0];
    if (!row) throw new PaymentNotFoundError(input.paymentId);
    const current = toPayment(row);
    const { rows: opsRows } = await client.query<Pick<DetailedRow, "operations">>(
      `SELECT ops.operations FROM (SELECT $1::uuid AS id) p ${OPERATIONS_JSON}`,
      [input.paymentId],
    );
    const operations = toOperations({ ...row, operations: opsRows[0]!.operations });

    let change: PlannedChange;
    try {
      change = input.plan(current, operations);
    } catch (error) {
      const refused = input.refusal(error);
      if (!refused) throw error;
      // The refusal is this request's answer: recorded under its key, replayed to a retry.
      await this.claimKey(client, input, refused.statusCode, refused.body);
      return { ...refused, replayed: false, events: [] };
    }
    const { payment, event } = await applyChange(client, current, change, input);
    const created = change.operation && { ...change.operation, createdAt: input.at };
    const view = toView(payment, created ? [...operations, created] : operations);
    const answer = input.respond(view, created);
    await this.claimKey(client, input, answer.statusCode, answer.body);
    return { ...answer, replayed: false, events: [event] };
  }

  /** Records the answer under the key; throws KeyTakenError (rolling back) if it is taken. */
  private async claimKey(
    client: PoolClient,
    input: TransitionRequest,
    statusCode: number,
    body: unknown,
  ): Promise<void> {
    const claimed = await client.query(CLAIM_KEY_SQL, [
      input.merchantId,
      input.idempotencyKey,
      input.operation,
      input.requestHash,
      input.paymentId,
      statusCode,
      JSON.stringify(body),
      input.at,
      input.requestId,
      input.originRegion,
    ]);
    // Taken meanwhile by a request on another payment of this merchant: undo ours.
    if (claimed.rows.length === 0) throw new KeyTakenError();
  }

  async find(merchantId: string, paymentId: string): Promise<PaymentView | undefined> {
    const { rows } = await this.db.query<DetailedRow>(
      `SELECT ${P_COLUMNS}, ops.operations FROM payments p ${OPERATIONS_JSON}
       WHERE p.id = $1 AND p.merchant_id = $2`,
      [paymentId, merchantId],
    );
    return rows[0] && detailedView(rows[0]);
  }

  /** A page of the merchant's payments (listStatement), or undefined for a foreign cursor. */
  async list(query: ListQuery): Promise<ListPage | undefined> {
    const cursorId = query.startingAfter ?? query.endingBefore;
    let cursor: { id: string; createdAt: Date } | undefined;
    if (cursorId !== undefined) {
      const { rows } = await this.db.query<{ created_at: Date }>(
        "SELECT created_at FROM payments WHERE id = $1 AND merchant_id = $2",
        [cursorId, query.merchantId],
      );
      if (!rows[0]) return undefined;
      cursor = { id: cursorId, createdAt: rows[0].created_at };
    }
    const statement = listStatement(query, cursor);
    const { rows } = await this.db.query<DetailedRow>(statement.text, statement.values);
    const hasMore = rows.length > query.limit;
    const page = rows.slice(0, query.limit).map(detailedView);
    return { data: query.endingBefore ? page.reverse() : page, hasMore };
  }

  async expireDue(
    at: Date,
    limit: number,
    context: { originRegion: string; newId: () => string; beforeCommit: (count: number) => void },
  ): Promise<ExpiryBatch> {
    return this.db.transaction(async (client) => {
      const { rows } = await client.query<PaymentRow>(
        `SELECT ${PAYMENT_COLUMNS} FROM payments
         WHERE status IN ('authorized', 'partially_captured') AND capture_before <= $1
         ORDER BY capture_before
         LIMIT $2
         FOR UPDATE SKIP LOCKED`,
        [at, limit],
      );
      const events: OutboxEvent[] = [];
      for (const row of rows) {
        const current = toPayment(row);
        const { event } = await applyChange(client, current, planExpire(current), {
          operation: "expire",
          eventId: context.newId(),
          originRegion: context.originRegion,
          requestId: null,
          at,
        });
        events.push(event);
      }
      context.beforeCommit(rows.length);
      return { expired: rows.length, events };
    });
  }

  async pruneIdempotencyRecords(
    before: Date,
    limit: number,
    beforeCommit: (count: number) => void,
  ): Promise<number> {
    // idempotency_keys_created (006) finds the oldest; the write-once trigger refuses any
    // record younger than the retention floor whatever `before` says.
    return this.db.transaction(async (client) => {
      const { rowCount } = await client.query(
        `DELETE FROM idempotency_keys
         WHERE (merchant_id, idempotency_key) IN (
           SELECT merchant_id, idempotency_key FROM idempotency_keys
           WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
        [before, limit],
      );
      beforeCommit(rowCount ?? 0);
      return rowCount ?? 0;
    });
  }

  async markPublished(eventIds: readonly string[]): Promise<void> {
    if (eventIds.length === 0) return;
    await this.db.query(MARK_PUBLISHED_SQL, [eventIds]);
  }

  async relay(
    limit: number,
    exclude: readonly string[],
    publish: (events: readonly OutboxEvent[]) => Promise<readonly PublishOutcome[]>,
  ): Promise<readonly PublishOutcome[]> {
    return this.db.transaction(async (client) => {
      const { rows } = await client.query<{
        event_id: string;
        event_type: OutboxEvent["type"];
        detail: string;
        created_at: Date;
      }>(
        `SELECT event_id, event_type, detail::text AS detail, created_at
         FROM payment_events
         WHERE published_at IS NULL AND NOT (event_id = ANY($2::uuid[]))
         ORDER BY created_at
         LIMIT $1
         FOR UPDATE SKIP LOCKED`,
        [limit, exclude],
      );
      if (rows.length === 0) return [];
      const outcomes = await publish(
        rows.map((r) => ({
          eventId: r.event_id,
          type: r.event_type,
          detail: r.detail,
          createdAt: r.created_at,
        })),
      );
      const published = outcomes.filter((o) => o.ok).map((o) => o.eventId);
      const failed = outcomes.filter((o) => !o.ok);
      if (published.length > 0) {
        await client.query(
          `UPDATE payment_events
           SET published_at = now(), publish_attempts = publish_attempts + 1, last_error = NULL
           WHERE event_id = ANY($1::uuid[])`,
          [published],
        );
      }
      if (failed.length > 0) {
        await client.query(
          `UPDATE payment_events AS e
           SET publish_attempts = e.publish_attempts + 1, last_error = f.error
           FROM unnest($1::uuid[], $2::text[]) AS f(event_id, error)
           WHERE e.event_id = f.event_id`,
          [failed.map((f) => f.eventId), failed.map((f) => f.error ?? "unknown error")],
        );
      }
      return outcomes;
    });
  }
}

/** Internal: the idempotency key was claimed by a concurrent request; roll back and replay. */
class KeyTakenError extends Error {
  override name = "KeyTakenError";
  constructor() {
    super("idempotency key taken by a concurrent request");
  }
}
