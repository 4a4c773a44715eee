import { Client } from "pg";
import { EMBEDDED_MIGRATIONS } from "../../../functions/payments/migrations/embedded";
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import { loadMigrations, migrate } from "../../../functions/payments/shared/migrator";
import type { MigrationResult } from "../../../functions/payments/shared/migrator";
import { readMigrationFiles } from "../../../scripts/migrate";
import { lambdaContext, setHandlerEnvironment } from "./support/aws";
import { createTestDatabase } from "./support/database";
import type { TestDatabase } from "./support/database";

const FILES = readMigrationFiles();
const NAMES = FILES.map((f) => f.file);

let empty: TestDatabase;
let handler: (
  event: unknown,
  context: ReturnType<typeof lambdaContext>,
) => Promise<MigrationResult>;

beforeAll(async () => {
  empty = await createTestDatabase({ migrated: false });
  setHandlerEnvironment(empty.url);
  ({ handler } = await import("../../../functions/payments/migrate/handler"));
});

afterAll(async () => {
  await closeAllDatabases();
  await empty.drop();
});

async function tables(sql: Client): Promise<string[]> {
  const { rows } = await sql.query(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
  );
  return rows.map((r) => r.tablename);
}

describe("migrate function", () => {
  it("migrates an empty database and records every version", async () => {
    const result = await handler({}, lambdaContext("payments-migrate-test"));

    expect(result).toEqual({ applied: NAMES, alreadyApplied: [], unknown: [] });
    expect(await tables(empty.sql)).toEqual([
      "health_heartbeats",
      "idempotency_keys",
      "payment_events",
      "payments",
      "schema_migrations",
    ]);
    const { rows } = await empty.sql.query(
      "SELECT version, name FROM schema_migrations ORDER BY version",
    );
    expect(rows).toEqual(NAMES.map((name, i) => ({ version: i + 1, name })));
  });

  it("changes nothing when run again", async () => {
    const before = await empty.sql.query("SELECT version, applied_at FROM schema_migrations");

    const result = await handler({}, lambdaContext("payments-migrate-test"));

    expect(result).toEqual({ applied: [], alreadyApplied: NAMES, unknown: [] });
    const after = await empty.sql.query("SELECT version, applied_at FROM schema_migrations");
    expect(after.rows).toEqual(before.rows);
  });

  it("carries the same SQL as the migration files", () => {
    expect(EMBEDDED_MIGRATIONS).toEqual(FILES);
  });
});

describe("migrator", () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase({ migrated: true });
  });

  afterEach(async () => {
    await db.drop();
  });

  it("applies each migration once when two migrators race", async () => {
    const fresh = await createTestDatabase({ migrated: false });
    const second = new Client({ connectionString: fresh.url });
    await second.connect();
    try {
      const results = await Promise.all([
        migrate(fresh.sql, loadMigrations(FILES)),
        migrate(second, loadMigrations(FILES)),
      ]);

      expect(results.flatMap((r) => r.applied).sort()).toEqual(NAMES);
      const { rows } = await fresh.sql.query("SELECT count(*)::int AS n FROM schema_migrations");
      expect(rows[0].n).toBe(NAMES.length);
    } finally {
      await second.end();
      await fresh.drop();
    }
  });

  it("rejects a migration that changed after it was applied", async () => {
    const edited = FILES.map((f, i) => (i === 0 ? { ...f, sql: `${f.sql}\n-- edited` } : f));

    await expect(migrate(db.sql, loadMigrations(edited))).rejects.toMatchObject({
      name: "MigrationDriftError",
    });
  });

  it("rolls a failing migration back entirely", async () => {
    const broken = [
      ...FILES,
      {
        file: "099_broken.sql",
        sql: "CREATE TABLE half_done (id int);\nSELECT no_such_function();",
      },
    ];

    await expect(migrate(db.sql, loadMigrations(broken))).rejects.toMatchObject({
      name: "MigrationFailedError",
      message: expect.stringContaining("099_broken.sql"),
    });
    expect(await tables(db.sql)).not.toContain("half_done");
    const { rows } = await db.sql.query("SELECT max(version)::int AS v FROM schema_migrations");
    expect(rows[0].v).toBe(NAMES.length);
  });

  it("reports versions in the database that this build does not know", async () => {
    await db.sql.query(
      "INSERT INTO schema_migrations (version, name, checksum) VALUES (99, '099_future.sql', 'x')",
    );

    const result = await migrate(db.sql, loadMigrations(FILES));

    expect(result.unknown).toEqual([99]);
  });
});

describe("loadMigrations", () => {
  it.each([
    ["a file name without a version", [{ file: "init.sql", sql: "" }], "001_name.sql"],
    [
      "two files with one version",
      [
        { file: "001_a.sql", sql: "" },
        { file: "001_b.sql", sql: "" },
      ],
      "share version 1",
    ],
  ])("rejects %s", (_label, files, message) => {
    expect(() => loadMigrations(files)).toThrow(message);
  });
});
