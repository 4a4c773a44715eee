// The health prober: runs in the secondary region on a 1-minute schedule and, within one
// invocation, probes the other region's /health every `intervalMs`, publishing each result at
// once as a high-resolution metric (1 healthy / 0 not, dimension Region=<probed region>) in its
// own region. The alarm on that metric is what triggers an automatic failover.
//
// It also renews the peer lease (PEER_LEASE; state-machines/README.md, "Never two writers"):
// at the start of every probe round, while its own replica of the flag names another region,
// it stamps `peerSeenAt` on that flag, conditional on the region and token it read, so it never
// renews past a fence its own region wrote. Then it reads the lease back from the active
// region's replica (best-effort) and publishes its age there (PeerLeaseAgeSeconds): that is the
// age the active region's payment functions see.
import { FENCE_PHASE, METRICS, PEER_LEASE } from "../../common/contract";
import { classifyAnswer, observeHeartbeat, withAnswers } from "../../dr/shared/heartbeat-watch";
import type { ProbeAnswer } from "../../dr/shared/heartbeat-watch";
import { answersTakingOver } from "../../common/taking-over";
import type { ActiveRegionItem } from "../../common/contract";
import type { ControlPort, HttpPort, Log, MetricsPort, ReplicaPort } from "../../dr/shared/ports";

export interface ProbeTarget {
  readonly region: string;
  readonly url: string;
}

export interface ProberConfig {
  readonly targets: readonly ProbeTarget[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** The schedule's period: probes = floor(windowMs / intervalMs). */
  readonly windowMs: number;
  /**
   * The prober's own region: a heartbeat goes there on every invocation, so silence means a
   * broken prober even while it has nothing to probe (after a failover, during a drill).
   */
  readonly heartbeatRegion?: string;
  /**
   * Watch the writer heartbeat the prober's own region's cluster holds (review H1/H2): after
   * each round, record when each value was first seen and whether it stood still for longer than
   * this many seconds while the writer answered healthy (WriterHeartbeatStale, which pages).
   * @default - not watched
   */
  readonly heartbeatStaleAfterSeconds?: number;
}

export interface ProberDeps {
  /**
   * The region the control flag names as active, read in the prober's own region; null when
   * the flag was never written. Only the active region is probed: a passive region's /health
   * fails by design, and probing it would raise the alarm (and a rejected failover) after every
   * failover. When the flag cannot be read, every target is probed: detection must not depend
   * on it.
   */
  readonly activeRegion?: () => Promise<string | null>;
  readonly http: HttpPort;
  readonly metrics: MetricsPort;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: Log;
  /** The prober's own region's /health (its cluster's writer heartbeat), for the watch. */
  readonly replica?: ReplicaPort;
  /** The prober's own region's control table, for the watch. */
  readonly control?: Pick<ControlPort, "getHeartbeatWatch" | "putHeartbeatWatch">;
  /**
   * The peer lease: the prober's own region's control table (renewal) and, best-effort, the
   * control table in another region (the age its payment functions see). Absent: no renewal.
   */
  readonly lease?: {
    readonly control: Pick<ControlPort, "getActiveRegion" | "renewPeerLease">;
    readonly remote?: (region: string) => Pick<ControlPort, "getActiveRegion">;
  };
}

export interface ProbeResult {
  readonly region: string;
  readonly at: string;
  readonly healthy: boolean;
  /**
   * The answer said nothing about the region's health (429 from the stage throttle): no
   * datapoint was published.
   */
  readonly inconclusive?: boolean;
  /**
   * A healthy (200) answer with status "taking-over": a move into that region is under way and
   * it is not the writer yet (functions/payments/health/core.ts). Healthy for the alarm; not a
   * healthy writer for the heartbeat watch.
   */
  readonly takingOver?: boolean;
  /** What kind of answer it was: the heartbeat record keeps it for Preflight's veto. */
  readonly answer: ProbeAnswer;
  readonly detail: string;
}

export function probeCount(config: Pick<ProberConfig, "intervalMs" | "windowMs">): number {
  return Math.max(1, Math.floor(config.windowMs / config.intervalMs));
}

export async function probe(config: ProberConfig, deps: ProberDeps): Promise<ProbeResult[]> {
  if (config.heartbeatRegion) await heartbeat(config.heartbeatRegion, deps);
  const results: ProbeResult[] = [];
  const start = deps.now().getTime();
  const count = probeCount(config);
  for (let i = 0; i < count; i++) {
    const slot = start + i * config.intervalMs;
    const wait = slot - deps.now().getTime();
    if (wait > 0) await deps.sleep(wait);
    // Beside the round's probes: a slow read-back in the writer's region must not delay them.
    const renewal = config.heartbeatRegion
      ? renewLease(config.heartbeatRegion, deps)
      : Promise.resolve();
    const due = await activeTargets(config.targets, deps);
    const round = await Promise.all(due.map((target) => probeOne(target, config, deps)));
    await renewal;
    results.push(...round);
    // Only while another region writes: that is the heartbeat this region's cluster replicates.
    // An inconclusive probe (429) is no evidence that the writer answers: not healthy here. Nor
    // is a region taking over (a failback's target during its switchover): no writer commits
    // heartbeats then, and standing still is what the heartbeat should do.
    if (round.length > 0)
      await watchHeartbeat(
        round.every((r) => r.healthy && !r.takingOver),
        round,
        config,
        deps,
      );
  }
  return results;
}

/**
 * One look at the writer heartbeat this region's cluster holds: first sightings and staleness go
 * to the control table (functions/dr/shared/heartbeat-watch.ts), staleness to
 * WriterHeartbeatStale. Never throws: the probes matter more.
 */
async function watchHeartbeat(
  writerHealthy: boolean,
  round: readonly ProbeResult[],
  config: ProberConfig,
  deps: ProberDeps,
): Promise<void> {
  const staleAfter = config.heartbeatStaleAfterSeconds;
  if (staleAfter === undefined || !deps.replica || !deps.control || !config.heartbeatRegion) {
    return;
  }
  try {
    const [held, current] = await Promise.all([
      deps.replica.writerHeartbeat().catch(() => null),
      deps.control.getHeartbeatWatch(),
    ]);
    const observed = observeHeartbeat(
      current,
      held?.beatAt ?? null,
      deps.now(),
      writerHealthy,
      staleAfter,
      held?.writer,
    );
    if (!observed) return;
    // Review 23-18 H1: the kind of each answer, kept where Preflight reads it (this region's
    // control table), so its veto can tell a flood's 500s from a real failure's.
    const next = withAnswers(
      observed,
      round.map((r) => ({ at: r.at, answer: r.answer })),
    );
    // A lost race with an overlapping invocation: its look is as good as this one.
    await deps.control.putHeartbeatWatch(next, current?.checkedAt ?? null);
    await deps.metrics.put(METRICS.namespace, [
      {
        name: METRICS.writerHeartbeatStale,
        value: next.staleSince === undefined ? 0 : 1,
        unit: "None",
        dimensions: { Region: config.heartbeatRegion },
      },
    ]);
    if (next.staleSince !== undefined) {
      deps.log.error("the writer heartbeat stands still while the writer answers healthy", {
        ...next,
      });
    }
  } catch (error) {
    deps.log.error("could not watch the writer heartbeat", {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/**
 * One renewal of the peer lease from `ownRegion`, when its replica names another region. Never
 * throws: a missed renewal is covered by the next ones (the lease outlasts two rounds), and the
 * lease-age alarm pages before it lapses.
 */
export async function renewLease(ownRegion: string, deps: ProberDeps): Promise<void> {
  if (!deps.lease) return;
  try {
    const flag = await deps.lease.control.getActiveRegion();
    // Not while a move is in progress: Unfence arms or re-opens the flag in the other region,
    // and a renewal written before that reached this replica could undo it (last writer wins).
    if (!flag || flag.activeRegion === ownRegion || flag.phase === FENCE_PHASE.fenced) return;
    const at = deps.now();
    const renewed = await deps.lease.control.renewPeerLease(
      flag.activeRegion,
      flag.fencingToken,
      at.toISOString(),
    );
    if (!renewed) {
      deps.log.warn("peer lease not renewed: the flag changed since it was read", {
        activeRegion: flag.activeRegion,
        fencingToken: flag.fencingToken,
      });
      return;
    }
    await publishLeaseAge(flag.activeRegion, deps);
  } catch (error) {
    deps.log.error("could not renew the peer lease", {
      error: error instanceof Error ? error.message : String(error),
    });
    // Counted whatever the armed state (review 22 M3): while the lease is disarmed no age is
    // published and nothing else says the renewer is failing, yet re-protect cannot arm.
    try {
      await deps.metrics.put(METRICS.namespace, [
        {
          name: METRICS.peerLeaseRenewalFailed,
          value: 1,
          unit: "Count",
          dimensions: { Region: ownRegion },
        },
      ]);
    } catch {
      // CloudWatch failing too: the heartbeat's own alarm (prober-silent) speaks for it.
    }
  }
}

/** The lease's age in the active region's own replica (armed, or with Armed=false). */
async function publishLeaseAge(activeRegion: string, deps: ProberDeps): Promise<void> {
  if (!deps.lease?.remote) return;
  let seen: ActiveRegionItem | null;
  try {
    seen = await deps.lease.remote(activeRegion).getActiveRegion();
  } catch (error) {
    // A partition or the region's outage: the probes' alarm speaks for it.
    deps.log.warn("could not read the peer lease in the active region", {
      activeRegion,
      error: error instanceof Error ? error.message : String(error),
    });
    return;
  }
  if (seen?.activeRegion !== activeRegion || !seen.peerSeenAt) return;
  const ageSeconds = Math.max(0, (deps.now().getTime() - Date.parse(seen.peerSeenAt)) / 1000);
  if (!seen.leaseRequired) {
    // Review 22 M2: measured while disarmed too, so the renewals' delay towards the writer is
    // known before anyone arms (re-protect checks it itself). Under a dimension set of its own:
    // "CloudWatch treats each unique combination of dimensions as a separate metric"
    // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Dimension),
    // so the peer-lease-aging alarm ({Region} only) never pages on a lease nobody enforces.
    await deps.metrics.put(METRICS.namespace, [
      {
        name: METRICS.peerLeaseAge,
        value: Math.round(ageSeconds * 10) / 10,
        unit: "Seconds",
        dimensions: { Region: activeRegion, Armed: "false" },
      },
    ]);
    return;
  }
  if (ageSeconds > PEER_LEASE.warnSeconds) {
    deps.log.error("the peer lease in the active region is close to lapsing", {
      activeRegion,
      peerSeenAt: seen.peerSeenAt,
      ageSeconds,
    });
  }
  await deps.metrics.put(METRICS.namespace, [
    {
      name: METRICS.peerLeaseAge,
      value: Math.round(ageSeconds * 10) / 10,
      unit: "Seconds",
      dimensions: { Region: activeRegion },
    },
  ]);
}

async function heartbeat(region: string, deps: ProberDeps): Promise<void> {
  try {
    await deps.metrics.put(METRICS.namespace, [
      { name: METRICS.proberHeartbeat, value: 1, unit: "Count", dimensions: { Region: region } },
    ]);
  } catch (error) {
    deps.log.error("could not publish the prober heartbeat", {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

async function activeTargets(
  targets: readonly ProbeTarget[],
  deps: ProberDeps,
): Promise<readonly ProbeTarget[]> {
  if (!deps.activeRegion) return targets;
  let active: string | null;
  try {
    active = await deps.activeRegion();
  } catch (error) {
    deps.log.warn("could not read the active-region flag; probing every target", {
      error: error instanceof Error ? error.message : String(error),
    });
    return targets;
  }
  const due = targets.filter((t) => active === null || t.region === active);
  if (due.length < targets.length) {
    deps.log.info("skipping passive regions", {
      activeRegion: active,
      skipped: targets.filter((t) => !due.includes(t)).map((t) => t.region),
    });
  }
  return due;
}

async function probeOne(
  target: ProbeTarget,
  config: ProberConfig,
  deps: ProberDeps,
): Promise<ProbeResult> {
  const at = deps.now();
  let healthy = false;
  let inconclusive = false;
  let takingOver = false;
  let answer: ProbeAnswer;
  let detail: string;
  try {
    const response = await deps.http.request("GET", target.url, { timeoutMs: config.timeoutMs });
    healthy = response.status === 200;
    // A move into that region is under way (the flag is fenced towards it): healthy for the
    // alarm, which must not start a failover against a region taking over, but not the writer.
    takingOver = answersTakingOver(response);
    answer = classifyAnswer(response);
    // 429 is the stage's throttle answering before any function ran: /health is
    // unauthenticated and a throttle's token bucket is shared by every caller
    // (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html), so
    // anyone flooding it could otherwise make this prober fail over a healthy region. It says
    // nothing about the region either way: publish no datapoint (the alarm treats missing data
    // as not breaching), neither 1 nor 0. Route 53's own checkers still count it as a failure
    // (they count only 2xx and 3xx as healthy: dns-failover-determining-health-of-endpoints);
    // README "Route throttling" says what that leaves.
    inconclusive = response.status === 429;
    detail = `HTTP ${response.status}${inconclusive ? " (throttled by the stage: inconclusive, not published)" : ""}${takingOver ? " (taking over)" : ""}`;
  } catch (error) {
    answer = classifyAnswer({ error });
    detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  if (inconclusive) {
    const result = {
      region: target.region,
      at: at.toISOString(),
      healthy,
      inconclusive,
      answer,
      detail,
    };
    deps.log.warn("probed: inconclusive", { ...result });
    // Review 22b-18 M1': no PrimaryHealthy datapoint means primary-unhealthy stays OK however
    // long every probe gets 429 ("missing data points ... notBreaching",
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data),
    // so detection would be blind without a page: counted here, the probe-inconclusive alarm
    // pages when it persists.
    try {
      await deps.metrics.put(METRICS.namespace, [
        {
          name: METRICS.probeInconclusive,
          value: 1,
          unit: "Count",
          dimensions: { Region: target.region },
          timestamp: at,
          storageResolution: 1,
        },
      ]);
    } catch (error) {
      deps.log.error("could not publish the inconclusive probe", {
        region: target.region,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    return result;
  }
  try {
    await deps.metrics.put(METRICS.namespace, [
      {
        name: METRICS.probeHealthy,
        value: healthy ? 1 : 0,
        unit: "None",
        dimensions: { Region: target.region },
        timestamp: at,
        storageResolution: 1,
      },
    ]);
  } catch (error) {
    // A lost datapoint is missing data (the alarm should treat it as breaching); keep probing.
    deps.log.error("could not publish the probe result", {
      region: target.region,
      error: error instanceof Error ? error.message : String(error),
    });
  }
  const result = {
    region: target.region,
    at: at.toISOString(),
    healthy,
    answer,
    ...(takingOver ? { takingOver } : {}),
    detail,
  };
  deps.log.info("probed", { ...result });
  return result;
}
