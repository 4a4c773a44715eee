// What survives the lab when the lab does not survive: its PostgreSQL servers and API processes
// run in their own process groups (a region kill must take every backend at once), so neither a
// Ctrl-C at the terminal nor the lab's own death reaches them, and a SIGKILL, an OOM kill or a
// jest worker torn down at its timeout never runs Lab.stop(). A small watcher process, started
// with the lab, holds a pipe from it; when the pipe closes, however the lab ended, it kills the
// process group of every process whose command line names the lab's folder and removes the
// folder (unless the lab asked to keep it). Linux only (/proc); elsewhere it only removes the
// folder.
import { spawn } from "node:child_process";
import type { Writable } from "node:stream";

const SCRIPT = `
const fs = require("node:fs");
const root = process.argv[1];
let keep = false;
let done = false;
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => { if (d.includes("keep")) keep = true; });
const reap = () => {
  if (done) return;
  done = true;
  let names = [];
  try { names = fs.readdirSync("/proc"); } catch {}
  for (const name of names) {
    if (!/^[0-9]+$/.test(name) || Number(name) === process.pid) continue;
    let cmd;
    try { cmd = fs.readFileSync("/proc/" + name + "/cmdline", "utf8"); } catch { continue; }
    if (!cmd.includes(root)) continue;
    try { process.kill(-Number(name), "SIGKILL"); } catch { try { process.kill(Number(name), "SIGKILL"); } catch {} }
  }
  setTimeout(() => {
    if (!keep) { try { fs.rmSync(root.replace(/\\/$/, ""), { recursive: true, force: true }); } catch {} }
    process.exit(0);
  }, 300);
};
process.stdin.on("end", reap);
process.stdin.on("close", reap);
process.stdin.on("error", reap);
process.on("SIGINT", () => undefined);
process.on("SIGTERM", reap);
`;

export interface Reaper {
  /** Leave the folder in place (the lab was asked to keep it). */
  keepFolder(): void;
  /** The lab ended normally: the watcher checks once more and exits. */
  stop(): void;
}

/** Starts the watcher of `root` (the lab's folder; every process it kills names `root/`). */
export function startReaper(root: string): Reaper {
  const marker = `${root}/`;
  const child = spawn(process.execPath, ["-e", SCRIPT, marker], {
    // Its own group: the Ctrl-C that stops the lab must not stop its watcher first.
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
  });
  child.unref();
  const stdin = child.stdin as Writable & { unref?: () => void };
  stdin.on("error", () => undefined);
  // The pipe must not keep the lab (or a jest worker) alive on its own.
  (stdin as unknown as { _handle?: { unref?: () => void } })._handle?.unref?.();
  return {
    keepFolder: () => {
      stdin.write("keep\n");
    },
    stop: () => {
      stdin.end();
    },
  };
}
