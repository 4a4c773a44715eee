// Invoked before each code deploy, in the active region: applies the SQL migrations.
import type { Context } from "aws-lambda";
import { Client } from "pg";
import { clientConfig } from "../shared/database";
import { logger } from "../shared/observability";
import { baseRuntime } from "../shared/runtime";
import type { MigrationResult } from "../shared/migrator";
import { EMBEDDED_MIGRATIONS } from "../migrations/embedded";
import { runMigrations } from "./core";
import { writerIdentityMode, writerIdentityRequest } from "../shared/writer-identity";

const base = baseRuntime({ functionName: "migrate", apiKeys: false, master: true });

/** DDL may wait for locks held by live traffic; give up on a lock rather than queue it all. */
const MIGRATION_TIMEOUTS = { connectMs: 10_000, statementMs: 240_000 };
const LOCK_TIMEOUT_MS = 10_000;

export const handler = async (_event: unknown, context: Context): Promise<MigrationResult> => {
  logger.addContext(context);
  const result = await runMigrations({
    files: EMBEDDED_MIGRATIONS,
    connect: async () => {
      const settings = await base.databaseSettings();
      const client = new Client({
        ...clientConfig(settings, "payments-migrate", MIGRATION_TIMEOUTS),
        lock_timeout: LOCK_TIMEOUT_MS,
      });
      await client.connect();
      return client;
    },
    // On Aurora (and where a test asks for it, DATABASE_WRITER_IDENTITY=aurora): the deploy
    // fails here when the application role cannot run the write path's writer identity check.
    verifyWriterIdentity:
      writerIdentityMode(await base.databaseSettings(), writerIdentityRequest()) === "aurora",
    log: (message, details) => logger.info(message, details),
  });
  logger.info("migrations done", { ...result });
  return result;
};
