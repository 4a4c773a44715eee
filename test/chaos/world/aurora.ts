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
// - The writer heartbeat (pg_cron, migrations 010/011): every 5 s on the writer, none on a
//   secondary ("pg_cron does not run any jobs as long as a server is in hot standby mode"); its
//   value is now() of its transaction, so a beat the guard paused commits when unblocked with the
//   time it started; pg_cron "runs at most one instance of a job at a time", so it holds the next
//   beats. A run may kill the job (pg_cron dead from a drawn time).
// - FailoverGlobalCluster (AllowDataLoss), called in the target's region: "Managed failover
//   doesn't wait for data to synchronize": the target stops applying at once and becomes the
//   writer after a duration drawn from seconds to 20 minutes ("within a few minutes"). Aurora
//   "attempts to halt write traffic" on the old primary (write fencing, "best-effort ... writes
//   might be momentarily accepted in the old primary Region"): a reachable old primary stops
//   writing at once or, in a drawn share of runs, after up to 30 s; an unreachable one keeps its
//   own state until it is reachable, then it is fenced the same way and rejoins as a secondary "with a new storage volume" (its
//   commits after the target's last applied one are lost). A failover or switchover already under
//   way makes another refused with InvalidGlobalClusterStateFault; an injected fault refuses with
//   InvalidDBClusterStateFault (AWS does not say which conditions raise it).
// - SwitchoverGlobalCluster, called in the primary's region: "waits for the target secondary
//   Region clusters to be fully synchronized", then the primary "becomes read-only", then the
//   target is promoted (drawn duration); nothing is lost.
// - RemoveFromGlobalCluster, called in the target's region: replication stops at once, the target
//   becomes a standalone writer after a duration AWS does not document (drawn 20 s to 5 min); the
//   old primary is not fenced.
// Re-protect (aurora-global-database-detaching, aurora-global-database-creating,
// aurora-global-database-attaching, API_CreateGlobalCluster, API_CreateDBCluster):
// - RemoveFromGlobalCluster of the primary only once it has no secondary ("You can't detach
//   (remove) the primary Aurora DB cluster from an Aurora global database until after you remove
//   all secondary clusters"); the global cluster then "might remain ... with zero Regions".
// - DeleteGlobalCluster only with no members; identifiers are unique per account, so
//   CreateGlobalCluster under a taken identifier fails (GlobalClusterAlreadyExistsFault).
// - CreateGlobalCluster with SourceDBClusterIdentifier: the standalone cluster becomes the primary;
//   "It can take a few minutes for the Aurora global database to be available" (drawn 1-5 min).
// - CreateDBCluster with GlobalClusterIdentifier in another region: refused under a taken
//   identifier (DBClusterAlreadyExistsFault) or with a KMS key of another region ("set KmsKeyId
//   to a KMS key identifier that is valid in the destination ... Region"); it copies the whole
//   volume: "a few minutes to several hours, depending on the size of the storage volume and the
//   distance between the Regions" (drawn log-uniform 10 min to 3 h), then replicates as usual.
// - CreateDBInstance, ModifyDBCluster/ModifyDBInstance renames, CreateDBClusterSnapshot: AWS
//   documents no durations (aurora.md §9, DOCS SILENT); drawn minutes: a new instance 5-15 min
//   ("typically takes less than 10 minutes" for a replacement primary, Concepts.AuroraHighAvailability),
//   a rename 30 s-3 min, a snapshot 2-30 min. A rename changes the cluster's ARN and endpoints
//   (both carry the identifier), so the old name's clients reach nothing.
// - After a managed failover the old primary rejoins "with a new storage volume"; "Before creating
//   the new storage volume ... Aurora attempts to take a snapshot of the old storage volume at the
//   point of failure" (rds:unplanned-global-failover-...): modelled as taken.
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
  /**
   * A heartbeat's value: now() of its transaction, which started when pg_cron ran the job. A beat
   * the RPO guard paused commits later with its old value (review H2).
   */
  readonly stamp?: number;
}

interface Cluster {
  readonly region: string;
  arn: string;
  identifier: string;
  endpoint: string;
  /** False for the slot a rename emptied until a cluster is created under its name again. */
  exists: boolean;
  instances: string[];
  role: "writer" | "secondary" | "standalone";
  member: boolean;
  status: "available" | "modifying" | "renaming" | "creating";
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
  /** The start of a heartbeat transaction the guard paused (pg_cron runs one at a time). */
  pendingHeartbeat: number | null;
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

export interface Snapshot {
  readonly region: string;
  readonly identifier: string;
  readonly clusterIdentifier: string;
  status: "creating" | "copying" | "available";
  /** The commits the volume held when the snapshot began. */
  readonly commits: readonly Commit[];
  /** World time it was created (SnapshotCreateTime). */
  readonly createdAt?: number;
}

export interface Instance {
  readonly region: string;
  identifier: string;
  clusterIdentifier: string;
  status: "creating" | "available" | "renaming" | "deleting";
}

/** What a re-protect call did to the world, for the invariants. */
export interface ControlEvent {
  readonly at: number;
  readonly op: string;
  readonly region: string;
  readonly detail: string;
}

export class RdsFault extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = code;
  }
}

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
  /** Whether the global cluster exists (DeleteGlobalCluster removes it), and its status. */
  globalExists = true;
  globalStatus: "available" | "creating" = "available";
  /**
   * The global cluster's DeletionProtection. Terraform creates it with the config's
   * deletionProtection (infra/constructs/database.ts), which the chaos config has on
   * (CHAOS_DATABASE). AWS: "The global database can't be deleted when deletion protection is
   * enabled" (API_DeleteGlobalCluster / API_ModifyGlobalCluster, DeletionProtection).
   */
  globalDeletionProtection = true;
  /** Clusters renamed out of a region's Terraform slot (kept: nothing is ever deleted). */
  readonly retained: Cluster[] = [];
  readonly snapshots: Snapshot[] = [];
  readonly instances: Instance[] = [];
  readonly controlEvents: ControlEvent[] = [];
  /** Called after every control-plane change (the invariants look at the topology). */
  onControl: (event: ControlEvent) => void = () => undefined;

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
        exists: true,
        instances: [`${r.identifier}-1`],
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
        pendingHeartbeat: null,
        appliedHeartbeatAt: null,
        appliedCommitAt: null,
      };
    }
    this.writer = writer;
    for (const c of Object.values(this.clusters)) {
      for (const id of c.instances) {
        this.instances.push({
          region: c.region,
          identifier: id,
          clusterIdentifier: c.identifier,
          status: "available",
        });
      }
    }
    this.acked[writer] = Object.fromEntries(
      regions.filter((r) => r.role === "secondary").map((r) => [r.region, 0]),
    );
  }

  get globalEndpoint(): string {
    return `${this.globalIdentifier}.global-x.global.rds.amazonaws.com`;
  }

  regionOfArn(arn: string): string | undefined {
    return Object.values(this.clusters).find((c) => c.exists && c.arn === arn)?.region;
  }

  regionOfIdentifier(identifier: string): string | undefined {
    return Object.values(this.clusters).find(
      (c) => c.exists && (c.identifier === identifier || c.arn === identifier),
    )?.region;
  }

  /** The cluster `identifier` (or ARN) in `region`: the Terraform slot's or a retained one. */
  clusterIn(region: string, identifier: string): Cluster | undefined {
    return [this.clusters[region]!, ...this.retained].find(
      (c) =>
        c.region === region && c.exists && (c.identifier === identifier || c.arn === identifier),
    );
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
    if (
      !cluster.exists ||
      cluster.role === "secondary" ||
      cluster.fenced ||
      cluster.status !== "available"
    ) {
      return "refused";
    }
    return this.blocked(region) ? "blocked" : "committed";
  }

  /** A commit on `region`'s cluster; blocked ones are not written (the caller waits). */
  commit(
    region: string,
    kind: CommitKind,
    stamp?: number,
  ): { result: CommitResult; commit?: Commit } {
    const result = this.accepts(region);
    if (result !== "committed") return { result };
    const commit: Commit = {
      id: ++this.commitIds,
      region,
      at: this.clock.now,
      kind,
      acknowledged: false,
      arrivedAt: null,
      ...(kind === "heartbeat" ? { stamp: stamp ?? this.clock.now } : {}),
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
      if (commit.kind === "heartbeat") target.appliedHeartbeatAt = commit.stamp ?? commit.at;
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
      if (cluster.pendingHeartbeat !== null && this.accepts(cluster.region) === "committed") {
        const stamp = cluster.pendingHeartbeat;
        cluster.pendingHeartbeat = null;
        this.commit(cluster.region, "heartbeat", stamp);
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

  /** pg_cron's job stops on each cluster from this time on (the "pg_cron dead" fault). */
  heartbeatDeadFrom = Infinity;

  /** pg_cron's heartbeat job on every cluster (only a writer runs it). */
  heartbeatTick(): void {
    if (this.clock.now >= this.heartbeatDeadFrom) return;
    for (const cluster of Object.values(this.clusters)) {
      if (!cluster.exists || cluster.role === "secondary" || !this.up(cluster.region)) continue;
      // "it runs at most one instance of a job at a time": a paused beat holds the next ones.
      if (cluster.pendingHeartbeat !== null) continue;
      const result = this.accepts(cluster.region);
      if (result === "committed") this.commit(cluster.region, "heartbeat");
      else if (result === "blocked") cluster.pendingHeartbeat = this.clock.now;
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
    const newest = [...cluster.log].reverse().find(kind);
    const own = newest ? (newest.stamp ?? newest.at) : null;
    const applied = this.anyCommit ? cluster.appliedCommitAt : cluster.appliedHeartbeatAt;
    if (own === null) return applied;
    return applied === null ? own : Math.max(own, applied);
  }

  /** AuroraGlobalDBReplicationLag of a secondary, ms; null: no datapoint. */
  reportedLagMs(region: string): number | null {
    const cluster = this.clusters[region]!;
    if (
      !cluster.exists ||
      cluster.status !== "available" ||
      cluster.role !== "secondary" ||
      cluster.frozen ||
      !this.up(region) ||
      !cluster.source
    ) {
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
      this.fenceLater(cluster);
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
    // "As soon as that old primary Region is healthy and available again": not while the regions
    // cannot see each other; networkChanged re-adds it once they can.
    if (!this.network.reachable(writer, region, this.clock.now)) {
      cluster.demoteWhenReachable = true;
      return;
    }
    this.snapshots.push({
      region,
      identifier: `rds:unplanned-global-failover-${cluster.identifier}-${this.clock.now}`,
      clusterIdentifier: cluster.identifier,
      status: "available",
      commits: [...cluster.log],
      // AWS does not document which moment SnapshotCreateTime carries for this snapshot (taken
      // "at the point of failure", when the region is back): the earliest one, its volume's last
      // commit, which precedes the failover's flag, so the kit cannot lean on the later one.
      createdAt: cluster.log.at(-1)?.at ?? this.clock.now,
    });
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
    // "Because fencing writes is a best-effort attempt, it's possible that writes might be
    // momentarily accepted in the old primary Region" (aurora-global-database-disaster-recovery):
    // a reachable old primary is fenced after a drawn moment (review M1), an unreachable one once
    // it is reachable, after such a moment too.
    if (this.network.reachable(to, from, this.clock.now)) this.fenceLater(old);
    else old.demoteWhenReachable = true;
    this.begin(change);
    this.clock.at(seconds * 1000, () => this.complete(change));
    return "ok";
  }

  /** Write fencing, best-effort: at once, or (sometimes) after up to 30 s of accepted writes. */
  private fenceLater(cluster: Cluster): void {
    const delayMs = this.random.chance(this.fenceDelayShare) ? this.random.uniform(0, 30_000) : 0;
    if (delayMs === 0) cluster.fenced = true;
    else
      this.clock.at(delayMs, () => {
        cluster.fenced = true;
      });
  }

  /** Share of write fencings that let writes through for a moment (review M1). */
  fenceDelayShare = 0.3;

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
    if (!target.exists || !target.member) return "GlobalClusterNotFoundFault";
    if (target.role === "writer") return this.removePrimary(target);
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

  // ---- re-protect (the Rebuild task's calls) ----

  private record(op: string, region: string, detail: string): void {
    const event = { at: this.clock.now, op, region, detail };
    this.controlEvents.push(event);
    this.onControl(event);
  }

  /** `status` until `seconds` from now, then `then`. */
  private after(seconds: number, then: () => void): void {
    this.clock.at(seconds * 1000, then);
  }

  /** The primary leaves the global cluster: only once it is its last member. */
  private removePrimary(primary: Cluster): "ok" | "InvalidDBClusterStateFault" {
    const others = Object.values(this.clusters).filter(
      (c) => c !== primary && c.exists && c.member,
    );
    if (others.length > 0 || primary.status !== "available") return "InvalidDBClusterStateFault";
    primary.member = false;
    primary.role = "standalone";
    primary.status = "modifying";
    this.record("RemoveFromGlobalCluster", primary.region, primary.identifier);
    // DOCS SILENT on how long; drawn like a detach.
    this.after(this.random.uniform(20, 300), () => {
      primary.status = "available";
    });
    return "ok";
  }

  snapshotOf(region: string, identifier: string): Snapshot | undefined {
    return this.snapshots.find((s) => s.region === region && s.identifier === identifier);
  }

  createSnapshot(region: string, clusterIdentifier: string, identifier: string): void {
    const cluster = this.clusterIn(region, clusterIdentifier);
    if (!cluster) throw new RdsFault("DBClusterNotFoundFault", clusterIdentifier);
    if (cluster.status !== "available")
      throw new RdsFault("InvalidDBClusterStateFault", cluster.status);
    if (this.snapshotOf(region, identifier))
      throw new RdsFault("DBClusterSnapshotAlreadyExistsFault", identifier);
    const snapshot: Snapshot = {
      region,
      identifier,
      clusterIdentifier: cluster.identifier,
      status: "creating",
      commits: [...cluster.log],
      createdAt: this.clock.now,
    };
    this.snapshots.push(snapshot);
    this.record("CreateDBClusterSnapshot", region, `${identifier} of ${cluster.identifier}`);
    this.after(this.random.uniform(120, 1800), () => {
      snapshot.status = "available";
    });
  }

  /**
   * CopyDBClusterSnapshot within a region: the source must be "available" ("Must specify a
   * valid system snapshot in the available state", API_CopyDBClusterSnapshot); the copy is a
   * manual snapshot. AWS documents no duration for a copy within a region (cross-region: "can
   * take hours", aurora-copy-snapshot.html); drawn like a snapshot, 2-30 min.
   */
  copySnapshot(region: string, source: string, target: string): void {
    const from = this.snapshotOf(region, source);
    if (!from) throw new RdsFault("DBClusterSnapshotNotFoundFault", source);
    if (from.status !== "available")
      throw new RdsFault("InvalidDBClusterSnapshotStateFault", from.status);
    if (this.snapshotOf(region, target))
      throw new RdsFault("DBClusterSnapshotAlreadyExistsFault", target);
    const copy: Snapshot = {
      region,
      identifier: target,
      clusterIdentifier: from.clusterIdentifier,
      status: "copying",
      commits: from.commits,
      createdAt: this.clock.now,
    };
    this.snapshots.push(copy);
    this.record("CopyDBClusterSnapshot", region, `${source} -> ${target}`);
    this.after(this.random.uniform(120, 1800), () => {
      copy.status = "available";
    });
  }

  renameCluster(region: string, identifier: string, newIdentifier: string): void {
    const cluster = this.clusterIn(region, identifier);
    if (!cluster) throw new RdsFault("DBClusterNotFoundFault", identifier);
    if (this.clusterIn(region, newIdentifier))
      throw new RdsFault("DBClusterAlreadyExistsFault", newIdentifier);
    if (cluster.status !== "available")
      throw new RdsFault("InvalidDBClusterStateFault", cluster.status);
    if (cluster.member) throw new RdsFault("InvalidDBClusterStateFault", "a global cluster member");
    const slot = this.clusters[region]!;
    if (cluster === slot) {
      // The object moves out of the slot with its data; the slot is empty until a cluster is
      // created under the Terraform name again.
      const moved: Cluster = { ...slot, instances: [...slot.instances] };
      this.retained.push(moved);
      this.clusters[region] = {
        ...slot,
        exists: false,
        instances: [],
        role: "standalone",
        member: false,
        status: "available",
        fenced: false,
        log: [],
        source: null,
        alone: false,
        demoteWhenReachable: false,
        aloneWhenReachable: false,
        pendingHeartbeat: null,
        appliedHeartbeatAt: null,
        appliedCommitAt: null,
      };
      this.rename(moved, newIdentifier);
      // Its own log is where its commits live: keep the writer's acknowledgements in step.
      if (this.acked[region]) delete this.acked[region];
    } else {
      this.rename(cluster, newIdentifier);
    }
  }

  private rename(cluster: Cluster, newIdentifier: string): void {
    const old = cluster.identifier;
    cluster.identifier = newIdentifier;
    cluster.arn = cluster.arn.replace(/cluster:[^:]+$/, `cluster:${newIdentifier}`);
    cluster.endpoint = `${newIdentifier}.cluster-x.${cluster.region}.rds.amazonaws.com`;
    cluster.status = "renaming";
    for (const i of this.instances) {
      if (i.region === cluster.region && i.clusterIdentifier === old)
        i.clusterIdentifier = newIdentifier;
    }
    this.record("ModifyDBCluster rename", cluster.region, `${old} -> ${newIdentifier}`);
    this.after(this.random.uniform(30, 180), () => {
      cluster.status = "available";
    });
  }

  instanceOf(region: string, identifier: string): Instance | undefined {
    return this.instances.find((i) => i.region === region && i.identifier === identifier);
  }

  renameInstance(region: string, identifier: string, newIdentifier: string): void {
    const instance = this.instanceOf(region, identifier);
    if (!instance) throw new RdsFault("DBInstanceNotFoundFault", identifier);
    if (this.instanceOf(region, newIdentifier))
      throw new RdsFault("DBInstanceAlreadyExistsFault", newIdentifier);
    if (instance.status !== "available")
      throw new RdsFault("InvalidDBInstanceStateFault", instance.status);
    instance.identifier = newIdentifier;
    instance.status = "renaming";
    const cluster = this.clusterIn(region, instance.clusterIdentifier);
    if (cluster)
      cluster.instances = cluster.instances.map((i) => (i === identifier ? newIdentifier : i));
    this.record("ModifyDBInstance rename", region, `${identifier} -> ${newIdentifier}`);
    this.after(this.random.uniform(30, 180), () => {
      instance.status = "available";
    });
  }

  deleteGlobal(): void {
    if (!this.globalExists) throw new RdsFault("GlobalClusterNotFoundFault", this.globalIdentifier);
    if (Object.values(this.clusters).some((c) => c.exists && c.member))
      throw new RdsFault("InvalidGlobalClusterStateFault", "the global cluster has members");
    if (this.globalDeletionProtection) {
      throw new RdsFault(
        "InvalidGlobalClusterStateFault",
        "The global database can't be deleted when deletion protection is enabled",
      );
    }
    this.globalExists = false;
    this.record("DeleteGlobalCluster", "-", this.globalIdentifier);
  }

  /** ModifyGlobalCluster DeletionProtection: a setting, applied at once (no status change). */
  modifyGlobal(deletionProtection: boolean): void {
    if (!this.globalExists) throw new RdsFault("GlobalClusterNotFoundFault", this.globalIdentifier);
    this.globalDeletionProtection = deletionProtection;
    this.record("ModifyGlobalCluster", "-", `DeletionProtection=${deletionProtection}`);
  }

  createGlobal(region: string, sourceArn: string, deletionProtection: boolean): void {
    if (this.globalExists)
      throw new RdsFault("GlobalClusterAlreadyExistsFault", this.globalIdentifier);
    const source = Object.values(this.clusters).find((c) => c.exists && c.arn === sourceArn);
    if (!source) throw new RdsFault("DBClusterNotFoundFault", sourceArn);
    if (source.region !== region)
      throw new RdsFault("InvalidParameterValue", "the source cluster is in another region");
    if (source.role !== "standalone" || source.status !== "available" || source.fenced) {
      throw new RdsFault("InvalidDBClusterStateFault", `${source.role} ${source.status}`);
    }
    this.globalExists = true;
    this.globalStatus = "creating";
    this.globalDeletionProtection = deletionProtection;
    source.member = true;
    source.role = "writer";
    source.alone = false;
    this.writer = region;
    this.acked[region] = {};
    this.record(
      "CreateGlobalCluster",
      region,
      `${this.globalIdentifier} from ${source.identifier}`,
    );
    this.after(this.random.uniform(60, 300), () => {
      this.globalStatus = "available";
    });
  }

  createSecondary(region: string, identifier: string, kmsKeyId: string): void {
    if (!this.globalExists) throw new RdsFault("GlobalClusterNotFoundFault", this.globalIdentifier);
    if (this.globalStatus !== "available" || this.writer === region) {
      throw new RdsFault(
        "InvalidGlobalClusterStateFault",
        `${this.globalStatus}, writer in ${this.writer}`,
      );
    }
    if (this.clusterIn(region, identifier))
      throw new RdsFault("DBClusterAlreadyExistsFault", identifier);
    if (!kmsKeyId.includes(`:${region}:`))
      throw new RdsFault(
        "InvalidParameterCombination",
        `KmsKeyId ${kmsKeyId} is not valid in ${region}`,
      );
    const slot = this.clusters[region]!;
    if (slot.exists) throw new RdsFault("DBClusterAlreadyExistsFault", slot.identifier);
    const writer = this.writer;
    const cluster: Cluster = {
      ...slot,
      identifier,
      arn: slot.arn.replace(/cluster:[^:]+$/, `cluster:${identifier}`),
      endpoint: `${identifier}.cluster-x.${region}.rds.amazonaws.com`,
      exists: true,
      instances: [],
      role: "secondary",
      member: true,
      status: "creating",
      fenced: false,
      log: [],
      source: writer,
      frozen: true,
      alone: false,
      demoteWhenReachable: false,
      aloneWhenReachable: false,
      pendingHeartbeat: null,
      appliedHeartbeatAt: null,
      appliedCommitAt: null,
    };
    this.clusters[region] = cluster;
    this.record("CreateDBCluster", region, `${identifier} into ${this.globalIdentifier}`);
    this.after(this.random.logUniform(600, 3 * 3600), () => {
      // The copied volume holds everything the writer committed so far; replication goes on.
      const log = this.clusters[writer]!.log;
      cluster.status = "available";
      cluster.frozen = false;
      cluster.appliedCommitAt = log.at(-1)?.at ?? null;
      cluster.appliedHeartbeatAt =
        [...log].reverse().find((c) => c.kind === "heartbeat")?.at ?? null;
      (this.acked[writer] ??= {})[region] = log.length;
      this.record("CreateDBCluster available", region, identifier);
    });
  }

  createInstance(region: string, identifier: string, clusterIdentifier: string): void {
    const cluster = this.clusterIn(region, clusterIdentifier);
    if (!cluster) throw new RdsFault("DBClusterNotFoundFault", clusterIdentifier);
    if (this.instanceOf(region, identifier))
      throw new RdsFault("DBInstanceAlreadyExistsFault", identifier);
    const instance: Instance = { region, identifier, clusterIdentifier, status: "creating" };
    this.instances.push(instance);
    cluster.instances.push(identifier);
    this.record("CreateDBInstance", region, `${identifier} in ${clusterIdentifier}`);
    this.after(this.random.uniform(300, 900), () => {
      instance.status = "available";
    });
  }

  /**
   * DeleteDBInstance of a reader: refused unless it is available ("InvalidDBInstanceState: The
   * specified DB instance isn't in the available state", API reference, DeleteDBInstance); gone
   * after a while (AWS gives no duration: drawn, like its creation).
   */
  deleteInstance(region: string, identifier: string): void {
    const instance = this.instanceOf(region, identifier);
    if (!instance) throw new RdsFault("DBInstanceNotFoundFault", identifier);
    if (instance.status === "deleting") return;
    if (instance.status !== "available") {
      throw new RdsFault("InvalidDBInstanceState", `${identifier} is ${instance.status}`);
    }
    instance.status = "deleting";
    this.record("DeleteDBInstance", region, identifier);
    this.after(this.random.uniform(60, 600), () => {
      this.instances.splice(this.instances.indexOf(instance), 1);
      const cluster = this.clusterIn(region, instance.clusterIdentifier);
      if (cluster) cluster.instances = cluster.instances.filter((i) => i !== identifier);
    });
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
    } else if (!old.demoteWhenReachable) {
      // The old primary was reachable at the failover call: fenced by now, or (best-effort,
      // fenceLater) within 30 s of the call, which may be after a promotion of seconds. Aurora
      // re-adds it either way ("As soon as that old primary Region is healthy and available again,
      // Aurora automatically adds it back to the global cluster as a secondary Region",
      // aurora-global-database-disaster-recovery). Asking `old.fenced` here left an old primary
      // whose fence landed after the promotion out for ever: re-protect then polled CheckRejoin
      // for 12 h per run (seed 341000406, schedule 125). An unreachable one rejoins from
      // networkChanged once reachable.
      this.clock.at(this.random.uniform(60, 600) * 1000, () => this.rejoin(change.from));
    }
  }
}
