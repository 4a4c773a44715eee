// The SQL the previous release (migrations 001-004, commit 9495c13) sends, verbatim in shape: what
// the Lambdas still running the old code do while a deployed region's database is migrated and
// until the new code replaces them. Used to prove the migrations keep it working.
import { randomUUID } from "node:crypto";
import type { Client } from "pg";

const PAYMENT_COLUMNS =
  "id, merchant_id, amount_minor, currency, status, captured_minor, refunded_minor, version, created_at, updated_at";

/** 004-era POST /payments: the key, the payment and its event in one statement. */
export async function authorizeV4(
  sql: Client,
  input: { merchantId?: string; amount?: number; currency?: string; at?: Date } = {},
): Promise<string> {
  const id = randomUUID();
  const at = input.at ?? new Date();
  const { rows } = await sql.query(
    `WITH claim AS (
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
     SELECT $11::uuid, id, 'payments.authorized', $4::bigint, $5::char(3), $12::json, $8::text, $9::timestamptz
     FROM payment
     RETURNING event_id`,
    [
      id,
      input.merchantId ?? "merchant-1",
      "tok_legacy_abcd",
      input.amount ?? 1000,
      input.currency ?? "EUR",
      randomUUID(),
      "a".repeat(64),
      "us-east-1",
      at,
      JSON.stringify({ id }),
      randomUUID(),
      JSON.stringify({ paymentId: id }),
    ],
  );
  if (rows.length !== 1) throw new Error("004-era authorization not written");
  return id;
}

/**
 * 004-era capture (full), void and refund: lock, update, event, idempotency record, in one
 * transaction, with the amounts the old plan computed.
 */
export async function transitionV4(
  sql: Client,
  id: string,
  change: {
    type:
      "payments.captured" | "payments.voided" | "payments.partially_refunded" | "payments.refunded";
    status: string;
    captured: number;
    refunded: number;
    amount: number;
  },
): Promise<void> {
  const at = new Date();
  await sql.query("BEGIN");
  try {
    const { rows } = await sql.query(
      `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const merchantId = rows[0].merchant_id as string;
    await sql.query(
      `UPDATE payments
       SET status = $2, captured_minor = $3, refunded_minor = $4,
           updated_at = GREATEST($5::timestamptz, updated_at)
       WHERE id = $1
       RETURNING ${PAYMENT_COLUMNS}`,
      [id, change.status, change.captured, change.refunded, at],
    );
    await sql.query(
      `INSERT INTO payment_events
         (event_id, payment_id, event_type, amount_minor, currency, detail, origin_region, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [randomUUID(), id, change.type, change.amount, rows[0].currency, "{}", "us-east-1", at],
    );
    await sql.query(
      `INSERT INTO idempotency_keys
         (merchant_id, idempotency_key, operation, request_hash, payment_id, response_status, response_body, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (merchant_id, idempotency_key) DO NOTHING
       RETURNING payment_id`,
      [merchantId, randomUUID(), "capture", "b".repeat(64), id, 200, "{}", at],
    );
    await sql.query("COMMIT");
  } catch (error) {
    await sql.query("ROLLBACK");
    throw error;
  }
}

/** 004-era outbox relay: marks events published. */
export async function relayV4(sql: Client): Promise<number> {
  const { rowCount } = await sql.query(
    `UPDATE payment_events
     SET published_at = now(), publish_attempts = publish_attempts + 1, last_error = NULL
     WHERE published_at IS NULL`,
  );
  return rowCount ?? 0;
}
