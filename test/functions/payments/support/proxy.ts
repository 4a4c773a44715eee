// A TCP proxy in front of the test PostgreSQL, to take the database away mid-test: refuse new
// connections, drop the open ones, or drop a connection just as a given statement goes by.
import { createServer, connect } from "node:net";
import type { Server, Socket } from "node:net";

export interface DatabaseProxy {
  /** The database URL, through the proxy. */
  readonly url: string;
  /** Drops every connection and refuses new ones. */
  down(): Promise<void>;
  /** Accepts connections again. */
  up(): Promise<void>;
  /** Goes down the moment a client sends SQL containing `text` (that statement never arrives). */
  downOn(text: string): void;
  close(): Promise<void>;
}

export async function startProxy(databaseUrl: string): Promise<DatabaseProxy> {
  const target = new URL(databaseUrl);
  const sockets = new Set<Socket>();
  let trigger: Buffer | undefined;
  let server: Server | undefined;
  let port = 0;

  const drop = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        pipeSockets(client, upstream, sockets, (chunk) => {
          if (trigger && chunk.includes(trigger)) {
            trigger = undefined;
            void down();
            return undefined;
          }
          return chunk;
        });
      });
      server.on("error", reject);
      server.listen(port, "127.0.0.1", () => {
        const address = server!.address();
        if (typeof address === "object" && address) port = address.port;
        resolve();
      });
    });

  const down = () =>
    new Promise<void>((resolve) => {
      drop();
      if (!server) return resolve();
      const closing = server;
      server = undefined;
      closing.close(() => resolve());
    });

  await listen();
  const url = new URL(databaseUrl);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return {
    url: url.toString(),
    down,
    up: () => (server ? Promise.resolve() : listen()),
    downOn: (text) => {
      trigger = Buffer.from(text);
    },
    close: down,
  };
}

/**
 * Joins a client socket to its upstream, both tracked in `sockets` until they close; one side's
 * close or error ends the other. `fromClient` may rewrite a client chunk, or drop it (undefined).
 */
export function pipeSockets(
  client: Socket,
  upstream: Socket,
  sockets: Set<Socket>,
  fromClient: (chunk: Buffer) => Buffer | undefined = (chunk) => chunk,
): void {
  sockets.add(client).add(upstream);
  client.on("data", (chunk: Buffer) => {
    const out = fromClient(chunk);
    if (out) upstream.write(out);
  });
  upstream.on("data", (chunk: Buffer) => client.write(chunk));
  for (const [a, b] of [
    [client, upstream],
    [upstream, client],
  ] as const) {
    a.on("close", () => {
      sockets.delete(a);
      b.destroy();
    });
    a.on("error", () => b.destroy());
  }
}
