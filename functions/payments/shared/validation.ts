// Field rules of the payments API. Pure: no I/O, no AWS. Every refusal names the field, the value
// received (never a card-like value) and what is allowed.
import { currencyOf } from "./currencies";
import type { Currency } from "./currencies";
import { MerchantMismatchError, RequestValidationError } from "./errors";

/** Largest amount any currency takes, minor units: IDR's 12 digits (payments_amount_range). */
export const MAX_AMOUNT_MINOR = 1_000_000_000_000;

/** Merchant ids: as checked by payments_merchant_id_format (001_payments.sql). */
export const MERCHANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
// Vault tokens: a letter first, then letters, digits, '_' or '-'; 8 to 128 characters.
const CARD_TOKEN = /^[A-Za-z][A-Za-z0-9_-]{7,127}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Printable text without control characters (tabs and newlines included). */
const PRINTABLE = /^[^\p{Cc}]*$/u;

/** Digits in a row (spaces and dashes between them ignored) that make a string look like a PAN. */
export const PAN_MIN_DIGITS = 13;

/**
 * `reference` of a payment, capture or refund: Adyen's limit ("Maximum length: 80 characters",
 * the `reference` of /payments and of every modification).
 */
export const REFERENCE_MAX_LENGTH = 80;

/**
 * `metadata`: string values under string keys. Stripe's key and value rules ("up to 50 keys, with
 * key names up to 40 characters long and values up to 500 characters long ... you can't use
 * square brackets ([ and ]) in keys", docs.stripe.com/api/metadata) with Adyen's count ("Maximum
 * 20 key-value pairs per request"), so a full set (20 x 540 characters) fits the 16 KB body.
 */
export const METADATA_LIMITS = { keys: 20, keyLength: 40, valueLength: 500 } as const;

/** Longest run of separator characters that still joins two groups of one card number:
 * "4111 - 1111" (space, dash, space) is how some receipts print it. */
const MAX_SEPARATOR_RUN = 3;

/** Unicode decimal digits come in aligned blocks of ten, zero first (UAX #44, Nd). */
const DECIMAL_DIGIT = /\p{Nd}/u;
const LETTER = /\p{L}/u;
/** Format characters (U+200B, U+2060, bidi controls) and combining marks: they render as
 * nothing between two digits, so they must not split a card number either. */
const INVISIBLE = /[\p{Cf}\p{M}]/u;

function digitValue(ch: string): number {
  const cp = ch.codePointAt(0)!;
  let zero = cp;
  while (cp - zero < 9 && DECIMAL_DIGIT.test(String.fromCodePoint(zero - 1))) zero -= 1;
  // In a block of ten, walking back stops at its zero or after nine steps; (cp - zero) % 10
  // also holds where two blocks touch (e.g. U+1D7CE..U+1D7FF, mathematical digits).
  return (cp - zero) % 10;
}

/**
 * The digit runs of `value` as card data would be read from it: normalised first (NFKC, so
 * full-width digits are digits), every Unicode decimal digit read as its value, invisible
 * format characters (U+200B and other Cf) and combining marks dropped, and groups of digits joined across separator
 * runs of up to MAX_SEPARATOR_RUN characters that are neither letters nor digits ("4111.1111",
 * "4111_1111", "4111/1111", "4111  1111"). A letter, or a longer gap, ends a run.
 */
export function digitRuns(value: string): string[] {
  const runs: string[] = [];
  let run = "";
  let gap = 0;
  const end = () => {
    if (run) runs.push(run);
    run = "";
    gap = 0;
  };
  for (const ch of value.normalize("NFKC")) {
    if (DECIMAL_DIGIT.test(ch)) {
      run += String(digitValue(ch));
      gap = 0;
    } else if (INVISIBLE.test(ch)) {
      continue;
    } else if (LETTER.test(ch)) {
      end();
    } else if (run) {
      gap += 1;
      if (gap > MAX_SEPARATOR_RUN) end();
    }
  }
  end();
  return runs;
}

/**
 * True when `value` holds 13 or more digits in one run (digitRuns: any short separator between
 * groups, any Unicode digits): "4111111111111111", "4111 1111 1111 1111", "tok_4111_1111_1111_1111".
 * Luhn is not checked (a Luhn-invalid number is still card-like data we must not store), and
 * longer runs are rejected too: they contain a 13-19 digit PAN.
 */
export function looksLikePan(value: string): boolean {
  return digitRuns(value).some((run) => run.length >= PAN_MIN_DIGITS);
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

/** Issuer prefixes of the card networks: 3 (Amex, JCB, Diners), 4 (Visa), 5, 6, 2221-2720 (Mastercard), 81 (UnionPay). */
function cardPrefix(digits: string): boolean {
  if ("3456".includes(digits[0]!)) return true;
  const four = Number(digits.slice(0, 4));
  return (four >= 2221 && four <= 2720) || digits.startsWith("81");
}

/**
 * True when free text (a reference, a metadata value) holds a card number: 13 to 19 digits
 * anywhere in a digit run (digitRuns: across short separators, in any Unicode digits, with other
 * digits before or after it, "INV-04111111111111111") that pass the Luhn check and start like a
 * card network's number. Every window of every run is tried, not only group boundaries. Free
 * text is held to Luhn, unlike tokens (looksLikePan): order numbers such as
 * "ORDER-20260130-000123" are digits too, and refusing them would refuse the merchant's own
 * references. The price: a run of random digits is refused by chance about 5 % of the time at 13
 * digits, 24 % at 15, 36 % at 16 and 77 % at 20 (measured); a reference that needs a long number
 * should put a letter between its groups. Refusing is the safe side: a PAN that got in could not
 * be purged from the write-once ledger.
 */
export function containsPan(value: string): boolean {
  for (const digits of digitRuns(value)) {
    for (let start = 0; start + 13 <= digits.length; start++) {
      if (!cardPrefix(digits.slice(start))) continue;
      for (let length = 13; length <= 19 && start + length <= digits.length; length++) {
        if (luhn(digits.slice(start, start + length))) return true;
      }
    }
  }
  return false;
}

/** `, got <value>` for a message: JSON, cut to 60 characters; a card-like value is not shown. */
export function got(value: unknown): string {
  let text: string;
  if (value === undefined) text = "nothing";
  else if (typeof value === "number" && !Number.isFinite(value)) text = String(value);
  else text = JSON.stringify(value) ?? String(value);
  if (looksLikePan(text)) return ", got a card-like value (not shown)";
  return `, got ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}

function invalid(status: 400 | 422, code: string, field: string, message: string): never {
  throw new RequestValidationError(status, code, message, field);
}

/** Throws 400 unless `body` has every required field and nothing else. */
export function expectFields(
  body: Record<string, unknown>,
  required: readonly string[],
  optional: readonly string[] = [],
): void {
  const allowed = [...required, ...optional];
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key) && looksLikePan(key)) {
      // A card number sent as a field name: neither the message nor `field` may echo it.
      throw new RequestValidationError(
        422,
        "pan_not_allowed",
        "a field name looks like a card number; send a vault token, never a PAN",
        null,
      );
    }
    if (!allowed.includes(key)) {
      // The value is not echoed: an unknown field may well be a card number.
      invalid(
        400,
        "unknown_field",
        key,
        allowed.length === 0
          ? `unknown field ${JSON.stringify(key)}: this request takes no body fields`
          : `unknown field ${JSON.stringify(key)}; allowed: ${allowed.join(", ")}`,
      );
    }
  }
  for (const key of required) {
    if (!(key in body)) invalid(400, "missing_field", key, `${key} is required`);
  }
}

/**
 * A positive whole number of minor units within the currency's limits: a multiple of 10 in a
 * three-decimal currency, at most 8 digits (more for IDR, LBP, COP, HUF, JPY, INR).
 */
export function parseAmount(value: unknown, currency: Currency, field = "amount"): number {
  const { code, minAmount, maxAmount, step, exponent } = currency;
  if (
    typeof value !== "number" ||
    !Number.isSafeInteger(value) ||
    value < minAmount ||
    value > maxAmount
  ) {
    invalid(
      422,
      "invalid_amount",
      field,
      `${field} must be a whole number of ${code} minor units (exponent ${exponent}) from ` +
        `${minAmount} to ${maxAmount}${got(value)}`,
    );
  }
  if (value % step !== 0) {
    invalid(
      422,
      "invalid_amount",
      field,
      `${field} in ${code}, a three-decimal currency, must be a multiple of ${step} (round to ` +
        `the nearest ten, e.g. 5120 for 5.124 ${code})${got(value)}`,
    );
  }
  return value;
}

/**
 * A positive whole number of minor units, before the currency is known (capture and refund: the
 * payment's currency rules follow in the plan, with parseAmount).
 */
export function parseMinorUnits(value: unknown, field = "amount"): number {
  if (
    typeof value !== "number" ||
    !Number.isSafeInteger(value) ||
    value < 1 ||
    value > MAX_AMOUNT_MINOR
  ) {
    invalid(
      422,
      "invalid_amount",
      field,
      `${field} must be a whole number of minor units from 1 to ${MAX_AMOUNT_MINOR}${got(value)}`,
    );
  }
  return value;
}

/** An upper-case ISO 4217 code of a circulating currency, with its rules. */
export function parseCurrency(value: unknown): Currency {
  const currency = typeof value === "string" ? currencyOf(value) : undefined;
  if (!currency) {
    invalid(
      422,
      "unknown_currency",
      "currency",
      `currency must be an upper-case ISO 4217 code of a circulating currency, e.g. "EUR"${got(value)}`,
    );
  }
  return currency;
}

function rejectPan(value: string, field: string, detect = looksLikePan): void {
  if (detect(value)) {
    // Never echo the value: it may be a card number.
    invalid(
      422,
      "pan_not_allowed",
      field,
      `${field} looks like a card number (13 or more digits in a row); send a vault token, never a PAN`,
    );
  }
}

export function parseMerchantId(value: unknown): string {
  if (typeof value === "string") rejectPan(value, "merchantId");
  if (typeof value !== "string" || !MERCHANT_ID_PATTERN.test(value)) {
    invalid(
      422,
      "invalid_merchant_id",
      "merchantId",
      `merchantId must be 1 to 64 letters, digits, '_' or '-', starting with a letter or digit${got(value)}`,
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
    invalid(
      422,
      "invalid_card_token",
      "cardToken",
      `cardToken must be a vault token: a letter, then 7 to 127 letters, digits, '_' or '-'${got(value)}`,
    );
  }
  return value;
}

/** An optional `reference`: 1 to 80 printable characters, holding no card number. */
export function parseReference(value: unknown, field = "reference"): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") rejectPan(value, field, containsPan);
  if (
    typeof value !== "string" ||
    value.length === 0 ||
    value.length > REFERENCE_MAX_LENGTH ||
    !PRINTABLE.test(value)
  ) {
    invalid(
      422,
      "invalid_reference",
      field,
      `${field} must be 1 to ${REFERENCE_MAX_LENGTH} characters without control characters${got(value)}`,
    );
  }
  return value;
}

/** Optional `metadata`: an object of string values; {} when left out. */
export function parseMetadata(value: unknown): Readonly<Record<string, string>> {
  if (value === undefined) return {};
  const { keys, keyLength, valueLength } = METADATA_LIMITS;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    invalid(
      422,
      "invalid_metadata",
      "metadata",
      `metadata must be an object of up to ${keys} string values${got(value)}`,
    );
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > keys) {
    invalid(
      422,
      "invalid_metadata",
      "metadata",
      `metadata takes at most ${keys} keys, got ${entries.length}`,
    );
  }
  for (const [key, entry] of entries) {
    const field = `metadata.${key}`;
    rejectPan(key, "metadata", containsPan);
    if (key.length === 0 || key.length > keyLength || /[[\]]/.test(key) || !PRINTABLE.test(key)) {
      invalid(
        422,
        "invalid_metadata",
        "metadata",
        `metadata keys must be 1 to ${keyLength} characters without '[', ']' or control ` +
          `characters${got(key)}`,
      );
    }
    if (typeof entry === "string") rejectPan(entry, field, containsPan);
    if (typeof entry !== "string" || entry.length > valueLength || !PRINTABLE.test(entry)) {
      invalid(
        422,
        "invalid_metadata",
        field,
        `${field} must be a string of at most ${valueLength} characters without control ` +
          `characters${got(entry)}`,
      );
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/** An optional boolean field. */
export function parseBoolean(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    invalid(422, "invalid_boolean", field, `${field} must be true or false${got(value)}`);
  }
  return value;
}

export function parseIdempotencyKey(value: string | undefined): string {
  if (value === undefined || value === "") {
    invalid(
      400,
      "missing_idempotency_key",
      "Idempotency-Key",
      "the Idempotency-Key header is required on every POST: a unique string per operation, e.g. a UUID",
    );
  }
  if (!IDEMPOTENCY_KEY.test(value)) {
    invalid(
      400,
      "invalid_idempotency_key",
      "Idempotency-Key",
      `Idempotency-Key must be 1 to 255 visible ASCII characters${got(value)}`,
    );
  }
  return value;
}

/** The optional checkout session of an authorization (header `x-session-id`). */
export function parseSessionId(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  rejectPan(value, "x-session-id");
  if (!SESSION_ID.test(value)) {
    invalid(
      400,
      "invalid_session_id",
      "x-session-id",
      `x-session-id must be 1 to 128 letters, digits, '_' or '-'${got(value)}`,
    );
  }
  return value;
}

/** Payment ids are lower-case UUIDs (as issued); anything else cannot name a payment. */
export function isPaymentId(value: string | undefined): value is string {
  return value !== undefined && UUID.test(value);
}
