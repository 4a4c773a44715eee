// Tunables of the DR tasks, read once from the environment (names in DR_ENV). Pure.
import { DR_ENV } from "../../common/contract";
import { intEnv } from "../../common/env";

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
}

export const DEFAULT_SETTINGS: DrSettings = {
  cooldownMinutes: 30,
  lockTtlMinutes: 360,
  failbackMaxLagMs: 1000,
  lagLookbackMinutes: 15,
  httpTimeoutMs: 5000,
  bestEffortTimeoutMs: 2500,
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
  };
}
