// Aurora PostgreSQL Global Database with two clusters, as AWS documents it
// (aurora-global-database-disaster-recovery, API_FailoverGlobalCluster,
// API_SwitchoverGlobalCluster, API_RemoveFromGlobalCluster, aurora_global_db_status):
// - The writer's commits reach the secondary in order, usually within a second; a lag spike
//   slows that, a partition or a dead region stops it (storage-level replication resumes when
//   the link does).
// - rds.global_db_rpo on the writer: "Blocks the transaction if all secondary DB clusters have
//   RPO lag times that are larger than the RPO", the lag being how long the oldest commit the
//   secondary lacks has waited ("the time it takes for the most recent user transaction COMMIT to
//   be stored on a secondary"): an idle primary has nothing unreplicated, so its first commit
//   after a partition goes through. Blocked commits wait and go through when the lag drops
//   ("Paused transactions are resumed and committed as soon as the lag ... becomes less than the
//   RPO"). With no secondary left (after a detach it learnt of), "all secondaries" is every one
//   of none: it blocks, as the two-Region warning says. The secondary's group has no guard.
// - The writer heartbeat (pg_cron, migration 010): every 5 s on the writer, none on a secondary
//   ("pg_cron does not run any jobs as long as a server is in hot standby mode"); a blocked one
//   waits and commits when unblocked.
// - FailoverGlobalCluster (AllowDataLoss), called in the target's region: "Managed failover
//   doesn't wait for data to synchronize": the target stops applying at once and becomes the
//   writer after a duration drawn from seconds to 20 minutes ("within a few minutes"). Aurora
//   "attempts to halt write traffic" on the old primary (write fencing, "best-effort"): when the
//   old primary is reachable it stops writing at once; when it is not, it keeps its own state
//   until it is, then it is fenced and rejoins as a secondary "with a new storage volume" (its
//   commits after the target's last applied one are lost). A failover or switchover already under
//   way makes another refused with InvalidGlobalClusterStateFault; an injected fault refuses with
//   InvalidDBClusterStateFault (AWS does not say which conditions raise it).
// - SwitchoverGlobalCluster, called in the primary's region: "waits for the target secondary
//   Region clusters to be fully synchronized", then the primary "becomes read-only", then the
//   target is promoted (drawn duration); nothing is lost.
// - RemoveFromGlobalCluster, called in the target's region: replication stops at once, the target
//   becomes a standalone writer after a duration AWS does not document (drawn 20 s to 5 min); the
//   old primary is not fenced.
import type { VirtualClock } from "./clock";
import type { Network } from "./network";
import type { Random } from "./random";

export type CommitKind = "payment" | "heartbeat" | "synthetic";

export interface Commit {
  readonly id: number;
  readonly region: string;
  readonly at: number;
  readonly kind: CommitKind;
  /** For a payment: whether the client got the answer (the region's API still answered). */
  acknowledged: boolean;
  /** When the secondary got it (null: not yet, or never). */
  arrivedAt: number | null;
}

interface Cluster {
  readonly region: string;
  readonly arn: string;
  readonly identifier: string;
  readonly endpoint: string;
  role: "writer" | "secondary" | "standalone";
  member: boolean;
  status: "available" | "modifying";
  /** Writes refused: write-fenced by a failover, read-only in a switchover, or demoted. */
  fenced: boolean;
  /** rds.global_db_rpo of its parameter group, seconds (null: unset). */
  readonly rpoSeconds: number | null;
  /** Commits made while it was a writer, in order. */
  readonly log: Commit[];
  /** A secondary: the writer it follows. */
  source: string | null;
  /** A secondary that no longer applies (its promotion or detach began). */
  frozen: boolean;
  /** Knows it has no secondary left (after a detach it saw). */
  alone: boolean;
  /** Fenced and demoted once reachable (the target of a failover was promoted without it). */
  demoteWhenReachable: boolean;
  /** Learns once reachable that its only secondary was detached while it could not be told. */
  aloneWhenReachable: boolean;
  pendingHeartbeat: boolean;
  /** The newest writer heartbeat it applied from the writer it follows. */
  appliedHeartbeatAt: number | null;
  /** The newest commit of any kind it applied. */
  appliedCommitAt: number | null;
}

export interface RoleChange {
  readonly kind: "failover" | "switchover" | "detach";
  readonly from: string;
  readonly to: string;
  /** When the target stopped applying the old writer's commits (divergence). */
  readonly at: number;
  completesAt: number | null;
  completed: boolean;
  /** Switchover: when the old primary became read-only (null while it waits to sync). */
  readOnlyAt: number | null;
  /** The old writer's commits the target never got: lost. */
  lost: Commit[];
}

export type CommitResult = "committed" | "blocked" | "refused";

export class AuroraGlobal {
  readonly clusters: Record<string, Cluster> = {};
  /** The global cluster's view of its writer (DescribeGlobalClusters). */
  writer: string;
  /**
   * What each writer knows its secondaries applied: writer -> secondary -> index of the first
   * commit of its log not yet applied. A writer cut off by a failover keeps its last view.
   */
  private readonly acked: Record<string, Record<string, number>> = {};
  change: RoleChange | undefined;
  readonly changes: RoleChange[] = [];
  private commitIds = 0;
  /** Called when commits arrive at a secondary (blocked writes may go on). */
  onProgress: () => void = () => undefined;
  /** Windows in which FailoverGlobalCluster is refused with InvalidDBClusterStateFault. */
  readonly refusals: { from: number; to: number }[] = [];
  /**
   * Windows in which replication falls behind: the delay of a commit grows from normal to
   * `seconds` over `rampSeconds` (lag builds up, as degraded replication does), then stays.
   */
  readonly lagSpikes: { from: number; to: number; seconds: number; rampSeconds: number }[] = [];
  /** What AuroraGlobalDBReplicationLag does while replication is cut (DOCS SILENT). */
  lagMetricWhileCut: "grows" | "missing" = "grows";

  constructor(
    readonly globalIdentifier: string,
    regions: readonly {
      region: string;
      arn: string;
      identifier: string;
      role: "writer" | "secondary";
      rpoSeconds: number | null;
    }[],
    private readonly clock: VirtualClock,
    private readonly network: Network,
    private readonly random: Random,
    /** Drawn promotion duration of a managed failover or switchover, seconds. */
    private readonly promotionSeconds: () => number,
  ) {
    const writer = regions.find((r) => r.role === "writer")!.region;
    for (const r of regions) {
      this.clusters[r.region] = {
        region: r.region,
        arn: r.arn,
        identifier: r.identifier,
        endpoint: `${r.identifier}.cluster-x.${r.region}.rds.amazonaws.com`,
        role: r.role,
        member: true,
        status: "available",
        fenced: false,
        rpoSeconds: r.rpoSeconds,
        log: [],
        source: r.role === "secondary" ? writer : null,
        frozen: false,
        alone: false,
        demoteWhenReachable: false,
        aloneWhenReachable: false,
        pendingHeartbeat: false,
        appliedHeartbeatAt: null,
        appliedCommitAt: null,
      };
    }
    this.writer = writer;
    this.acked[writer] = Object.fromEntries(
      regions.filter((r) => r.role === "secondary").map((r) => [r.region, 0]),
    );
  }

  get globalEndpoint(): string {
    return `${this.globalIdentifier}.global-x.global.rds.amazonaws.com`;
  }

  regionOfArn(arn: string): string | undefined {
    return Object.values(this.clusters).find((c) => c.arn === arn)?.region;
  }

  regionOfIdentifier(identifier: string): string | undefined {
    return Object.values(this.clusters).find(
      (c) => c.identifier === identifier || c.arn === identifier,
    )?.region;
  }

  private up(region: string): boolean {
    return !this.network.isDown(region, this.clock.now);
  }

  /** Seconds the oldest commit of `writer` that `secondary` lacks has waited (0: none). */
  lagSeconds(writer: string, secondary: string): number {
    const next = this.acked[writer]?.[secondary];
    if (next === undefined) return 0;
    const oldest = this.clusters[writer]!.log[next];
    return oldest ? (this.clock.now - oldest.at) / 1000 : 0;
  }

  /** rds.global_db_rpo on `region`'s cluster blocks commits now. */
  blocked(region: string): boolean {
    const cluster = this.clusters[region]!;
    if (cluster.rpoSeconds === null) return false;
    if (cluster.alone) return true;
    const secondaries = Object.keys(this.acked[region] ?? {});
    if (secondaries.length === 0) return false;
    return secondaries.every((s) => this.lagSeconds(region, s) > cluster.rpoSeconds!);
  }

  /** Whether a commit on `region`'s cluster would go through now. */
  accepts(region: string): CommitResult {
    const cluster = this.clusters[region]!;
    if (!this.up(region)) return "refused";
    if (cluster.role === "secondary" || cluster.fenced || cluster.status !== "available") {
      return "refused";
    }
    return this.blocked(region) ? "blocked" : "committed";
  }

  /** A commit on `region`'s cluster; blocked ones are not written (the caller waits). */
  commit(region: string, kind: CommitKind): { result: CommitResult; commit?: Commit } {
    const result = this.accepts(region);
    if (result !== "committed") return { result };
    const commit: Commit = {
      id: ++this.commitIds,
      region,
      at: this.clock.now,
      kind,
      acknowledged: false,
      arrivedAt: null,
    };
    this.clusters[region]!.log.push(commit);
    for (const secondary of Object.keys(this.acked[region] ?? {})) {
      this.ship(region, secondary);
    }
    return { result, commit };
  }

  private replicationDelayMs(): number {
    const spike = this.lagSpikes.find((s) => s.from <= this.clock.now && this.clock.now < s.to);
    // Storage-level replication, typically well under a second.
    const normal = this.random.uniform(20, 900);
    if (!spike) return normal;
    const ramp = Math.min(1, (this.clock.now - spike.from) / (spike.rampSeconds * 1000));
    return normal + ramp * spike.seconds * 1000 * this.random.uniform(0.9, 1.1);
  }

  private ship(writer: string, secondary: string): void {
    const sentAt = this.clock.now;
    const arrive = () => {
      if (!this.network.reachable(writer, secondary, this.clock.now)) {
        const up = this.network.nextLinkUp(writer, secondary, this.clock.now);
        if (Number.isFinite(up)) {
          this.clock.at(up - this.clock.now + this.replicationDelayMs(), arrive);
        }
        return;
      }
      this.apply(writer, secondary, sentAt);
    };
    this.clock.at(this.replicationDelayMs(), arrive);
  }

  /** `secondary` applies `writer`'s commits made up to `upTo`, in order. */
  private apply(writer: string, secondary: string, upTo: number): void {
    const target = this.clusters[secondary]!;
    const view = this.acked[writer];
    if (!view || view[secondary] === undefined) return;
    if (target.frozen || target.role !== "secondary" || target.source !== writer) return;
    const log = this.clusters[writer]!.log;
    let next = view[secondary]!;
    while (next < log.length && log[next]!.at <= upTo) {
      const commit = log[next]!;
      commit.arrivedAt ??= this.clock.now;
      if (commit.kind === "heartbeat") target.appliedHeartbeatAt = commit.at;
      target.appliedCommitAt = commit.at;
      next += 1;
    }
    view[secondary] = next;
    this.progress();
    this.onProgress();
  }

  /** Heartbeats and switchovers waiting for replication look again. */
  progress(): void {
    for (const cluster of Object.values(this.clusters)) {
      if (cluster.pendingHeartbeat && this.accepts(cluster.region) === "committed") {
        cluster.pendingHeartbeat = false;
        this.commit(cluster.region, "heartbeat");
      }
    }
    const change = this.change;
    if (change?.kind === "switchover" && change.readOnlyAt === null) {
      const from = this.clusters[change.from]!;
      if (this.acked[change.from]?.[change.to] === from.log.length && this.up(change.from)) {
        from.fenced = true;
        change.readOnlyAt = this.clock.now;
        const seconds = this.promotionSeconds();
        change.completesAt = this.clock.now + seconds * 1000;
        this.clock.at(seconds * 1000, () => this.complete(change));
      }
    }
  }

  /** pg_cron's heartbeat job on every cluster (only a writer runs it). */
  heartbeatTick(): void {
    for (const cluster of Object.values(this.clusters)) {
      if (cluster.role === "secondary" || !this.up(cluster.region)) continue;
      const result = this.accepts(cluster.region);
      if (result === "committed") this.commit(cluster.region, "heartbeat");
      else if (result === "blocked") cluster.pendingHeartbeat = true;
    }
  }

  /**
   * What /health reports as the writer heartbeat: with `anyCommit` (the negative control in
   * test/chaos/chaos.test.ts, no pg_cron), the newest commit of any kind, "the last commit the
   * target received".
   */
  anyCommit = false;

  /** The newest writer heartbeat `region`'s cluster holds, or null (what its /health reports). */
  heartbeatHeldBy(region: string): number | null {
    const cluster = this.clusters[region]!;
    if (!this.up(region)) return null;
    const kind = (c: Commit) => this.anyCommit || c.kind === "heartbeat";
    const own = [...cluster.log].reverse().find(kind)?.at ?? null;
    const applied = this.anyCommit ? cluster.appliedCommitAt : cluster.appliedHeartbeatAt;
    if (own === null) return applied;
    return applied === null ? own : Math.max(own, applied);
  }

  /** AuroraGlobalDBReplicationLag of a secondary, ms; null: no datapoint. */
  reportedLagMs(region: string): number | null {
    const cluster = this.clusters[region]!;
    if (cluster.role !== "secondary" || cluster.frozen || !this.up(region) || !cluster.source) {
      return null;
    }
    const cut = !this.network.reachable(cluster.source, region, this.clock.now);
    if (cut && this.lagMetricWhileCut === "missing") return null;
    return this.lagSeconds(cluster.source, region) * 1000;
  }

  /** After the network changed: an old writer that missed its failover is fenced once reachable. */
  networkChanged(): void {
    for (const cluster of Object.values(this.clusters)) {
      // Assumed, not documented: a returning primary learns at once (from its region's control
      // plane) that its secondary was removed; with rds.global_db_rpo and no secondary it then
      // pauses commits, as the two-Region warning says a primary without a caught-up secondary
      // does. state-machines/README.md names this as what the automatic detach relies on.
      if (cluster.aloneWhenReachable) {
        const target = Object.values(this.clusters).find((c) => c.region !== cluster.region)!;
        if (this.network.reachable(target.region, cluster.region, this.clock.now)) {
          cluster.aloneWhenReachable = false;
          cluster.alone = true;
          delete this.acked[cluster.region]?.[target.region];
        }
      }
      if (!cluster.demoteWhenReachable) continue;
      if (!this.network.reachable(this.writer, cluster.region, this.clock.now)) continue;
      cluster.demoteWhenReachable = false;
      cluster.fenced = true;
      // "Aurora automatically adds it back ... as a secondary", on a new storage volume.
      this.clock.at(this.random.uniform(60, 600) * 1000, () => this.rejoin(cluster.region));
    }
    for (const writer of Object.keys(this.acked)) {
      for (const secondary of Object.keys(this.acked[writer]!)) this.ship(writer, secondary);
    }
  }

  private rejoin(region: string): void {
    const cluster = this.clusters[region]!;
    const writer = this.writer;
    if (writer === region || !this.clusters[writer]!.member || !cluster.fenced) return;
    delete this.acked[region];
    cluster.role = "secondary";
    cluster.member = true;
    cluster.fenced = false;
    cluster.alone = false;
    cluster.source = writer;
    cluster.frozen = false;
    (this.acked[writer] ??= {})[region] = this.clusters[writer]!.log.length;
  }

  // ---- control plane (the calls the DR tasks make) ----

  failover(to: string): "ok" | "InvalidGlobalClusterStateFault" | "InvalidDBClusterStateFault" {
    if (this.change && !this.change.completed) return "InvalidGlobalClusterStateFault";
    const target = this.clusters[to]!;
    if (!target.member || target.role !== "secondary" || target.status !== "available") {
      return "InvalidDBClusterStateFault";
    }
    if (this.refusals.some((r) => r.from <= this.clock.now && this.clock.now < r.to)) {
      return "InvalidDBClusterStateFault";
    }
    const from = this.writer;
    const old = this.clusters[from]!;
    target.frozen = true;
    const lost = old.log.slice(this.acked[from]?.[to] ?? old.log.length);
    const seconds = this.promotionSeconds();
    const change: RoleChange = {
      kind: "failover",
      from,
      to,
      at: this.clock.now,
      completesAt: this.clock.now + seconds * 1000,
      completed: false,
      readOnlyAt: null,
      lost,
    };
    // Write fencing is best-effort: it works on an old primary the target can reach.
    if (this.network.reachable(to, from, this.clock.now)) old.fenced = true;
    else old.demoteWhenReachable = true;
    this.begin(change);
    this.clock.at(seconds * 1000, () => this.complete(change));
    return "ok";
  }

  switchover(to: string): "ok" | "InvalidGlobalClusterStateFault" | "InvalidDBClusterStateFault" {
    if (this.change && !this.change.completed) return "InvalidGlobalClusterStateFault";
    const target = this.clusters[to]!;
    if (!target.member || target.role !== "secondary" || target.status !== "available") {
      return "InvalidDBClusterStateFault";
    }
    this.begin({
      kind: "switchover",
      from: this.writer,
      to,
      at: this.clock.now,
      completesAt: null,
      completed: false,
      readOnlyAt: null,
      lost: [],
    });
    this.progress();
    return "ok";
  }

  detach(region: string): "ok" | "GlobalClusterNotFoundFault" | "InvalidDBClusterStateFault" {
    const target = this.clusters[region]!;
    if (!target.member) return "GlobalClusterNotFoundFault";
    if (target.role !== "secondary") return "InvalidDBClusterStateFault";
    const from = this.writer;
    const old = this.clusters[from]!;
    target.member = false;
    target.frozen = true;
    target.status = "modifying";
    const lost = old.log.slice(this.acked[from]?.[region] ?? old.log.length);
    // A reachable old primary learns it has no secondary left: its guard then blocks every
    // commit. An unreachable one still waits for this secondary, and is blocked by the lag.
    if (this.network.reachable(region, from, this.clock.now)) {
      old.alone = true;
      delete this.acked[from]?.[region];
    } else {
      old.aloneWhenReachable = true;
    }
    const seconds = this.random.uniform(20, 300);
    const change: RoleChange = {
      kind: "detach",
      from,
      to: region,
      at: this.clock.now,
      completesAt: this.clock.now + seconds * 1000,
      completed: false,
      readOnlyAt: null,
      lost,
    };
    this.begin(change);
    this.clock.at(seconds * 1000, () => {
      target.status = "available";
      target.role = "standalone";
      target.source = null;
      target.frozen = false;
      this.acked[region] = {};
      change.completed = true;
    });
    return "ok";
  }

  private begin(change: RoleChange): void {
    this.change = change;
    this.changes.push(change);
  }

  private complete(change: RoleChange): void {
    const target = this.clusters[change.to]!;
    const old = this.clusters[change.from]!;
    target.role = "writer";
    target.frozen = false;
    target.source = null;
    this.acked[change.to] = {};
    this.writer = change.to;
    change.completed = true;
    if (change.kind === "switchover") {
      // The old primary follows the new writer, caught up.
      delete this.acked[change.from];
      old.role = "secondary";
      old.fenced = false;
      old.source = change.to;
      this.acked[change.to]![change.from] = target.log.length;
    } else if (old.fenced) {
      this.clock.at(this.random.uniform(60, 600) * 1000, () => this.rejoin(change.from));
    }
  }
}
