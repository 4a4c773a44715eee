// The report functions' environment, read once at module load (a bad deploy fails on the first
// call, naming the variable). Pure.
import { REPORTS_ENV } from "../../common/contract";
import { intEnv, MissingEnvironmentError, requireEnv } from "../../common/env";
import type { Targets } from "./model";

export interface TargetsByKind {
  readonly default: Targets;
  readonly [kind: string]: Targets;
}

export function parseTargets(json: string): TargetsByKind {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new MissingEnvironmentError(`${REPORTS_ENV.targets} is not valid JSON`);
  }
  const byKind = value as Record<string, Partial<Targets>>;
  if (typeof byKind !== "object" || byKind === null || !byKind.default) {
    throw new MissingEnvironmentError(`${REPORTS_ENV.targets} must have a "default" entry`);
  }
  for (const [kind, targets] of Object.entries(byKind)) {
    for (const field of ["rtoTargetSeconds", "rtoGoalSeconds", "rpoTargetSeconds"] as const) {
      const v = targets?.[field];
      if (typeof v !== "number" || !(v > 0)) {
        throw new MissingEnvironmentError(
          `${REPORTS_ENV.targets}.${kind}.${field} must be a positive number of seconds, got ${JSON.stringify(v)}`,
        );
      }
    }
  }
  return byKind as TargetsByKind;
}

export interface ReportsEnvironment {
  readonly region: string;
  readonly environment: string;
  readonly ledgerTable: string;
  readonly retentionDays: number;
}

export function readReportsEnvironment(env: NodeJS.ProcessEnv = process.env): ReportsEnvironment {
  return {
    region: requireEnv("AWS_REGION", env),
    environment: requireEnv(REPORTS_ENV.environmentSuffix, env),
    ledgerTable: requireEnv(REPORTS_ENV.ledgerTable, env),
    retentionDays: intEnv(REPORTS_ENV.retentionDays, 400, { min: 1, max: 3650 }, env),
  };
}
