// The prober's record of the writer heartbeat its own region's cluster holds (review of issue 10,
// H1 and H2). The database proof of CheckOldWriter rests on two facts this record provides and
// the heartbeat's value alone cannot:
// - the heartbeat is alive: it was seen advancing, and never seen standing still for longer than
//   it can while the writer answered healthy (a healthy writer is not blocked by rds.global_db_
//   rpo, so its lag is at most the RPO and a live job's beat arrives within rpo + interval). A
//   heartbeat frozen since migration 010 on a cluster without pg_cron, or one whose job died, is
//   never counted as proof, and the stale flag pages (the prober's WriterHeartbeatStale metric).
// - when the target first saw the newest value: never before that beat committed on the writer.
//   The value is now() of the beat's transaction, which the RPO guard may have paused ("Paused
//   transactions are resumed and committed as soon as the lag time of at least one secondary DB
//   cluster becomes less than the RPO", aurora-global-database-disaster-recovery#aurora-global-
//   database-manage-recovery), so the value can be far older than the commit; the first sighting
//   cannot.
// Pure: the prober computes the next record, the control table stores it.
import type { HeartbeatWatch } from "./ports";

/**
 * What kind of answer a probe of the active region got (review 23-18 H1): the veto at Preflight
 * holds an alarm's failover only while every failed probe was the kind a flood of /health makes.
 * - `ok`: 200.
 * - `lambda-500`: HTTP 500 with API Gateway's own body {"message":"Internal Server Error"}, the
 *   answer when Lambda rejects or fails the invocation, a throttle among them ("If the Lambda API
 *   rejects the invocation request, API Gateway returns a 500 error code", https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html;
 *   HTTP APIs: "Internal Server Error" when Lambda integration fails,
 *   https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html).
 *   A Lambda service outage answers the same: this class cannot tell the two apart.
 * - `throttled`: 429, the stage's throttle (no function ran).
 * - `own-503`: our /health's own 503 with a reason (flag unreadable, database unreachable,
 *   read-only): a real failure of the payment path.
 * - `other-5xx`/`other`: any other status (502, 504, a 500 with another body, 4xx).
 * - `timeout`, `unreachable`: no answer.
 */
export type ProbeAnswer =
  "ok" | "lambda-500" | "throttled" | "own-503" | "other-5xx" | "other" | "timeout" | "unreachable";

/** The answer kinds a /health flood with a live database produces: the only ones that veto. */
export const FLOOD_ANSWERS: readonly ProbeAnswer[] = ["lambda-500", "throttled"];

/** How many probe answers the record keeps (6 minutes at the 10 s probe interval). */
export const PROBE_ANSWERS_KEPT = 36;

/** The class of one probe's answer: a status and body, or the error when there was none. */
export function classifyAnswer(
  answer: { readonly status: number; readonly body: unknown } | { readonly error: unknown },
): ProbeAnswer {
  if ("error" in answer) {
    const error = answer.error;
    const text = error instanceof Error ? `${error.name} ${error.message}` : String(error);
    return /timeout|timed out|no answer within|abort/i.test(text) ? "timeout" : "unreachable";
  }
  const { status, body } = answer;
  if (status === 200) return "ok";
  if (status === 429) return "throttled";
  if (status === 500) {
    // Exactly API Gateway's body: our own handlers never answer 500 with only this message.
    const message =
      body !== null && typeof body === "object" ? (body as Record<string, unknown>).message : null;
    const keys = body !== null && typeof body === "object" ? Object.keys(body) : [];
    return typeof message === "string" &&
      message.toLowerCase() === "internal server error" &&
      keys.length === 1
      ? "lambda-500"
      : "other-5xx";
  }
  // Our handler's 503 names its failing check (functions/payments/health/core.ts).
  if (status === 503 && body !== null && typeof body === "object" && "reason" in body) {
    return "own-503";
  }
  return status >= 500 ? "other-5xx" : "other";
}

/** The record with a round's answers added, newest first, at most PROBE_ANSWERS_KEPT. */
export function withAnswers(
  watch: HeartbeatWatch,
  round: readonly { readonly at: string; readonly answer: ProbeAnswer }[],
): HeartbeatWatch {
  const answers = [...round, ...(watch.answers ?? [])]
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at))
    .slice(0, PROBE_ANSWERS_KEPT);
  return { ...watch, answers };
}

/** How long the heartbeat may stand still at a healthy writer's secondary, seconds. */
export function staleAfterSeconds(rpoSeconds: number | null, heartbeatSeconds: number): number {
  // Without the guard the lag is unbounded, but nothing relies on the heartbeat either: 60 s is
  // the replication-lag alarm's own threshold.
  return (rpoSeconds ?? 60) + heartbeatSeconds + 15;
}

/**
 * The record after one look at the heartbeat (`beatAt`, null when /health did not say) at `at`,
 * `writerHealthy` when the prober's probe of the active region in the same round was healthy.
 */
export function observeHeartbeat(
  current: HeartbeatWatch | null,
  beatAt: string | null,
  at: Date,
  writerHealthy: boolean,
  staleAfter: number,
  /** The DB instance the heartbeat reader named as the beat's writer (review 23-18 L2). */
  writer?: string | null,
): HeartbeatWatch | null {
  const now = at.toISOString();
  if (beatAt === null) return current ? { ...current, checkedAt: now } : null;
  if (!current || Date.parse(beatAt) > Date.parse(current.beatAt)) {
    // A first sighting proves nothing about liveness; the next new value does.
    return {
      ...(current?.answers ? { answers: current.answers } : {}),
      beatAt,
      firstSeenAt: now,
      advanced: current !== null,
      checkedAt: now,
      ...(current ? { previousBeatAt: current.beatAt } : {}),
      ...(writer ? { writer } : {}),
      ...(current?.writer ? { previousWriter: current.writer } : {}),
    };
  }
  const standing = (at.getTime() - Date.parse(current.firstSeenAt)) / 1000;
  const stale = writerHealthy && standing > staleAfter;
  return {
    ...current,
    checkedAt: now,
    ...(stale && current.staleSince === undefined ? { staleSince: now } : {}),
  };
}

/**
 * Whether the record shows a live heartbeat, and if not, why; `asOf` is when the record had to be
 * current (the fence: from then on the prober no longer probes the old writer).
 */
export function heartbeatLiveness(
  watch: HeartbeatWatch | null,
  asOf: Date,
  maxAgeSeconds: number,
): { readonly alive: true } | { readonly alive: false; readonly why: string } {
  if (!watch) return { alive: false, why: "the prober has no record of the writer heartbeat" };
  if (watch.staleSince !== undefined) {
    return {
      alive: false,
      why: `the writer heartbeat stood still at ${watch.beatAt} while the writer answered healthy (stale since ${watch.staleSince}): its job is not running`,
    };
  }
  if (!watch.advanced) {
    return {
      alive: false,
      why: `the prober never saw the writer heartbeat advance (it holds ${watch.beatAt}): pg_cron may not be loaded`,
    };
  }
  const age = (asOf.getTime() - Date.parse(watch.checkedAt)) / 1000;
  if (age > maxAgeSeconds) {
    return {
      alive: false,
      why: `the prober had last looked at the writer heartbeat ${Math.round(age)} s before ${asOf.toISOString()} (${watch.checkedAt}): its record is too old to vouch for it`,
    };
  }
  return { alive: true };
}
