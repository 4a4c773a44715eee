// A model of Aurora's global writer endpoint in front of two test databases (two "clusters" on
// the test server): one host name whose resolution moves from the old writer to the promoted
// one, late. AWS: "The global writer endpoint update after a global database failover or
// switchover can take a long time depending upon your DNS caching duration"
// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-connecting.html).
// A connection opened before the move stays on the server it reached (a pooled connection); only
// new connections follow `resolveTo`. Each database is chosen by rewriting the database name in
// the client's startup message (no TLS in the tests), so both names must have the same length
// (createTestDatabase's names do).
import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { pipeSockets } from "./proxy";

export interface GlobalEndpoint {
  /** The URL the functions connect to (the global endpoint), as `databaseUrl`'s user. */
  readonly url: string;
  /** New connections reach the database of `databaseUrl` from now on. */
  resolveTo(databaseUrl: string): void;
  close(): Promise<void>;
}

function databaseName(url: string): string {
  return new URL(url).pathname.replace(/^\//, "");
}

export async function startGlobalEndpoint(initialUrl: string): Promise<GlobalEndpoint> {
  const published = databaseName(initialUrl);
  const target = new URL(initialUrl);
  let current = published;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    const reach = current;
    let first = true;
    pipeSockets(client, upstream, sockets, (chunk) => {
      if (first) {
        first = false;
        // The startup message names the database as a NUL-terminated string.
        const at = chunk.indexOf(Buffer.from(`${published}\0`));
        if (at >= 0) Buffer.from(`${reach}\0`).copy(chunk, at);
      }
      return chunk;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const url = new URL(initialUrl);
  url.hostname = "127.0.0.1";
  url.port = String(typeof address === "object" && address ? address.port : 0);
  return {
    url: url.toString(),
    resolveTo: (databaseUrl) => {
      const name = databaseName(databaseUrl);
      if (name.length !== published.length) {
        throw new Error(`database names must have the same length: ${name} and ${published}`);
      }
      current = name;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
