// Tunables of the DR tasks, read once from the environment (names in DR_ENV). Pure.
import { DR_ENV, WRITER_HEARTBEAT } from "../../common/contract";
import type { DrCapacity } from "../../common/contract";
import { ConfigurationError } from "./errors";
import { intEnv } from "../../common/env";

/**
 * How long a long run's renewed lock lasts past the poll that renewed it (shared/lock.ts); here,
 * apart from the renewal, so the page that mentions it needs no control-table call.
 */
export const LOCK_LEASE_MINUTES = 15;

/**
 * The flood veto's bounded hold as the failover ASL runs it (HoldCount → HoldCounted → HoldWait →
 * Preflight):
 * a look every HOLD_INTERVAL_SECONDS, at most HOLD_LOOKS looks, then a page. Here for the messages
 * that describe it; test/state-machines/asl.test.ts holds them equal to the ASL (review 24-18 M3).
 */
export const HOLD_INTERVAL_SECONDS = 15;
export const HOLD_LOOKS = 9;

export interface DrSettings {
  readonly cooldownMinutes: number;
  readonly lockTtlMinutes: number;
  readonly failbackMaxLagMs: number;
  /** How far back preflight looks for a replication-lag datapoint. */
  readonly lagLookbackMinutes: number;
  /** Timeout of each verification request to the target region's API. */
  readonly httpTimeoutMs: number;
  /** Overall cap on one best-effort call to the other region (or Route 53). */
  readonly bestEffortTimeoutMs: number;
  /**
   * Seconds the old region's payment path may still commit once its replica of the flag names
   * the target (DR_FENCE_SETTLE_SECONDS, derived at synth from the payment functions).
   */
  readonly fenceSettleSeconds: number;
  /**
   * Seconds after the Fence was written until the old region's payment path can no longer commit
   * on the peer lease alone, its replica confirming nothing (DR_LEASE_SETTLE_SECONDS, derived at
   * synth: infra/lib/fence-bound.ts).
   */
  readonly leaseSettleSeconds: number;
  /** rds.global_db_rpo of the deployed primary (DR_DB_RPO_SECONDS); null: no RPO guard. */
  readonly dbRpoSeconds: number | null;
  /** How often the active cluster commits its heartbeat (WRITER_HEARTBEAT). */
  readonly heartbeatSeconds: number;
  /**
   * Added to rpo + heartbeat interval before a stale heartbeat counts as proof
   * (DR_WRITER_STOP_MARGIN_SECONDS, review M4). AWS documents neither how soon the primary blocks
   * commits once the RPO lag passes the bound (the lag looks computed periodically:
   * aurora_global_db_status has last_lag_calculation_time) nor that the lag keeps growing while
   * the secondary is unreachable; the margin covers the first, the second is an assumption
   * (state-machines/README.md), and the two regions' clocks differ by a little.
   */
  readonly writerStopMarginSeconds: number;
  /** Timeout of the /health request that reads the target cluster's writer heartbeat. */
  readonly replicaTimeoutMs: number;
  /** DR_CAPACITY; null when unset (RestoreCapacity then adds nothing and says why). */
  readonly capacity: DrCapacity | null;
  /**
   * The prober's heartbeat record must have been refreshed this recently to vouch for the
   * heartbeat (the prober looks every PROBE_INTERVAL_SECONDS; a dead prober vouches for nothing).
   */
  readonly heartbeatWatchMaxAgeSeconds: number;
}

export const DEFAULT_SETTINGS: DrSettings = {
  cooldownMinutes: 30,
  lockTtlMinutes: 360,
  failbackMaxLagMs: 1000,
  lagLookbackMinutes: 180,
  httpTimeoutMs: 5000,
  bestEffortTimeoutMs: 2500,
  fenceSettleSeconds: 25,
  leaseSettleSeconds: 49,
  dbRpoSeconds: 60,
  heartbeatSeconds: WRITER_HEARTBEAT.intervalSeconds,
  writerStopMarginSeconds: 30,
  replicaTimeoutMs: 3000,
  capacity: null,
  heartbeatWatchMaxAgeSeconds: 300,
};

export function readSettings(env: NodeJS.ProcessEnv = process.env): DrSettings {
  return {
    ...DEFAULT_SETTINGS,
    cooldownMinutes: intEnv(
      DR_ENV.cooldownMinutes,
      DEFAULT_SETTINGS.cooldownMinutes,
      {
        min: 0,
        max: 1440,
      },
      env,
    ),
    lockTtlMinutes: intEnv(
      DR_ENV.lockTtlMinutes,
      DEFAULT_SETTINGS.lockTtlMinutes,
      {
        min: 30,
        max: 10080,
      },
      env,
    ),
    failbackMaxLagMs: intEnv(
      DR_ENV.failbackMaxLagMs,
      DEFAULT_SETTINGS.failbackMaxLagMs,
      {
        min: 0,
        max: 60_000,
      },
      env,
    ),
    fenceSettleSeconds: intEnv(
      DR_ENV.fenceSettleSeconds,
      DEFAULT_SETTINGS.fenceSettleSeconds,
      { min: 1, max: 900 },
      env,
    ),
    writerStopMarginSeconds: intEnv(
      DR_ENV.writerStopMarginSeconds,
      DEFAULT_SETTINGS.writerStopMarginSeconds,
      { min: 10, max: 600 },
      env,
    ),
    leaseSettleSeconds: intEnv(
      DR_ENV.leaseSettleSeconds,
      DEFAULT_SETTINGS.leaseSettleSeconds,
      { min: 1, max: 900 },
      env,
    ),
    // Aurora accepts 20 to 2,147,483,647 s; unset means the deployed primary has no guard.
    dbRpoSeconds:
      env[DR_ENV.dbRpoSeconds] === undefined || env[DR_ENV.dbRpoSeconds] === ""
        ? null
        : intEnv(DR_ENV.dbRpoSeconds, 60, { min: 20, max: 86_400 }, env),
    capacity: parseCapacity(env[DR_ENV.capacity]),
  };
}

/** DR_CAPACITY, checked: a bad value fails the first call, naming what is wrong. */
export function parseCapacity(raw: string | undefined): DrCapacity | null {
  if (raw === undefined || raw === "") return null;
  let value: DrCapacity;
  try {
    value = JSON.parse(raw) as DrCapacity;
  } catch {
    throw new ConfigurationError(`${DR_ENV.capacity} is not valid JSON`);
  }
  const fail = (what: string): never => {
    throw new ConfigurationError(`${DR_ENV.capacity}: ${what}`);
  };
  if (!Number.isInteger(value?.instances) || value.instances < 1 || value.instances > 15) {
    fail(`instances must be a whole number from 1 to 15, got ${JSON.stringify(value?.instances)}`);
  }
  if (
    !Number.isInteger(value.standbyInstances) ||
    value.standbyInstances < 1 ||
    value.standbyInstances > value.instances
  ) {
    fail(
      `standbyInstances must be a whole number from 1 to instances (${value.instances}), got ${JSON.stringify(value.standbyInstances)}`,
    );
  }
  for (const key of [
    "instanceClass",
    "engine",
    "monitoringRoleArn",
    "caCertificateIdentifier",
  ] as const) {
    if (typeof value[key] !== "string" || value[key] === "")
      fail(`${key} must be a non-empty string`);
  }
  for (const [region, r] of Object.entries(value.regions ?? {})) {
    if (!Array.isArray(r.identifiers) || r.identifiers.length !== value.instances) {
      fail(
        `regions.${region}.identifiers must list ${value.instances} identifiers, got ${JSON.stringify(r.identifiers)}`,
      );
    }
  }
  return value;
}
