// Field rules of the payments API. Pure: no I/O, no AWS.
import { ISO_4217_CURRENCIES } from "./currencies";
import { MerchantMismatchError, RequestValidationError } from "./errors";

/** Largest amount accepted, in minor units (10^12: ten billion of a two-decimal currency). */
export const MAX_AMOUNT_MINOR = 1_000_000_000_000;

/** Merchant ids: as checked by payments_merchant_id_format (001_payments.sql). */
export const MERCHANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
// Vault tokens: a letter first, then letters, digits, '_' or '-'; 8 to 128 characters.
const CARD_TOKEN = /^[A-Za-z][A-Za-z0-9_-]{7,127}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Digits in a row (spaces and dashes between them ignored) that make a string look like a PAN. */
export const PAN_MIN_DIGITS = 13;

/**
 * True when `value` holds 13 or more digits in a row, counting spaces and dashes between digits
 * as part of the run: "4111111111111111", "4111 1111 1111 1111", "tok-4111-1111-1111-1". Luhn is
 * not checked (a Luhn-invalid number is still card-like data we must not store), and longer runs
 * are rejected too: they contain a 13-19 digit PAN.
 */
export function looksLikePan(value: string): boolean {
  let run = 0;
  for (const ch of value) {
    if (ch >= "0" && ch <= "9") {
      run += 1;
      if (run >= PAN_MIN_DIGITS) return true;
    } else if (ch !== "-" && !/\s/.test(ch)) {
      run = 0;
    }
  }
  return false;
}

/** Throws 400 unless `body` has every required field and nothing else. */
export function expectFields(
  body: Record<string, unknown>,
  required: readonly string[],
  optional: readonly string[] = [],
): void {
  for (const key of Object.keys(body)) {
    if (!required.includes(key) && !optional.includes(key)) {
      throw new RequestValidationError(400, "unknown_field", `unknown field ${key}`, key);
    }
  }
  for (const key of required) {
    if (!(key in body)) {
      throw new RequestValidationError(400, "missing_field", `${key} is required`, key);
    }
  }
}

/** A positive whole number of minor units, at most 10^12. */
export function parseAmount(value: unknown, field = "amount"): number {
  if (
    typeof value !== "number" ||
    !Number.isSafeInteger(value) ||
    value <= 0 ||
    value > MAX_AMOUNT_MINOR
  ) {
    throw new RequestValidationError(
      422,
      "invalid_amount",
      `${field} must be a whole number of minor units from 1 to ${MAX_AMOUNT_MINOR}`,
      field,
    );
  }
  return value;
}

export function parseCurrency(value: unknown): string {
  if (typeof value !== "string" || !ISO_4217_CURRENCIES.has(value)) {
    throw new RequestValidationError(
      422,
      "unknown_currency",
      "currency must be an upper-case ISO 4217 code of a circulating currency",
      "currency",
    );
  }
  return value;
}

function rejectPan(value: string, field: string): void {
  if (looksLikePan(value)) {
    // Never echo the value: it may be a card number.
    throw new RequestValidationError(
      422,
      "pan_not_allowed",
      `${field} looks like a card number; send a vault token, never a PAN`,
      field,
    );
  }
}

export function parseMerchantId(value: unknown): string {
  if (typeof value === "string") rejectPan(value, "merchantId");
  if (typeof value !== "string" || !MERCHANT_ID_PATTERN.test(value)) {
    throw new RequestValidationError(
      422,
      "invalid_merchant_id",
      "merchantId must be 1 to 64 letters, digits, '_' or '-'",
      "merchantId",
    );
  }
  return value;
}

/**
 * The merchant a request acts for: the one its API key is bound to. A body may repeat it (older
 * clients send it); a well-formed id of another merchant is refused with 403, never acted on.
 */
export function resolveMerchantId(value: unknown, keyMerchant: string): string {
  if (value === undefined) return keyMerchant;
  const sent = parseMerchantId(value);
  if (sent !== keyMerchant) throw new MerchantMismatchError(sent, keyMerchant);
  return sent;
}

export function parseCardToken(value: unknown): string {
  if (typeof value === "string") rejectPan(value, "cardToken");
  if (typeof value !== "string" || !CARD_TOKEN.test(value)) {
    throw new RequestValidationError(
      422,
      "invalid_card_token",
      "cardToken must be a vault token: a letter, then 7 to 127 letters, digits, '_' or '-'",
      "cardToken",
    );
  }
  return value;
}

export function parseIdempotencyKey(value: string | undefined): string {
  if (value === undefined || value === "") {
    throw new RequestValidationError(
      400,
      "missing_idempotency_key",
      "the Idempotency-Key header is required",
      "Idempotency-Key",
    );
  }
  if (!IDEMPOTENCY_KEY.test(value)) {
    throw new RequestValidationError(
      400,
      "invalid_idempotency_key",
      "Idempotency-Key must be 1 to 255 visible ASCII characters",
      "Idempotency-Key",
    );
  }
  return value;
}

/** The optional checkout session of an authorization (header `x-session-id`). */
export function parseSessionId(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  rejectPan(value, "x-session-id");
  if (!SESSION_ID.test(value)) {
    throw new RequestValidationError(
      400,
      "invalid_session_id",
      "x-session-id must be 1 to 128 letters, digits, '_' or '-'",
      "x-session-id",
    );
  }
  return value;
}

/** Payment ids are lower-case UUIDs (as issued); anything else cannot name a payment. */
export function isPaymentId(value: string | undefined): value is string {
  return value !== undefined && UUID.test(value);
}
