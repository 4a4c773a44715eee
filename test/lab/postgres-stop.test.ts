// The lab's PostgreSQL stops cleanly when a caller is stuck before its startup packet (issue 16).
// Aurora's RPO guard in the lab holds a region's application link: the client's bytes are paused
// (lab/world/network.ts), so a connection opened through it never sends its startup packet, and a
// paused socket never sees its client give up. When such a connection reaches the postmaster
// during the shutdown that fences a partition's old primary, the postmaster waits for that child
// until authentication_timeout; at PostgreSQL's default (60 s) the lab's 30 s stop bound killed
// the server instead, in 4 of 5 partition runs, and every run spent those 30 s (600 lab seconds
// at --fast 20) before the old primary counted as fenced.
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../lab/lab";
import { PgNode } from "../../lab/world/postgres";
import { sleep } from "./support/wait";

jest.setTimeout(60_000);

let root: string;
const sockets: Socket[] = [];

afterAll(() => {
  for (const s of sockets) s.destroy();
  rmSync(root, { recursive: true, force: true });
});

describe("the lab's PostgreSQL", () => {
  it("shuts down cleanly when a connection that never sends its startup packet arrives during the shutdown", async () => {
    root = mkdtempSync(join(tmpdir(), "payments-stop-"));
    chmodSync(root, 0o777);
    const logFile = join(root, "server.log");
    const node = new PgNode({
      name: "held",
      dataDir: join(root, "data"),
      port: await freePort(),
      logFile,
    });
    PgNode.initialise(node.options.dataDir);
    await node.start();
    const started = Date.now();
    let stopped = false;
    const stopping = node.stop().then(() => (stopped = true));
    // Held callers: connections that keep arriving while the server shuts down, each silent from
    // then on (one of them lands after the postmaster took the shutdown request).
    while (!stopped && Date.now() - started < 1000) {
      const held = connect(node.port, "127.0.0.1");
      held.on("error", () => undefined);
      sockets.push(held);
      await sleep(2);
    }
    await stopping;
    // A clean fast shutdown, not the SIGKILL the stop bound sends after 30 s.
    expect(readFileSync(logFile, "utf8")).toContain("database system is shut down");
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
