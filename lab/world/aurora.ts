// Aurora PostgreSQL Global Database as the lab models it, on real PostgreSQL 16 servers: one
// cluster per region (one server each), the secondary a physical streaming standby of the primary
// through the inter-region link. Every behaviour below is from "Using switchover or failover in
// Amazon Aurora Global Database" (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html)
// unless said otherwise; timings are drawn from ranges (LabTimings) because AWS documents none.
// - Managed failover (FailoverGlobalCluster, AllowDataLoss): "doesn't wait for data to
//   synchronize"; "Typically, the chosen secondary cluster assumes the primary role within a few
//   minutes" -> after a drawn delay the standby is promoted (pg_promote). Write fencing of the
//   old primary is "a best-effort attempt": done (the old server stopped) when the old region can
//   be reached, otherwise left pending and done as soon as it can, so "writes might be
//   momentarily accepted in the old primary Region" in a partition.
// - The old primary "automatically" rejoins as a secondary once its region is healthy, on "a new
//   storage volume" after a point-of-failure snapshot: its folder is kept as the snapshot and a
//   new standby is built from a base backup of the new writer.
// - Switchover (SwitchoverGlobalCluster, called in the primary's region): "waits for the target
//   secondary Region clusters to be fully synchronized ... Then, the DB cluster in the primary
//   Region becomes read-only. The chosen secondary cluster promotes" -> primary read-only, wait
//   for the standby to replay everything, clean stop, promote, the old primary restarts as a
//   standby of the new one. RPO 0.
// - Promotion is not a bare pg_promote(): "Your database is unavailable for a short time while
//   the primary and selected secondary clusters are assuming their new roles"
//   (SwitchoverGlobalCluster, https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_SwitchoverGlobalCluster.html);
//   of a managed failover the user guide above says "Your database is unavailable for a short
//   time while this cluster is assuming its new role", and FailoverGlobalCluster
//   (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverGlobalCluster.html)
//   gives no separate duration for it. That unavailability is part of the operation, not after
//   it: AWS documents one duration for a global failover ("assumes the primary role within a few
//   minutes") and the new writer is unavailable "while" it assumes the role. So the promoted
//   server restarts into its role as the TAIL of the drawn operation: the lab draws the
//   operation's duration (failoverMs, switchoverMs, detachMs), then the restart window inside it
//   (promotionOutageMs cut at the operation: restartRange; 0-0 for none), promotes at
//   `end - restart`, drops every session (a fast shutdown: 57P01), refuses connections while
//   down (ECONNREFUSED) and while starting (57P03 cannot_connect_now), and completes when it
//   serves again at `end` (or later when the real start is slower: `outages` records the
//   measured window beside the drawn one). No AWS page gives the length of that restart for a
//   global database; the range is the in-Region failover's as a proxy: "service is typically
//   restored in less than 60 seconds, and often less than 30 seconds" (Fault tolerance for an
//   Aurora DB cluster,
//   https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.AuroraHighAvailability.html).
//   Refusals inside a recorded window are the documented unavailability, not the connection
//   budget's (53300).
// - Detach (RemoveFromGlobalCluster): "immediately stops the replication ... and promotes it to a
//   standalone ... cluster"; no fencing of the old primary at all.
// - rds.global_db_rpo on the deployed primary ("Managing RPOs"): when every secondary's RPO lag
//   exceeds it, commits block until one catches up -> the writer's in-region link is held (nothing
//   the payment functions send reaches the server). Left unset on the secondary, as deployed.
// - AuroraGlobalDBReplicationLag: published only in the secondary region, and only while the
//   secondary receives (the docs are silent on an unreachable primary: the lab publishes nothing).
// - Instances: each cluster is one server, listed as its one instance `<cluster>-1` of
//   LAB_INSTANCE_CLASS. CreateDBInstance (RestoreCapacity's readers) is recorded as an instance
//   "creating" with no server behind it: Aurora documents no duration for a new reader
//   (aurora-replicas-adding.html), and no lab scenario waits for one.
// Not modelled: serving from an added instance, the global writer endpoint's
// DNS (each region's API connects to its own region's server), storage-level replication (it is
// PostgreSQL streaming replication here), FailoverState "pending"/"cancelling".
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ManagedFailoverUnavailableError,
  TransientError,
  DependencyError,
} from "../../functions/dr/shared/errors";
import type {
  ClusterView,
  DatabasePort,
  GlobalClusterView,
  InstanceRequest,
  InstanceView,
} from "../../functions/dr/shared/ports";
import type { LabClock, RandomStreams } from "./clock";
import type { Link, Network } from "./network";
import { baseBackup } from "./postgres";
import type { PgNode } from "./postgres";

export type Range = readonly [number, number];

export interface AuroraTimings {
  /** Managed failover: request to promoted, lab ms. */
  readonly failoverMs: Range;
  /** Switchover: request to promoted (beyond the time to synchronise), lab ms. */
  readonly switchoverMs: Range;
  /** Detach-and-promote, lab ms. */
  readonly detachMs: Range;
  /** Old primary back in its region -> rebuilt as a secondary, lab ms. */
  readonly rejoinMs: Range;
  /** rds.global_db_rpo of the deployed primary, seconds (Aurora's minimum is 20). */
  readonly rpoGuardSeconds: number;
  /**
   * The promoted writer's restart into its role, lab ms: the tail of the drawn failover /
   * switchover / detach (clipped to it), not time added after it.
   */
  readonly promotionOutageMs: Range;
}

/** A window in which a promoted writer refused connections (lab epoch ms). */
export interface PromotionOutage {
  readonly region: string;
  readonly kind: string;
  readonly from: number;
  /** When it accepted connections again; unset while it is still down. */
  to?: number;
  /** The drawn restart, lab ms: a draw from --restart cut at the operation (restartRange). */
  readonly drawnMs: number;
  /**
   * The range it was drawn from, lab ms: --restart, its top cut at the operation's drawn length
   * when the operation is shorter (review 23 L1: the report says when that happened).
   */
  readonly drawnFromMs: readonly [number, number];
  /**
   * What was left of the drawn window when the restart began (the drawn end minus `from`), lab
   * ms: shorter than the draw when the promotion itself ran late; the measured one is `to -
   * from`, never shorter.
   */
  readonly windowMs: number;
  /** The drawn duration of the whole operation it ends, lab ms. */
  readonly operationMs: number;
}

export interface ClusterRegion {
  readonly region: string;
  readonly clusterArn: string;
  readonly clusterIdentifier: string;
  /** Is the region alive (a region-down scenario kills it)? */
  alive: boolean;
  node: PgNode;
  /** The region's payment functions reach their database through this in-region link. */
  readonly appLink: Link;
  /** The guard applies here (rds.global_db_rpo is set on this cluster's parameter group). */
  readonly rpoGuard: boolean;
}

type Role = "writer" | "reader" | "detached";

interface Member {
  readonly info: ClusterRegion;
  node(): PgNode;
  role: Role;
  status: string;
  /** The old writer of an unplanned failover still has to be fenced and rebuilt. */
  pendingRejoin?: { since: number; fenced: boolean; rejoinAt?: number };
  /** Replication link to the writer (for a reader). */
  replicationLink?: Link;
}

export interface RdsEvent {
  readonly at: number;
  readonly region: string;
  readonly id: string;
  readonly message: string;
}

export interface AuroraOptions {
  readonly identifier: string;
  readonly regions: readonly ClusterRegion[];
  readonly writer: string;
  readonly network: Network;
  readonly clock: LabClock;
  /** Each draw (failoverMs, promotionOutageMs-failover, ...) takes its own stream. */
  readonly random: RandomStreams;
  readonly timings: AuroraTimings;
  /** Where rebuilt standbys and snapshots go. */
  readonly dataRoot: string;
  readonly publishLag: (secondary: ClusterRegion, lagMs: number, at: Date) => void;
  readonly log: (message: string) => void;
}

/**
 * The restart window that ends an operation of `operationMs`: the drawn window, never longer than
 * the operation (the unavailability is inside the documented duration, not added to it).
 */
export function restartTail(drawnRestartMs: number, operationMs: number): number {
  return Math.max(0, Math.min(drawnRestartMs, operationMs));
}

/**
 * The range the restart window of an operation of `operationMs` is drawn from (review 23 L1): the
 * configured range cut at the operation, so the window is a draw inside the operation rather than
 * min(draw, operation), which made the whole operation the restart in a third (failover) to two
 * thirds (switchover) of the default runs. AWS documents one duration with the unavailability
 * inside it and no split (API_FailoverGlobalCluster, API_SwitchoverGlobalCluster: "unavailable
 * for a short time while ... assuming their new roles"). [0, 0]: no restart at all.
 */
export function restartRange(
  range: readonly [number, number],
  operationMs: number,
): [number, number] {
  const op = Math.max(0, operationMs);
  return [Math.min(range[0], op), Math.min(range[1], op)];
}

export class AuroraGlobalDatabase {
  readonly members = new Map<string, Member>();
  failover?: { status: string; from: string; to: string; dataLoss: boolean };
  readonly events: RdsEvent[] = [];
  /** Lab epoch ms of each promotion (the single-writer check's reference). */
  readonly promotions: { region: string; at: number; kind: string }[] = [];
  readonly snapshots: { region: string; dataDir: string; at: number }[] = [];
  /** The promoted writers' restarts (see the header): when each refused connections. */
  readonly outages: PromotionOutage[] = [];
  /** Instances added with CreateDBInstance, by region (no server behind them). */
  readonly addedInstances: (InstanceView & { region: string })[] = [];
  /** Drawn durations, for the report. */
  readonly draws: Record<string, number> = {};
  private lastCaughtUp: number;
  lagMs: number | null = 0;
  /** The region whose commits the RPO guard blocks, if any. */
  guardRegion?: string;
  readonly guardIntervals: { region: string; from: number; to?: number }[] = [];
  /** Test hook: false plants a second writer (the old primary is never fenced). */
  writeFencing = true;
  private timer?: NodeJS.Timeout;
  private busy = false;
  private generation = 0;

  constructor(readonly options: AuroraOptions) {
    for (const info of options.regions) {
      this.members.set(info.region, {
        info,
        node: () => info.node,
        role: info.region === options.writer ? "writer" : "reader",
        status: "available",
      });
    }
    this.lastCaughtUp = options.clock.nowMs();
  }

  get writerRegion(): string | undefined {
    return [...this.members.values()].find((m) => m.role === "writer" || m.role === "detached")
      ?.info.region;
  }

  member(region: string): Member {
    const m = this.members.get(region);
    if (!m) throw new Error(`no cluster in ${region}`);
    return m;
  }

  setReplicationLink(region: string, link: Link): void {
    this.member(region).replicationLink = link;
  }

  /** Real ms between two samples of the lag (and so the guard's reaction time). */
  static readonly SAMPLE_MS = 500;

  start(): void {
    this.timer = setInterval(() => void this.tick(), AuroraGlobalDatabase.SAMPLE_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private event(region: string, id: string, message: string): void {
    this.events.push({ at: this.options.clock.nowMs(), region, id, message });
    this.options.log(`RDS ${id} ${region}: ${message}`);
  }

  private draw(name: string, range: Range): number {
    // A stream per draw name: which operation happens first (a detach before a rejoin, say)
    // depends on real-time events, and must not change what the other draws get.
    const value = Math.round(this.options.random.get(`aurora/${name}`).between(range[0], range[1]));
    this.draws[name] = value;
    return value;
  }

  // ---- The API, as one region's RDS endpoint answers it ----

  describeGlobalCluster(): GlobalClusterView {
    const members = [...this.members.values()].filter((m) => m.role !== "detached");
    return {
      identifier: this.options.identifier,
      status: this.failover
        ? this.failover.dataLoss
          ? "failing-over"
          : "switching-over"
        : "available",
      endpoint: `${this.options.identifier}.global-lab.global.rds.amazonaws.com`,
      members: members.map((m) => ({
        clusterArn: m.info.clusterArn,
        isWriter: m.role === "writer",
      })),
      ...(this.failover
        ? {
            failover: {
              status: this.failover.status,
              fromClusterArn: this.member(this.failover.from).info.clusterArn,
              toClusterArn: this.member(this.failover.to).info.clusterArn,
              isDataLossAllowed: this.failover.dataLoss,
            },
          }
        : {}),
    };
  }

  describeCluster(clusterIdentifier: string): ClusterView | null {
    const m = [...this.members.values()].find(
      (x) => x.info.clusterIdentifier === clusterIdentifier,
    );
    if (!m) return null;
    return {
      arn: m.info.clusterArn,
      status: m.status,
      endpoint: `${m.info.clusterIdentifier}.cluster-lab.${m.info.region}.rds.amazonaws.com`,
      ...(m.role === "detached" ? {} : { globalClusterIdentifier: this.options.identifier }),
    };
  }

  private target(arn: string): Member {
    const m = [...this.members.values()].find((x) => x.info.clusterArn === arn);
    if (!m) throw new DependencyError(`rds: DBClusterNotFoundFault: ${arn}`);
    return m;
  }

  failoverGlobalCluster(targetArn: string): void {
    const target = this.target(targetArn);
    if (this.failover || target.role !== "reader" || target.pendingRejoin) {
      throw new ManagedFailoverUnavailableError(
        `rds:FailoverGlobalCluster failed: InvalidGlobalClusterStateFault: the global cluster is ${this.failover ? this.failover.status : "not in a state to fail over to " + target.info.region}`,
        "InvalidGlobalClusterStateFault",
      );
    }
    const from = this.writerRegion!;
    this.failover = { status: "failing-over", from, to: target.info.region, dataLoss: true };
    const delay = this.draw("failoverMs", this.options.timings.failoverMs);
    const restart = this.drawRestart("failover", delay);
    const end = this.options.clock.nowMs() + delay;
    this.event(
      target.info.region,
      "failover-requested",
      `FailoverGlobalCluster (AllowDataLoss) to ${target.info.region}; completes in ${delay / 1000} s, its last ${restart / 1000} s the new writer's restart`,
    );
    void this.after(delay - restart, () =>
      this.completeFailover(from, target, end, delay, restart),
    );
  }

  switchoverGlobalCluster(targetArn: string): void {
    const target = this.target(targetArn);
    const source = this.member(this.writerRegion!);
    if (this.failover || target.role !== "reader" || target.pendingRejoin || !source.info.alive) {
      throw new DependencyError(
        "rds:SwitchoverGlobalCluster failed: InvalidGlobalClusterStateFault: the global cluster is not in a state to switch over",
      );
    }
    this.failover = {
      status: "switching-over",
      from: source.info.region,
      to: target.info.region,
      dataLoss: false,
    };
    this.event(
      source.info.region,
      "RDS-EVENT-0181",
      `Global switchover to DB cluster ${target.info.clusterIdentifier} in Region ${target.info.region} started.`,
    );
    void this.runSwitchover(source, target);
  }

  removeFromGlobalCluster(clusterArn: string): void {
    const target = this.target(clusterArn);
    if (target.role !== "reader") {
      throw new DependencyError(
        `rds:RemoveFromGlobalCluster failed: InvalidDBClusterStateFault: ${target.info.region} is not a secondary`,
      );
    }
    target.role = "detached";
    target.status = "promoting";
    const delay = this.draw("detachMs", this.options.timings.detachMs);
    const restart = this.drawRestart("detach", delay);
    const end = this.options.clock.nowMs() + delay;
    this.event(
      target.info.region,
      "detach",
      `RemoveFromGlobalCluster ${target.info.clusterIdentifier}; standalone in ${delay / 1000} s, its last ${restart / 1000} s the writer's restart`,
    );
    void this.after(delay - restart, async () => {
      await target.info.node.promote();
      this.promotions.push({
        region: target.info.region,
        at: this.options.clock.nowMs(),
        kind: "detach",
      });
      if (!(await this.restartPromoted(target, "detach", end, delay, restart))) return;
      target.status = "available";
    });
  }

  private async after(labMs: number, work: () => Promise<void>): Promise<void> {
    const generation = this.generation;
    await this.options.clock.sleep(labMs);
    if (generation !== this.generation) return;
    try {
      await work();
    } catch (error) {
      this.options.log(`RDS operation failed: ${(error as Error).message}`);
    }
  }

  private async completeFailover(
    from: string,
    target: Member,
    end: number,
    operationMs: number,
    restartMs: number,
  ): Promise<void> {
    const old = this.member(from);
    // Best-effort write fencing through the storage layer: only when the old region answers.
    const reachable =
      this.writeFencing &&
      old.info.alive &&
      this.options.network.connected(from, target.info.region);
    old.role = "reader";
    old.pendingRejoin = { since: this.options.clock.nowMs(), fenced: false };
    if (reachable) await this.fenceOldWriter(old);
    else
      this.event(
        target.info.region,
        "write-fencing-timed-out",
        `the process to stop writes on ${from} timed out (the region cannot be reached)`,
      );
    await target.info.node.promote();
    target.role = "writer";
    this.promotions.push({
      region: target.info.region,
      at: this.options.clock.nowMs(),
      kind: "failover",
    });
    if (!(await this.restartPromoted(target, "failover", end, operationMs, restartMs))) return;
    this.failover = undefined;
    this.releaseGuard();
    this.event(
      target.info.region,
      "RDS-EVENT-0238",
      `Global failover to DB cluster ${target.info.clusterIdentifier} in Region ${target.info.region} completed.`,
    );
  }

  /** The old writer stops taking writes: its server is stopped (its folder becomes the snapshot). */
  private async fenceOldWriter(old: Member): Promise<void> {
    if (!old.pendingRejoin || old.pendingRejoin.fenced) return;
    await old.info.node.stop();
    old.pendingRejoin.fenced = true;
    old.pendingRejoin.rejoinAt =
      this.options.clock.nowMs() +
      this.draw(`rejoinMs-${old.info.region}`, this.options.timings.rejoinMs);
    old.status = "inaccessible-old-writer";
    this.releaseGuard();
    this.event(
      old.info.region,
      "write-fencing-succeeded",
      `writes were stopped on ${old.info.clusterIdentifier}`,
    );
  }

  private async runSwitchover(source: Member, target: Member): Promise<void> {
    const node = source.info.node;
    const started = this.options.clock.nowMs();
    const duration = this.draw("switchoverMs", this.options.timings.switchoverMs);
    const restart = this.drawRestart("switchover", duration);
    // Wait for the target to be fully synchronised, the primary read-only from then on.
    await node.sql("ALTER SYSTEM SET default_transaction_read_only = on");
    await node.sql("SELECT pg_reload_conf()");
    await node.sql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name LIKE 'payments-%'",
    );
    const lsn = (await node.sql<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn"))[0]!
      .lsn;
    for (;;) {
      const [row] = await target.info.node.sql<{ caught: boolean }>(
        "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught",
        [lsn],
      );
      if (row?.caught) {
        // "All volumes are synchronized" (RDS-EVENT-0182) and the primary commits nothing more:
        // the secondary is caught up from here to the promotion, whatever the lab's own clock
        // did meanwhile (a switchover that outlived rds.global_db_rpo must not leave the new
        // writer's guard believing its secondary lags by the whole switchover).
        this.lastCaughtUp = this.options.clock.nowMs();
        break;
      }
      this.event(
        source.info.region,
        "RDS-EVENT-0183",
        "Waiting for data synchronization across global cluster members.",
      );
      await this.options.clock.sleep(1000);
    }
    // The drawn duration counts beyond the synchronisation; the restart is its tail.
    const end = Math.max(started + duration, this.options.clock.nowMs() + restart);
    const left = end - restart - this.options.clock.nowMs();
    if (left > 0) await this.options.clock.sleep(left);
    await node.stop();
    // The read-only setting was the switchover's, not the cluster's: the next role starts clean.
    stripAutoConf(node.options.dataDir, ["default_transaction_read_only"]);
    this.event(
      source.info.region,
      "RDS-EVENT-0182",
      `Old primary DB cluster ${source.info.clusterIdentifier} in Region ${source.info.region} successfully shut down.`,
    );
    // The standby has received the old primary's shutdown checkpoint by now; give it a moment.
    await new Promise((r) => setTimeout(r, 300));
    await target.info.node.promote();
    target.role = "writer";
    source.role = "reader";
    // The old primary holds exactly what the new one holds at the promotion; its lag counts from
    // here until it streams from the new writer.
    this.lastCaughtUp = this.options.clock.nowMs();
    this.promotions.push({
      region: target.info.region,
      at: this.options.clock.nowMs(),
      kind: "switchover",
    });
    // Cancelled inside the window: nothing more starts (the old primary as a standby included).
    if (!(await this.restartPromoted(target, "switchover", end, duration, restart))) return;
    this.event(
      target.info.region,
      "RDS-EVENT-0184",
      `New primary DB cluster ${target.info.clusterIdentifier} in Region ${target.info.region} was successfully promoted.`,
    );
    await this.followNewWriter(source, target);
    this.failover = undefined;
    this.releaseGuard();
    this.event(
      target.info.region,
      "RDS-EVENT-0185",
      `Global switchover to DB cluster ${target.info.clusterIdentifier} in Region ${target.info.region} finished.`,
    );
  }

  /**
   * The restart window of an operation of `operationMs` (lab ms): drawn from promotionOutageMs cut
   * at the operation (restartRange), so never longer than the operation it ends (see the header).
   */
  private drawRestart(kind: string, operationMs: number): number {
    const range = restartRange(this.options.timings.promotionOutageMs, operationMs);
    return restartTail(this.draw(`promotionOutageMs-${kind}`, range), operationMs);
  }

  /**
   * The promoted writer restarts into its new role (see the header): a fast shutdown ends every
   * session, the server stays down until `end` (the drawn end of the operation), then starts and
   * accepts connections again. The window is lab time; a start slower than the window (a loaded
   * box) lengthens it, and `outages` records the measured one beside the drawn one.
   */
  private async restartPromoted(
    member: Member,
    kind: string,
    end: number,
    operationMs: number,
    drawnMs: number,
  ): Promise<boolean> {
    const { clock } = this.options;
    // --restart 0-0: no restart, the promoted server keeps serving (review 23 L1).
    if (drawnMs <= 0) return true;
    const node = member.info.node;
    const generation = this.generation;
    const from = clock.nowMs();
    const outage: PromotionOutage = {
      region: member.info.region,
      kind,
      from,
      drawnMs,
      drawnFromMs: restartRange(this.options.timings.promotionOutageMs, operationMs),
      windowMs: Math.max(0, Math.round(end - from)),
      operationMs,
    };
    this.outages.push(outage);
    this.event(
      member.info.region,
      "writer-restart",
      `the new writer of ${member.info.clusterIdentifier} restarts into its role: sessions dropped, connections refused for ${(outage.windowMs / 1000).toFixed(1)} s (drawn ${(drawnMs / 1000).toFixed(1)} s, the end of the ${(operationMs / 1000).toFixed(1)} s ${kind})`,
    );
    await node.stop();
    const left = end - clock.nowMs();
    if (left > 0) await clock.sleep(left);
    // Cancelled meanwhile (the lab is stopping: Ctrl-C, a test's timeout): a server started now
    // would come up after the cleanups and be left behind (review L2).
    if (generation !== this.generation) return false;
    await node.start();
    outage.to = clock.nowMs();
    this.event(
      member.info.region,
      "writer-available",
      `the new writer of ${member.info.clusterIdentifier} accepts connections again after ${((outage.to - outage.from) / 1000).toFixed(1)} s`,
    );
    return true;
  }

  /**
   * Was `region`'s writer restarting at lab time `at` (a refusal then is the promotion's
   * documented unavailability, not the connection budget's)?
   */
  duringOutage(region: string, at: number): boolean {
    return this.outages.some(
      (o) => o.region === region && at >= o.from && at <= (o.to ?? this.options.clock.nowMs()),
    );
  }

  /** `reader` (stopped, clean) restarts as a standby of `writer` through the inter-region link. */
  private async followNewWriter(reader: Member, writer: Member): Promise<void> {
    let link = reader.replicationLink;
    if (link && link.to === writer.info.region) link.targetPort = writer.info.node.port;
    else {
      link = await this.options.network.link(
        reader.info.region,
        writer.info.region,
        "pg-replication",
        writer.info.node.port,
      );
      reader.replicationLink = link;
    }
    stripAutoConf(reader.info.node.options.dataDir, [
      "primary_conninfo",
      "recovery_target_timeline",
    ]);
    reader.info.node.configureStandby(link.port);
    await reader.info.node.start();
    reader.status = "available";
  }

  /** Rebuilds a fenced old writer as a secondary of the current writer (a new "volume"). */
  private async rejoin(old: Member, writer: Member): Promise<void> {
    const node = old.info.node;
    await node.stop();
    const snapshot = `${node.options.dataDir}-unplanned-global-failover-${Math.round(this.options.clock.nowMs())}`;
    renameSync(node.options.dataDir, snapshot);
    this.snapshots.push({
      region: old.info.region,
      dataDir: snapshot,
      at: this.options.clock.nowMs(),
    });
    this.event(
      old.info.region,
      "RDS-EVENT-0240",
      `Started resynchronizing members of DB cluster ${old.info.clusterIdentifier} after global failover (snapshot of the old volume kept).`,
    );
    await baseBackup(writer.info.node, node.options.dataDir);
    old.pendingRejoin = undefined;
    await this.followNewWriter(old, writer);
    this.event(
      old.info.region,
      "RDS-EVENT-0241",
      `Finished resynchronizing members of DB cluster ${old.info.clusterIdentifier} after global failover.`,
    );
  }

  // ---- What Aurora does on its own ----

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.sampleLag();
      await this.recoverOldWriters();
    } catch (error) {
      this.options.log(`aurora tick: ${(error as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  private async sampleLag(): Promise<void> {
    const now = this.options.clock.nowMs();
    const writer = this.writerRegion ? this.member(this.writerRegion) : undefined;
    const reader = [...this.members.values()].find((m) => m.role === "reader" && !m.pendingRejoin);
    if (!writer || !reader || writer.role === "detached") {
      this.lagMs = null;
      this.releaseGuard();
      return;
    }
    let streaming = false;
    if (writer.info.alive && writer.info.node.running) {
      try {
        const rows = await writer.info.node.sql<{
          state: string;
          lag_ms: number | null;
          behind: boolean;
        }>(
          "SELECT state, (extract(epoch FROM replay_lag) * 1000)::float8 AS lag_ms, replay_lsn < pg_current_wal_lsn() AS behind FROM pg_stat_replication WHERE application_name = $1",
          [reader.info.region],
        );
        const row = rows[0];
        if (row && row.state === "streaming") {
          streaming = true;
          // replay_lag is a real duration; in lab time it is `factor` times longer.
          const lag = row.behind ? (row.lag_ms ?? 0) * this.options.clock.factor : 0;
          this.lastCaughtUp = now - lag;
        }
      } catch {
        // The writer does not answer: the lag grows.
      }
    }
    this.lagMs = Math.max(0, now - this.lastCaughtUp);
    if (streaming) this.options.publishLag(reader.info, this.lagMs, new Date(now));
    // rds.global_db_rpo: commits block while every secondary is further behind than the RPO.
    const rpoMs = this.options.timings.rpoGuardSeconds * 1000;
    if (
      writer.info.rpoGuard &&
      writer.role === "writer" &&
      this.lagMs > rpoMs &&
      !this.guardRegion
    ) {
      this.guardRegion = writer.info.region;
      writer.info.appLink.hold();
      this.guardIntervals.push({ region: writer.info.region, from: now });
      this.event(
        writer.info.region,
        "rpo-guard",
        `RPO lag ${Math.round(this.lagMs / 1000)} s > rds.global_db_rpo ${this.options.timings.rpoGuardSeconds} s: commits blocked`,
      );
    } else if (
      this.guardRegion === writer.info.region &&
      writer.role === "writer" &&
      this.lagMs <= rpoMs
    ) {
      this.releaseGuard();
    }
  }

  /**
   * Ends the guard's hold: the secondary caught up, or the held server is no longer a writer that
   * could commit (fenced, or demoted by a switchover). An old writer cut off by a partition keeps
   * blocking: its storage still believes it is the primary with a lagging secondary.
   */
  private releaseGuard(): void {
    if (!this.guardRegion) return;
    const held = this.member(this.guardRegion);
    if (held.pendingRejoin && !held.pendingRejoin.fenced && held.node().running) return;
    held.info.appLink.release();
    this.guardRegion = undefined;
    const open = this.guardIntervals.at(-1);
    if (open && open.to === undefined) open.to = this.options.clock.nowMs();
  }

  private async recoverOldWriters(): Promise<void> {
    const writerRegion = this.writerRegion;
    if (!writerRegion || this.failover) return;
    const writer = this.member(writerRegion);
    for (const m of this.members.values()) {
      const pending = m.pendingRejoin;
      if (!pending || !m.info.alive) continue;
      if (!this.writeFencing || !this.options.network.connected(m.info.region, writerRegion))
        continue;
      if (!pending.fenced) await this.fenceOldWriter(m);
      else if (
        pending.rejoinAt !== undefined &&
        this.options.clock.nowMs() >= pending.rejoinAt &&
        writer.role === "writer"
      ) {
        await this.rejoin(m, writer);
      }
    }
  }

  /** Cancels scheduled operations (the lab is shutting down). */
  cancel(): void {
    this.generation += 1;
    this.stop();
  }

  exists(): boolean {
    return existsSync(this.options.dataRoot);
  }
}

/** Removes settings from postgresql.auto.conf (a stopped server's ALTER SYSTEM leftovers). */
function stripAutoConf(dataDir: string, names: readonly string[]): void {
  const file = join(dataDir, "postgresql.auto.conf");
  if (!existsSync(file)) return;
  const kept = readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => !names.some((n) => line.trim().startsWith(n)));
  writeFileSync(file, kept.join("\n"));
}

/** The class the lab reports for each cluster's one server. */
export const LAB_INSTANCE_CLASS = "db.r6g.large";

/** The DatabasePort of one region, as the DR tasks running in `caller` reach it. */
export class LabRds implements DatabasePort {
  constructor(
    private readonly aurora: AuroraGlobalDatabase,
    private readonly region: string,
    private readonly reach: () => Promise<void>,
  ) {}

  // Re-protect (the reprotect workflow's Rebuild) recreates clusters; the lab has one PostgreSQL
  // server per region and does not model that. The chaos world does
  // (test/chaos/world/aurora.ts). These refuse, so a lab run that reaches them says so.
  private notModelled(call: string): Promise<never> {
    return Promise.reject(
      new Error(
        `${call} is not modelled in the lab: re-protect runs in the chaos world (npm run chaos)`,
      ),
    );
  }
  describeInstance = () => this.notModelled("DescribeDBInstances");
  describeClusterSnapshot = () => this.notModelled("DescribeDBClusterSnapshots");
  createClusterSnapshot = () => this.notModelled("CreateDBClusterSnapshot");
  listClusterSnapshots = () => this.notModelled("DescribeDBClusterSnapshots");
  copyClusterSnapshot = () => this.notModelled("CopyDBClusterSnapshot");
  renameCluster = () => this.notModelled("ModifyDBCluster (rename)");
  renameInstance = () => this.notModelled("ModifyDBInstance (rename)");
  unprotectGlobalCluster = () => this.notModelled("ModifyGlobalCluster");
  deleteGlobalCluster = () => this.notModelled("DeleteGlobalCluster");
  createGlobalCluster = () => this.notModelled("CreateGlobalCluster");
  createSecondaryCluster = () => this.notModelled("CreateDBCluster");
  // The lab's added readers carry no created-by tag, so RestoreCapacity never deletes one here.
  deleteInstance = () => this.notModelled("DeleteDBInstance");

  async instances(clusterIdentifier: string): Promise<readonly InstanceView[]> {
    await this.reach();
    const view = this.aurora.describeCluster(clusterIdentifier);
    if (!view || !view.arn.includes(`:rds:${this.region}:`)) return [];
    return [
      {
        identifier: `${clusterIdentifier}-1`,
        status: "available",
        clusterIdentifier,
        instanceClass: LAB_INSTANCE_CLASS,
      },
      ...this.aurora.addedInstances
        .filter((i) => i.region === this.region && i.clusterIdentifier === clusterIdentifier)
        .map(({ region: _region, ...i }) => i),
    ];
  }

  async createInstance(request: InstanceRequest): Promise<"created" | "exists"> {
    await this.reach();
    const view = this.aurora.describeCluster(request.clusterIdentifier);
    if (!view || !view.arn.includes(`:rds:${this.region}:`)) {
      throw new DependencyError(
        `rds:CreateDBInstance failed: DBClusterNotFoundFault: ${request.clusterIdentifier}`,
      );
    }
    const taken = (await this.instances(request.clusterIdentifier)).some(
      (i) => i.identifier === request.identifier,
    );
    if (taken) return "exists";
    this.aurora.addedInstances.push({
      region: this.region,
      identifier: request.identifier,
      status: "creating",
      clusterIdentifier: request.clusterIdentifier,
      instanceClass: request.instanceClass,
    });
    return "created";
  }

  async describeGlobalCluster(): Promise<GlobalClusterView | null> {
    await this.reach();
    return this.aurora.describeGlobalCluster();
  }

  async describeCluster(clusterIdentifier: string): Promise<ClusterView | null> {
    await this.reach();
    // Only this region's cluster is visible to this region's endpoint.
    const view = this.aurora.describeCluster(clusterIdentifier);
    return view && view.arn.includes(`:rds:${this.region}:`) ? view : null;
  }

  async failoverGlobalCluster(_id: string, targetClusterArn: string): Promise<void> {
    await this.reach();
    this.aurora.failoverGlobalCluster(targetClusterArn);
  }

  async switchoverGlobalCluster(_id: string, targetClusterArn: string): Promise<void> {
    await this.reach();
    if (this.aurora.writerRegion !== this.region) {
      throw new DependencyError(
        `rds:SwitchoverGlobalCluster failed: InvalidGlobalClusterStateFault: call it in the primary's region, not ${this.region}`,
      );
    }
    this.aurora.switchoverGlobalCluster(targetClusterArn);
  }

  async removeFromGlobalCluster(_id: string, clusterArn: string): Promise<void> {
    await this.reach();
    this.aurora.removeFromGlobalCluster(clusterArn);
  }
}

export { TransientError };
