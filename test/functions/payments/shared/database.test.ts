import { Database, clientConfig } from "../../../../functions/payments/shared/database";
import type { DatabaseSettings } from "../../../../functions/payments/shared/database";
import { createTestDatabase } from "../support/database";
import type { TestDatabase } from "../support/database";

describe("Database", () => {
  let a: TestDatabase;
  let b: TestDatabase;

  beforeAll(async () => {
    [a, b] = await Promise.all([
      // Empty databases, used as the superuser: these tests are about pools and settings, not
      // privileges (app-role.test.ts is).
      createTestDatabase({ migrated: false }),
      createTestDatabase({ migrated: false }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([a.drop(), b.drop()]);
  });

  it("rebuilds its pool when the settings change (the endpoint moved)", async () => {
    let settings: DatabaseSettings = { kind: "url", connectionString: a.adminUrl };
    const replaced: string[] = [];
    const db = new Database({
      settings: async () => settings,
      applicationName: "test",
      onPoolReplaced: (host) => replaced.push(host),
    });
    try {
      const first = await db.query<{ name: string }>("SELECT current_database() AS name");
      settings = { kind: "url", connectionString: b.adminUrl };

      const second = await db.query<{ name: string }>("SELECT current_database() AS name");

      expect(first.rows[0]!.name).toBe(new URL(a.adminUrl).pathname.slice(1));
      expect(second.rows[0]!.name).toBe(new URL(b.adminUrl).pathname.slice(1));
      expect(replaced).toHaveLength(1);
    } finally {
      await db.end();
    }
  });

  /** Server-side connections to `server`'s database, counted by application_name. */
  async function connectionsOf(server: TestDatabase, applicationName: string): Promise<number> {
    const { rows } = await server.sql.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
      [applicationName],
    );
    return rows[0]!.n;
  }

  it("holds at most one server connection per environment, however the work is interleaved", async () => {
    const applicationName = `pool-${Date.now()}`;
    const db = new Database({
      settings: async () => ({ kind: "url", connectionString: a.url }),
      applicationName,
    });
    try {
      let peak = 0;
      // Five units of work started together (what a handler's Promise.all could do): with one
      // connection they run one after the other instead of opening five server slots.
      await Promise.all(
        Array.from({ length: 5 }, () =>
          db.withClient(async (client) => {
            await client.query("SELECT pg_sleep(0.02)");
            peak = Math.max(peak, await connectionsOf(a, applicationName));
          }),
        ),
      );

      expect(peak).toBe(1);
    } finally {
      await db.end();
    }
  });

  it("leaves the old writer's connection when the endpoint moves, so it does not pin a slot there", async () => {
    const applicationName = `moved-${Date.now()}`;
    let settings: DatabaseSettings = { kind: "url", connectionString: a.url };
    const db = new Database({ settings: async () => settings, applicationName });
    try {
      await db.query("SELECT 1");
      expect(await connectionsOf(a, applicationName)).toBe(1);
      settings = { kind: "url", connectionString: b.url };

      await db.query("SELECT 1");
      // The old pool ends asynchronously once its (idle) client is released.
      for (let i = 0; i < 50 && (await connectionsOf(a, applicationName)) > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }

      expect(await connectionsOf(a, applicationName)).toBe(0);
      expect(await connectionsOf(b, applicationName)).toBe(1);
    } finally {
      await db.end();
    }
  });

  it("re-reads its settings and retries when it reached a read-only server", async () => {
    const name = new URL(a.adminUrl).pathname.slice(1);
    await a.sql.query(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
    let settings: DatabaseSettings = { kind: "url", connectionString: a.adminUrl };
    let stale = 0;
    const db = new Database({
      settings: async () => settings,
      applicationName: "test",
      onStaleSettings: () => {
        stale += 1;
        settings = { kind: "url", connectionString: b.adminUrl }; // the orchestrator moved the writer
      },
    });
    try {
      const result = await db.transaction((client) =>
        client.query("CREATE TABLE written_after_failover (id int)"),
      );

      expect(result.command).toBe("CREATE");
      expect(stale).toBe(1);
    } finally {
      await db.end();
      await a.sql.query(`ALTER DATABASE ${name} RESET default_transaction_read_only`);
    }
  });

  it("fails with DatabaseUnavailableError when the server is unreachable", async () => {
    const db = new Database({
      settings: async () => ({ kind: "url", connectionString: "postgres://u:p@127.0.0.1:1/none" }),
      applicationName: "test",
    });
    try {
      await expect(db.query("SELECT 1")).rejects.toMatchObject({
        name: "DatabaseUnavailableError",
      });
    } finally {
      await db.end();
    }
  });

  // Review M2. What a cancelled commit wait looks like on the wire: PostgreSQL's synchronous
  // replication answers COMMIT with a WARNING ("canceling wait for synchronous replication ...
  // The transaction has already committed locally, but might not have been replicated to the
  // standby", src/backend/replication/syncrep.c), and Aurora's rds.global_db_rpo pause is
  // documented only as "resumed and committed" once a secondary is within the RPO
  // (aurora-global-database-disaster-recovery.html#aurora-global-database-manage-recovery). A
  // real server sends the WARNING here from a deferred trigger, i.e. during COMMIT itself.
  it("refuses to report a commit that came back with a warning as done, and keeps what it wrote", async () => {
    await a.sql.query(`
      CREATE TABLE m2_writes (id int PRIMARY KEY);
      CREATE FUNCTION m2_warn() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE WARNING 'canceling wait for synchronous replication due to user request'
          USING DETAIL = 'The transaction has already committed locally, but might not have been replicated to the standby.';
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER m2_at_commit AFTER INSERT ON m2_writes
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION m2_warn();`);
    const db = new Database({
      settings: async () => ({ kind: "url", connectionString: a.adminUrl }),
      applicationName: "test",
    });
    try {
      await expect(
        db.transaction(async (client) => {
          await client.query("INSERT INTO m2_writes VALUES (1)");
          return "acknowledged";
        }),
      ).rejects.toMatchObject({
        name: "CommitUnconfirmedError",
        message: expect.stringContaining("canceling wait for synchronous replication"),
      });
      // Not rolled back: the commit is durable here, so reconciliation (not a retry) owns it.
      const { rows } = await a.sql.query("SELECT id FROM m2_writes");
      expect(rows).toEqual([{ id: 1 }]);
      // The same connection, reused: a later transaction without a warning is acknowledged.
      await a.sql.query("DROP TRIGGER m2_at_commit ON m2_writes");
      await expect(
        db.transaction(async (client) => {
          await client.query("INSERT INTO m2_writes VALUES (2)");
          return "acknowledged";
        }),
      ).resolves.toBe("acknowledged");
    } finally {
      await db.end();
    }
  });

  // Review 22 L2. statement_timeout does not end a commit wait; node-postgres's query_timeout
  // ends it on the client side only, and the server commits once the wait is over. Here the
  // wait is a deferred trigger's sleep during COMMIT itself (a paused commit's wait needs a
  // server of its own with synchronous_standby_names set, which this shared server cannot be).
  it("answers a COMMIT that outlives the client's timeout as unconfirmed, without running the transaction again", async () => {
    await a.sql.query(`
      CREATE TABLE l2_writes (id int PRIMARY KEY);
      CREATE FUNCTION l2_slow() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(2.5); RETURN NULL; END $$;
      CREATE CONSTRAINT TRIGGER l2_at_commit AFTER INSERT ON l2_writes
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION l2_slow();`);
    const db = new Database({
      settings: async () => ({ kind: "url", connectionString: a.adminUrl }),
      applicationName: "test",
      // query_timeout 1.5 s
      timeouts: { connectMs: 3_000, statementMs: 500 },
    });
    let attempts = 0;
    try {
      await expect(
        db.transaction(async (client) => {
          attempts += 1;
          // As a commit wait ignores statement_timeout; the trigger's sleep would not.
          await client.query("SET LOCAL statement_timeout = 0");
          await client.query("INSERT INTO l2_writes VALUES (1)");
          return "acknowledged";
        }),
      ).rejects.toMatchObject({
        name: "CommitUnconfirmedError",
        message: expect.stringContaining("may still commit"),
      });
      expect(attempts).toBe(1);
      // The server finished the COMMIT after the client left: the write landed.
      await new Promise((r) => setTimeout(r, 2_000));
      const { rows } = await a.sql.query("SELECT id FROM l2_writes");
      expect(rows).toEqual([{ id: 1 }]);
      // The abandoned connection was not reused: the next call works on a fresh one.
      await expect(db.query("SELECT 1 AS one")).resolves.toMatchObject({ rows: [{ one: 1 }] });
    } finally {
      await db.end();
    }
  });

  it("does not count a NOTICE during COMMIT as an unconfirmed commit (warnings are SQLSTATE class 01)", async () => {
    await a.sql.query(`
      CREATE TABLE l2_notices (id int PRIMARY KEY);
      CREATE FUNCTION l2_notice() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE NOTICE 'just saying'; RETURN NULL; END $$;
      CREATE CONSTRAINT TRIGGER l2_notice_at_commit AFTER INSERT ON l2_notices
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION l2_notice();`);
    const db = new Database({
      settings: async () => ({ kind: "url", connectionString: a.adminUrl }),
      applicationName: "test",
    });
    try {
      await expect(
        db.transaction(async (client) => {
          await client.query("INSERT INTO l2_notices VALUES (1)");
          return "acknowledged";
        }),
      ).resolves.toBe("acknowledged");
    } finally {
      await db.end();
    }
  });

  it("connects to Aurora over verified TLS with timeouts", () => {
    const config = clientConfig(
      { kind: "aurora", host: "h", port: 5432, database: "d", user: "u", password: "p" },
      "payments-test",
    );

    expect(config).toMatchObject({
      ssl: { rejectUnauthorized: true },
      connectionTimeoutMillis: 3_000,
      statement_timeout: 5_000,
    });
    expect(
      clientConfig({ kind: "url", connectionString: "postgres://x" }, "t").ssl,
    ).toBeUndefined();
  });
});
