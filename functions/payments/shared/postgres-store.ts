// PaymentStore and OutboxStore on PostgreSQL. Every write is one transaction holding the payment
// change, its outbox row and its idempotency record, so a request either happened completely or
// not at all, and a retried request finds its own earlier answer.
import type { PoolClient } from "pg";
import type { Database, Queryable } from "./database";
import { replayOf } from "./idempotency";
import type { RecordedAnswer } from "./idempotency";
import { IllegalTransitionError, PaymentNotFoundError, RefundExceedsCapturedError } from "./errors";
import { PAYMENT_EVENTS } from "../../common/contract";
import { eventDetail, toView } from "./payment";
import type { Payment, PaymentStatus, PaymentView, PlannedChange } from "./payment";
import type {
  NewAuthorization,
  OutboxEvent,
  OutboxStore,
  PaymentStore,
  PublishOutcome,
  TransitionRequest,
  WriteResult,
} from "./ports";

interface PaymentRow {
  id: string;
  merchant_id: string;
  amount_minor: string;
  currency: string;
  status: PaymentStatus;
  captured_minor: string;
  refunded_minor: string;
  created_at: Date;
  updated_at: Date;
}

interface IdempotencyRow {
  request_hash: string;
  response_status: number;
  response_body: unknown;
}

const PAYMENT_COLUMNS =
  "id, merchant_id, amount_minor, currency, status, captured_minor, refunded_minor, created_at, updated_at";

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
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

// One statement: the idempotency record claims the key (waiting for a concurrent holder of the
// same key to commit or roll back), and the payment and its outbox row exist only if the claim
// succeeded. No row back means the key was already taken.
const AUTHORIZE_SQL = `
WITH claim AS (
  INSERT INTO idempotency_keys
    (merchant_id, idempotency_key, operation, request_hash, payment_id, response_status, response_body, created_at)
  VALUES ($2, $6, 'authorize', $7, $1, 201, $10, $9)
  ON CONFLICT (merchant_id, idempotency_key) DO NOTHING
  RETURNING payment_id
), payment AS (
  INSERT INTO payments
    (id, merchant_id, card_token, amount_minor, currency, status, origin_region, created_at, updated_at)
  SELECT payment_id, $2::text, $3::text, $4::bigint, $5::char(3), 'authorized', $8::text, $9::timestamptz, $9::timestamptz
  FROM claim
  RETURNING id
)
INSERT INTO payment_events
  (event_id, payment_id, event_type, amount_minor, currency, detail, origin_region, created_at)
SELECT $11::uuid, id, '${PAYMENT_EVENTS.authorized}', $4::bigint, $5::char(3), $12::json, $8::text, $9::timestamptz
FROM payment
RETURNING event_id`;

const FIND_IDEMPOTENCY_SQL = `
SELECT request_hash, response_status, response_body
FROM idempotency_keys WHERE merchant_id = $1 AND idempotency_key = $2`;

const INSERT_EVENT_SQL = `
INSERT INTO payment_events
  (event_id, payment_id, event_type, amount_minor, currency, detail, origin_region, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;

const CLAIM_KEY_SQL = `
INSERT INTO idempotency_keys
  (merchant_id, idempotency_key, operation, request_hash, payment_id, response_status, response_body, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (merchant_id, idempotency_key) DO NOTHING
RETURNING payment_id`;

/**
 * The lifecycle constraints of 001_payments.sql, as domain errors. The plan refuses these
 * first; this only matters if code and schema ever disagree (the database wins).
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
    createdAt: input.at,
    updatedAt: input.at,
  };
  const body = toView(payment);
  const detail = JSON.stringify(
    eventDetail(payment, {
      eventId: input.eventId,
      amount: input.amount,
      originRegion: input.originRegion,
    }),
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
    ],
    body,
    event: { eventId: input.eventId, type: PAYMENT_EVENTS.authorized, detail, createdAt: input.at },
  };
}

export const MARK_PUBLISHED_SQL = `
UPDATE payment_events
SET published_at = now(), publish_attempts = publish_attempts + 1, last_error = NULL
WHERE event_id = ANY($1::uuid[]) AND published_at IS NULL`;

export class PostgresPaymentStore implements PaymentStore, OutboxStore {
  constructor(private readonly db: Database) {}

  async recordedAnswer(merchantId: string, key: string): Promise<RecordedAnswer | undefined> {
    const { rows } = await this.db.query<IdempotencyRow>(FIND_IDEMPOTENCY_SQL, [merchantId, key]);
    return rows[0] && recorded(rows[0]);
  }

  async authorize(input: NewAuthorization): Promise<WriteResult> {
    const statement = authorizeStatement(input);
    return this.db.withClient(async (client) => {
      const { rows } = await client.query(statement.text, statement.values);
      if (rows.length === 0) {
        return replay(
          await findRecord(client, input.merchantId, input.idempotencyKey),
          input.requestHash,
        );
      }
      return { statusCode: 201, body: statement.body, replayed: false, events: [statement.event] };
    });
  }

  async transition(input: TransitionRequest): Promise<WriteResult> {
    try {
      return await this.db.transaction((client) => this.transitionIn(client, input));
    } catch (error) {
      if (!(error instanceof KeyTakenError)) throw error;
      // Rolled back: the key went to another request while this one ran. Answer as it did.
      const { rows } = await this.db.query<IdempotencyRow>(FIND_IDEMPOTENCY_SQL, [
        input.merchantId,
        input.idempotencyKey,
      ]);
      return replay(rows[0], input.requestHash);
    }
  }

  private async transitionIn(client: PoolClient, input: TransitionRequest): Promise<WriteResult> {
    // The key is checked first: a retried capture must replay, not hit 409, and a key the
    // merchant used on another payment is refused before that payment is even looked at.
    const earlier = await findRecord(client, input.merchantId, input.idempotencyKey);
    if (earlier) return replay(earlier, input.requestHash);

    // Another merchant's payment is not found: the same 404 as an id that does not exist.
    const locked = await client.query<PaymentRow>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1 AND merchant_id = $2 FOR UPDATE`,
      [input.paymentId, input.merchantId],
    );
    const row = locked.rows[0];
    if (!row) throw new PaymentNotFoundError(input.paymentId);
    const current = toPayment(row);

    let change: PlannedChange;
    try {
      change = input.plan(current);
    } catch (error) {
      const refused = input.refusal(error);
      if (!refused) throw error;
      // The refusal is this request's answer: recorded under its key, replayed to a retry.
      await this.claimKey(client, input, refused.statusCode, refused.body);
      return { ...refused, replayed: false, events: [] };
    }
    const updated = await client
      .query<PaymentRow>(
        `UPDATE payments
         SET status = $2, captured_minor = $3, refunded_minor = $4,
             updated_at = GREATEST($5::timestamptz, updated_at)
         WHERE id = $1
         RETURNING ${PAYMENT_COLUMNS}`,
        [input.paymentId, change.status, change.capturedAmount, change.refundedAmount, input.at],
      )
      .catch((error: unknown) => {
        throw refusedByDatabase(error, current, input.operation) ?? error;
      });
    const payment = toPayment(updated.rows[0]!);
    const body = toView(payment);
    const detail = JSON.stringify(
      eventDetail(payment, {
        eventId: input.eventId,
        amount: change.eventAmount,
        originRegion: input.originRegion,
      }),
    );
    await client.query(INSERT_EVENT_SQL, [
      input.eventId,
      payment.id,
      change.eventType,
      change.eventAmount,
      payment.currency,
      detail,
      input.originRegion,
      input.at,
    ]);
    await this.claimKey(client, input, 200, body);
    const event: OutboxEvent = {
      eventId: input.eventId,
      type: change.eventType,
      detail,
      createdAt: input.at,
    };
    return { statusCode: 200, body, replayed: false, events: [event] };
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
    ]);
    // Taken meanwhile by a request on another payment of this merchant: undo ours.
    if (claimed.rows.length === 0) throw new KeyTakenError();
  }

  async find(merchantId: string, paymentId: string): Promise<Payment | undefined> {
    const { rows } = await this.db.query<PaymentRow>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1 AND merchant_id = $2`,
      [paymentId, merchantId],
    );
    return rows[0] && toPayment(rows[0]);
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
