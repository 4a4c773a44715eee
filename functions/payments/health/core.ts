// GET /health: regional health for Route 53 and the DR prober. 200 only when the control flag
// can be read, names this region, and the database takes writes; 503 otherwise, with the first
// failing check as the reason. A passive region never writes the heartbeat: it only checks the
// database is reachable, for the prober's benefit. Either way it reports the newest writer
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
  readonly status: "healthy" | "passive" | "unhealthy";
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
  else if (database === "in recovery") reason = "database is in recovery (a read replica)";
  else if (database === "read-only") reason = "database refused the heartbeat write (read-only)";

  const healthy = reason === null;
  const writerHeartbeatAt = (await heartbeat)?.toISOString() ?? null;
  return {
    statusCode: healthy ? 200 : 503,
    body: {
      status: healthy ? "healthy" : flag && !active ? "passive" : "unhealthy",
      region,
      activeRegion: flag?.activeRegion ?? null,
      reason,
      checks,
      replication: { writerHeartbeatAt },
      lease: flag ? peerLeaseState(flag, (deps.now ?? Date.now)()) : null,
    },
  };
}
