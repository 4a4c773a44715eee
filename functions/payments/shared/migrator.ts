// Applies the SQL migrations in functions/payments/migrations in order. Safe to run anywhere,
// any number of times, concurrently: an advisory lock serialises migrators, applied versions
// are recorded (with a checksum) in schema_migrations, and each migration commits with its
// record or not at all.
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
}

/** A connection of its own: the advisory lock belongs to the session. */
export interface MigrationClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
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
): Promise<MigrationResult> {
  await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_ID]);
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
      await client.query("BEGIN");
      try {
        await client.query(migration.sql);
        await client.query(
          "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
          [migration.version, migration.name, migration.checksum],
        );
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
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
