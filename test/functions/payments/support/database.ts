// A database of its own for each test file, on the server global-setup.ts started (or the one
// DATABASE_URL names: that role needs CREATEDB). Dropped, connections and all, at the end.
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { loadMigrations, migrate } from "../../../../functions/payments/shared/migrator";
import { readMigrationFiles } from "../../../../scripts/migrate";
import { DATABASE_APP_USER } from "../../../../functions/common/contract";
import { ADMIN_URL_ENV, APP_ROLE_PASSWORD, TEMPLATE_DB_ENV } from "./global-setup";

export interface TestDatabase {
  /**
   * postgres:// URL of this file's database as the application role (payments_app), the user the
   * payment functions connect as: every handler test runs with its privileges, no more.
   */
  readonly url: string;
  /** The same database as the server's superuser (migrations, arranging what no handler may). */
  readonly adminUrl: string;
  /** A superuser connection for arranging and asserting. */
  readonly sql: Client;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env[ADMIN_URL_ENV];
  if (!url) {
    throw new Error(
      "no PostgreSQL for the tests: run them through jest (globalSetup starts one) or set DATABASE_URL",
    );
  }
  return url;
}

async function asAdmin(statement: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(statement);
  } finally {
    await admin.end();
  }
}

/** An empty database, or (`migrated`) one with every migration applied. */
export async function createTestDatabase(
  options: { migrated: boolean } = { migrated: true },
): Promise<TestDatabase> {
  const name = `payments_test_${randomBytes(6).toString("hex")}`;
  const template = process.env[TEMPLATE_DB_ENV];
  const copy = options.migrated && template !== undefined;
  await asAdmin(`CREATE DATABASE ${name}${copy ? ` TEMPLATE ${template}` : ""}`);
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const sql = new Client({ connectionString: url.toString() });
  await sql.connect();
  if (options.migrated && !copy) await migrate(sql, loadMigrations(readMigrationFiles()));
  const app = new URL(url);
  app.username = DATABASE_APP_USER;
  app.password = APP_ROLE_PASSWORD;
  return {
    url: app.toString(),
    adminUrl: url.toString(),
    sql,
    drop: async () => {
      await sql.end();
      await asAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Row counts of the tables a write touches: "nothing written" means these did not move. */
export async function writeCounts(
  sql: Client,
): Promise<{ payments: number; events: number; keys: number }> {
  const { rows } = await sql.query<{ payments: string; events: string; keys: string }>(`
    SELECT (SELECT count(*) FROM payments) AS payments,
           (SELECT count(*) FROM payment_events) AS events,
           (SELECT count(*) FROM idempotency_keys) AS keys`);
  const row = rows[0]!;
  return { payments: Number(row.payments), events: Number(row.events), keys: Number(row.keys) };
}
