// SDK client settings per region and profile. "critical": the target region (and the source
// region of a planned switchover) with normal timeouts and retries. "bestEffort": the other
// region during a failover, and Route 53: one attempt, short timeouts, so a dead region costs
// at most a couple of seconds and never blocks the workflow.
import { enforcedTimeouts } from "../../../common/sdk-timeouts";
import { deadlineBound } from "./deadline";
import type { BoundableClient } from "./deadline";
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
  // Per call, not per task: a task making several calls under throttling, or a retry stretched
  // by a hint, is bound by the invocation's deadline instead (deadline.ts, review L2).
  critical: { maxAttempts: 2, connectionTimeout: 1000, requestTimeout: 2000 },
  bestEffort: { maxAttempts: 1, connectionTimeout: 1000, requestTimeout: 2000 },
};

/**
 * The heartbeat reader's Invoke (review 24-18 M2): ONE attempt, with a request timeout above the
 * reader's own worst path, so a slow read is waited for once instead of abandoned at 2 s and
 * duplicated. A duplicate would hold a second of the reader's 3 reserved environments for its
 * whole run: Lambda documents no cancellation of an invocation whose caller went away
 * (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html). The reader's worst path: a cold
 * start (the Init phase, "limited to 10 seconds" but a few hundred ms for this small bundle,
 * https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html), its SSM
 * parameters, then its database connect (HEARTBEAT_READER_TIMEOUTS.connectMs, 1.5 s) and one
 * statement (1 s): under 4 s. Connect 1 s + request 4 s = 5 s, the reader's own Lambda timeout.
 */
export const HEARTBEAT_READER_PROFILE = {
  maxAttempts: 1,
  connectionTimeout: 1000,
  requestTimeout: 4000,
} as const;

export function heartbeatReaderClientSettings(region: string): ClientSettings {
  const { maxAttempts, connectionTimeout, requestTimeout } = HEARTBEAT_READER_PROFILE;
  return {
    region,
    maxAttempts,
    requestHandler: enforcedTimeouts({ connectionTimeout, requestTimeout }),
  };
}

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

/**
 * `client` (built from clientSettings), its calls bound by the deadline of the task invocation
 * they run in (deadline.ts). Every DR client is built through this.
 */
export function regionClient<C extends BoundableClient>(
  client: C,
  settings: ClientSettings,
  service: string,
): C {
  const { connectionTimeout, requestTimeout } = settings.requestHandler;
  return deadlineBound(
    client,
    connectionTimeout + requestTimeout,
    settings.maxAttempts,
    `${service} ${settings.region}`,
  );
}
