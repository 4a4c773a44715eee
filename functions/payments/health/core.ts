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
// Taking over: while a failover, switchover or failback moves the writer INTO this region and
// the run has proven the old writer stopped, /health answers 200 with status "taking-over"; the
// rule is functions/common/taking-over.ts (flag names this region, phase `fenced`, `promotingAt`
// stamped by the run after its proof, and this region's OWN cluster answers a read-only check,
// in recovery or writable). Why: Route 53 failover routing answers the SECONDARY only once its
// health check has passed `failure threshold` checks in a row, and when both records are
// unhealthy it answers the PRIMARY ("If none of the records in a group of records are healthy,
// Route 53 ... considers all the records in the group to be healthy",
// dns-failover-determining-health-of-endpoints above). Counting from the proof, the checks pass
// during the promotion, so clients are routed here sooner after the role change.
// Why it is safe (review 23 H1, H2, M2, L5):
// - only a run that has proven the old writer stopped makes it: a run that halts before its
//   proof leaves the target 503, so a move whose fence never reached the old region cannot draw
//   clients away from the only region that can write;
// - the database check goes to this region's own cluster (PARAMETERS.clusterEndpoint, readable
//   on a secondary: "You can still connect to the cluster endpoint, but only for read queries",
//   aurora-global-database-connecting), never through the global writer endpoint, which names
//   the old writer until the promotion (dead in a region-down); and it writes nothing while
//   fenced (no heartbeat into the old writer);
// - payment writes are not gated by /health: the guard refuses them while the flag is `fenced`
//   (503 region_fenced, functions/payments/shared/fencing.ts) until Unfence opens it;
// - the prober's heartbeat watch does not count a taking-over region as a healthy writer.
import { FENCE_PHASE } from "../../common/contract";
import { TAKING_OVER_STATUS, promotingInto } from "../../common/taking-over";
import type { ActiveRegionFlag, PeerLeaseState } from "../shared/fencing";
import { peerLeaseState, writesOpen } from "../shared/fencing";

/** What the database probe found; it throws when the database cannot be reached. */
export type DatabaseState = "writable" | "reachable" | "read-only" | "in recovery";

export interface HealthDeps {
  readonly region: string;
  /** The flag, read strongly consistently now; throws ActiveRegionUnknownError. */
  readonly readFlag: () => Promise<ActiveRegionFlag>;
  /**
   * Through the payment path's endpoint (the global writer endpoint in production). `write`:
   * upsert the heartbeat in a transaction; otherwise read-only checks. Not called while a move
   * into this region is fenced.
   */
  readonly probeDatabase: (write: boolean) => Promise<DatabaseState>;
  /**
   * Read-only, this region's OWN cluster (its cluster endpoint): writable (promoted) or in
   * recovery; throws when it cannot be reached. Used while a move into this region is fenced.
   */
  readonly probeOwnCluster: () => Promise<"writable" | "in recovery">;
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
  return body.checks.role === "active" && writesOpen({ phase: body.checks.phase }) ? 1 : 0;
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
  // A move into this region (its Fence until its Unfence): only a read-only look at its own
  // cluster, nothing written, nothing through the global writer endpoint. The same rule as the
  // payment guard's (review 23b-10 L3): any phase that does not open writes (`fenced`, or one this
  // code does not know) is not healthy, so Route 53 never keeps clients on a region whose
  // every write answers 503.
  const moving = active && !!flag && !writesOpen(flag);

  let database: DatabaseState | "unreachable";
  let databaseError: string | undefined;
  try {
    database = await withTimeout(
      moving ? deps.probeOwnCluster() : deps.probeDatabase(active),
      deps.checkTimeoutMs,
      "database check",
    );
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
  // Whatever the own cluster answers (functions/common/taking-over.ts): the promoted writer's
  // restart must not send clients back to the stopped old region.
  const takingOver = moving && promotingInto(region, flag);
  if (!flag) reason = flagError ?? "control flag unreadable";
  else if (!active) reason = `passive region: writes go to ${flag.activeRegion}`;
  else if (takingOver)
    reason =
      database === "in recovery"
        ? "taking over: the old writer is proven stopped and this region's cluster is being promoted (in recovery until it completes); payment writes answer 503 until the run's Unfence"
        : database === "unreachable"
          ? `taking over: the old writer is proven stopped; this region's cluster does not answer (${databaseError}), as while the promoted writer restarts into its role; payment writes answer 503 until the run's Unfence`
          : "taking over: this region's cluster is promoted; payment writes open at the run's Unfence";
  else if (database === "unreachable")
    reason = `${moving ? "own cluster" : "database"} unreachable: ${databaseError}`;
  else if (moving && flag.phase !== FENCE_PHASE.fenced)
    reason = `flag phase ${JSON.stringify(flag.phase)} is not one this function knows: payment writes are refused here, so this region does not take traffic`;
  else if (moving && !promotingInto(region, flag))
    reason =
      "a move into this region is fenced, but its run has not proven the old writer stopped yet: not taking traffic before that proof";
  else if (database === "read-only") reason = "database refused the heartbeat write (read-only)";
  else if (database === "in recovery") reason = "database is in recovery (a read replica)";

  const healthy = reason === null;
  const writerHeartbeatAt = (await heartbeat)?.toISOString() ?? null;
  return {
    statusCode: healthy || takingOver ? 200 : 503,
    body: {
      status: healthy
        ? "healthy"
        : takingOver
          ? TAKING_OVER_STATUS
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
