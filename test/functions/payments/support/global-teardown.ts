// Jest globalTeardown: stops the embedded PostgreSQL of global-setup.ts or, on a server given by
// DATABASE_URL, drops the template database it made there.
import { Client } from "pg";
import { ADMIN_URL_ENV } from "./global-setup";

export default async function globalTeardown(): Promise<void> {
  const started = globalThis.__paymentsPostgres;
  if (!started) return;
  globalThis.__paymentsPostgres = undefined;
  await started.second?.stop();
  await started.private?.stop();
  if (started.server) return started.server.stop();
  const adminUrl = process.env[ADMIN_URL_ENV];
  if (!started.template || !adminUrl) return;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${started.template} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
