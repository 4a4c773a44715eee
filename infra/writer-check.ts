// `npm run writer-check`: before changing WRITER_REGION (after a failover, a switchover or a
// re-protect), proves offline, with the real AWS provider, that moving the writer in this
// environment destroys and replaces no data store. It synthesizes the environment (the current
// variables) with the writer in each of its two regions, then for each direction plans the first
// setting, builds the state an apply would leave, checks that re-planning it replaces nothing
// (the control) and plans the second setting in full against it (infra/lib/writer-move.ts).
// Exits 1 when a data store would be destroyed or replaced.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "./config";
import { buildApp } from "./main";
import { findProviderMirror, OfflinePlanError, terraformVersion } from "./lib/offline-plan";
import { readStacks } from "./lib/synthesized";
import {
  checkWriterMove,
  formatWriterMove,
  lostDataStores,
  WriterMoveError,
} from "./lib/writer-move";

function main(): number {
  const version = terraformVersion();
  if (!version) {
    console.error("writer-check needs terraform (>= 1.10) on PATH and found none");
    return 1;
  }
  const config = loadConfig();
  const regions = [config.primary.region, config.secondary.region];
  const scratch = mkdtempSync(join(tmpdir(), "writer-check-"));
  try {
    const stacks = Object.fromEntries(
      regions.map((region) => {
        const outdir = join(scratch, region);
        buildApp(loadConfig({ ...process.env, WRITER_REGION: region }), outdir).synth();
        return [region, readStacks(outdir)[0]!];
      }),
    );
    const mirror = findProviderMirror();
    let lost = 0;
    // From the current setting first: that is the move the operator is about to make.
    const current = config[config.writer].region;
    for (const from of [current, ...regions.filter((r) => r !== current)]) {
      const to = regions.find((r) => r !== from)!;
      const started = Date.now();
      console.log(`WRITER_REGION=${from} -> WRITER_REGION=${to}`);
      const report = checkWriterMove(
        { name: `WRITER_REGION=${from}`, stack: stacks[from]! },
        [{ name: `WRITER_REGION=${to}`, stack: stacks[to]!, fullPlan: true }],
        { mirror, log: (line) => console.log(`  ${line.slice(0, 120)}`) },
      );
      console.log(formatWriterMove(report));
      console.log(`  (${Math.round((Date.now() - started) / 1000)} s)`);
      lost += report.moves.reduce((n, m) => n + lostDataStores(m).length, 0);
    }
    console.log(
      lost === 0
        ? "no data store is destroyed or replaced in either direction"
        : `DATA LOSS: ${lost} data store destructions or replacements above`,
    );
    return lost === 0 ? 0 : 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

try {
  process.exitCode = main();
} catch (error) {
  if (
    error instanceof ConfigError ||
    error instanceof OfflinePlanError ||
    error instanceof WriterMoveError
  ) {
    console.error(`writer-check: ${error.message}`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
