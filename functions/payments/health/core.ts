// GET /health: regional health for Route 53 and the DR prober. 200 when the control flag can be
// read, names this region, and the database takes writes, or while a move into this region is
// under way ("Taking over" below); 503 otherwise, with the first failing check as the reason.
// A passive region never writes the heartbeat: it only checks the database is reachable, for the
// prober's benefit. Either way it reports the newest writer
// heartbeat (WRITER_HEARTBEAT) this region's own cluster holds, for the DR orchestrator; that
// read runs beside the flag's and decides nothing here.
//
// It also shows the peer lease (PEER_LEASE: armed, last renewal, age, lapsed) as this region's
// replica holds it, and that too decides nothing: the status code stays what the checks above
// say. Route 53's HTTPS health check judges only the status code ("2xx or 3xx" is healthy, no
// string matching is configured: Route 53 "How Route 53 determines whether a health check is
// healthy", https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html),
// and so does the DR prober whose alarm can start a failover. A lapsed lease means the *peer*
// (the standby's renewer) or replication towards this region is broken, not this region: a 503
// for it would move traffic and start a failover towards the very region whose silence caused
// it. The lease-aging alarm (PeerLeaseAgeSeconds) pages for it instead.
//
// Taking over: while a failover, switchover or failback moves the writer INTO this region (the
// flag names this region with phase `fenced`: the run's Fence, until its Unfence) and this
// region's database answers (in recovery: the promotion is under way; or writable: promoted),
// /health answers 200 with status "taking-over". Why: Route 53 failover routing answers the
// SECONDARY only once its health check has passed `failure threshold` checks in a row, and when
// both records are unhealthy it answers the PRIMARY ("If none of the records in a group of
// records are healthy, Route 53 ... considers all the records in the group to be healthy",
// dns-failover-determining-health-of-endpoints above). A target that stayed 503 until it was
// writable made clients wait, after the promotion, for threshold x interval and then for the
// rest of their TTL. Counting from the Fence, the checks pass during the old-writer proof and
// the promotion (minutes), so clients are already routed here when the database takes writes.
// Why it is safe:
// - only a run's Fence makes it: never a primary that merely flaps, a /health flood or a
//   throttle (the target is passive, 503, until a failover has fenced towards it), so no
//   traffic moves on a transient failure, and with both unhealthy Route 53 still answers the
//   primary;
// - payment writes are not gated by /health: they keep the flag check and the database, so the
//   target takes none before its promotion, which the workflow starts only once the old writer
//   is provably stopped (state-machines/README.md, "Never two writers"); until then a client
//   routed here gets the same 503 (Retry-After) the fenced old primary would give it;
// - a run that halts fenced leaves the target 200 while its database answers: clients get 503
//   for writes here, as they would from the fenced old primary, and reads still work;
// - the prober probes the active region only, which for a failover into the prober's own region
//   is itself (never probed); for a failback it sees 200 from the target while the switchover
//   runs, instead of 503s that would raise the failover alarm mid-run, and its heartbeat watch
//   does not count a taking-over region as a healthy writer (functions/monitoring/prober).
import { FENCE_PHASE } from "../../common/contract";
import type { ActiveRegionFlag, PeerLeaseState } from "../shared/fencing";
import { peerLeaseState } from "../shared/fencing";

/** What the database probe found; it throws when the database cannot be reached. */
export type DatabaseState = "writable" | "reachable" | "read-only" | "in recovery";

export interface HealthDeps {
  readonly region: string;
  /** The flag, read strongly consistently now; throws ActiveRegionUnknownError. */
  readonly readFlag: () => Promise<ActiveRegionFlag>;
  /** `write`: upsert the heartbeat in a transaction; otherwise read-only checks. */
  readonly probeDatabase: (write: boolean) => Promise<DatabaseState>;
  /** The writer heartbeat this region's own cluster holds; null when it has none. */
  readonly readWriterHeartbeat: () => Promise<Date | null>;
  /** Each check gives up after this long, so Route 53 gets an answer in time. */
  readonly checkTimeoutMs: number;
  /** This function's clock, for the lease's age. @default Date.now */
  readonly now?: () => number;
}

export interface HealthBody {
  /**
   * healthy: the active region, open, takes writes; taking-over: a move into this region is under
   * way (flag fenced towards it) and its database answers (200: Route 53 may route here already);
   * passive / unhealthy: 503.
   */
  readonly status: "healthy" | "taking-over" | "passive" | "unhealthy";
  readonly region: string;
  readonly activeRegion: string | null;
  readonly reason: string | null;
  readonly checks: {
    readonly flag: "ok" | "unreadable";
    readonly role: "active" | "passive" | "unknown";
    readonly database: DatabaseState | "unreachable";
    /** FENCE_PHASE of the flag, when set. */
    readonly phase?: string;
  };
  /** What this region's own cluster holds of the writer's heartbeat; null when unknown. */
  readonly replication: { readonly writerHeartbeatAt: string | null };
  /**
   * The peer lease in this region's replica (informative: never changes the status code); null
   * when the flag is unreadable. `lapsed` in the active region means its writes answer 503
   * `peer_lease_lapsed`.
   */
  readonly lease: PeerLeaseState | null;
}

export interface HealthReport {
  readonly statusCode: 200 | 503;
  readonly body: HealthBody;
}

/**
 * The ActiveRegion metric the handler publishes ("1 = takes writes" on the dashboards): 1 when
 * the flag names this region and is open. A region a move is fenced towards is not there yet: 0
 * until its Unfence, though /health answers 200 "taking-over" for Route 53, so during a move both
 * regions show 0. Null when the flag is unreadable (nothing is published).
 */
export function activeRegionMetric(body: HealthBody): 0 | 1 | null {
  if (body.activeRegion === null) return null;
  return body.checks.role === "active" && body.checks.phase !== FENCE_PHASE.fenced ? 1 : 0;
}

class CheckTimeoutError extends Error {
  override name = "CheckTimeoutError";
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckTimeoutError(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function checkHealth(deps: HealthDeps): Promise<HealthReport> {
  const { region } = deps;
  const heartbeat = withTimeout(
    deps.readWriterHeartbeat(),
    deps.checkTimeoutMs,
    "writer heartbeat read",
  ).catch(() => null);
  let flag: ActiveRegionFlag | undefined;
  let flagError: string | undefined;
  try {
    flag = await withTimeout(deps.readFlag(), deps.checkTimeoutMs, "control flag read");
  } catch (error) {
    flagError = (error as Error).message;
  }
  const active = flag?.activeRegion === region;

  let database: DatabaseState | "unreachable";
  let databaseError: string | undefined;
  try {
    database = await withTimeout(deps.probeDatabase(active), deps.checkTimeoutMs, "database check");
  } catch (error) {
    database = "unreachable";
    databaseError = (error as Error).message;
  }

  const checks: HealthBody["checks"] = {
    flag: flag ? "ok" : "unreadable",
    role: flag ? (active ? "active" : "passive") : "unknown",
    database,
    ...(flag?.phase ? { phase: flag.phase } : {}),
  };
  let reason: string | null = null;
  if (!flag) reason = flagError ?? "control flag unreadable";
  else if (!active) reason = `passive region: writes go to ${flag.activeRegion}`;
  else if (database === "unreachable") reason = `database unreachable: ${databaseError}`;
  else if (database === "read-only") reason = "database refused the heartbeat write (read-only)";
  const takingOver =
    reason === null &&
    flag?.phase === FENCE_PHASE.fenced &&
    (database === "in recovery" || database === "writable");
  if (takingOver) {
    reason =
      database === "in recovery"
        ? "taking over: a failover into this region is under way (flag fenced towards it) and its database is in recovery until the promotion completes; payment writes answer 503 until then"
        : "taking over: the database is promoted; the flag opens at the run's Unfence";
  } else if (reason === null && database === "in recovery") {
    reason = "database is in recovery (a read replica)";
  }

  const healthy = reason === null;
  const writerHeartbeatAt = (await heartbeat)?.toISOString() ?? null;
  return {
    statusCode: healthy || takingOver ? 200 : 503,
    body: {
      status: healthy
        ? "healthy"
        : takingOver
          ? "taking-over"
          : flag && !active
            ? "passive"
            : "unhealthy",
      region,
      activeRegion: flag?.activeRegion ?? null,
      reason,
      checks,
      replication: { writerHeartbeatAt },
      lease: flag ? peerLeaseState(flag, (deps.now ?? Date.now)()) : null,
    },
  };
}
