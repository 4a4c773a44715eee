// Applies the SQL migrations in functions/payments/migrations in order. Safe to run anywhere,
// any number of times, concurrently: an advisory lock serialises migrators, applied versions
// are recorded (with a checksum) in schema_migrations, and each migration commits with its
// record or not at all.
//
// Online changes. A migration runs in one transaction unless its file holds the line
// `-- migrate:no-transaction`: then each statement runs on its own (autocommit), which is what
// CREATE INDEX CONCURRENTLY needs ("cannot be executed inside a transaction block",
// www.postgresql.org/docs/16/sql-createindex.html) and what keeps a backfill from holding row
// locks and replication lag for its whole length. Such a file must be safe to run again from
// the start (IF NOT EXISTS, guarded DO blocks, backfills that skip done rows): its record is
// written only once every statement succeeded. Inside it:
// - a statement after the line `-- migrate:repeat` runs again until it changes no row (a batch
//   of a backfill per run, each committed on its own);
// - before `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS <name>`, an INVALID index of that
//   name (left by a build that failed or was cut off) is dropped, concurrently, so the build is
//   redone rather than skipped.
// A transactional migration whose lock wait times out (55P03, the connection's lock_timeout) is
// retried a few times: waiting longer would queue every query of the table behind it.
import { createHash } from "node:crypto";

export interface MigrationFile {
  /** `NNN_name.sql` */
  readonly file: string;
  readonly sql: string;
}

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
  /** `-- migrate:no-transaction`: statement by statement, outside a transaction. */
  readonly transactional: boolean;
}

export interface MigrateOptions {
  /** Attempts of a migration (or a statement of one) that hit its lock_timeout. @default 10 */
  readonly lockAttempts?: number;
  /** Waits between those attempts, and between polls of the migration lock. @default a timer */
  readonly sleep?: (ms: number) => Promise<void>;
}

const NO_TRANSACTION = /^--\s*migrate:no-transaction\s*$/m;
const REPEAT = /^--\s*migrate:repeat\s*$/;
const CONCURRENT_INDEX =
  /^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+([a-z_][a-z0-9_]*)/i;
/** lock_not_available: lock_timeout expired. */
const LOCK_TIMEOUT = "55P03";

export interface Statement {
  readonly text: string;
  /** Run again until it changes no row. */
  readonly repeat: boolean;
}

/**
 * Splits SQL into statements at semicolons outside quotes, comments and dollar-quoted bodies
 * ($$ ... $$ of functions and DO blocks), noting the `-- migrate:repeat` lines before each.
 */
export function splitStatements(sql: string): Statement[] {
  const statements: Statement[] = [];
  let start = 0;
  let repeat = false;
  let i = 0;
  const push = (end: number) => {
    // Leading comment lines go: they would hide the first keyword from CONCURRENT_INDEX.
    const lines = sql.slice(start, end).split("\n");
    while (lines.length > 0 && /^\s*(--.*)?$/.test(lines[0]!)) lines.shift();
    const text = lines.join("\n").trim();
    if (text) statements.push({ text, repeat });
    repeat = false;
    start = end + 1;
  };
  while (i < sql.length) {
    const ch = sql[i]!;
    if (ch === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      const line = sql.slice(i, end === -1 ? sql.length : end).trim();
      if (REPEAT.test(line)) repeat = true;
      i = end === -1 ? sql.length : end + 1;
    } else if (ch === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (ch === "'" || ch === '"') {
      const end = sql.indexOf(ch, i + 1);
      i = end === -1 ? sql.length : end + 1;
    } else if (ch === "$") {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        i = end === -1 ? sql.length : end + tag.length;
      } else {
        i++;
      }
    } else if (ch === ";") {
      push(i);
      i++;
    } else {
      i++;
    }
  }
  push(sql.length);
  return statements;
}

/** A connection of its own: the advisory lock belongs to the session. */
export interface MigrationClient {
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount?: number | null }>;
}

export interface MigrationResult {
  readonly applied: readonly string[];
  readonly alreadyApplied: readonly string[];
  /** Versions recorded in the database that this build does not know (a newer deploy ran). */
  readonly unknown: readonly number[];
}

export class MigrationDriftError extends Error {
  override name = "MigrationDriftError";
}

export class MigrationFailedError extends Error {
  override name = "MigrationFailedError";
}

const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/** Arbitrary but fixed: every payments-dr migrator takes this lock. */
export const MIGRATION_LOCK_ID = 4_730_112_001;

/** Validated, ordered migrations from their files. */
export function loadMigrations(files: readonly MigrationFile[]): Migration[] {
  const migrations = files.map(({ file, sql }) => {
    const match = FILE_NAME.exec(file);
    if (!match) throw new Error(`migration file name must look like 001_name.sql, got ${file}`);
    return {
      version: Number(match[1]),
      name: file,
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
      transactional: !NO_TRANSACTION.test(sql),
    };
  });
  migrations.sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (i > 0 && migrations[i - 1]!.version === m.version) {
      throw new Error(`two migrations share version ${m.version}`);
    }
  });
  return migrations;
}

export async function migrate(
  client: MigrationClient,
  migrations: readonly Migration[],
  options: MigrateOptions = {},
): Promise<MigrationResult> {
  // Polled rather than waited for: a session blocked in pg_advisory_lock holds a snapshot, and
  // CREATE INDEX CONCURRENTLY in the session holding the lock waits for every older snapshot to
  // end, a deadlock PostgreSQL resolves by failing one of them.
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  for (;;) {
    const { rows } = await client.query("SELECT pg_try_advisory_lock($1) AS locked", [
      MIGRATION_LOCK_ID,
    ]);
    if (rows[0]?.locked === true) break;
    await sleep(250);
  }
  try {
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query("SELECT version, checksum FROM schema_migrations");
    const recorded = new Map(rows.map((r) => [Number(r.version), String(r.checksum)]));
    const known = new Set(migrations.map((m) => m.version));

    const applied: string[] = [];
    const alreadyApplied: string[] = [];
    for (const migration of migrations) {
      const checksum = recorded.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new MigrationDriftError(
            `migration ${migration.name} changed after it was applied; add a new migration instead`,
          );
        }
        alreadyApplied.push(migration.name);
        continue;
      }
      try {
        if (migration.transactional) await applyInTransaction(client, migration, options);
        else await applyStatementByStatement(client, migration, options);
      } catch (error) {
        throw new MigrationFailedError(
          `migration ${migration.name} failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
      applied.push(migration.name);
    }
    const unknown = [...recorded.keys()].filter((v) => !known.has(v)).sort((a, b) => a - b);
    return { applied, alreadyApplied, unknown };
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_ID]).catch(() => undefined);
  }
}

const RECORD_SQL = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)";

async function applyInTransaction(
  client: MigrationClient,
  migration: Migration,
  options: MigrateOptions,
): Promise<void> {
  await retryingLockTimeouts(async () => {
    await client.query("BEGIN");
    try {
      await client.query(migration.sql);
      await client.query(RECORD_SQL, [migration.version, migration.name, migration.checksum]);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  }, options);
}

async function applyStatementByStatement(
  client: MigrationClient,
  migration: Migration,
  options: MigrateOptions,
): Promise<void> {
  for (const statement of splitStatements(migration.sql)) {
    const index = CONCURRENT_INDEX.exec(statement.text)?.[1];
    const run = async () => {
      if (index) {
        const { rows } = await client.query(
          `SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           WHERE c.relname = $1 AND NOT i.indisvalid`,
          [index],
        );
        if (rows.length > 0) await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
      }
      return client.query(statement.text);
    };
    for (;;) {
      const result = await retryingLockTimeouts(run, options);
      if (!statement.repeat || !result.rowCount) break;
    }
  }
  await client.query(RECORD_SQL, [migration.version, migration.name, migration.checksum]);
}

/**
 * Runs `work` again when it gave up waiting for a lock (55P03): the migrations wait briefly for
 * the locks that queue traffic, and come back later instead (pauses of 0.5 s, 1 s, ... 5 s, about
 * half a minute in all by default).
 */
async function retryingLockTimeouts<T>(
  work: () => Promise<T>,
  options: MigrateOptions,
): Promise<T> {
  const attempts = options.lockAttempts ?? 10;
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_TIMEOUT || attempt >= attempts) throw error;
      await sleep(500 * attempt);
    }
  }
}
