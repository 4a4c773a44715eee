// The failover lock's heartbeat for the runs that poll for hours. A re-protect waits up to 12 h
// for the old region and the rebuild (Aurora: a new secondary's volume copy takes "a few minutes
// to several hours", aurora-global-database-disaster-recovery.html) and up to 12 h more for it to
// catch up; a failback waits as long for the rejoin. A fixed TTL (DR_LOCK_TTL_MINUTES, 6 h by
// default) taken once at AcquireLock would lapse in the middle of that, and a failover started
// then would run beside the re-protect (fencing the only writer, and re-protect then writing the
// endpoints and the active region of a topology that no longer is). So every poll of those
// waits renews the lock as a lease of LOCK_LEASE_MINUTES while this run still owns it: a live
// run holds it for as long as it runs, however long that is.
//
// The lease is short on purpose. The re-protect runs in the active region; if that region goes
// down (the one outage after which a failover is wanted most), its polls stop, and the lease
// lapses LOCK_LEASE_MINUTES after the last one instead of DR_LOCK_TTL_MINUTES (6 h): a failover
// can then take the lock, and its own Preflight decides whether the other region holds a
// secondary it can promote. 15 minutes is many polls (30-60 s apart, each retried for at most
// about 3 minutes by the ASL) and a bounded wait in an outage.
import type { DrDeps } from "./deps";
import { epochSeconds, isoFromEpoch } from "./deps";
import { LockLostError } from "./errors";
import { LOCK_LEASE_MINUTES } from "./settings";
import type { WorkflowState } from "./types";

export { LOCK_LEASE_MINUTES };

/** Renews this run's lock in the target region's control table, or stops the run. */
export async function holdLock(state: WorkflowState, deps: DrDeps): Promise<number> {
  const { request } = state;
  const control = deps.ports(request.targetRegion, "critical").control;
  const lease = Math.min(LOCK_LEASE_MINUTES, deps.settings.lockTtlMinutes);
  const expiresAt = epochSeconds(deps.now()) + lease * 60;
  if (await control.renewLock(request.failoverId, expiresAt)) return expiresAt;
  const holder = await control.getLock();
  throw new LockLostError(
    holder
      ? `run ${request.failoverId} no longer holds the failover lock: a ${holder.operation} to ${holder.targetRegion} (run ${holder.owner}) holds it since ${holder.acquiredAt}, until ${isoFromEpoch(holder.expiresAt)}; this ${request.workflow} stopped before acting. Let that run finish, then resume this one with resumeFailoverId: "${request.failoverId}"`
      : `run ${request.failoverId} no longer holds the failover lock (deleted, or its lease lapsed: no poll for ${lease} minutes); this ${request.workflow} stopped before acting. Check that no other run is in progress, then resume it with resumeFailoverId: "${request.failoverId}"`,
  );
}
