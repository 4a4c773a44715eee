import { Client } from "pg";
import { WRITER_HEARTBEAT } from "../../../functions/common/contract";
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
      "writer_heartbeat",
    ]);
    const { rows } = await empty.sql.query(
      "SELECT version, name FROM schema_migrations ORDER BY version",
    );
    expect(rows).toEqual(NAMES.map((name) => ({ version: Number(name.slice(0, 3)), name })));
  });

  // pg_cron "does not run any jobs as long as a server is in hot standby mode", so only the
  // writer beats; it needs shared_preload_libraries, which this test server does not have.
  it("creates the one-row writer heartbeat and schedules it only where pg_cron is loaded", async () => {
    const { rows } = await empty.sql.query("SELECT id, beat_at FROM writer_heartbeat");
    expect(rows).toEqual([{ id: 1, beat_at: expect.any(Date) }]);
    await expect(empty.sql.query("INSERT INTO writer_heartbeat VALUES (2, now())")).rejects.toThrow(
      /writer_heartbeat_one_row/,
    );
    const cron = await empty.sql.query(
      "SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'pg_cron'",
    );
    expect(cron.rows).toEqual([{ n: 0 }]);
    // The job the DR side counts on (WRITER_HEARTBEAT in functions/common/contract.ts).
    const sql = FILES.find((f) => f.file === "010_writer_heartbeat.sql")!.sql;
    expect(sql).toContain(
      `'${WRITER_HEARTBEAT.job}',\n      '${WRITER_HEARTBEAT.intervalSeconds} seconds',\n      'UPDATE ${WRITER_HEARTBEAT.table} SET beat_at = now() WHERE id = 1'`,
    );
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
    expect(rows[0].v).toBe(Number(NAMES.at(-1)!.slice(0, 3)));
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
