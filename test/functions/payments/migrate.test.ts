import { Client } from "pg";
import { WRITER_HEARTBEAT } from "../../../functions/common/contract";
import { EMBEDDED_MIGRATIONS } from "../../../functions/payments/migrations/embedded";
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import { loadMigrations, migrate } from "../../../functions/payments/shared/migrator";
import type { MigrationResult } from "../../../functions/payments/shared/migrator";
import { readMigrationFiles } from "../../../scripts/migrate";
import {
  WriterIdentityUnsupportedError,
  runMigrations,
} from "../../../functions/payments/migrate/core";
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
  setHandlerEnvironment(empty.adminUrl); // the migrate function connects as the master user
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

// Review 24-10l H1: the write path's writer identity check calls aurora_db_instance_identifier()
// as the application role on every new connection; a cluster that cannot run it must fail the
// deploy (the migrate function), not every payment.
describe("migrate function: the writer identity check's functions", () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });
  const run = (verifyWriterIdentity: boolean) =>
    runMigrations({
      files: EMBEDDED_MIGRATIONS,
      verifyWriterIdentity,
      connect: async () => {
        const client = new Client({ connectionString: db.adminUrl });
        await client.connect();
        return client;
      },
    });
  const canExecute = async () =>
    (
      await db.sql.query(
        "SELECT has_function_privilege('payments_app', 'aurora_db_instance_identifier()', 'EXECUTE') AS ok",
      )
    ).rows[0].ok as boolean;

  it("fails the deploy, naming the function and the versions that have it, when the engine lacks aurora_db_instance_identifier()", async () => {
    await expect(run(true)).rejects.toThrow(WriterIdentityUnsupportedError);
    await expect(run(true)).rejects.toThrow(
      /aurora_db_instance_identifier\(\) does not exist on this cluster.*13\.7, 12\.11, 11\.16, 10\.21/,
    );
  });

  it("grants the application role EXECUTE where it lacks it, and verifies it", async () => {
    // AWS documents no privilege for the function: modelled as owned by the master user with
    // PUBLIC's EXECUTE revoked, the case in which only an explicit grant lets payments_app call it.
    await db.sql.query(`
      CREATE FUNCTION aurora_db_instance_identifier() RETURNS text LANGUAGE sql
        AS $$ SELECT 'payments-db-1-use1-abc'::text $$;
      REVOKE EXECUTE ON FUNCTION aurora_db_instance_identifier() FROM PUBLIC;`);
    expect(await canExecute()).toBe(false);

    await expect(run(true)).resolves.toMatchObject({ unknown: [] });

    expect(await canExecute()).toBe(true);
  });

  it("skips the check on plain PostgreSQL, whose payment path runs none", async () => {
    await expect(run(false)).resolves.toMatchObject({ unknown: [] });
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
    const second = new Client({ connectionString: fresh.adminUrl });
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

  it("runs a no-transaction migration statement by statement, repeating a batch until it is done", async () => {
    await db.sql.query(
      "CREATE TABLE batch_items (id int PRIMARY KEY, done boolean NOT NULL DEFAULT false)",
    );
    await db.sql.query("INSERT INTO batch_items (id) SELECT generate_series(1, 2500)");
    const online = {
      file: "099_online.sql",
      sql: [
        "-- migrate:no-transaction",
        "-- migrate:repeat",
        "UPDATE batch_items SET done = true WHERE id IN (",
        "  SELECT id FROM batch_items WHERE NOT done LIMIT 1000);",
        "-- A concurrent build cannot run in a transaction block: this proves there is none.",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS batch_items_done ON batch_items (done);",
      ].join("\n"),
    };

    const result = await migrate(db.sql, loadMigrations([...FILES, online]));

    expect(result.applied).toEqual(["099_online.sql"]);
    const { rows } = await db.sql.query(
      "SELECT count(*)::int AS n FROM batch_items WHERE NOT done",
    );
    expect(rows[0].n).toBe(0);
  });

  it("rebuilds an index that a failed concurrent build left invalid when run again", async () => {
    await db.sql.query("CREATE TABLE dupes (v int)");
    await db.sql.query("INSERT INTO dupes VALUES (1), (1), (2)");
    const online = {
      file: "099_unique.sql",
      sql: "-- migrate:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS dupes_v ON dupes (v);",
    };
    await expect(migrate(db.sql, loadMigrations([...FILES, online]))).rejects.toMatchObject({
      name: "MigrationFailedError",
    });
    const invalid = await db.sql.query(
      "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'dupes_v'",
    );
    expect(invalid.rows).toEqual([{ indisvalid: false }]);

    await db.sql.query("DELETE FROM dupes WHERE ctid = (SELECT min(ctid) FROM dupes WHERE v = 1)");
    const result = await migrate(db.sql, loadMigrations([...FILES, online]));

    expect(result.applied).toEqual(["099_unique.sql"]);
    const valid = await db.sql.query(
      "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'dupes_v'",
    );
    expect(valid.rows).toEqual([{ indisvalid: true }]);
  });

  it("gives up a lock wait and tries again later rather than queue traffic behind it", async () => {
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    await holder.query("BEGIN");
    await holder.query("SELECT * FROM payments LIMIT 1");
    const waits: number[] = [];
    const ddl = {
      file: "099_ddl.sql",
      sql: "SET LOCAL lock_timeout = '50ms';\nALTER TABLE payments ADD COLUMN note text;",
    };
    try {
      const result = await migrate(db.sql, loadMigrations([...FILES, ddl]), {
        sleep: async (ms) => {
          waits.push(ms);
          // The long transaction ends while the migrator waits for its second attempt.
          if (waits.length === 2) await holder.query("COMMIT");
        },
      });

      expect(result.applied).toEqual(["099_ddl.sql"]);
      expect(waits).toEqual([500, 1000]);
    } finally {
      await holder.end();
    }
  });

  // Review H1: an existing cluster gets pg_cron in shared_preload_libraries as "pending-reboot",
  // so when the migrate function runs, pg_cron is not loaded. 010 then wrote its row and was
  // recorded without a job: a heartbeat frozen forever. On Aurora (aurora_version() exists,
  // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_version.html) the
  // heartbeat job is required: without pg_cron loaded, migrate fails and records nothing, so the
  // next migrate after the reboot schedules it.
  it("fails loudly on Aurora when pg_cron is not loaded, records nothing, and applies once it is not Aurora", async () => {
    const fresh = await createTestDatabase({ migrated: false });
    try {
      const upTo010 = FILES.filter((f) => Number(f.file.slice(0, 3)) <= 10);
      await migrate(fresh.sql, loadMigrations(upTo010));
      await fresh.sql.query(
        "CREATE FUNCTION aurora_version() RETURNS text LANGUAGE sql AS $$ SELECT '16.6.1' $$",
      );

      const attempt = migrate(fresh.sql, loadMigrations(FILES));

      await expect(attempt).rejects.toMatchObject({
        name: "MigrationFailedError",
        message: expect.stringMatching(/pg_cron is not loaded.*reboot/s),
      });
      const { rows } = await fresh.sql.query(
        "SELECT max(version)::int AS v FROM schema_migrations",
      );
      expect(rows[0].v).toBe(10);

      // Not Aurora (a laptop, this test server): nothing to schedule, and it applies.
      await fresh.sql.query("DROP FUNCTION aurora_version()");
      const result = await migrate(fresh.sql, loadMigrations(FILES));
      expect(result.applied).toEqual(NAMES.filter((n) => Number(n.slice(0, 3)) > 10));
    } finally {
      await fresh.drop();
    }
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
