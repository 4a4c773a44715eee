// SDK client settings per region and profile. "critical": the target region (and the source
// region of a planned switchover) with normal timeouts and retries. "bestEffort": the other
// region during a failover, and Route 53: one attempt, short timeouts, so a dead region costs
// at most a couple of seconds and never blocks the workflow.
import { enforcedTimeouts } from "../../../common/sdk-timeouts";
import type { EnforcedRequestHandler } from "../../../common/sdk-timeouts";
import type { Profile } from "../ports";

export interface ClientSettings {
  readonly region: string;
  readonly maxAttempts: number;
  /** The request timeout ends the attempt (functions/common/sdk-timeouts.ts). */
  readonly requestHandler: EnforcedRequestHandler;
}

export const PROFILES: Readonly<
  Record<Profile, { maxAttempts: number; connectionTimeout: number; requestTimeout: number }>
> = {
  // One call's attempts x (connect + request) plus the SDK's retry delay (7 s) fits inside the
  // shortest task Lambda timeout (a state's TimeoutSeconds 10 minus 2 s): a slow call fails the
  // Lambda, not the state, so Step Functions never runs two attempts at once. The delay: the
  // standard mode's backoff is random x min(base x 2^i, 20 s) ("MAX_BACKOFF", AWS SDKs and
  // Tools reference, feature-retry-behavior.html), here base 1 s for throttling and 50 ms
  // otherwise (@smithy/core 3.41 util-retry), so at most 1 s before the one retry; a Retry-After
  // hint from the service may stretch it by up to 5 s more (same source), which would not fit.
  // Per call, not per task: a task making several calls under throttling can still reach its
  // Lambda timeout (then retried by the state's Retry, every task looking first): review L2,
  // open.
  critical: { maxAttempts: 2, connectionTimeout: 1000, requestTimeout: 2000 },
  bestEffort: { maxAttempts: 1, connectionTimeout: 1000, requestTimeout: 2000 },
};

/** Route 53's control plane (ChangeResourceRecordSets, GetHealthCheckStatus) is in us-east-1. */
export const ROUTE53_REGION = "us-east-1";

export function clientSettings(region: string, profile: Profile): ClientSettings {
  const { maxAttempts, connectionTimeout, requestTimeout } = PROFILES[profile];
  return {
    region,
    maxAttempts,
    requestHandler: enforcedTimeouts({ connectionTimeout, requestTimeout }),
  };
}
