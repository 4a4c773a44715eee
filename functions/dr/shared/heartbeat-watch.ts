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
): HeartbeatWatch | null {
  const now = at.toISOString();
  if (beatAt === null) return current ? { ...current, checkedAt: now } : null;
  if (!current || Date.parse(beatAt) > Date.parse(current.beatAt)) {
    // A first sighting proves nothing about liveness; the next new value does.
    return { beatAt, firstSeenAt: now, advanced: current !== null, checkedAt: now };
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
