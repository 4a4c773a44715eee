// The lab killed outright (SIGKILL: no handler runs) must not leave its PostgreSQL server behind:
// the reaper started with it kills the server's process group and removes the lab's folder.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { until } from "./support/wait";

jest.setTimeout(90_000);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("the lab's reaper", () => {
  it("kills the lab's PostgreSQL and removes its folder when the lab is SIGKILLed", async () => {
    const repo = join(__dirname, "..", "..");
    // A stand-in for the lab process: a folder, a reaper, a real PostgreSQL server in its own
    // process group (as the lab starts them), then it waits to be killed.
    const script = `
      const { mkdtempSync, chmodSync } = require("node:fs");
      const { tmpdir } = require("node:os");
      const { join } = require("node:path");
      const { startReaper } = require(${JSON.stringify(join(repo, "lab", "reaper.ts"))});
      const { PgNode } = require(${JSON.stringify(join(repo, "lab", "world", "postgres.ts"))});
      const { freePort } = require(${JSON.stringify(join(repo, "lab", "lab.ts"))});
      (async () => {
        const root = mkdtempSync(join(tmpdir(), "payments-lab-"));
        chmodSync(root, 0o777);
        startReaper(root);
        const dataDir = join(root, "r-data");
        PgNode.initialise(dataDir);
        const node = new PgNode({ name: "r", dataDir, port: await freePort(), logFile: join(root, "pg.log") });
        await node.start(60000);
        process.stdout.write(JSON.stringify({ root, pid: node.pid }) + "\\n");
        setInterval(() => undefined, 1000);
      })();
    `;
    const lab = spawn(process.execPath, ["--import", "tsx", "-e", script], {
      cwd: repo,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const started = await new Promise<{ root: string; pid: number }>((resolve, reject) => {
      let out = "";
      lab.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split("\n").find((l) => l.startsWith("{"));
        if (line) resolve(JSON.parse(line) as { root: string; pid: number });
      });
      lab.once("exit", (code) => reject(new Error(`the stand-in lab exited with ${code}`)));
    });
    expect(alive(started.pid)).toBe(true);
    expect(existsSync(started.root)).toBe(true);

    lab.kill("SIGKILL");

    await until("the lab's PostgreSQL to be killed", () => !alive(started.pid), {
      limitMs: 20_000,
      everyMs: 100,
    });
    await until("the lab's folder to be removed", () => !existsSync(started.root), {
      limitMs: 20_000,
      everyMs: 100,
    });
  });
});
