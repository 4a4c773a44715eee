// Checks a restored copy of the payments database against the live one: the restore drill's
// proof that the newest cross-region backup holds what it should.
//
// What "should" means here. A backup taken at T holds every payment committed before T. The
// live database (the secondary cluster's reader, in the same region) still holds all of them:
// payments are never deleted and their identity columns never change (the lifecycle triggers
// of migrations 001 and 005). So up to a cutoff the two must agree exactly: the number of
// payments and of payment events, and, for the `windowHours` before the cutoff ("recent
// payments"), a checksum of each payment's immutable columns in id order. The cutoff is the
// earlier of the snapshot's time and the newest payment in the copy, less `settleMinutes`: a
// payment's created_at is taken when its transaction starts, so one that started just before T
// may have committed after it. Pure: the databases are reached through `connect`.
import type { ReportCheck } from "../../reports/shared/model";

export interface RestoreCheckEvent {
  /** The restored cluster's writer endpoint. */
  readonly scratchEndpoint: string;
  /** When the restored snapshot was taken (ISO 8601). */
  readonly snapshotTime: string;
  /** @default 24 */
  readonly windowHours?: number;
  /** @default 5 */
  readonly settleMinutes?: number;
}

export interface SqlClient {
  query<R extends Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[] }>;
  end(): Promise<void>;
}

export interface RestoreCheckDeps {
  /** A connection to the restored copy (at `host`) or to the live secondary's reader. */
  connect(target: "restored" | "live", host?: string): Promise<SqlClient>;
  readonly now: () => Date;
}

export interface DatabaseFigures {
  readonly payments: number;
  readonly events: number;
  readonly windowPayments: number;
  readonly windowChecksum: string;
  readonly schemaVersion: number | null;
}

export interface RestoreCheckResult {
  readonly passed: boolean;
  readonly checks: ReportCheck[];
  readonly cutoff: string;
  readonly windowFrom: string;
  /** The newest payment the copy holds: how fresh the backup's data is. */
  readonly newestPayment: string | null;
  readonly restored: DatabaseFigures;
  readonly live: DatabaseFigures;
}

export class InvalidCheckInputError extends Error {
  override name = "InvalidCheckInputError";
}

const HOST = /^[a-z0-9][a-z0-9.-]{1,253}[a-z0-9]$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The immutable columns of a payment, one text per row, so both sides hash the same bytes. */
export const FIGURES_SQL = `
SELECT
  (SELECT count(*) FROM payments WHERE created_at <= $1) AS payments,
  (SELECT count(*) FROM payment_events WHERE created_at <= $1) AS events,
  (SELECT count(*) FROM payments WHERE created_at > $2 AND created_at <= $1) AS window_payments,
  (SELECT md5(coalesce(string_agg(concat_ws('|', id::text, merchant_id, card_token,
            amount_minor::text, currency, origin_region,
            to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')), ',' ORDER BY id), ''))
     FROM payments WHERE created_at > $2 AND created_at <= $1) AS window_checksum,
  (SELECT max(version) FROM schema_migrations) AS schema_version`;

export function validateEvent(event: unknown): Required<RestoreCheckEvent> {
  const e = (event ?? {}) as Record<string, unknown>;
  const fail = (field: string, allowed: string): never => {
    throw new InvalidCheckInputError(
      `${field}=${JSON.stringify(e[field])} is not allowed: ${allowed}`,
    );
  };
  if (typeof e.scratchEndpoint !== "string" || !HOST.test(e.scratchEndpoint)) {
    fail("scratchEndpoint", "the restored cluster's endpoint host name");
  }
  if (typeof e.snapshotTime !== "string" || !ISO.test(e.snapshotTime)) {
    fail("snapshotTime", "an ISO 8601 timestamp");
  }
  const windowHours = e.windowHours ?? 24;
  if (
    !Number.isInteger(windowHours) ||
    (windowHours as number) < 1 ||
    (windowHours as number) > 168
  ) {
    fail("windowHours", "a whole number of hours from 1 to 168");
  }
  const settleMinutes = e.settleMinutes ?? 5;
  if (
    !Number.isInteger(settleMinutes) ||
    (settleMinutes as number) < 1 ||
    (settleMinutes as number) > 60
  ) {
    fail("settleMinutes", "a whole number of minutes from 1 to 60");
  }
  return {
    scratchEndpoint: e.scratchEndpoint as string,
    snapshotTime: e.snapshotTime as string,
    windowHours: windowHours as number,
    settleMinutes: settleMinutes as number,
  };
}

/** Both sides read in one snapshot of their own: the figures are consistent with each other. */
async function figures(sql: SqlClient, cutoff: Date, from: Date): Promise<DatabaseFigures> {
  await sql.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    const { rows } = await sql.query<Record<string, unknown>>(FIGURES_SQL, [cutoff, from]);
    const row = rows[0]!;
    return {
      payments: Number(row.payments),
      events: Number(row.events),
      windowPayments: Number(row.window_payments),
      windowChecksum: String(row.window_checksum),
      schemaVersion: row.schema_version === null ? null : Number(row.schema_version),
    };
  } finally {
    await sql.query("COMMIT");
  }
}

export async function checkRestore(
  raw: unknown,
  deps: RestoreCheckDeps,
): Promise<RestoreCheckResult> {
  const event = validateEvent(raw);
  const restored = await deps.connect("restored", event.scratchEndpoint);
  let live: SqlClient | undefined;
  try {
    const { rows } = await restored.query<{ newest: Date | null }>(
      "SELECT max(created_at) AS newest FROM payments",
    );
    const newest = rows[0]?.newest ? new Date(rows[0].newest) : null;
    const snapshot = new Date(event.snapshotTime);
    const settle = event.settleMinutes * 60_000;
    const cutoff = new Date(Math.min(snapshot.getTime(), newest?.getTime() ?? Infinity) - settle);
    const from = new Date(cutoff.getTime() - event.windowHours * 3_600_000);
    const copy = await figures(restored, cutoff, from);
    live = await deps.connect("live");
    const now = await figures(live, cutoff, from);
    const basis = `the live secondary cluster (reader endpoint, same region), same query, up to ${cutoff.toISOString()}`;
    const checks: ReportCheck[] = [
      {
        name: "payments up to the cutoff",
        expected: String(now.payments),
        actual: String(copy.payments),
        passed: copy.payments === now.payments,
        basis,
      },
      {
        name: "payment events up to the cutoff",
        expected: String(now.events),
        actual: String(copy.events),
        passed: copy.events === now.events,
        basis,
      },
      {
        name: `payments in the ${event.windowHours} h before the cutoff`,
        expected: String(now.windowPayments),
        actual: String(copy.windowPayments),
        passed: copy.windowPayments === now.windowPayments,
        basis,
      },
      {
        name: `checksum of those payments (md5 of id, merchant, card token, amount, currency, origin region, created_at)`,
        expected: now.windowChecksum,
        actual: copy.windowChecksum,
        passed: copy.windowChecksum === now.windowChecksum,
        basis,
      },
      {
        name: "schema version (migrations applied)",
        expected: `at most ${now.schemaVersion ?? "none"}`,
        actual: String(copy.schemaVersion ?? "none"),
        // A migration applied after the backup is fine; a copy without the schema is not.
        passed:
          copy.schemaVersion !== null &&
          now.schemaVersion !== null &&
          copy.schemaVersion <= now.schemaVersion,
        basis: "the live cluster's schema_migrations: the copy may predate a later migration",
      },
    ];
    return {
      passed: checks.every((c) => c.passed),
      checks,
      cutoff: cutoff.toISOString(),
      windowFrom: from.toISOString(),
      newestPayment: newest?.toISOString() ?? null,
      restored: copy,
      live: now,
    };
  } finally {
    await restored.end();
    await live?.end();
  }
}
