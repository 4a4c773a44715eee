import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

const ROOT = join(__dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");

/** Runs `npm run synth`'s script in a child process, as a user would, into `outdir`. */
export function runSynth(env: Record<string, string>, outdir: string) {
  return spawnSync(TSX, ["infra/synth.ts", "--outdir", outdir], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: "utf8",
  });
}

/** `runSynth` without blocking: several synths run side by side on the two cores. */
export function runSynthAsync(
  env: Record<string, string>,
  outdir: string,
): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(TSX, ["infra/synth.ts", "--outdir", outdir], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.resume();
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

/** Runs `npm run rto`'s script against `outdir`. */
export function runRto(env: Record<string, string>, outdir: string) {
  return spawnSync(TSX, ["infra/rto.ts", outdir], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: "utf8",
  });
}
