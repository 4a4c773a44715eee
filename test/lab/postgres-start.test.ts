// The lab's PostgreSQL takes its port from freePort(), which closes its probe before the server
// binds. With the lab suites in parallel jest workers, another lab can hold that port for an
// instant (its own probe) or for good (it got the same port): a fresh-clone CI run failed with
// "postgres us-east-1 exited at start" and nothing else, its log already removed with the lab.
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../lab/lab";
import { PgNode } from "../../lab/world/postgres";

jest.setTimeout(60_000);

let root: string;
const nodes: PgNode[] = [];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "payments-start-"));
  chmodSync(root, 0o777);
});

afterAll(async () => {
  for (const node of nodes) await node.stop();
  rmSync(root, { recursive: true, force: true });
});

function hold(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

describe("freePort", () => {
  // Session 24's CI: a port from listen(0) is in the ephemeral range, where any outgoing
  // connection's local port comes from too, and one took 38487 for good before the server bound.
  it("gives ports below the kernel's ephemeral range, each one free to listen on", async () => {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    for (let i = 0; i < 20; i += 1) {
      const port = await freePort();
      expect(port).toBeLessThan(low!);
      (await hold(port)).close();
    }
  });
});

describe("the lab's PostgreSQL at start", () => {
  it("binds its port once another process lets go of it", async () => {
    const dataDir = join(root, "late");
    PgNode.initialise(dataDir);
    const port = await freePort();
    const holder = await hold(port);
    // Let go once the first bind has failed (the server exits within ~100 ms of its spawn).
    setTimeout(() => holder.close(), 1000);
    const node = new PgNode({ name: "late", dataDir, port, logFile: join(root, "late.log") });
    nodes.push(node);
    await node.start();
    expect(await node.sql("SELECT 1 AS one")).toEqual([{ one: 1 }]);
    expect(readFileSync(join(root, "late.log"), "utf8")).toMatch(
      /could not bind|Address already in use/,
    );
  });

  it("fails on a port held for good, with the server's own reason in the message", async () => {
    const port = await freePort();
    const holder = await hold(port);
    try {
      const dataDir = join(root, "held");
      PgNode.initialise(dataDir);
      const node = new PgNode({ name: "held", dataDir, port, logFile: join(root, "held.log") });
      nodes.push(node);
      await expect(node.start()).rejects.toThrow(
        new RegExp(
          `postgres held exited at start on port ${port}: .*(could not bind|Address already in use)`,
        ),
      );
    } finally {
      holder.close();
    }
  });
});
