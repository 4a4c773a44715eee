// Jest globalSetup: one embedded PostgreSQL for the whole run (or the server DATABASE_URL names)
// and on it a migrated template database that each test file copies (support/database.ts).
// Skipped when the run selects no test that needs a database.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { DATABASE_APP_USER } from "../../../../functions/common/contract";
import { loadMigrations, migrate } from "../../../../functions/payments/shared/migrator";
import { readMigrationFiles } from "../../../../scripts/migrate";
import { startEmbeddedPostgres } from "./embedded-postgres";
import type { EmbeddedServer } from "./embedded-postgres";

export const ADMIN_URL_ENV = "PAYMENTS_TEST_ADMIN_URL";
/** A migrated database test files copy (CREATE DATABASE ... TEMPLATE): faster than migrating. */
export const TEMPLATE_DB_ENV = "PAYMENTS_TEST_TEMPLATE_DB";
/**
 * The application role's password on the test server. On Aurora payments_app has none (IAM
 * authentication); here the tests give it one so handlers connect as it, as they do in AWS.
 */
export const APP_ROLE_PASSWORD = "payments-app-test";
/**
 * A second server (with its own migrated template) for tests that need two independent
 * PostgreSQL servers, as two regions have: the reconciliation's old copy and new primary.
 */
export const SECOND_ADMIN_URL_ENV = "PAYMENTS_TEST_SECOND_ADMIN_URL";
export const SECOND_TEMPLATE_DB_ENV = "PAYMENTS_TEST_SECOND_TEMPLATE_DB";

/**
 * A server of its own for tests that change server-wide settings (synchronous_standby_names,
 * to hold commits in a real commit wait): started only when such a test file is selected.
 */
export const PRIVATE_ADMIN_URL_ENV = "PAYMENTS_TEST_PRIVATE_ADMIN_URL";
export const PRIVATE_TEMPLATE_DB_ENV = "PAYMENTS_TEST_PRIVATE_TEMPLATE_DB";

const TEST_ROOT = join(__dirname, "..", "..");
const DATABASE_TEST_DIRS = ["payments", "drills", "reconcile"].map((dir) => join(TEST_ROOT, dir));
const TWO_SERVER_TEST_DIRS = [join(TEST_ROOT, "reconcile")];
/** Test files that get the private server (they are alone in this folder). */
const PRIVATE_SERVER_TEST_DIRS = [join(TEST_ROOT, "payments", "private-server")];

interface GlobalConfigLike {
  readonly rootDir: string;
  readonly listTests?: boolean;
  readonly testPathPatterns?: {
    isSet(): boolean;
    toExecutor(options: { rootDir: string }): { isMatch(path: string): boolean };
  };
}

declare global {
  var __paymentsPostgres:
    | {
        server?: EmbeddedServer;
        template: string;
        second?: EmbeddedServer;
        private?: EmbeddedServer;
      }
    | undefined;
}

function needsDatabase(config: GlobalConfigLike, dirs = DATABASE_TEST_DIRS): boolean {
  if (config.listTests) return false;
  const patterns = config.testPathPatterns;
  if (!patterns?.isSet()) return true;
  const matcher = patterns.toExecutor({ rootDir: config.rootDir });
  return dirs
    .filter((dir) => existsSync(dir))
    .some((dir) =>
      readdirSync(dir, { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith(".test.ts"))
        .some((file) => matcher.isMatch(join(dir, file))),
    );
}

/** A migrated template database on the server at `adminUrl` (test files copy it). */
export async function createTemplate(adminUrl: string): Promise<string> {
  const name = `payments_test_template_${process.pid}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const template = new Client({ connectionString: url.toString() });
  await template.connect();
  try {
    await migrate(template, loadMigrations(readMigrationFiles()));
    await template.query(`ALTER ROLE ${DATABASE_APP_USER} PASSWORD '${APP_ROLE_PASSWORD}'`);
  } finally {
    await template.end();
  }
  return name;
}

export default async function globalSetup(globalConfig: GlobalConfigLike): Promise<void> {
  if (!needsDatabase(globalConfig)) return;
  const given = process.env.DATABASE_URL;
  const server = given ? undefined : await startEmbeddedPostgres();
  const adminUrl = given ?? server!.adminUrl;
  globalThis.__paymentsPostgres = { server, template: "" };
  const template = await createTemplate(adminUrl);
  globalThis.__paymentsPostgres.template = template;
  process.env[ADMIN_URL_ENV] = adminUrl;
  process.env[TEMPLATE_DB_ENV] = template;
  if (needsDatabase(globalConfig, TWO_SERVER_TEST_DIRS)) {
    const second = await startEmbeddedPostgres();
    globalThis.__paymentsPostgres.second = second;
    process.env[SECOND_TEMPLATE_DB_ENV] = await createTemplate(second.adminUrl);
    process.env[SECOND_ADMIN_URL_ENV] = second.adminUrl;
  }
  if (needsDatabase(globalConfig, PRIVATE_SERVER_TEST_DIRS)) {
    const own = await startEmbeddedPostgres();
    globalThis.__paymentsPostgres.private = own;
    process.env[PRIVATE_TEMPLATE_DB_ENV] = await createTemplate(own.adminUrl);
    process.env[PRIVATE_ADMIN_URL_ENV] = own.adminUrl;
  }
}
