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
