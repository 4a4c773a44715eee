// Read-only checks before the lock is taken: the target cluster is a healthy secondary of the
// global cluster and its replication lag is known (the RPO estimate). A failback also needs the
// lag below DR_FAILBACK_MAX_LAG_MS; a planned move needs the current primary available.
import type { DrDeps } from "../shared/deps";
import {
  AlarmNotCorroboratedError,
  FailbackNotReadyError,
  PrimaryStillCommittingError,
  ReplicationLagUnknownError,
  SourceClusterUnhealthyError,
  TargetClusterUnhealthyError,
} from "../shared/errors";
import { FLOOD_ANSWERS } from "../shared/heartbeat-watch";
import { regionOf } from "../shared/topology";
import type { PreflightResult, ReadinessSummary, StepTimes, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type PreflightOutcome = Omit<PreflightResult, keyof StepTimes>;

export async function preflight(state: WorkflowState, deps: DrDeps): Promise<PreflightOutcome> {
  const { request } = state;
  const { topology } = deps;
  const target = regionOf(topology, request.targetRegion);
  const ports = deps.ports(request.targetRegion, "critical");
  const [cluster, global] = await Promise.all([
    ports.database.describeCluster(target.clusterIdentifier),
    ports.database.describeGlobalCluster(topology.globalClusterIdentifier),
  ]);
  if (!cluster) {
    throw new TargetClusterUnhealthyError(
      `target cluster ${target.clusterIdentifier} was not found in ${request.targetRegion}`,
    );
  }
  const member = global?.members.find((m) => m.clusterArn === target.clusterArn);
  const promoting = global?.failover?.toClusterArn === target.clusterArn;
  // A resumed run may find its own promotion done or under way: nothing left to check here.
  const alreadyPromoted =
    request.resumed && (member?.isWriter === true || promoting || member === undefined);
  if (alreadyPromoted) {
    deps.log.info("target already promoted or promoting; resuming", {
      clusterStatus: cluster.status,
    });
    return {
      targetClusterStatus: cluster.status,
      replicationLagMs: null,
      replicationLagAt: null,
      alreadyPromoted: true,
      alreadyFenced: true,
    };
  }
  // A resumed run that already fenced decided to fail over back then (corroborated, approved):
  // asking again would strand it fenced and unpromoted (the prober stops probing a fenced
  // region, so an alarm could never be corroborated again).
  const flag = request.resumed ? await ports.control.getActiveRegion() : null;
  const alreadyFenced =
    flag?.activeRegion === request.targetRegion && flag.updatedBy === request.failoverId;
  if (!member) {
    throw new TargetClusterUnhealthyError(
      `target cluster ${target.clusterArn} is not a member of global cluster ${topology.globalClusterIdentifier}`,
    );
  }
  if (member.isWriter) {
    throw new TargetClusterUnhealthyError(
      `target cluster ${target.clusterArn} already is the writer of ${topology.globalClusterIdentifier} while the active-region flag names ${request.sourceRegion}; reconcile the flag by hand`,
    );
  }
  if (cluster.status !== "available") {
    throw new TargetClusterUnhealthyError(
      `target cluster ${target.clusterIdentifier} is ${cluster.status}, not available`,
    );
  }

  // A failover wants the last datapoint before the outage, however long ago it began (the metric
  // may stop while replication is cut: AWS does not say); a failback wants a fresh one.
  const lookbackMinutes =
    request.workflow === "failback"
      ? Math.min(5, deps.settings.lagLookbackMinutes)
      : deps.settings.lagLookbackMinutes;
  const since = new Date(deps.now().getTime() - lookbackMinutes * 60_000);
  const lag = await ports.metrics.replicationLag(target.clusterIdentifier, since);

  if (request.workflow === "failover" && alreadyFenced) {
    deps.log.info("this run already fenced; resuming without asking again");
  } else if (request.workflow === "failover") {
    if (!lag && !request.allowUnknownLag) {
      throw new ReplicationLagUnknownError(
        `no AuroraGlobalDBReplicationLag datapoint for ${target.clusterIdentifier} in ${request.targetRegion} in the last ${lookbackMinutes} minutes, so the data loss cannot be estimated; start again with allowUnknownLag: true to fail over anyway`,
      );
    }
    if (request.trigger === "alarm") {
      await corroborate(request.sourceRegion, ports, deps);
      await vetoWhileCommitting(state, ports, deps, cluster.instances ?? []);
      const approvalReason = await laggedFirst(state, ports, deps);
      if (approvalReason) {
        deps.log.warn("target lagged beyond the RPO bound first; asking on-call", {
          approvalReason,
        });
        return {
          targetClusterStatus: cluster.status,
          replicationLagMs: lag?.lagMs ?? null,
          replicationLagAt: lag?.at ?? null,
          alreadyPromoted: false,
          alreadyFenced,
          approvalReason,
          readiness: await latestReadiness(ports, deps),
        };
      }
    }
  } else {
    if (global?.status !== "available") {
      throw new SourceClusterUnhealthyError(
        `global cluster ${topology.globalClusterIdentifier} is ${global?.status ?? "missing"}, not available`,
      );
    }
    const source = regionOf(topology, request.sourceRegion);
    const sourceCluster = await deps
      .ports(request.sourceRegion, "critical")
      .database.describeCluster(source.clusterIdentifier);
    if (sourceCluster?.status !== "available") {
      throw new SourceClusterUnhealthyError(
        `current primary cluster ${source.clusterIdentifier} in ${request.sourceRegion} is ${sourceCluster?.status ?? "missing"}, not available; a planned ${request.workflow} needs both clusters up (use the failover workflow for an outage)`,
      );
    }
    if (request.workflow === "failback") {
      const limit = deps.settings.failbackMaxLagMs;
      if (!lag) {
        throw new FailbackNotReadyError(
          `no replication-lag datapoint for ${target.clusterIdentifier} in the last ${lookbackMinutes} minutes: cannot show it has caught up; refusing to fail back`,
        );
      }
      if (lag.lagMs > limit) {
        throw new FailbackNotReadyError(
          `${target.clusterIdentifier} is ${lag.lagMs} ms behind (at ${lag.at}); a failback needs at most ${limit} ms, so wait until it has caught up`,
        );
      }
    }
  }
  return {
    targetClusterStatus: cluster.status,
    replicationLagMs: lag?.lagMs ?? null,
    replicationLagAt: lag?.at ?? null,
    alreadyPromoted: false,
    alreadyFenced,
    readiness: await latestReadiness(ports, deps),
  };
}

/** Checks the record keeps the names and reasons of, at most, so the run's state stays small. */
export const MAX_READINESS_FINDINGS = 10;

/**
 * The latest readiness evaluation of each region, read from the target region's replica of the
 * control table (the evaluators write their own region's item; the global table carries both).
 * Recorded, never acted on: a failover is needed most when readiness is worst, and the run's
 * own checks decide. A read that fails is recorded as "unreadable" and the run goes on.
 */
async function latestReadiness(
  ports: ReturnType<DrDeps["ports"]>,
  deps: DrDeps,
): Promise<ReadinessSummary[]> {
  return Promise.all(
    Object.keys(deps.topology.regions).map(async (region): Promise<ReadinessSummary> => {
      try {
        const record = await ports.control.getReadiness(region);
        if (!record) return { region, at: null, overall: "missing", findings: [] };
        return {
          region,
          at: record.at,
          overall: record.overall,
          findings: record.checks
            .filter((c) => c.status !== "ok")
            .slice(0, MAX_READINESS_FINDINGS)
            .map((c) => `${c.id} ${c.status}: ${c.reason}`.slice(0, 300)),
        };
      } catch (error) {
        deps.log.warn("could not read the latest readiness evaluation; going on", {
          region,
          error: String(error),
        });
        return { region, at: null, overall: "unreadable", findings: [] };
      }
    }),
  );
}

/** How far back an alarm-started failover looks at the lag and the probes. */
export const LAG_HISTORY_MINUTES = 15;

/**
 * With rds.global_db_rpo, a secondary that lags beyond the bound makes the primary block every
 * commit ("Blocks the transaction if all secondary DB clusters have RPO lag times that are larger
 * than the RPO", aurora-global-database-disaster-recovery, "Managing RPOs"): /health, which
 * writes, then fails and the prober's alarm fires although nothing is down, and a failover with
 * AllowDataLoss would move production onto the cluster that is behind. An alarm may therefore
 * not fail over by itself when the target's AuroraGlobalDBReplicationLag (the metric the lag
 * alarm watches, 1-minute Maximum) was above the bound in the last 15 minutes, or above half of it
 * in a minute that ended before the primary's first failed probe: normal lag is well under a
 * second, and a lag that builds up before the primary stops answering is replication trouble,
 * not an outage. On-call decides. Returns why, or undefined.
 *
 * What this cannot see: a lag that jumped past the bound within the minute before the alarm is
 * not in a published datapoint yet. Such a failover goes ahead; the data it loses is still
 * bounded by rds.global_db_rpo.
 */
async function laggedFirst(
  state: WorkflowState,
  ports: ReturnType<DrDeps["ports"]>,
  deps: DrDeps,
): Promise<string | undefined> {
  const { request } = state;
  const rpoSeconds = deps.settings.dbRpoSeconds;
  if (rpoSeconds === null || regionOf(deps.topology, request.sourceRegion).role !== "primary") {
    return undefined;
  }
  const bound = rpoSeconds * 1000;
  const since = new Date(deps.now().getTime() - LAG_HISTORY_MINUTES * 60_000);
  const target = regionOf(deps.topology, request.targetRegion);
  const [probes, history] = await Promise.all([
    ports.metrics.probeResults(request.sourceRegion, since),
    ports.metrics.replicationLagHistory(target.clusterIdentifier, since),
  ]);
  const above = history
    .filter((p) => p.lagMs > bound)
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))[0];
  if (above) {
    return `${target.clusterIdentifier} lagged ${above.lagMs} ms in the minute from ${above.at}, above the ${rpoSeconds} s RPO bound: the RPO guard, not an outage, may be what stopped ${request.sourceRegion}, and failing over would move production onto the cluster that is behind`;
  }
  // The current run of failed probes, newest first, ends at the newest healthy one.
  const firstFailed = firstFailedProbe(probes);
  if (!firstFailed) return undefined;
  const building = history
    .filter((p) => p.lagMs > bound / 2 && Date.parse(p.at) + 60_000 <= Date.parse(firstFailed.at))
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))[0];
  if (!building) return undefined;
  return `${target.clusterIdentifier} lagged ${building.lagMs} ms in the minute from ${building.at}, before the primary's first failed probe at ${firstFailed.at} (the RPO bound is ${rpoSeconds} s): replication was falling behind before ${request.sourceRegion} stopped answering, which is what the RPO guard stalling it looks like, and failing over would move production onto the cluster that is behind`;
}

/**
 * How long after the start of the primary's first failed probe period a heartbeat must have begun
 * to prove the primary still commits after /health started failing: the period probeResults
 * reads (10 s, a datapoint's time is its period's start), the longest probe timeout
 * (PROBE_TIMEOUT_SECONDS < PROBE_INTERVAL_SECONDS, so at most 9 s) and 1 s for the clocks of the
 * writer (the value is its now()) and of this task, both on the Amazon Time Sync Service.
 */
export const COMMITTING_AFTER_FAILURE_SECONDS = 20;

/** Seconds added to the veto's age bound: clocks (±1 s), the reads' latency and rounding. */
export const VETO_MARGIN_SECONDS = 5;
/** How far back the replication lag sets the veto's age bound. */
export const VETO_LAG_WINDOW_SECONDS = 120;

/**
 * Review 22b-18 H1', narrowed by review 23-18 H1/M1: the prober's alarm can be raised from
 * outside. Once the health function's reserved environments are busy, "If the Lambda API rejects
 * the invocation request, API Gateway returns a 500 error code"
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html), with API
 * Gateway's own body {"message":"Internal Server Error"} (HTTP APIs:
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html),
 * and a flood beyond the stage's bucket gets 429. An alarm's run is held only when both hold:
 * - every failed probe of the primary in the alarm's window (from the current run's first failed
 *   period, at least the alarm's last periods) was one of those two answers (FLOOD_ANSWERS), as
 *   the prober recorded them in the target region's control table; no record of the window: no
 *   veto. Our own 503 with a reason (flag unreadable, database unreachable, read-only), timeouts,
 *   connection errors, 502/504 are real failures of the payment path: the run goes ahead.
 * - the writer heartbeat the target's cluster holds (its /health, the prober's record) was seen
 *   advancing: two different values, the newer one begun at least
 *   COMMITTING_AFTER_FAILURE_SECONDS after the first failed probe period (a dead region commits
 *   nothing after it died) and no older than the heartbeat period + the largest replication lag
 *   of the last 2 minutes + VETO_MARGIN_SECONDS (a live writer's beat is never older at its
 *   secondary; the 80 s staleness bound would hold a database that died a minute ago).
 * A Lambda service outage in the primary region answers the same generic 500 as a throttle while
 * the database commits: it is held too, and on-call fails over with the page's command; that is
 * the price of not letting a flood of /health fail over a healthy primary (README "Route
 * throttling"). Nothing here calls the failed region.
 */
async function vetoWhileCommitting(
  state: WorkflowState,
  ports: ReturnType<DrDeps["ports"]>,
  deps: DrDeps,
  targetInstances: readonly string[],
): Promise<void> {
  const { request } = state;
  const now = deps.now().getTime();
  const unreadable = (what: string) => (error: unknown) => {
    deps.log.warn(`${what} unreadable in the target region; no heartbeat veto from it`, {
      error: error instanceof Error ? error.message : String(error),
    });
    return null;
  };
  const target = regionOf(deps.topology, request.targetRegion);
  const [probes, held, watch, lagHistory] = await Promise.all([
    ports.metrics.probeResults(request.sourceRegion, new Date(now - LAG_HISTORY_MINUTES * 60_000)),
    ports.replica.writerHeartbeat().catch(unreadable("the writer heartbeat")),
    ports.control.getHeartbeatWatch().catch(unreadable("the prober's heartbeat record")),
    ports.metrics
      .replicationLagHistory(
        target.clusterIdentifier,
        new Date(now - VETO_LAG_WINDOW_SECONDS * 1000),
      )
      .catch(unreadable("the replication lag")),
  ]);
  const firstFailed = firstFailedProbe(probes);
  if (!firstFailed) return;
  const noVeto = (why: string, detail: Record<string, unknown> = {}) => {
    deps.log.info(`no heartbeat veto: ${why}`, { firstFailedAt: firstFailed.at, ...detail });
  };

  // The answers: the alarm's window starts at the first failed period; it must be on record.
  const windowStart = Date.parse(firstFailed.at);
  const answers = (watch?.answers ?? []).filter((a) => Date.parse(a.at) >= windowStart);
  const failed = answers.filter((a) => a.answer !== "ok");
  if (failed.length === 0) {
    noVeto("the prober's record holds no answer from the alarm's window");
    return;
  }
  const real = failed.find((a) => !FLOOD_ANSWERS.includes(a.answer));
  if (real) {
    noVeto(`the primary answered ${real.answer} at ${real.at}: a real failure`);
    return;
  }

  // Review 23-18 L2: a beat the target's own instances committed (a target made writable out of
  // band) says nothing about the primary: only the source's beats count. The reader names the
  // writer (migration 013); a beat without a name (the /health path, before 013) counts.
  const ownInstance = (writer: string | null | undefined) =>
    writer != null && targetInstances.includes(writer);
  const ownBeat = ownInstance(held?.writer);
  if (ownBeat) {
    deps.log.warn("the target's heartbeat was written by its own instance; not the primary's", {
      writer: held?.writer,
      beatAt: held?.beatAt,
    });
  }
  // The heartbeat: two different values, the newer one recent and after the failure began.
  const values = [
    ...new Set(
      [
        ownBeat ? undefined : held?.beatAt,
        ownInstance(watch?.writer) ? undefined : watch?.beatAt,
        ownInstance(watch?.previousWriter) ? undefined : watch?.previousBeatAt,
      ].filter((b): b is string => b !== undefined),
    ),
  ].sort((a, b) => Date.parse(b) - Date.parse(a));
  const [newest, previous] = values;
  if (newest === undefined || previous === undefined) {
    noVeto("the heartbeat was not seen advancing", { values });
    return;
  }
  // No lag datapoint: the typical lag (well under a second), which keeps the bound tight.
  const lags = (lagHistory ?? []).map((p) => p.lagMs);
  const lagSeconds = lags.length > 0 ? Math.max(...lags) / 1000 : 1;
  const bound = Math.round(deps.settings.heartbeatSeconds + lagSeconds + VETO_MARGIN_SECONDS);
  const ageSeconds = (now - Date.parse(newest)) / 1000;
  const after =
    Date.parse(newest) >= Date.parse(firstFailed.at) + COMMITTING_AFTER_FAILURE_SECONDS * 1000;
  if (!after || ageSeconds > bound) {
    noVeto("no fresh writer heartbeat since the primary's first failed probe", {
      beatAt: newest,
      ageSeconds,
      boundSeconds: bound,
    });
    return;
  }
  const command = `start the failover by hand with trigger "console" (the page gives the exact aws stepfunctions start-execution command)`;
  throw new PrimaryStillCommittingError(
    `${request.sourceRegion} answers API Gateway's generic 500 (a Lambda throttle or a Lambda outage) or 429 to every probe since ${firstFailed.at} (${failed.length} failed), while its database still commits: ${target.clusterIdentifier} in ${request.targetRegion} holds heartbeat ${newest} (${Math.round(ageSeconds)} s old, within ${bound} s; previous ${previous}). If payments are failing, fail over now: ${command}. The run re-checks every 15 s for about 2 minutes (the ASL's Retry) and fails over by itself as soon as the heartbeat stops; this is the last check`,
  );
}

/** The oldest probe of the current run of failed ones (`probes` newest first), if any. */
function firstFailedProbe(
  probes: readonly { readonly at: string; readonly healthy: boolean }[],
): { readonly at: string; readonly healthy: boolean } | undefined {
  const healthyAt = probes.findIndex((p) => p.healthy);
  return (healthyAt === -1 ? probes : probes.slice(0, healthyAt)).at(-1);
}

/** How far back the prober's view must show the primary down for an alarm to fail over. */
export const CORROBORATION_WINDOW_SECONDS = 60;
/** A healthy probe this recent means the primary still answers. */
export const HEALTHY_PROBE_VETO_SECONDS = 30;

/**
 * An alarm may fail a primary over with data loss only when the prober's latest view, read from
 * CloudWatch in the target region (never the failed one), shows it down: no probe answered 200
 * in the last 30 s and at least one probe ran in the last minute. A lag spike or a flapping
 * check alone never promotes the secondary; on-call can still start a failover by hand.
 */
async function corroborate(
  sourceRegion: string,
  ports: ReturnType<DrDeps["ports"]>,
  deps: DrDeps,
): Promise<void> {
  const now = deps.now().getTime();
  const since = new Date(now - CORROBORATION_WINDOW_SECONDS * 1000);
  const probes = await ports.metrics.probeResults(sourceRegion, since);
  const manual = 'start the failover by hand (trigger "console") to fail over anyway';
  if (probes.length === 0) {
    throw new AlarmNotCorroboratedError(
      `no prober result for ${sourceRegion} in the last ${CORROBORATION_WINDOW_SECONDS} s, so nothing confirms the alarm; ${manual}`,
    );
  }
  const healthy = probes.find(
    (p) => p.healthy && Date.parse(p.at) >= now - HEALTHY_PROBE_VETO_SECONDS * 1000,
  );
  if (healthy) {
    throw new AlarmNotCorroboratedError(
      `the prober saw ${sourceRegion} /health answer 200 at ${healthy.at}: an alarm may not fail over a primary that still answers; ${manual}`,
    );
  }
  deps.log.info("alarm corroborated by the prober", {
    sourceRegion,
    probes: probes.length,
    latest: probes[0]?.at,
  });
}

/** The Preflight task (functions/dr/tasks.ts). */
export const PREFLIGHT_TASK = stateTask({
  step: "Preflight",
  description: "Read-only readiness checks of both clusters and the replication lag",
  workflows: ["failover", "switchover", "failback"],
  permissions: {
    // A resumed run reads the flag (whether it already fenced); the run records both regions'
    // latest readiness evaluation; an alarm's run reads the writer heartbeat the target holds.
    control: ["getActiveRegion", "getReadiness", "getHeartbeatWatch"],
    replica: ["writerHeartbeat"],
    database: ["describeCluster", "describeGlobalCluster"],
    metrics: ["replicationLag", "probeResults", "replicationLagHistory"],
  },
  run: preflight,
});
