// What the DR cores need from the outside world. The AWS adapters (functions/dr/shared/aws/)
// implement these; the tests use in-memory fakes. Adapters translate SDK errors into
// TransientError / AccessDeniedError / DependencyError (see errors.ts) so cores and the state
// machines see one vocabulary.

import type { ActiveRegionItem, ReadinessRecord } from "../../common/contract";
import type { ReportLocation, RunReportInput } from "../../reports/shared/model";
import type { ProbeAnswer } from "./heartbeat-watch";

export interface GlobalClusterMember {
  readonly clusterArn: string;
  readonly isWriter: boolean;
  /**
   * `connected` or `pending-resync` (GlobalClusterMember.SynchronizationStatus, API reference;
   * what pending-resync covers is not documented further). Absent when RDS does not report it.
   */
  readonly synchronizationStatus?: string;
}

export interface GlobalClusterView {
  readonly identifier: string;
  readonly status: string;
  /** The global writer endpoint, when the engine provides one. */
  readonly endpoint?: string;
  readonly members: readonly GlobalClusterMember[];
  /** DeletionProtection: while on, DeleteGlobalCluster fails. */
  readonly deletionProtection?: boolean;
  /** A failover or switchover in progress. */
  readonly failover?: {
    readonly status: string;
    readonly fromClusterArn?: string;
    readonly toClusterArn?: string;
    readonly isDataLossAllowed?: boolean;
  };
}

export interface ClusterView {
  readonly arn: string;
  readonly status: string;
  readonly endpoint?: string;
  /** Set while the cluster is a member of a global cluster. */
  readonly globalClusterIdentifier?: string;
  /** Its DB instances (DBClusterMembers[].DBInstanceIdentifier). */
  readonly instances?: readonly string[];
  /** Engine and EngineVersion as RDS reports them (DescribeDBClusters). */
  readonly engine?: string;
  readonly engineVersion?: string;
  /** DBClusterParameterGroup: the name of its cluster parameter group. */
  readonly parameterGroup?: string;
  /** The member with IsClusterWriter (a global cluster's secondary has none). */
  readonly writer?: string;
}

export interface InstanceView {
  readonly identifier: string;
  readonly status: string;
  readonly clusterIdentifier?: string;
  /** DBInstanceClass; "unknown" when RDS did not say. */
  readonly instanceClass: string;
  /** Its tags (DescribeDBInstances TagList), when the call returned them. */
  readonly tags?: Readonly<Record<string, string>>;
}

export interface SnapshotView {
  readonly identifier: string;
  readonly status: string;
  readonly clusterIdentifier?: string;
  /** SnapshotCreateTime, ISO 8601. */
  readonly createdAt?: string;
  /** DBClusterSnapshotArn. */
  readonly arn?: string;
  /** SnapshotType (automated, manual, awsbackup, ...). */
  readonly snapshotType?: string;
  /** SourceDBClusterSnapshotArn: set on a copy, naming the snapshot it was copied from. */
  readonly sourceArn?: string;
}

/** A secondary cluster to add to a global cluster (CreateDBCluster), as Terraform builds it. */
export interface SecondaryClusterRequest {
  readonly clusterIdentifier: string;
  readonly globalClusterIdentifier: string;
  readonly engine: string;
  readonly engineVersion: string;
  readonly kmsKeyId: string;
  readonly dbSubnetGroupName: string;
  readonly vpcSecurityGroupIds: readonly string[];
  readonly dbClusterParameterGroupName: string;
  readonly backupRetentionPeriod: number;
  readonly preferredBackupWindow: string;
  readonly preferredMaintenanceWindow: string;
  readonly deletionProtection: boolean;
  /** EnableIAMDatabaseAuthentication: RDS leaves it off unless asked. */
  readonly enableIamDatabaseAuthentication: boolean;
}

/**
 * A reader instance of a cluster (CreateDBInstance), as Terraform builds it: re-protect's Rebuild
 * adds the new secondary's instances, RestoreCapacity the promoted cluster's missing readers.
 */
export interface InstanceRequest {
  readonly identifier: string;
  readonly clusterIdentifier: string;
  readonly engine: string;
  readonly instanceClass: string;
  readonly dbSubnetGroupName: string;
  readonly promotionTier: number;
  readonly monitoringRoleArn: string;
  readonly monitoringInterval: number;
  readonly performanceInsightsKmsKeyId: string;
  readonly caCertificateIdentifier: string;
  /**
   * Tags to create it with (RestoreCapacity marks its readers with `created-by`).
   * @default - none beyond what RDS adds
   */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Aurora (RDS) in one region. */
export interface DatabasePort {
  /** `null` when the global cluster does not exist. */
  describeGlobalCluster(globalClusterIdentifier: string): Promise<GlobalClusterView | null>;
  /** `null` when the cluster does not exist. */
  describeCluster(clusterIdentifier: string): Promise<ClusterView | null>;
  /** FailoverGlobalCluster with AllowDataLoss: true. Throws ManagedFailoverUnavailableError. */
  failoverGlobalCluster(globalClusterIdentifier: string, targetClusterArn: string): Promise<void>;
  switchoverGlobalCluster(globalClusterIdentifier: string, targetClusterArn: string): Promise<void>;
  removeFromGlobalCluster(globalClusterIdentifier: string, clusterArn: string): Promise<void>;

  // Re-protect: rebuilding a global cluster from the promoted cluster.
  /** `null` when the instance does not exist. */
  describeInstance(identifier: string): Promise<InstanceView | null>;
  /** `null` when the snapshot does not exist. */
  describeClusterSnapshot(snapshotIdentifier: string): Promise<SnapshotView | null>;
  createClusterSnapshot(clusterIdentifier: string, snapshotIdentifier: string): Promise<void>;
  /** The automated and manual snapshots of a cluster in this region, newest first. */
  listClusterSnapshots(clusterIdentifier: string): Promise<SnapshotView[]>;
  /**
   * CopyDBClusterSnapshot within this region (the copy is a manual snapshot, kept until deleted);
   * a target that already exists counts as done.
   */
  copyClusterSnapshot(sourceIdentifier: string, targetIdentifier: string): Promise<void>;
  /** ModifyDBCluster NewDBClusterIdentifier, applied immediately. */
  renameCluster(clusterIdentifier: string, newIdentifier: string): Promise<void>;
  /** ModifyDBInstance NewDBInstanceIdentifier, applied immediately. */
  renameInstance(identifier: string, newIdentifier: string): Promise<void>;
  /** ModifyGlobalCluster DeletionProtection: false, so DeleteGlobalCluster can succeed. */
  unprotectGlobalCluster(globalClusterIdentifier: string): Promise<void>;
  deleteGlobalCluster(globalClusterIdentifier: string): Promise<void>;
  /** CreateGlobalCluster whose primary is the existing cluster `sourceClusterArn`. */
  createGlobalCluster(
    globalClusterIdentifier: string,
    sourceClusterArn: string,
    deletionProtection: boolean,
  ): Promise<void>;
  createSecondaryCluster(request: SecondaryClusterRequest): Promise<void>;
  /**
   * CreateDBInstance into the cluster, for re-protect's Rebuild and for RestoreCapacity; "exists"
   * when that identifier already exists (an earlier attempt whose answer was lost).
   */
  createInstance(request: InstanceRequest): Promise<"created" | "exists">;

  // Capacity after a promotion.
  /** The cluster's DB instances (DescribeDBInstances, filter db-cluster-id). */
  instances(clusterIdentifier: string): Promise<readonly InstanceView[]>;
  /**
   * DeleteDBInstance of a cluster's reader (no final snapshot: Aurora keeps the data in the
   * cluster volume). "gone" when it no longer exists (an earlier attempt whose answer was lost).
   */
  deleteInstance(identifier: string): Promise<"deleting" | "gone">;
}

/** The fencing flag as the orchestrator reads and writes it: the whole item. */
export type ActiveRegionFlag = ActiveRegionItem;

/**
 * The lock fact that says in which copies of the control table the lock was confirmed. Once it
 * is recorded the run goes ahead, so no other run may write its lock over this one (the
 * adapter's claim "over" another run is conditional on its absence).
 */
export const LOCK_SCOPE_FACT = "lockScope";

export interface LockItem {
  readonly owner: string;
  readonly operation: string;
  readonly acquiredAt: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
  readonly targetRegion: string;
  readonly sourceRegion: string;
  /** Facts the run records once and reuses when it is resumed (first value wins). */
  readonly facts: Readonly<Record<string, string | number>>;
}

export interface CooldownItem {
  readonly lastCompletedAt: string;
  readonly lastExecution: string;
  /** Epoch seconds. */
  readonly cooldownUntil: number;
  /** The drill whose first move completed: that drill's failback from `targetRegion` is not refused. */
  readonly drillId?: string;
  /** Where the completed run moved the active region (absent in items written before it). */
  readonly targetRegion?: string;
}

/** The `control` global table, read and written in one region. */
export interface ControlPort {
  /** Strongly consistent read. */
  getActiveRegion(): Promise<ActiveRegionFlag | null>;
  /**
   * Conditional write: succeeds only while the flag still says `expected` (or is absent when
   * `expected` is null). Returns false when the condition failed.
   */
  putActiveRegion(expected: ActiveRegionFlag | null, next: ActiveRegionFlag): Promise<boolean>;
  /**
   * The standby's renewal of the peer lease (PEER_LEASE): sets `peerSeenAt` only while the flag
   * still names `activeRegion` with `fencingToken` in this replica and no move is in progress
   * (phase not "fenced"), and arms the lease on a flag that never had `leaseRequired` (the
   * Terraform seed). False when it does not. `arm`: sets `leaseRequired` whatever it was, under
   * the same condition (re-protect, once the standby protects the writer again; written in the
   * standby's own replica, where the renewals are, so no renewal can undo it: see
   * check-rejoin/core.ts).
   */
  renewPeerLease(
    activeRegion: string,
    fencingToken: number,
    at: string,
    arm?: boolean,
  ): Promise<boolean>;
  /**
   * Sets `phase` only while the flag still has this region and token. False when it has not.
   * `armLease`: also arms the peer lease (`leaseRequired`, `peerSeenAt` = `at`).
   */
  setPhase(
    activeRegion: string,
    fencingToken: number,
    phase: string,
    at: string,
    armLease?: boolean,
  ): Promise<boolean>;
  /**
   * Stamps `promotingAt` = `at` (kept if already there) only while the flag still names
   * `activeRegion` with `fencingToken` and phase `fenced`: the run proved the old writer stopped
   * and goes on to promote, so this region's /health may answer "taking-over"
   * (functions/common/taking-over.ts). False when the condition fails.
   */
  markPromoting(activeRegion: string, fencingToken: number, at: string): Promise<boolean>;
  getLock(): Promise<LockItem | null>;
  /** Conditional put: succeeds when no lock exists or the existing one expired before `nowEpoch`. */
  putLock(lock: LockItem, nowEpoch: number): Promise<boolean>;
  /**
   * Conditional put of `lock` into this region's copy for AcquireLock's cross-region check:
   * succeeds when the copy holds no live lock, a lock of `lock.owner`, or one of `over` (the
   * run a conflict was decided against). False when another live lock is there.
   */
  claimLock(lock: LockItem, nowEpoch: number, over?: string): Promise<boolean>;
  /** Sets `facts.<name>` if absent while `owner` holds the lock; returns the stored value. */
  recordFact(owner: string, name: string, value: string | number): Promise<string | number | null>;
  /**
   * Moves the lock's expiry to `expiresAt` while `owner` holds it (a long run's heartbeat);
   * false when another owner holds it or it is gone.
   */
  renewLock(owner: string, expiresAt: number): Promise<boolean>;
  /** Deletes the lock if `owner` holds it; false when another owner holds it. */
  deleteLock(owner: string): Promise<boolean>;
  getCooldown(): Promise<CooldownItem | null>;
  putCooldown(cooldown: CooldownItem): Promise<void>;
  /** The latest readiness evaluation made in `region` (`readiness#<region>`), or null. */
  getReadiness(region: string): Promise<ReadinessRecord | null>;
  /** Stores an evaluation under its region, replacing the previous one. */
  putReadiness(record: ReadinessRecord): Promise<void>;
  /** The prober's heartbeat record in this region (strongly consistent), or null. */
  getHeartbeatWatch(): Promise<HeartbeatWatch | null>;
  /**
   * Stores the record, conditional on the stored one's `checkedAt` being `previousCheckedAt`
   * (null: none stored); false when another look got there first.
   */
  putHeartbeatWatch(next: HeartbeatWatch, previousCheckedAt: string | null): Promise<boolean>;
}

/**
 * The prober's record of the writer heartbeat its region's cluster holds (functions/dr/shared/
 * heartbeat-watch.ts), item `writer-heartbeat-watch` of the control table, written only by the
 * prober in that region.
 */
export interface HeartbeatWatch {
  /** The newest heartbeat value seen (the writer's now() in the beat's transaction). */
  readonly beatAt: string;
  /** When the prober first saw that value at its cluster: never before the beat committed. */
  readonly firstSeenAt: string;
  /** The value replaced an older one the prober had seen: the job beats. */
  readonly advanced: boolean;
  /** The prober's last look. */
  readonly checkedAt: string;
  /** Set when the value stood still too long while the writer answered healthy. */
  readonly staleSince?: string;
  /** The value `beatAt` replaced: with it, two different values seen (the job advances). */
  readonly previousBeatAt?: string;
  /**
   * The DB instances that wrote `beatAt` and `previousBeatAt`, when the heartbeat reader named
   * them (review 23-18 L2): Preflight counts no beat the target's own instance wrote.
   */
  readonly writer?: string;
  readonly previousWriter?: string;
  /**
   * The prober's latest answers from the active region, newest first (at most
   * PROBE_ANSWERS_KEPT): what kind of failure it saw, which Preflight's veto reads
   * (functions/dr/shared/heartbeat-watch.ts, ProbeAnswer).
   */
  readonly answers?: readonly { readonly at: string; readonly answer: ProbeAnswer }[];
}

/** SSM Parameter Store in one region; names are full paths. */
export interface ParametersPort {
  get(name: string, decrypt?: boolean): Promise<string | null>;
  put(name: string, value: string): Promise<void>;
}

export interface MetricDatum {
  readonly name: string;
  readonly value: number;
  readonly unit: "Seconds" | "Milliseconds" | "None" | "Count";
  readonly dimensions: Readonly<Record<string, string>>;
  readonly timestamp?: Date;
  /** 1 for high-resolution metrics; default 60. */
  readonly storageResolution?: 1 | 60;
}

/** CloudWatch metrics in one region. */
export interface MetricsPort {
  put(namespace: string, data: readonly MetricDatum[]): Promise<void>;
  /**
   * The prober's results (PaymentsDR/PrimaryHealthy, one per 10 s period, worst of the period)
   * for `probedRegion` since `since`, newest first.
   */
  probeResults(
    probedRegion: string,
    since: Date,
  ): Promise<readonly { readonly at: string; readonly healthy: boolean }[]>;
  /** Latest AuroraGlobalDBReplicationLag datapoint of a secondary cluster since `since`. */
  replicationLag(
    clusterIdentifier: string,
    since: Date,
  ): Promise<{ readonly lagMs: number; readonly at: string } | null>;
  /**
   * Every AuroraGlobalDBReplicationLag datapoint (1-minute Maximum, `at` = the minute's start) of
   * a secondary cluster since `since`, newest first.
   */
  replicationLagHistory(
    clusterIdentifier: string,
    since: Date,
  ): Promise<readonly { readonly lagMs: number; readonly at: string }[]>;
}

/**
 * What one region's Aurora cluster holds of the global writer's heartbeat (WRITER_HEARTBEAT):
 * the newest `beat_at` it has received, in the writer's clock. Read through that region's own
 * /health, which reads its own cluster, so it needs nothing from any other region.
 */
/** The writer heartbeat a region's cluster holds. */
export interface WriterHeartbeat {
  readonly beatAt: string;
  /**
   * The DB instance that committed it (migration 013; review 23-18 L2); null or absent when the
   * path read cannot tell (the public /health, a beat from before 013).
   */
  readonly writer?: string | null;
}

export interface ReplicaPort {
  /** null when the region cannot tell (no heartbeat yet, its database unreachable). */
  writerHeartbeat(): Promise<WriterHeartbeat | null>;
}

export interface DrEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface EventsPort {
  put(event: DrEvent): Promise<void>;
}

export interface NotifierPort {
  publish(subject: string, message: string): Promise<void>;
}

export interface RegionPorts {
  readonly region: string;
  readonly database: DatabasePort;
  readonly control: ControlPort;
  readonly parameters: ParametersPort;
  readonly metrics: MetricsPort;
  readonly events: EventsPort;
  readonly notifier: NotifierPort;
  readonly replica: ReplicaPort;
}

export interface FailoverRecord {
  readonly setIdentifier: string;
  readonly failover: "PRIMARY" | "SECONDARY";
  readonly aliasDnsName?: string;
}

/** Route 53 (a global service whose control plane lives in us-east-1). */
export interface DnsPort {
  /** "healthy" when most checkers report success. */
  healthCheckStatus(healthCheckId: string): Promise<"healthy" | "unhealthy">;
  failoverRecords(hostedZoneId: string, recordName: string): Promise<FailoverRecord[]>;
  /**
   * One UPSERT batch: the PRIMARY record gets `primary`'s alias target and health check, the
   * SECONDARY record `secondary`'s.
   */
  makePrimary(
    hostedZoneId: string,
    recordName: string,
    primary: DnsTarget,
    secondary: DnsTarget,
  ): Promise<void>;
}

export interface DnsTarget {
  readonly region: string;
  readonly dnsName: string;
  readonly hostedZoneId: string;
  readonly healthCheckId?: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface HttpPort {
  request(
    method: "GET" | "POST",
    url: string,
    options: {
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: unknown;
      readonly timeoutMs: number;
    },
  ): Promise<HttpResponse>;
}

/**
 * The report writer of the region the workflow runs in. `submit` hands it a run's report and
 * returns where the report will be (its location is derived from the run, so the completion
 * event and page can link it at once); the writer stores it moments later.
 */
export interface ReportsPort {
  submit(report: RunReportInput): Promise<ReportLocation>;
}

/**
 * "critical": normal timeouts and retries (the target region, or the source region of a planned
 * switchover). "bestEffort": 1 attempt, short timeouts (the other region during a failover).
 */
export type Profile = "critical" | "bestEffort";

export type { Log } from "../../common/logger";
