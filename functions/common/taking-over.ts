// The "taking-over" rule of GET /health, in one place (review 23 L3): the health function
// decides with `isTakingOver`; the prober, the CLI, Verify and the chaos world read an answer
// with `answersTakingOver` / `answersWritable` instead of each parsing the body its own way.
//
// A region answers 200 "taking-over" only when all of these hold (review 23 H1, M2):
// - the flag in its own replica names it with phase `fenced` (a run's Fence, until its Unfence);
// - the flag carries `promotingAt`: the run stamped it in this (the target's) replica right after
//   proving the old writer stopped (Promote / Switchover, functions/dr/shared/guard.ts
//   markPromoting), so a run that halts before the proof never makes the target healthy and
//   never draws clients away from the only region that can write;
// - its OWN cluster (PARAMETERS.clusterEndpoint, never the global writer endpoint, which names
//   the old writer until the promotion and, in a region-down, a dead one) answers a read-only
//   check, in recovery (the promotion is under way) or writable (promoted). Nothing is written
//   while fenced: the old writer must be quiescing.
import { FENCE_PHASE } from "./contract";

/** What a read-only check of the region's own cluster found. */
export type OwnClusterState = "writable" | "in recovery" | "unreachable";

export interface TakingOverInput {
  readonly region: string;
  readonly flag:
    | { readonly activeRegion: string; readonly phase?: string; readonly promotingAt?: string }
    | null
    | undefined;
  readonly ownCluster: OwnClusterState;
}

/** The flag alone says a move into `region` has passed its proof (the first three conditions). */
export function promotingInto(region: string, flag: TakingOverInput["flag"]): boolean {
  return (
    !!flag &&
    flag.activeRegion === region &&
    flag.phase === FENCE_PHASE.fenced &&
    typeof flag.promotingAt === "string" &&
    flag.promotingAt !== ""
  );
}

/** The rule: /health answers 200 "taking-over" exactly when this holds. */
export function isTakingOver(input: TakingOverInput): boolean {
  return (
    promotingInto(input.region, input.flag) &&
    (input.ownCluster === "in recovery" || input.ownCluster === "writable")
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
