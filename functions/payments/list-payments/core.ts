// GET /payments: the key's merchant's payments, newest first, a page at a time. Stripe's list
// conventions (docs.stripe.com/api/pagination): `limit` "ranging between 1 and 100" (default
// 10), `startingAfter` / `endingBefore` take a payment id ("These parameters are mutually
// exclusive"), objects "in reverse chronological order", `hasMore` says whether more lie beyond
// the page in the direction asked for. Filters: status, reference and the created range
// (`createdGt`, `createdGte`, `createdLt`, `createdLte`, as Stripe's created[gt|gte|lt|lte], in
// ISO 8601 like the createdAt the API returns). Served in either region, like GET /payments/{id}.
import { RequestValidationError } from "../shared/errors";
import { PAYMENT_STATUSES } from "../shared/payment";
import type { PaymentStatus } from "../shared/payment";
import type { ListPage, ListQuery, PaymentStore } from "../shared/ports";
import type { ApiRequest } from "../shared/runtime";
import { got, isPaymentId, looksLikePan, parseReference } from "../shared/validation";

export const LIST_LIMIT = { default: 10, max: 100 } as const;

const PARAMETERS = [
  "limit",
  "startingAfter",
  "endingBefore",
  "status",
  "reference",
  "createdGt",
  "createdGte",
  "createdLt",
  "createdLte",
] as const;

// RFC 3339 date-time: what the API returns (createdAt), with an explicit zone.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

function bad(code: string, field: string, message: string): never {
  throw new RequestValidationError(400, code, message, field);
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return LIST_LIMIT.default;
  const limit = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= LIST_LIMIT.max)) {
    bad(
      "invalid_parameter",
      "limit",
      `limit must be a whole number from 1 to ${LIST_LIMIT.max}${got(raw)}`,
    );
  }
  return limit;
}

function parseCursor(raw: string | undefined, field: string): string | undefined {
  if (raw === undefined) return undefined;
  if (!isPaymentId(raw)) {
    bad("invalid_parameter", field, `${field} must be the id of one of your payments${got(raw)}`);
  }
  return raw;
}

function parseStatus(raw: string | undefined): PaymentStatus | undefined {
  if (raw === undefined) return undefined;
  if (!PAYMENT_STATUSES.includes(raw as PaymentStatus)) {
    bad(
      "invalid_parameter",
      "status",
      `status must be one of ${PAYMENT_STATUSES.join(", ")}${got(raw)}`,
    );
  }
  return raw as PaymentStatus;
}

/** The calendar fields are real: Date would turn February 30 into March 2 without a word. */
function isRealDateTime(raw: string): boolean {
  const [y, mo, d, h, mi, se] = raw.split(/[-T:.Z+]/).map(Number) as number[];
  const days = new Date(Date.UTC(y!, mo!, 0)).getUTCDate();
  return mo! >= 1 && mo! <= 12 && d! >= 1 && d! <= days && h! < 24 && mi! < 60 && se! < 60;
}

function parseTimestamp(raw: string | undefined, field: string): Date | undefined {
  if (raw === undefined) return undefined;
  const at = TIMESTAMP.test(raw) && isRealDateTime(raw) ? new Date(raw) : undefined;
  if (!at || Number.isNaN(at.getTime())) {
    bad(
      "invalid_parameter",
      field,
      `${field} must be an ISO 8601 date-time with a zone, e.g. 2026-01-31T23:59:59Z${got(raw)}`,
    );
  }
  return at;
}

export function parseListQuery(request: ApiRequest): ListQuery {
  const query = request.query ?? {};
  for (const name of Object.keys(query)) {
    if (looksLikePan(name)) {
      throw new RequestValidationError(
        400,
        "pan_not_allowed",
        "a query parameter name looks like a card number; never send a PAN",
        null,
      );
    }
    if (!(PARAMETERS as readonly string[]).includes(name)) {
      bad(
        "unknown_parameter",
        name,
        `unknown query parameter ${JSON.stringify(name)}; allowed: ${PARAMETERS.join(", ")}`,
      );
    }
  }
  const startingAfter = parseCursor(query.startingAfter, "startingAfter");
  const endingBefore = parseCursor(query.endingBefore, "endingBefore");
  if (startingAfter && endingBefore) {
    bad(
      "parameters_exclusive",
      "endingBefore",
      "startingAfter and endingBefore are mutually exclusive: page one way at a time",
    );
  }
  let reference: string | undefined;
  try {
    reference = parseReference(query.reference);
  } catch (error) {
    // The same rule as the body field, answered as the bad query parameter it is here.
    bad("invalid_parameter", "reference", (error as Error).message);
  }
  return {
    merchantId: request.merchantId,
    limit: parseLimit(query.limit),
    startingAfter,
    endingBefore,
    status: parseStatus(query.status),
    reference,
    created: {
      gt: parseTimestamp(query.createdGt, "createdGt"),
      gte: parseTimestamp(query.createdGte, "createdGte"),
      lt: parseTimestamp(query.createdLt, "createdLt"),
      lte: parseTimestamp(query.createdLte, "createdLte"),
    },
  };
}

export async function listPayments(
  query: ListQuery,
  deps: { store: Pick<PaymentStore, "list"> },
): Promise<ListPage> {
  const page = await deps.store.list(query);
  if (!page) {
    // The cursor names no payment of this merchant: the same answer whether it exists or not.
    const field = query.startingAfter ? "startingAfter" : "endingBefore";
    bad(
      "invalid_parameter",
      field,
      `${field} must be the id of one of your payments${got(query.startingAfter ?? query.endingBefore)}`,
    );
  }
  return page;
}
