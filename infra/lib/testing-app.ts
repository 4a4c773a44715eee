// cdktf's Testing.app() makes a temporary output folder (`cdktf.outdir.*` in the OS temp dir)
// and never removes it; synthesizing in memory (Testing.synth) does not need it afterwards.
// Every test, check and script that synthesizes through Testing.app() gets it from here, so the
// folder goes: in a jest test file, after its tests (afterAll, registered when this module loads;
// jest gives each file its own `process` object, whose listeners the real process never calls);
// in a script, when the process ends, on every way out: a normal end, an uncaught error (both
// emit 'exit') or a signal (Ctrl-C).
import { rmSync } from "node:fs";
import { Testing } from "cdktf";
import type { App } from "cdktf";

const outdirs = new Set<string>();
let hooked = false;

function removeAll(): void {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
  outdirs.clear();
}

// Jest: each test file loads this module afresh, so every file cleans up after itself.
const jestAfterAll = (globalThis as { afterAll?: (fn: () => void) => void }).afterAll;
if (typeof jestAfterAll === "function") {
  try {
    jestAfterAll(removeAll);
    hooked = true;
  } catch {
    // First loaded inside a test, where jest refuses hooks: the process hooks below instead.
  }
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once("exit", removeAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      removeAll();
      // Then the signal's usual effect, unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** Testing.app() whose output folder is removed when the process exits. */
export function testingApp(): App {
  const app = Testing.app();
  outdirs.add(app.outdir);
  hook();
  return app;
}

/** Removes the output folders made so far (for a long-lived process between synths). */
export function removeTestingOutdirs(): void {
  removeAll();
}
