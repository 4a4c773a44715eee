// The network between the lab's two regions: every cross-region connection (PostgreSQL streaming
// replication, the orchestrator's calls into the other region, the prober's probes) goes through
// a TCP link on 127.0.0.1 that a scenario can delay, cut and restore. Clients on the internet and
// Route 53's health checkers do not use these links: a partition separates the regions from each
// other, not from their users (issue 13: "partition ... clients still reach A for a while").
import { connect, createServer } from "node:net";
import type { Server, Socket } from "node:net";

export type LinkState = "up" | "cut";

/** One directional TCP link: `from` region's callers reach a port of the `to` region. */
export class Link {
  readonly sockets = new Set<Socket>();
  /** Connections accepted while cut: held open, never forwarded (packets dropped). */
  readonly held = new Set<Socket>();
  state: LinkState = "up";
  port = 0;
  private server?: Server;

  constructor(
    readonly from: string,
    readonly to: string,
    readonly name: string,
    /** Where the traffic goes; changed when the target is restarted elsewhere. */
    public targetPort: number,
    /** One-way latency added to every chunk, ms. */
    public delayMs: number,
  ) {}

  async listen(): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    this.server.on("error", () => undefined);
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (typeof address === "object" && address) this.port = address.port;
  }

  private accept(client: Socket): void {
    client.on("error", () => undefined);
    if (this.state === "cut") {
      // A partition drops packets: the connection hangs until the caller's own timeout.
      this.held.add(client);
      client.on("close", () => this.held.delete(client));
      return;
    }
    const upstream = connect(this.targetPort, "127.0.0.1");
    upstream.on("error", () => undefined);
    this.clients.add(client);
    client.on("close", () => this.clients.delete(client));
    if (this.held_) client.pause();
    this.sockets.add(client).add(upstream);
    this.pipe(client, upstream);
    this.pipe(upstream, client);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on("close", () => {
        this.sockets.delete(a);
        b.destroy();
      });
    }
  }

  /** Forwards a -> b with the link's latency, keeping the order of chunks. */
  private pipe(a: Socket, b: Socket): void {
    let chain = Promise.resolve();
    a.on("data", (chunk: Buffer) => {
      if (this.state === "cut") return;
      const delay = this.delayMs;
      if (delay <= 0) {
        b.write(chunk);
        return;
      }
      const due = Date.now() + delay;
      chain = chain.then(
        () =>
          new Promise<void>((resolve) =>
            setTimeout(
              () => {
                if (this.state === "up" && !b.destroyed) b.write(chunk);
                resolve();
              },
              Math.max(0, due - Date.now()),
            ),
          ),
      );
    });
  }

  /** Commits blocked (Aurora's RPO guard): nothing a client sends reaches the server until release. */
  held_ = false;

  hold(): void {
    this.held_ = true;
    for (const socket of this.clients) socket.pause();
  }

  release(): void {
    this.held_ = false;
    for (const socket of this.clients) socket.resume();
  }

  private readonly clients = new Set<Socket>();

  /** Drops every connection in flight and holds new ones (a partition). */
  cut(): void {
    this.state = "cut";
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.state = "up";
    // Held connections were never answered: their callers have given up; reset them.
    for (const socket of this.held) socket.destroy();
    this.held.clear();
  }

  async close(): Promise<void> {
    this.cut();
    for (const socket of this.held) socket.destroy();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}

export class Network {
  readonly links: Link[] = [];

  constructor(private readonly delayMs: number) {}

  /** A link from `from` to a port in `to`; returns the port `from`'s callers use. */
  async link(from: string, to: string, name: string, targetPort: number): Promise<Link> {
    const link = new Link(from, to, name, targetPort, this.delayMs);
    await link.listen();
    this.links.push(link);
    return link;
  }

  /** Can `a` and `b` reach each other? (Both directions are cut together.) */
  connected(a: string, b: string): boolean {
    return !this.links.some(
      (l) => ((l.from === a && l.to === b) || (l.from === b && l.to === a)) && l.state === "cut",
    );
  }

  partition(a: string, b: string): void {
    for (const l of this.between(a, b)) l.cut();
    this.cutPairs.add(pairKey(a, b));
  }

  heal(a: string, b: string): void {
    for (const l of this.between(a, b)) l.restore();
    this.cutPairs.delete(pairKey(a, b));
  }

  /** Is the pair partitioned (also when no link exists yet)? */
  isPartitioned(a: string, b: string): boolean {
    return this.cutPairs.has(pairKey(a, b));
  }

  private readonly cutPairs = new Set<string>();

  private between(a: string, b: string): Link[] {
    return this.links.filter((l) => (l.from === a && l.to === b) || (l.from === b && l.to === a));
  }

  async close(): Promise<void> {
    await Promise.all(this.links.map((l) => l.close()));
  }
}

function pairKey(a: string, b: string): string {
  return [a, b].sort().join("|");
}
