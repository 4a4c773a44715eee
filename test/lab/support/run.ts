// Shared by the lab's tests: one scenario in fast mode with a printed seed, the lab always torn
// down, and the invariants every completed scenario must hold whatever path it took.
import { existsSync } from "node:fs";
import { PRODUCTION_TIMINGS } from "../../../lab/config";
import type { LabConfig } from "../../../lab/config";
import { Lab } from "../../../lab/lab";
import { buildReport } from "../../../lab/report";
import { runScenario } from "../../../lab/scenarios";
import type { ScenarioResult } from "../../../lab/scenarios";
import { AuroraGlobalDatabase } from "../../../lab/world/aurora";

export function labConfig(overrides: Partial<LabConfig>): LabConfig {
  const seed = Number(process.env.LAB_SEED ?? Math.floor(Math.random() * 2 ** 31));
  return {
    scenario: "region-down",
    fast: 20,
    seed,
    rate: 10,
    captureShare: 0.3,
    outDir: "lab-report/test",
    primary: "us-east-1",
    secondary: "us-west-2",
    skipFence: false,
    quiet: true,
    timings: PRODUCTION_TIMINGS,
    ...overrides,
  };
}

export async function runLab(overrides: Partial<LabConfig>): Promise<ScenarioResult> {
  const c = labConfig(overrides);
  const lab = new Lab(c);
  try {
    return await runScenario(c, lab);
  } catch (error) {
    // The seed reproduces the run's draws.
    throw new Error(`lab ${c.scenario} (seed ${c.seed}) failed: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    await lab.stop();
    expect(existsSync(lab.root)).toBe(false);
  }
}

/** The checks that failed, each with the seed that reproduces it. */
export function failed(result: ScenarioResult): string[] {
  return result.findings.checks
    .filter((c) => !c.ok)
    .map((c) => `${c.name}: ${c.detail} (seed ${result.lab.config.seed})`);
}

/**
 * The invariants of a completed move to `writer`: one writer at every instant, nothing lost
 * beyond rds.global_db_rpo (judged on the old primary's own commit times) and nothing vanished,
 * nothing doubled, the RTO measured with its phases in order, and (`lossless`) nothing lost.
 */
export function expectInvariants(
  result: ScenarioResult,
  options: { writer: string; lossless: boolean; phases: readonly string[] },
): void {
  const { findings } = result;
  expect(failed(result)).toEqual([]);
  expect(result.writerRegion).toBe(options.writer);
  expect(result.findings.checks.find((c) => c.name === "single-writer")?.ok).toBe(true);
  // The old primary never committed after the new one began its own writes.
  const { oldOnly, newOnly } = findings.forkWrites;
  if (oldOnly && newOnly) expect(oldOnly.last).toBeLessThan(newOnly.first);
  expect(findings.rpo.vanished).toEqual([]);
  expect(findings.doubled).toEqual([]);
  expect(findings.conflicts).toEqual([]);
  if (options.lossless) {
    expect(findings.rpo.lostPayments).toEqual([]);
    expect(findings.rpo.lostCaptures).toEqual([]);
  } else if (findings.rpo.commitWindow) {
    const slackSeconds = (2 * AuroraGlobalDatabase.SAMPLE_MS * result.lab.config.fast) / 1000;
    expect(findings.rpo.commitWindow.seconds).toBeLessThanOrEqual(
      result.lab.config.timings.rpoGuardSeconds + slackSeconds,
    );
  }
  const report = buildReport(result);
  expect(report.rto.seconds).not.toBeNull();
  expect(report.rto.seconds!).toBeGreaterThan(0);
  const names = report.rto.phases.map((p) => p.name);
  expect(names).toEqual(expect.arrayContaining([...options.phases]));
  // Phases follow each other: each starts where the one before it ended.
  const serial = report.rto.phases.filter((p) => p.name !== "workflow");
  for (let i = 1; i < serial.length; i++) expect(serial[i]!.from).toBe(serial[i - 1]!.to);
}

/**
 * Issue 16: the reconciliation after an unplanned failover listed exactly what the lab measured
 * as lost (a non-empty set), replayed all but the conflicts, and a second replay did nothing.
 * A conflict was planted (a lost key reused in the new region) and reported, not replayed; what
 * the clients were told succeeded and the new primary lacks is part of the lost set.
 */
export function expectReconciled(result: ScenarioResult): void {
  const r = result.reconciliation;
  expect(r).not.toBeNull();
  expect(r!.checks.filter((c) => !c.ok)).toEqual([]);
  expect(r!.measured.lost).toBeGreaterThan(0);
  // The clients' own account (checks.ts: acknowledged, missing from the new primary) is a
  // subset of the lab's lost set, and the report counts it.
  const acknowledged = new Set(
    [...result.findings.rpo.lostPayments, ...result.findings.rpo.lostCaptures].map(
      (a) => a.paymentId,
    ),
  );
  expect([...acknowledged].filter((id) => !r!.lost.includes(id))).toEqual([]);
  expect(r!.measured.acknowledged).toBe(acknowledged.size);
  expect(r!.measured.acknowledged + r!.measured.unacknowledged).toBe(r!.measured.lost);
  // At least one planted conflict, reported with the key-reuse reason and never replayed.
  expect(r!.planted.length).toBeGreaterThanOrEqual(1);
  for (const id of r!.planted) {
    expect(r!.conflicts.find((c) => c.paymentId === id)?.reason).toMatch(
      /reused on the new primary/,
    );
  }
  const { lost, conflicts } = r!.after!;
  expect(lost).toBe(r!.measured.lost);
  expect(r!.line).toBe(
    `lost ${lost}, reconciled ${lost}, replayed ${lost - conflicts}, conflicts ${conflicts}`,
  );
  expect(conflicts).toBe(r!.measured.plantedConflicts + r!.measured.retried);
  expect(conflicts).toBeGreaterThanOrEqual(1);
  expect(r!.secondReplaySteps).toBe(0);
  expect(buildReport(result).reconciliation?.line).toBe(r!.line);
}
