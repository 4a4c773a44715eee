// Everything a DR core needs, passed in. The handlers build one set at module scope from the
// environment and the AWS adapters; the tests pass fakes.
import type { DrDatabaseSpec, DrTopology } from "../../common/contract";
import type { DnsPort, HttpPort, Log, Profile, RegionPorts, ReportsPort } from "./ports";
import type { DrSettings } from "./settings";

export interface DrDeps {
  readonly topology: DrTopology;
  /** How Terraform builds each cluster (DR_DATABASE); only the re-protect tasks get it. */
  readonly database?: DrDatabaseSpec;
  readonly settings: DrSettings;
  /** Ports for one region: "critical" (normal timeouts) or "bestEffort" (1 attempt, short). */
  readonly ports: (region: string, profile: Profile) => RegionPorts;
  /** Route 53; its control plane lives in us-east-1, so every call to it is best-effort. */
  readonly dns: () => DnsPort;
  readonly http: HttpPort;
  /** The report writer of the region this code runs in. */
  readonly reports: ReportsPort;
  readonly now: () => Date;
  readonly log: Log;
  /** The region this code runs in (AWS_REGION), which is where the state machine runs. */
  readonly executionRegion: string;
  /**
   * Milliseconds left before this invocation's Lambda timeout (context.getRemainingTimeInMillis,
   * https://docs.aws.amazon.com/lambda/latest/dg/nodejs-context.html); absent outside a Lambda.
   * A core that retries within one invocation (AcquireLock) bounds its work by it.
   */
  readonly remainingMs?: () => number;
}

export function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

export function isoFromEpoch(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** For code that runs a core but never a run (the CLI's input check): refuses to write one. */
export const NO_REPORTS: ReportsPort = {
  submit: () =>
    Promise.reject(new Error("no report writer here: only the workflows write run reports")),
};
