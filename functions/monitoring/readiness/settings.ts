// READINESS_SETTINGS, parsed and checked once per process. Pure: no AWS imports.
import { ConfigurationError } from "../../dr/shared/errors";
import { DR_TASK_NAMES } from "../../dr/tasks";
import type { ReadinessSettings } from "./core";

function fail(what: string): never {
  throw new ConfigurationError(`READINESS_SETTINGS: ${what}`);
}

function strings(value: unknown, field: string): readonly string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v === "")) {
    fail(`${field} must be a list of non-empty strings, got ${JSON.stringify(value)}`);
  }
  return value as string[];
}

function text(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "") {
    fail(`${field} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

function whole(value: unknown, field: string, min: number, max: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    fail(`${field} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

/** Parses READINESS_SETTINGS; throws ConfigurationError naming the field, value and what fits. */
export function parseReadinessSettings(
  json: string,
  regions: readonly string[],
): ReadinessSettings {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return fail("is not valid JSON");
  }
  if (typeof raw !== "object" || raw === null) fail("must be an object");
  const accountId = text(raw.accountId, "accountId");
  if (!/^\d{12}$/.test(accountId)) fail(`accountId must be 12 digits, got ${accountId}`);
  const perRegion = (raw.regions ?? {}) as Record<string, Record<string, unknown>>;
  for (const r of regions) {
    const entry = perRegion[r];
    if (!entry) fail(`regions.${r} is missing`);
    strings(entry.keyArns, `regions.${r}.keyArns`);
    text(entry.workflowRoleArn, `regions.${r}.workflowRoleArn`);
    const taskRoles = (entry.taskRoleArns ?? {}) as Record<string, unknown>;
    for (const task of DR_TASK_NAMES) {
      text(taskRoles[task], `regions.${r}.taskRoleArns.${task}`);
    }
    text(entry.backupVault, `regions.${r}.backupVault`);
    strings(entry.instanceIdentifiers, `regions.${r}.instanceIdentifiers`);
    text(entry.subnetGroup, `regions.${r}.subnetGroup`);
    text(entry.clusterParameterGroup, `regions.${r}.clusterParameterGroup`);
  }
  const database = (raw.database ?? {}) as Record<string, unknown>;
  const lag = (raw.lag ?? {}) as Record<string, unknown>;
  const warnMs = whole(lag.warnMs, "lag.warnMs", 0, 86_400_000);
  const failMs = whole(lag.failMs, "lag.failMs", 1, 86_400_000);
  if (warnMs > failMs) fail(`lag.warnMs (${warnMs}) must not exceed lag.failMs (${failMs})`);
  const quotas = raw.quotas;
  if (
    !Array.isArray(quotas) ||
    quotas.some(
      (q) =>
        typeof q?.serviceCode !== "string" ||
        !/^L-[0-9A-F]{8}$/.test(String(q?.quotaCode)) ||
        typeof q?.name !== "string",
    )
  ) {
    fail(
      `quotas must be a list of { serviceCode, quotaCode: L-XXXXXXXX, name }, got ${JSON.stringify(quotas)}`,
    );
  }
  const budget = (raw.lambdaBudget ?? {}) as Record<string, unknown>;
  const reserved = (budget.reserved ?? {}) as Record<string, unknown>;
  for (const r of regions) whole(reserved[r], `lambdaBudget.reserved.${r}`, 0, 1_000_000);
  const proberRegion = text(raw.proberRegion, "proberRegion");
  if (!regions.includes(proberRegion)) {
    fail(`proberRegion must be one of ${regions.join(", ")}, got ${proberRegion}`);
  }
  return {
    accountId,
    paymentFunctions: strings(raw.paymentFunctions, "paymentFunctions"),
    taskFunctions: strings(raw.taskFunctions, "taskFunctions"),
    reportWriter: text(raw.reportWriter, "reportWriter"),
    tables: strings(raw.tables, "tables"),
    stateMachines: strings(raw.stateMachines, "stateMachines"),
    drillDocument: text(raw.drillDocument, "drillDocument"),
    regions: perRegion as unknown as ReadinessSettings["regions"],
    proberRegion,
    alarmPrefix: text(raw.alarmPrefix, "alarmPrefix"),
    alarmSuffix: text(raw.alarmSuffix, "alarmSuffix"),
    database: {
      instanceClass: text(database.instanceClass, "database.instanceClass"),
      writerInstances: whole(database.writerInstances, "database.writerInstances", 1, 15),
      standbyInstances: whole(database.standbyInstances, "database.standbyInstances", 1, 15),
      engineVersion: text(database.engineVersion, "database.engineVersion"),
      monitoringRoleArn: text(database.monitoringRoleArn, "database.monitoringRoleArn"),
    },
    lag: { warnMs, failMs },
    quotas: quotas as ReadinessSettings["quotas"],
    freshnessGraceHours: whole(raw.freshnessGraceHours, "freshnessGraceHours", 0, 2160),
    unknownPageAfter: whole(raw.unknownPageAfter, "unknownPageAfter", 1, 48),
    scheduleMinutes: whole(raw.scheduleMinutes, "scheduleMinutes", 5, 720),
    lambdaBudget: {
      accountConcurrency: whole(
        budget.accountConcurrency,
        "lambdaBudget.accountConcurrency",
        110,
        1_000_000,
      ),
      reserved: reserved as Record<string, number>,
      unreserved: strings(budget.unreserved, "lambdaBudget.unreserved"),
    },
  };
}
