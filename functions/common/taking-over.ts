// The "taking-over" rule of GET /health, in one place (review 23 L3): the health function
// decides with `promotingInto`; the prober, the CLI, Verify and the chaos world read an answer
// with `answersTakingOver` / `answersWritable` instead of each parsing the body its own way.
//
// A region answers 200 "taking-over" exactly when both of these hold (review 23 H1, M2):
// - the flag in its own replica names it with phase `fenced` (a run's Fence, until its Unfence);
// - the flag carries `promotingAt`: the run stamped it in this (the target's) replica right after
//   proving the old writer stopped (Promote / Switchover, functions/dr/shared/guard.ts
//   markPromoting), so a run that halts before the proof never makes the target healthy and
//   never draws clients away from the only region that can write;
// whatever its own cluster answers (until session 24 it had to answer). Once the old writer is
// proven stopped and the flag names this region, no other region can take a write (the old one
// is stopped, and its guard refuses once the flag reaches it), so Route 53 must not send clients
// back there. That holds while this region's cluster is in recovery, promoted, or not answering:
// a managed failover ends with the new writer restarting into its role, its connections refused
// for seconds to tens of seconds (lab/world/aurora.ts), and three failed checks in a row would
// make this record unhealthy; with both records unhealthy Route 53 answers the PRIMARY, the dead
// or fenced region
// (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html).
// In the lab that cost 65-80 s of DNS (issue 13, session 24). Payments answer 503 (Retry-After)
// here until the run's Unfence either way, and Verify's gate (`answersWritable`) still needs the
// cluster writable. Nothing is written while fenced: /health only reads.
import { FENCE_PHASE } from "./contract";

/** The flag as /health and the guard read it from the region's own replica. */
export type MoveFlag =
  | { readonly activeRegion: string; readonly phase?: string; readonly promotingAt?: string }
  | null
  | undefined;

/** The flag says a move into `region` has passed its proof: /health answers "taking-over". */
export function promotingInto(region: string, flag: MoveFlag): boolean {
  return (
    !!flag &&
    flag.activeRegion === region &&
    flag.phase === FENCE_PHASE.fenced &&
    typeof flag.promotingAt === "string" &&
    flag.promotingAt !== ""
  );
}

/** The status value of a taking-over answer. */
export const TAKING_OVER_STATUS = "taking-over";

interface HealthAnswer {
  readonly status: number;
  readonly body: unknown;
}

function bodyOf(body: unknown): Record<string, unknown> | null {
  if (typeof body === "string") {
    try {
      return bodyOf(JSON.parse(body));
    } catch {
      return null;
    }
  }
  return body !== null && typeof body === "object" ? (body as Record<string, unknown>) : null;
}

/** A /health answer (status code and body, parsed or raw JSON) says "taking-over". */
export function answersTakingOver(answer: HealthAnswer): boolean {
  return answer.status === 200 && bodyOf(answer.body)?.status === TAKING_OVER_STATUS;
}

/**
 * A /health answer says the region's database takes writes: 200 "healthy" (its heartbeat write
 * committed), or 200 "taking-over" with its own cluster writable (promoted). Verify's gate
 * (review 23 L3): taking-over while still in recovery proves nothing about writes.
 */
export function answersWritable(answer: HealthAnswer): boolean {
  if (answer.status !== 200) return false;
  const body = bodyOf(answer.body);
  if (body?.status === "healthy") return true;
  const checks = bodyOf(body?.checks);
  return body?.status === TAKING_OVER_STATUS && checks?.database === "writable";
}
