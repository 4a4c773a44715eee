// An in-memory model of both regions, behind the same ports the AWS adapters implement: an
// Aurora global cluster whose promotions take `promotionSeconds` of the world's clock, the
// control global table (one store, conditional writes; a region's view of the flag can be frozen
// to model a partition), the writer heartbeat each region's cluster holds, SSM, CloudWatch,
// EventBridge, SNS, Route 53 and each region's payments API. Every call is recorded with its
// region, client profile and time; faults are injected per region (unreachable) or per
// operation; the re-protect calls (snapshots, renames, CreateGlobalCluster, CreateDBCluster into a
// global cluster) take a few seeded polls. For hand-picked cases; the randomized world with AWS's
// timings is test/chaos/.
import type {
  DrCapacity,
  DrDatabaseSpec,
  DrTopology,
  ReadinessRecord,
} from "../../../../functions/common/contract";
import { FENCE_PHASE, PARAMETERS, WRITER_HEARTBEAT } from "../../../../functions/common/contract";
import { TAKING_OVER_STATUS, promotingInto } from "../../../../functions/common/taking-over";
import type { DrDeps } from "../../../../functions/dr/shared/deps";
import type { ProbeAnswer } from "../../../../functions/dr/shared/heartbeat-watch";
import {
  DependencyError,
  ManagedFailoverUnavailableError,
  TransientError,
} from "../../../../functions/dr/shared/errors";
import type {
  ActiveRegionFlag,
  CooldownItem,
  DnsPort,
  DnsTarget,
  DrEvent,
  HeartbeatWatch,
  HttpPort,
  HttpResponse,
  LockItem,
  Log,
  MetricDatum,
  Profile,
  InstanceView,
  RegionPorts,
} from "../../../../functions/dr/shared/ports";
import { LOCK_SCOPE_FACT } from "../../../../functions/dr/shared/ports";
import { DEFAULT_SETTINGS } from "../../../../functions/dr/shared/settings";
import type { DrSettings } from "../../../../functions/dr/shared/settings";
import { FakeReports } from "./fake-reports";
import { readerThenHealth } from "../../../../functions/dr/shared/aws/replica";

export const EAST = "us-east-1";
export const WEST = "us-west-2";
const ACCOUNT = "123456789012";

export const TOPOLOGY: DrTopology = {
  environmentSuffix: "test",
  globalClusterIdentifier: "payments-global-test",
  parameterPrefix: "/payments/test",
  controlTable: "payments-control-test",
  dns: { hostedZoneId: "ZONE123", recordName: "api.pay.acme-corp.com" },
  regions: {
    [EAST]: {
      region: EAST,
      role: "primary",
      clusterArn: `arn:aws:rds:${EAST}:${ACCOUNT}:cluster:payments-use1-test`,
      clusterIdentifier: "payments-use1-test",
      apiUrl: "https://use1.api.test/",
      eventBusName: "payments-use1-test",
      alertTopicArn: `arn:aws:sns:${EAST}:${ACCOUNT}:payments-alerts-use1-test`,
      healthCheckId: "hc-use1",
      apiDomainTarget: {
        dnsName: "d-use1.execute-api.us-east-1.amazonaws.com",
        hostedZoneId: "Z1UJRXOUMOOFQ8",
      },
    },
    [WEST]: {
      region: WEST,
      role: "secondary",
      clusterArn: `arn:aws:rds:${WEST}:${ACCOUNT}:cluster:payments-usw2-test`,
      clusterIdentifier: "payments-usw2-test",
      apiUrl: "https://usw2.api.test",
      eventBusName: "payments-usw2-test",
      alertTopicArn: `arn:aws:sns:${WEST}:${ACCOUNT}:payments-alerts-usw2-test`,
      healthCheckId: "hc-usw2",
      apiDomainTarget: {
        dnsName: "d-usw2.execute-api.us-west-2.amazonaws.com",
        hostedZoneId: "Z2OJLYMUO9EFXC",
      },
    },
  },
};

/** DR_CAPACITY as infra renders it for this topology (infra/constructs/orchestration.ts). */
export const TEST_CAPACITY: DrCapacity = {
  instances: 2,
  standbyInstances: 1,
  instanceClass: "db.r6g.large",
  engine: "aurora-postgresql",
  engineVersion: "16.6",
  monitoringRoleArn: `arn:aws:iam::${ACCOUNT}:role/payments-rds-monitoring-test`,
  monitoringInterval: 15,
  caCertificateIdentifier: "rds-ca-rsa2048-g1",
  regions: Object.fromEntries(
    [
      [EAST, "use1"],
      [WEST, "usw2"],
    ].map(([region, code]) => [
      region!,
      {
        identifiers: [1, 2].map((n) => `payments-db-${n}-${code}-test`),
        dbSubnetGroupName: `payments-db-${code}-test`,
        performanceInsightsKmsKeyId: `arn:aws:kms:${region}:${ACCOUNT}:key/mrk-storage`,
        regionCode: code!,
      },
    ]),
  ),
};

/** DR_DATABASE as Terraform would render it for TOPOLOGY. */
export const DATABASE_SPEC: DrDatabaseSpec = {
  engine: "aurora-postgresql",
  engineVersion: "16.6",
  instanceClass: "db.r5.large",
  backupRetentionPeriod: 7,
  preferredBackupWindow: "02:00-02:30",
  preferredMaintenanceWindow: "sun:05:00-sun:05:30",
  deletionProtection: false,
  iamDatabaseAuthentication: true,
  monitoringRoleArn: `arn:aws:iam::${ACCOUNT}:role/payments-rds-monitoring-test`,
  monitoringInterval: 15,
  caCertificateIdentifier: "rds-ca-rsa2048-g1",
  regions: {
    [EAST]: {
      clusterIdentifier: "payments-use1-test",
      kmsKeyId: `arn:aws:kms:${EAST}:${ACCOUNT}:key/mrk-1111`,
      dbSubnetGroupName: "payments-db-use1-test",
      vpcSecurityGroupIds: ["sg-east"],
      dbClusterParameterGroupName: "payments-db-primary-use1-test",
      readerInstanceIdentifiers: ["payments-db-1-use1-test"],
      performanceInsightsKmsKeyId: `arn:aws:kms:${EAST}:${ACCOUNT}:key/mrk-1111`,
    },
    [WEST]: {
      clusterIdentifier: "payments-usw2-test",
      kmsKeyId: `arn:aws:kms:${WEST}:${ACCOUNT}:key/mrk-1111`,
      dbSubnetGroupName: "payments-db-usw2-test",
      vpcSecurityGroupIds: ["sg-west"],
      dbClusterParameterGroupName: "payments-db-secondary-usw2-test",
      readerInstanceIdentifiers: ["payments-db-1-usw2-test"],
      performanceInsightsKmsKeyId: `arn:aws:kms:${WEST}:${ACCOUNT}:key/mrk-1111`,
    },
  },
};

export const API_KEY = "key-test-1";

export interface Call {
  /** The world's clock when the call was made (ms). */
  readonly at: number;
  readonly region: string;
  readonly profile: Profile | "dns" | "http";
  readonly op: string;
  readonly args?: unknown;
}

interface Injected {
  readonly op: string;
  readonly error: () => Error;
  remaining: number;
  /** Only calls in this region; every region when absent. */
  readonly region?: string;
}

interface ClusterState {
  status: string;
  endpoint: string;
  globalClusterIdentifier?: string;
  readonly region: string;
  identifier: string;
  instances: string[];
  /** EngineVersion as DescribeDBClusters reports it. @default - DATABASE_SPEC.engineVersion */
  engineVersion?: string;
}

interface InstanceState {
  status: string;
  clusterIdentifier: string;
  instanceClass: string;
  tags?: Readonly<Record<string, string>>;
}

/** An asynchronous RDS change that completes after `pollsLeft` describe calls. */
interface Pending {
  pollsLeft: number;
  readonly apply: () => void;
}

/** mulberry32: the world's durations come from a seeded draw, never a pinned value. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function clusterArn(region: string, identifier: string): string {
  return `arn:aws:rds:${region}:${ACCOUNT}:cluster:${identifier}`;
}

interface Promotion {
  readonly toArn: string;
  readonly kind: "failover" | "switchover" | "detach";
  /** The world's clock when it completes (ms); Infinity: never. */
  completesAt: number;
}

export const silentLog: Log & {
  resetKeys(): void;
  appendKeys(keys: Record<string, string>): void;
} = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  resetKeys: () => undefined,
  appendKeys: () => undefined,
};

export class FakeWorld {
  readonly calls: Call[] = [];
  readonly down = new Set<string>();
  private readonly lostAnswers: { op: string; error: () => Error; remaining: number }[] = [];
  private readonly injected: Injected[] = [];

  // Aurora
  globalStatus = "available";
  readonly globalEndpoint = "payments-global-test.global-abc.global.rds.amazonaws.com";
  readonly members = new Map<string, { isWriter: boolean; synchronizationStatus?: string }>();
  /** Whether the global cluster of the topology exists (a re-protect deletes and recreates it). */
  globalExists = true;
  /** The global cluster's DeletionProtection (Terraform sets it from the config). */
  globalDeletionProtection = false;
  /** DR_DATABASE of the re-protect tasks (a test turns deletion protection on in both). */
  database: DrDatabaseSpec = DATABASE_SPEC;
  /** Instances by `<region>/<identifier>`; snapshots likewise. */
  readonly instances = new Map<string, InstanceState>();
  readonly snapshots = new Map<
    string,
    { status: string; clusterIdentifier: string; createdAt?: string }
  >();
  /**
   * Whether Aurora takes its point-of-failure snapshot of the old primary when it rejoins after
   * a managed failover: it "attempts to take" one (aurora-global-database-disaster-recovery.html).
   */
  takesPointOfFailureSnapshot = true;
  readonly pending: Pending[] = [];
  /**
   * The upper bound of the polls an asynchronous change takes (drawn 1..n per change). AWS
   * documents no durations for these: "it can take a few minutes for each to become available"
   * (aurora-global-database-creating.html), a rebuilt secondary "a few minutes to several hours"
   * (aurora-global-database-disaster-recovery.html).
   */
  asyncPolls = 4;
  /**
   * Seconds Aurora takes to create a DB instance, drawn per instance on the world's clock (review
   * 23, M4). AWS documents no duration for adding a reader
   * (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-replicas-adding.html);
   * its nearest figure is a replacement instance that "typically takes less than 10 minutes"
   * (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.AuroraHighAvailability.html).
   * AWS's own agent toolkit gives the slow end: "Aurora cluster and instance creation can take
   * 10-20 minutes" (https://github.com/aws/agent-toolkit-for-aws,
   * specialized-skills/database-skills/creating-amazon-aurora-db-cluster-with-instances/SKILL.md,
   * "Long creation times"; review 23b, L5). So 3 to 20 minutes: a reader is never available at
   * the next poll, and the slow end meets the capacity loop's 30-minute bound when the cluster
   * was modifying first.
   */
  instanceCreationSeconds: readonly [number, number] = [180, 1200];
  /** Changes that complete at a time on the world's clock, checked at every RDS describe. */
  private readonly timed: { at: number; apply: () => void }[] = [];
  private readonly random: () => number;
  /** Aurora re-adds the old primary when its region is healthy again (managed failover only). */
  rejoinOnRecovery: string | undefined;
  readonly clusters: Record<string, ClusterState>;
  promotion: Promotion | undefined;
  /** Seconds of the world's clock a promotion takes; Infinity: never completes. */
  promotionSeconds = 2;
  readonly lagMs: Record<string, number | null> = {};
  /** AuroraGlobalDBReplicationLag datapoints per cluster, newest first (the latest one is lagMs). */
  readonly lagHistory: Record<string, { at: string; lagMs: number }[]> = {};
  /**
   * The newest writer heartbeat each region's cluster holds (ms of the world's clock);
   * undefined: replication is flowing, so it is the current time; null: unknown.
   */
  readonly heartbeatAt: Record<string, number | null | undefined> = {};
  /**
   * The DB instance each region's heartbeat reader names as the beat's writer (migration 013);
   * undefined: not named.
   */
  readonly heartbeatWriter: Record<string, string | undefined> = {};
  /**
   * The two paths to a region's heartbeat, modelled apart (review 24-18 M4) and composed by the
   * production readerThenHealth (functions/dr/shared/aws/replica.ts). healthFlooded: that
   * region's public /health answers API Gateway's generic 500 ("If the Lambda API rejects the
   * invocation request, API Gateway returns a 500 error code",
   * https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html), whose body
   * carries no heartbeat. readerState "throttled": the heartbeat reader's own reservation is
   * busy, its Invoke a TooManyRequestsException (429, API_Invoke.html). Default: both answer.
   */
  readonly healthFlooded: Record<string, boolean | undefined> = {};
  readonly readerState: Record<string, "ok" | "throttled" | undefined> = {};
  /**
   * What the prober in each region recorded of its own cluster's writer heartbeat
   * (HeartbeatWatch); undefined: it saw the heartbeat that region holds advance, the moment it
   * was stamped; null: no record.
   */
  readonly heartbeatWatch: Record<string, HeartbeatWatch | null | undefined> = {};
  /** Regions whose replica of the control table no longer receives writes (a partition). */
  private readonly frozenFlags = new Map<string, Record<string, unknown> | undefined>();
  /** Instance identifiers whose creation Aurora never finishes (they stay "creating"). */
  readonly creationNeverEnds = new Set<string>();
  /** CreateDBInstance calls Aurora accepted ("region/identifier"), in order: for invariants. */
  readonly createdInstances: string[] = [];
  /** CreateDBInstance calls answered "exists" (the name was taken). */
  readonly createsOnTakenName: string[] = [];
  /** Regions whose replica of the control table shows another lock item (or none) than `table`. */
  private readonly heldLocks = new Map<string, Record<string, unknown> | undefined>();
  /** The prober's results per probed region, newest first; by default the primary is down. */
  readonly probes: Record<string, { at: string; healthy: boolean }[]> = {};

  // control global table: one store, as replication is not what these tests are about.
  readonly table = new Map<string, Record<string, unknown>>();

  readonly ssm: Record<string, Map<string, string>> = {};
  readonly metrics: Record<string, MetricDatum[]> = {};
  readonly events: Record<string, DrEvent[]> = {};
  readonly messages: Record<string, { subject: string; message: string }[]> = {};

  // Route 53: which region's alias target each failover record points at.
  readonly records = new Map<string, "PRIMARY" | "SECONDARY">();
  readonly healthChecks = new Map<string, "healthy" | "unhealthy">();

  // payments APIs
  readonly payments = new Map<string, { id: string; region: string; voided: boolean }>();
  readonly paymentsCreated: string[] = [];

  clock: number;

  /** Each region's report writer, with one ledger. */
  readonly reports: FakeReports;

  /** DR_CAPACITY: the writer runs two db.r6g.large. */
  capacity: DrCapacity | null = TEST_CAPACITY;

  constructor(
    readonly topology: DrTopology = TOPOLOGY,
    readonly seed = 1,
  ) {
    this.random = seeded(seed);
    this.clock = Date.now();
    this.reports = new FakeReports(this);
    const east = topology.regions[EAST]!;
    const west = topology.regions[WEST]!;
    this.members.set(east.clusterArn, { isWriter: true });
    this.members.set(west.clusterArn, { isWriter: false });
    this.clusters = {
      [east.clusterArn]: {
        status: "available",
        endpoint: "payments-use1-test.cluster-abc.us-east-1.rds.amazonaws.com",
        globalClusterIdentifier: topology.globalClusterIdentifier,
        region: EAST,
        identifier: east.clusterIdentifier,
        instances: ["payments-db-1-use1-test", "payments-db-2-use1-test"],
      },
      [west.clusterArn]: {
        status: "available",
        endpoint: "payments-usw2-test.cluster-def.us-west-2.rds.amazonaws.com",
        globalClusterIdentifier: topology.globalClusterIdentifier,
        region: WEST,
        identifier: west.clusterIdentifier,
        instances: ["payments-db-1-usw2-test"],
      },
    };
    for (const cluster of Object.values(this.clusters)) {
      for (const id of cluster.instances) {
        this.instances.set(`${cluster.region}/${id}`, {
          status: "available",
          clusterIdentifier: cluster.identifier,
          instanceClass: "db.r6g.large",
        });
      }
    }
    this.probes[EAST] = [0, 10, 20].map((ago) => ({
      at: new Date(this.clock - ago * 1000).toISOString(),
      healthy: false,
    }));
    // A primary that is down commits nothing: the heartbeat the secondary holds stopped before
    // its first failed probe (an alarm's Preflight vetoes a failover while it still advances).
    this.heartbeatAt[WEST] = this.clock - 25_000;
    this.lagMs[east.clusterIdentifier] = null;
    this.lagMs[west.clusterIdentifier] = 120;
    for (const region of [EAST, WEST]) {
      this.ssm[region] = new Map([
        [`${topology.parameterPrefix}/${PARAMETERS.drVerifyApiKey}`, API_KEY],
        [`${topology.parameterPrefix}/${PARAMETERS.writerEndpoint}`, this.globalEndpoint],
        [`${topology.parameterPrefix}/${PARAMETERS.activeRegion}`, EAST],
      ]);
      this.metrics[region] = [];
      this.events[region] = [];
      this.messages[region] = [];
    }
    this.records.set(EAST, "PRIMARY");
    this.records.set(WEST, "SECONDARY");
    this.healthChecks.set("hc-use1", "healthy");
    this.healthChecks.set("hc-usw2", "healthy");
  }

  now = (): Date => {
    this.clock += 1000;
    return new Date(this.clock);
  };

  /**
   * Every client of the region throws (and Route 53 too when the region is us-east-1). Its
   * cluster stops committing, so the other regions' clusters keep the last heartbeat they got.
   */
  failRegion(region: string): void {
    this.down.add(region);
    for (const other of Object.keys(this.topology.regions)) {
      if (other !== region && this.heartbeatAt[other] === undefined) {
        this.heartbeatAt[other] = this.clock;
      }
    }
  }

  /**
   * The primary keeps committing: the heartbeat the other regions' clusters hold is current.
   * `answer`: what its failed probes got (default: the world's, a timeout).
   */
  keepCommitting(answer?: ProbeAnswer): void {
    for (const region of Object.keys(this.topology.regions)) delete this.heartbeatAt[region];
    if (answer) this.probeAnswer = answer;
  }

  /**
   * What each failed probe in `probes` got, as the prober records it (review 23-18 H1); a dead
   * region's probes time out.
   */
  probeAnswer: ProbeAnswer = "timeout";

  /**
   * Seconds a cluster stays listed in the global cluster after RemoveFromGlobalCluster: the
   * operation is asynchronous and the member is listed until it is done (review L1); a repeat
   * meanwhile meets InvalidDBClusterStateFault. AWS documents no duration. 0: done at once.
   */
  removalListedSeconds = 0;
  /** Removals under way: cluster ARN -> when it is done. */
  readonly pendingRemovals = new Map<string, number>();

  /** The next `times` calls of `op` (only those in `region`, when given) fail with `error`. */
  inject(op: string, error: () => Error, times = 1, region?: string): void {
    this.injected.push({ op, error, remaining: times, ...(region ? { region } : {}) });
  }

  /**
   * The next `times` calls of `op` take effect, but their answer is lost: the SDK retries and
   * the retry meets `error` (what RDS says to a second rename of the same cluster).
   */
  loseAnswer(op: string, error: () => Error, times = 1): void {
    this.lostAnswers.push({ op, error, remaining: times });
  }

  /** After a call's effect: throws the retry's error when its answer was lost. */
  answered(op: string): void {
    const lost = this.lostAnswers.find((f) => f.op === op && f.remaining > 0);
    if (!lost) return;
    lost.remaining -= 1;
    throw lost.error();
  }

  /** From now on `region` reads the flag as it is now: writes elsewhere do not reach it. */
  freezeFlag(region: string): void {
    const item = this.table.get("active-region");
    this.frozenFlags.set(region, item ? { ...item } : undefined);
  }

  /** `region`'s replica holds `item` until thawed: replication towards it is that far behind. */
  holdFlag(region: string, item: Record<string, unknown>): void {
    this.frozenFlags.set(region, { ...item });
  }

  thawFlag(region: string): void {
    this.frozenFlags.delete(region);
  }

  /**
   * `region`'s replica holds `item` (undefined: no lock) until thawed: a lock taken or released
   * in the other region has not replicated there yet (no upper bound, V2globaltables_HowItWorks).
   */
  /** A re-protect run takes the lock now (15-minute lease), as the runbook's does. */
  takeReprotectLock(targetRegion: string, sourceRegion: string): void {
    this.table.set("failover-lock", {
      owner: "reprotect-1",
      operation: "reprotect",
      acquiredAt: new Date(this.clock).toISOString(),
      expiresAt: Math.floor(this.clock / 1000) + 900,
      targetRegion,
      sourceRegion,
      facts: {},
    });
  }

  holdLock(region: string, item: Record<string, unknown> | undefined): void {
    this.heldLocks.set(region, item ? structuredClone(item) : undefined);
  }

  /** The lock as `region`'s replica holds it. */
  lockIn(region: string): Record<string, unknown> | undefined {
    return this.heldLocks.has(region)
      ? this.heldLocks.get(region)
      : this.table.get("failover-lock");
  }

  /** The flag as `region`'s replica holds it. */
  flagIn(region: string): Record<string, unknown> | undefined {
    return this.frozenFlags.has(region)
      ? this.frozenFlags.get(region)
      : this.table.get("active-region");
  }

  call(region: string, profile: Call["profile"], op: string, args?: unknown): void {
    this.calls.push({ at: this.clock, region, profile, op, args });
    if (this.down.has(region)) {
      throw new TransientError(`${op} in ${region}: connect ETIMEDOUT (region unreachable)`);
    }
    const fault = this.injected.find(
      (f) => f.op === op && f.remaining > 0 && (f.region === undefined || f.region === region),
    );
    if (fault) {
      fault.remaining -= 1;
      throw fault.error();
    }
  }

  callsTo(op: string): Call[] {
    return this.calls.filter((c) => c.op === op);
  }

  // ---- Aurora behaviour ----

  arnOf(identifier: string): string {
    const found = Object.values(this.topology.regions).find(
      (r) => r.clusterIdentifier === identifier || r.clusterArn === identifier,
    );
    if (!found) throw new Error(`unknown cluster ${identifier}`);
    return found.clusterArn;
  }

  /** Polls an asynchronous change takes, drawn from the seeded range 1..asyncPolls. */
  draw(): number {
    return 1 + Math.floor(this.random() * this.asyncPolls);
  }

  later(apply: () => void, polls = this.draw()): void {
    this.pending.push({ pollsLeft: polls, apply });
  }

  /** Seconds drawn from the seeded range [min, max]. */
  drawSeconds([min, max]: readonly [number, number]): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  /** A change that completes `seconds` later on the world's clock (seen at the next describe). */
  after(seconds: number, apply: () => void): void {
    this.timed.push({ at: this.clock + seconds * 1000, apply });
  }

  /** One RDS describe: asynchronous changes progress (they complete on AWS's clock, not ours). */
  advance(): void {
    for (const t of [...this.timed]) {
      if (t.at <= this.clock) {
        this.timed.splice(this.timed.indexOf(t), 1);
        t.apply();
      }
    }
    for (const p of [...this.pending]) {
      p.pollsLeft -= 1;
      if (p.pollsLeft <= 0) {
        this.pending.splice(this.pending.indexOf(p), 1);
        p.apply();
      }
    }
  }

  clusterIn(region: string, identifier: string): [string, ClusterState] | undefined {
    return Object.entries(this.clusters).find(
      ([, c]) => c.region === region && c.identifier === identifier,
    );
  }

  /** The DB instances of the cluster `clusterArn`, as DescribeDBInstances filtered by it lists them. */
  instancesOf(clusterArn: string): InstanceView[] {
    const cluster = this.clusters[clusterArn];
    if (!cluster) return [];
    return cluster.instances.map((identifier) => {
      const i = this.instances.get(`${cluster.region}/${identifier}`)!;
      return { identifier, ...i };
    });
  }

  /** Puts an instance into the cluster `clusterArn` directly (a hand-made or deleting one). */
  addInstance(clusterArn: string, identifier: string, status: string, instanceClass: string) {
    const cluster = this.clusters[clusterArn]!;
    this.instances.set(`${cluster.region}/${identifier}`, {
      status,
      clusterIdentifier: cluster.identifier,
      instanceClass,
    });
    cluster.instances.push(identifier);
  }

  /** The region answers again; after a managed failover Aurora then re-adds its old primary. */
  recover(region: string): void {
    this.down.delete(region);
    const arn = this.rejoinOnRecovery;
    if (!arn || this.clusters[arn]?.region !== region) return;
    this.rejoinOnRecovery = undefined;
    const cluster = this.clusters[arn]!;
    // "Aurora automatically adds it back to the global cluster as a secondary Region" and
    // "creates a new storage volume for the old primary Region after it recovers"
    // (aurora-global-database-disaster-recovery.html): a member first, connected later.
    // "Before creating the new storage volume ... Aurora attempts to take a snapshot of the old
    // storage volume at the point of failure" (same page), a system snapshot.
    if (this.takesPointOfFailureSnapshot) {
      const at = new Date(this.clock);
      const stamp = at.toISOString().slice(0, 16).replace(/[T:]/g, "-");
      const snapshot = {
        status: "creating",
        clusterIdentifier: cluster.identifier,
        createdAt: at.toISOString(),
      };
      this.snapshots.set(
        `${region}/rds:unplanned-global-failover-${cluster.identifier}-${stamp}`,
        snapshot,
      );
      // On the next look: no draw from the seeded sequence, so the rejoin's timing is as before.
      this.later(() => (snapshot.status = "available"), 1);
    }
    this.later(() => {
      this.members.set(arn, { isWriter: false, synchronizationStatus: "pending-resync" });
      cluster.globalClusterIdentifier = this.topology.globalClusterIdentifier;
      cluster.status = "available";
      this.later(() => {
        this.members.get(arn)!.synchronizationStatus = "connected";
        this.lagMs[cluster.identifier] = 30 + Math.floor(this.random() * 400);
      });
    });
  }

  tick(): void {
    this.advance();
    for (const [arn, doneAt] of this.pendingRemovals) {
      if (this.clock < doneAt) continue;
      this.pendingRemovals.delete(arn);
      this.members.delete(arn);
      delete this.clusters[arn]!.globalClusterIdentifier;
      this.clusters[arn]!.status = "available";
    }
    const p = this.promotion;
    if (!p) return;
    if (this.clock < p.completesAt) return;
    if (p.kind === "detach") {
      this.clusters[p.toArn]!.status = "available";
    } else {
      for (const [arn, member] of this.members) member.isWriter = arn === p.toArn;
      this.globalStatus = "available";
    }
    this.promotion = undefined;
  }

  writerArn(): string | undefined {
    for (const [arn, member] of this.members) if (member.isWriter) return arn;
    return undefined;
  }

  // ---- ports ----

  ports = (region: string, profile: Profile): RegionPorts => portsOf(this, region, profile);

  dns = (): DnsPort => dnsOf(this);

  /** Each region's payments API: /health is 200 only in the active region; writes need the writer. */
  http: HttpPort = {
    request: async (method, url, options): Promise<HttpResponse> => {
      const region = Object.values(this.topology.regions).find((r) =>
        url.startsWith(r.apiUrl.replace(/\/+$/, "")),
      );
      if (!region) throw new Error(`no API at ${url}`);
      this.call(region.region, "http", `${method} ${new URL(url).pathname}`, options);
      const path = new URL(url).pathname;
      const flag = this.table.get("active-region");
      const active = (flag?.activeRegion as string | undefined) ?? EAST;
      const writer = this.writerArn() === region.clusterArn || !this.members.has(region.clusterArn);
      if (method === "GET" && path === "/health") {
        // As functions/payments/health/core.ts: open and writer -> healthy; a move into this
        // region -> the taking-over rule (the proof's stamp, whatever its own cluster answers).
        if (active !== region.region) return { status: 503, body: { status: "passive" } };
        if (flag?.phase === FENCE_PHASE.fenced) {
          const database = writer ? "writable" : "in recovery";
          return promotingInto(region.region, flag as unknown as ActiveRegionFlag)
            ? { status: 200, body: { status: TAKING_OVER_STATUS, checks: { database } } }
            : { status: 503, body: { status: "unhealthy", checks: { database } } };
        }
        return writer
          ? { status: 200, body: { status: "healthy", checks: { database: "writable" } } }
          : { status: 503, body: { status: "unhealthy", checks: { database: "in recovery" } } };
      }
      if (options.headers?.["x-api-key"] !== API_KEY) return { status: 403, body: null };
      if (active !== region.region)
        return { status: 409, body: { error: "not the active region" } };
      if (!writer) return { status: 500, body: { error: "read-only transaction" } };
      if (method === "POST" && path === "/payments") {
        const key = options.headers?.["Idempotency-Key"] ?? "";
        const existing = this.payments.get(key);
        if (existing) return { status: 201, body: { id: existing.id } };
        const id = `pay_${this.payments.size + 1}`;
        this.payments.set(key, { id, region: region.region, voided: false });
        this.paymentsCreated.push(id);
        return { status: 201, body: { id, status: "authorized" } };
      }
      const voidMatch = /^\/payments\/([^/]+)\/void$/.exec(path);
      if (method === "POST" && voidMatch) {
        const payment = [...this.payments.values()].find((p) => p.id === voidMatch[1]);
        if (!payment) return { status: 404, body: null };
        if (payment.voided) return { status: 409, body: { error: "already voided" } };
        payment.voided = true;
        return { status: 200, body: { id: payment.id, status: "voided" } };
      }
      return { status: 404, body: null };
    },
  };

  deps(executionRegion: string, settings: Partial<DrSettings> = {}): DrDeps {
    return {
      topology: this.topology,
      database: this.database,
      // A short settle time: this world has no payment path for it to protect (test/chaos has).
      settings: {
        ...DEFAULT_SETTINGS,
        bestEffortTimeoutMs: 200,
        fenceSettleSeconds: 6,
        leaseSettleSeconds: 6,
        capacity: this.capacity,
        ...settings,
      },
      ports: this.ports,
      dns: this.dns,
      http: this.http,
      reports: this.reports.port(executionRegion),
      now: this.now,
      log: silentLog,
      executionRegion,
    };
  }

  // ---- observations ----

  flag(): ActiveRegionFlag | undefined {
    return this.table.get("active-region") as ActiveRegionFlag | undefined;
  }

  lock(): LockItem | undefined {
    return this.table.get("failover-lock") as LockItem | undefined;
  }

  /** What must be identical after any successful run, however it got there. */
  endState(): Record<string, unknown> {
    const flag = this.flag();
    const cooldown = this.table.get("failover-cooldown");
    return {
      activeRegion: flag?.activeRegion,
      fencingToken: flag?.fencingToken,
      phase: flag?.phase,
      lockHeld: this.table.has("failover-lock"),
      cooldownOwner: cooldown?.lastExecution,
      writer: this.writerArn(),
      members: [...this.members.keys()].sort(),
      ssm: Object.fromEntries(
        Object.entries(this.ssm).map(([region, values]) => [
          region,
          Object.fromEntries(
            [...values].filter(([name]) => !name.endsWith(PARAMETERS.drVerifyApiKey)),
          ),
        ]),
      ),
      records: Object.fromEntries(this.records),
      paymentsCreated: this.paymentsCreated.length,
      paymentsVoided: [...this.payments.values()].filter((p) => p.voided).length,
      instances: Object.fromEntries(
        Object.keys(this.clusters).map((arn) => [
          arn.split(":").pop(),
          this.instancesOf(arn)
            .map((i) => i.identifier)
            .sort(),
        ]),
      ),
      promotionRequests:
        this.callsTo("rds:FailoverGlobalCluster").length +
        this.callsTo("rds:SwitchoverGlobalCluster").length +
        this.callsTo("rds:RemoveFromGlobalCluster").length,
      completedEventIds: [
        ...new Set(
          Object.values(this.events)
            .flat()
            .map((e) => e.detail.eventId),
        ),
      ],
    };
  }

  /** The world after a completed failover to us-west-2 (for failback tests). */
  static afterFailoverToWest(failoverId = "earlier-failover", seed = 1): FakeWorld {
    const world = new FakeWorld(TOPOLOGY, seed);
    const west = world.topology.regions[WEST]!;
    const east = world.topology.regions[EAST]!;
    world.members.get(east.clusterArn)!.isWriter = false;
    world.members.get(west.clusterArn)!.isWriter = true;
    world.lagMs[west.clusterIdentifier] = null;
    world.lagMs[east.clusterIdentifier] = 40;
    world.table.set("active-region", {
      activeRegion: WEST,
      fencingToken: 1,
      updatedAt: new Date(world.clock).toISOString(),
      updatedBy: failoverId,
      phase: FENCE_PHASE.open,
      previousRegion: EAST,
    });
    for (const region of [EAST, WEST]) {
      world.ssm[region]!.set(`${world.topology.parameterPrefix}/${PARAMETERS.activeRegion}`, WEST);
    }
    world.records.set(WEST, "PRIMARY");
    world.records.set(EAST, "SECONDARY");
    return world;
  }

  /**
   * After a managed failover to us-west-2 while us-east-1 was down: us-west-2 writes, the global
   * cluster survived, and us-east-1's old primary is not a member until its region recovers and
   * Aurora re-adds it (`recover(EAST)`).
   */
  static afterManagedFailoverToWest(seed = 1): FakeWorld {
    const world = FakeWorld.afterFailoverToWest("managed-failover", seed);
    const east = world.topology.regions[EAST]!;
    // Not yet re-added; its storage is replaced on its way back (a new volume).
    world.members.delete(east.clusterArn);
    world.clusters[east.clusterArn]!.status = "inaccessible";
    delete world.lagMs[east.clusterIdentifier];
    world.rejoinOnRecovery = east.clusterArn;
    world.failRegion(EAST);
    return world;
  }

  /**
   * After a detach-and-promote to us-west-2 while us-east-1 was down: us-west-2's cluster is a
   * standalone writer; the global cluster still lists us-east-1's old primary as its writer,
   * which, when its region answers again, still holds whatever it committed before the outage
   * (its region is down until `recover(EAST)`; Aurora never re-adds a detached cluster).
   */
  static afterDetachToWest(seed = 1): FakeWorld {
    const world = new FakeWorld(TOPOLOGY, seed);
    const west = world.topology.regions[WEST]!;
    world.members.delete(west.clusterArn);
    delete world.clusters[west.clusterArn]!.globalClusterIdentifier;
    world.lagMs[west.clusterIdentifier] = null;
    delete world.lagMs[world.topology.regions[EAST]!.clusterIdentifier];
    world.table.set("active-region", {
      activeRegion: WEST,
      fencingToken: 1,
      updatedAt: new Date(world.clock).toISOString(),
      updatedBy: "detach-failover",
      phase: FENCE_PHASE.open,
      previousRegion: EAST,
    });
    for (const region of [EAST, WEST]) {
      world.ssm[region]!.set(`${world.topology.parameterPrefix}/${PARAMETERS.activeRegion}`, WEST);
    }
    // After a detach the writer endpoint is the promoted cluster's own.
    world.ssm[WEST]!.set(
      `${world.topology.parameterPrefix}/${PARAMETERS.writerEndpoint}`,
      world.clusters[west.clusterArn]!.endpoint,
    );
    world.records.set(WEST, "PRIMARY");
    world.records.set(EAST, "SECONDARY");
    world.failRegion(EAST);
    return world;
  }
}

function portsOf(world: FakeWorld, region: string, profile: Profile): RegionPorts {
  const c = (op: string, args?: unknown) => world.call(region, profile, op, args);
  return {
    region,
    database: {
      async describeGlobalCluster(id) {
        c("rds:DescribeGlobalClusters", { id });
        world.tick();
        if (id !== world.topology.globalClusterIdentifier || !world.globalExists) return null;
        const p = world.promotion;
        return {
          identifier: id,
          status: world.globalStatus,
          endpoint: world.globalEndpoint,
          deletionProtection: world.globalDeletionProtection,
          members: [...world.members].map(([clusterArn, m]) => ({
            clusterArn,
            isWriter: m.isWriter,
            ...(m.synchronizationStatus ? { synchronizationStatus: m.synchronizationStatus } : {}),
          })),
          ...(p && p.kind !== "detach"
            ? {
                failover: {
                  status: p.kind === "failover" ? "failing-over" : "switching-over",
                  // The writer until the promotion completes (then FailoverState is empty).
                  fromClusterArn: [...world.members].find(([, m]) => m.isWriter)?.[0],
                  toClusterArn: p.toArn,
                  isDataLossAllowed: p.kind === "failover",
                },
              }
            : {}),
        };
      },
      async describeCluster(identifier) {
        c("rds:DescribeDBClusters", { identifier });
        world.advance();
        const found = world.clusterIn(region, identifier);
        if (!found) return null;
        const [arn, cluster] = found;
        return {
          arn,
          status: cluster.status,
          endpoint: cluster.endpoint,
          ...(cluster.globalClusterIdentifier
            ? { globalClusterIdentifier: cluster.globalClusterIdentifier }
            : {}),
          instances: [...cluster.instances],
          engine: "aurora-postgresql",
          engineVersion: cluster.engineVersion ?? DATABASE_SPEC.engineVersion,
          // A global cluster's secondary has no writer instance; its primary's first is.
          ...(world.members.get(arn)?.isWriter && cluster.instances[0]
            ? { writer: cluster.instances[0] }
            : {}),
        };
      },
      async describeInstance(identifier) {
        c("rds:DescribeDBInstances", { identifier });
        world.advance();
        const instance = world.instances.get(`${region}/${identifier}`);
        return instance ? { identifier, ...instance } : null;
      },
      async describeClusterSnapshot(identifier) {
        c("rds:DescribeDBClusterSnapshots", { identifier });
        world.advance();
        const snapshot = world.snapshots.get(`${region}/${identifier}`);
        return snapshot ? { identifier, ...snapshot } : null;
      },
      async createClusterSnapshot(clusterIdentifier, snapshotIdentifier) {
        c("rds:CreateDBClusterSnapshot", { clusterIdentifier, snapshotIdentifier });
        const key = `${region}/${snapshotIdentifier}`;
        if (world.snapshots.has(key)) return; // the adapter treats AlreadyExists as done
        if (!world.clusterIn(region, clusterIdentifier))
          throw new Error(`DBClusterNotFoundFault: ${clusterIdentifier}`);
        const snapshot = { status: "creating", clusterIdentifier };
        world.snapshots.set(key, snapshot);
        world.later(() => (snapshot.status = "available"));
      },
      async listClusterSnapshots(clusterIdentifier) {
        c("rds:DescribeDBClusterSnapshots", { clusterIdentifier });
        world.advance();
        return [...world.snapshots]
          .filter(
            ([key, s]) => key.startsWith(`${region}/`) && s.clusterIdentifier === clusterIdentifier,
          )
          .map(([key, s]) => ({ identifier: key.slice(region.length + 1), ...s }))
          .sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? ""));
      },
      async copyClusterSnapshot(sourceIdentifier, targetIdentifier) {
        c("rds:CopyDBClusterSnapshot", { sourceIdentifier, targetIdentifier });
        const target = `${region}/${targetIdentifier}`;
        if (world.snapshots.has(target)) return; // the adapter treats AlreadyExists as done
        const source = world.snapshots.get(`${region}/${sourceIdentifier}`);
        if (!source) throw new Error(`DBClusterSnapshotNotFoundFault: ${sourceIdentifier}`);
        if (source.status !== "available") {
          throw new Error(
            `InvalidDBClusterSnapshotStateFault: ${sourceIdentifier} is ${source.status}`,
          );
        }
        const copy = {
          status: "copying",
          clusterIdentifier: source.clusterIdentifier,
          createdAt: new Date(world.clock).toISOString(),
        };
        world.snapshots.set(target, copy);
        world.later(() => (copy.status = "available"));
        world.answered("rds:CopyDBClusterSnapshot");
      },
      async renameCluster(identifier, newIdentifier) {
        c("rds:ModifyDBCluster", { identifier, newIdentifier });
        const found = world.clusterIn(region, identifier);
        if (!found) throw new Error(`DBClusterNotFoundFault: ${identifier}`);
        if (world.clusterIn(region, newIdentifier)) {
          throw new Error(`DBClusterAlreadyExistsFault: ${newIdentifier}`);
        }
        const [arn, cluster] = found;
        if (cluster.status !== "available") {
          throw new Error(`InvalidDBClusterStateFault: ${identifier} is ${cluster.status}`);
        }
        cluster.status = "renaming";
        world.later(() => {
          // The ARN carries the identifier: the renamed cluster has a new one.
          delete world.clusters[arn];
          const next = clusterArn(region, newIdentifier);
          world.clusters[next] = { ...cluster, identifier: newIdentifier, status: "available" };
          for (const id of cluster.instances) {
            world.instances.get(`${region}/${id}`)!.clusterIdentifier = newIdentifier;
          }
          const member = world.members.get(arn);
          if (member) {
            world.members.delete(arn);
            world.members.set(next, member);
          }
        });
        world.answered("rds:ModifyDBCluster");
      },
      async renameInstance(identifier, newIdentifier) {
        c("rds:ModifyDBInstance", { identifier, newIdentifier });
        const instance = world.instances.get(`${region}/${identifier}`);
        if (!instance) throw new Error(`DBInstanceNotFoundFault: ${identifier}`);
        if (world.instances.has(`${region}/${newIdentifier}`)) {
          throw new Error(`DBInstanceAlreadyExistsFault: ${newIdentifier}`);
        }
        instance.status = "renaming";
        world.later(() => {
          world.instances.delete(`${region}/${identifier}`);
          world.instances.set(`${region}/${newIdentifier}`, { ...instance, status: "available" });
          const cluster = world.clusterIn(region, instance.clusterIdentifier)?.[1];
          if (cluster) {
            cluster.instances = cluster.instances.map((i) =>
              i === identifier ? newIdentifier : i,
            );
          }
        });
        world.answered("rds:ModifyDBInstance");
      },
      async unprotectGlobalCluster(id) {
        c("rds:ModifyGlobalCluster", { id, deletionProtection: false });
        if (!world.globalExists) throw new Error(`GlobalClusterNotFoundFault: ${id}`);
        world.globalDeletionProtection = false;
      },
      async deleteGlobalCluster(id) {
        c("rds:DeleteGlobalCluster", { id });
        if (!world.globalExists) return; // GlobalClusterNotFoundFault: already gone
        if (world.members.size > 0) {
          throw new Error(`InvalidGlobalClusterStateFault: ${id} still has members`);
        }
        // AWS: "The global database can't be deleted when deletion protection is enabled".
        if (world.globalDeletionProtection) {
          throw new Error(`InvalidGlobalClusterStateFault: ${id} has deletion protection on`);
        }
        world.globalExists = false;
      },
      async createGlobalCluster(id, sourceArn, deletionProtection) {
        c("rds:CreateGlobalCluster", { id, sourceArn, deletionProtection });
        if (world.globalExists) return; // GlobalClusterAlreadyExistsFault: an earlier attempt
        const source = world.clusters[sourceArn];
        if (!source || source.region !== region) {
          throw new Error(`DBClusterNotFoundFault: ${sourceArn} in ${region}`);
        }
        world.globalExists = true;
        world.globalStatus = "creating";
        world.globalDeletionProtection = deletionProtection;
        world.members.set(sourceArn, { isWriter: true, synchronizationStatus: "connected" });
        source.globalClusterIdentifier = id;
        world.later(() => (world.globalStatus = "available"));
      },
      async createSecondaryCluster(request) {
        c("rds:CreateDBCluster", request);
        if (world.clusterIn(region, request.clusterIdentifier)) return; // AlreadyExists: done
        if (!world.globalExists || world.globalStatus !== "available") {
          throw new Error(`InvalidGlobalClusterStateFault: ${request.globalClusterIdentifier}`);
        }
        const arn = clusterArn(region, request.clusterIdentifier);
        const cluster: ClusterState = {
          status: "creating",
          endpoint: `${request.clusterIdentifier}.cluster-new.${region}.rds.amazonaws.com`,
          globalClusterIdentifier: request.globalClusterIdentifier,
          region,
          identifier: request.clusterIdentifier,
          instances: [],
          engineVersion: request.engineVersion,
        };
        world.clusters[arn] = cluster;
        world.members.set(arn, { isWriter: false, synchronizationStatus: "pending-resync" });
        world.later(() => {
          cluster.status = "available";
          // The initial copy: "a few minutes to several hours" (rebuilding secondaries).
          world.later(() => {
            world.members.get(arn)!.synchronizationStatus = "connected";
            world.lagMs[request.clusterIdentifier] = 20 + Math.floor(world.draw() * 50);
          }, world.draw() + world.draw());
        });
      },
      async createInstance(request) {
        c("rds:CreateDBInstance", request);
        const key = `${region}/${request.identifier}`;
        // A retried call whose first answer was lost: DBInstanceAlreadyExistsFault, which the
        // adapter reports as "exists".
        if (world.instances.has(key)) {
          world.createsOnTakenName.push(key);
          return "exists";
        }
        const cluster = world.clusterIn(region, request.clusterIdentifier)?.[1];
        if (cluster?.status !== "available") {
          throw new Error(`InvalidDBClusterStateFault: ${request.clusterIdentifier}`);
        }
        // Aurora: a new instance is "creating" for minutes (aurora-replicas-adding.html gives no
        // duration); re-protect and RestoreCapacity poll for it. A test may move it meanwhile to
        // a state Aurora does not leave by itself (failed, incompatible-network...): it stays.
        const instance = {
          status: "creating",
          clusterIdentifier: request.clusterIdentifier,
          instanceClass: request.instanceClass,
          ...(request.tags ? { tags: request.tags } : {}),
        };
        world.instances.set(key, instance);
        world.createdInstances.push(key);
        cluster.instances.push(request.identifier);
        world.after(world.drawSeconds(world.instanceCreationSeconds), () => {
          if (instance.status === "creating" && !world.creationNeverEnds.has(request.identifier))
            instance.status = "available";
        });
        return "created";
      },
      async failoverGlobalCluster(id, targetArn) {
        c("rds:FailoverGlobalCluster", { id, targetArn, allowDataLoss: true });
        if (world.promotion) {
          throw new ManagedFailoverUnavailableError(
            "a failover is already running",
            "InvalidGlobalClusterStateFault",
          );
        }
        world.globalStatus = "failing-over";
        world.promotion = {
          toArn: targetArn,
          kind: "failover",
          completesAt: world.clock + world.promotionSeconds * 1000,
        };
      },
      async switchoverGlobalCluster(id, targetArn) {
        c("rds:SwitchoverGlobalCluster", { id, targetArn });
        world.globalStatus = "switching-over";
        world.promotion = {
          toArn: targetArn,
          kind: "switchover",
          completesAt: world.clock + world.promotionSeconds * 1000,
        };
      },
      async removeFromGlobalCluster(id, clusterArn) {
        c("rds:RemoveFromGlobalCluster", { id, clusterArn });
        world.tick();
        if (world.pendingRemovals.has(clusterArn)) {
          throw new DependencyError(
            "rds:RemoveFromGlobalCluster failed: InvalidDBClusterStateFault: a removal is under way",
            { code: "InvalidDBClusterStateFault" },
          );
        }
        if (world.removalListedSeconds > 0) {
          // Its status is not documented for the removal; "available" is what makes a poll
          // send the repeat that meets the fault.
          world.pendingRemovals.set(clusterArn, world.clock + world.removalListedSeconds * 1000);
          return;
        }
        world.members.delete(clusterArn);
        const cluster = world.clusters[clusterArn]!;
        delete cluster.globalClusterIdentifier;
        cluster.status = "modifying";
        world.promotion = {
          toArn: clusterArn,
          kind: "detach",
          completesAt: world.clock + world.promotionSeconds * 1000,
        };
      },
      async instances(clusterIdentifier) {
        c("rds:DescribeDBInstances", { clusterIdentifier });
        world.advance();
        const found = world.clusterIn(region, clusterIdentifier);
        return found ? world.instancesOf(found[0]) : [];
      },
      async deleteInstance(identifier) {
        c("rds:DeleteDBInstance", { identifier });
        const key = `${region}/${identifier}`;
        const instance = world.instances.get(key);
        if (!instance) return "gone";
        if (instance.status === "deleting") return "deleting";
        // "InvalidDBInstanceState: The specified DB instance isn't in the available state"
        // (API reference, DeleteDBInstance): an instance being created cannot be deleted yet.
        if (instance.status !== "available") {
          throw new Error(`InvalidDBInstanceState: ${identifier} is ${instance.status}`);
        }
        instance.status = "deleting";
        world.later(() => {
          world.instances.delete(key);
          const cluster = world.clusterIn(region, instance.clusterIdentifier)?.[1];
          if (cluster) cluster.instances = cluster.instances.filter((i) => i !== identifier);
        });
        return "deleting";
      },
    },
    control: {
      async getHeartbeatWatch() {
        c("dynamodb:GetItem writer-heartbeat-watch");
        const watch = world.heartbeatWatch[region];
        if (watch !== undefined) return watch;
        const at = world.heartbeatAt[region];
        if (at === null) return null;
        const beatAt = new Date(at ?? world.clock).toISOString();
        return {
          beatAt,
          firstSeenAt: beatAt,
          advanced: true,
          checkedAt: new Date(world.clock).toISOString(),
          // The prober saw the value before this one, a beat earlier, and recorded its answers.
          previousBeatAt: new Date(
            Date.parse(beatAt) - WRITER_HEARTBEAT.intervalSeconds * 1000,
          ).toISOString(),
          answers: Object.entries(world.probes)
            .filter(([probed]) => probed !== region)
            .flatMap(([, probes]) => probes ?? [])
            .map((p) => ({ at: p.at, answer: p.healthy ? ("ok" as const) : world.probeAnswer })),
        };
      },
      async putHeartbeatWatch(next) {
        c("dynamodb:PutItem writer-heartbeat-watch");
        world.heartbeatWatch[region] = { ...next };
        return true;
      },
      async getActiveRegion() {
        c("dynamodb:GetItem active-region");
        const item = world.flagIn(region);
        return item ? ({ ...item } as unknown as ActiveRegionFlag) : null;
      },
      async putActiveRegion(expected, next) {
        c("dynamodb:UpdateItem active-region", { expected, next });
        const item = world.table.get("active-region");
        const ok = expected
          ? item?.activeRegion === expected.activeRegion &&
            item?.fencingToken === expected.fencingToken
          : item === undefined;
        if (ok) {
          // As the adapter writes it: a Fence removes the previous move's promotingAt.
          const { promotingAt: _previous, ...rest } = item ?? {};
          world.table.set("active-region", {
            ...rest,
            ...next,
            leaseRequired: next.leaseRequired ?? false,
          });
        }
        return ok;
      },
      async markPromoting(activeRegion, fencingToken, at) {
        c("dynamodb:UpdateItem active-region promoting", { activeRegion, fencingToken, at });
        const item = world.table.get("active-region");
        const ok =
          item?.activeRegion === activeRegion &&
          item?.fencingToken === fencingToken &&
          item?.phase === "fenced";
        if (ok) world.table.set("active-region", { ...item, promotingAt: item.promotingAt ?? at });
        return ok;
      },
      async renewPeerLease(activeRegion, fencingToken, at, arm = false) {
        c("dynamodb:UpdateItem active-region peer lease", {
          activeRegion,
          fencingToken,
          at,
          ...(arm ? { arm } : {}),
        });
        const item = world.flagIn(region);
        const ok =
          item?.activeRegion === activeRegion &&
          (item?.fencingToken ?? 0) === fencingToken &&
          item?.phase !== "fenced";
        if (ok) {
          const stored = world.table.get("active-region");
          world.table.set("active-region", {
            ...stored,
            peerSeenAt: at,
            leaseRequired: arm ? true : (stored?.leaseRequired ?? true),
          });
        }
        return ok;
      },
      async setPhase(activeRegion, fencingToken, phase, at, armLease) {
        c("dynamodb:UpdateItem active-region phase", { activeRegion, fencingToken, phase });
        const item = world.table.get("active-region");
        const ok =
          item?.activeRegion === activeRegion &&
          item?.fencingToken === fencingToken &&
          item?.phase !== phase;
        if (ok)
          world.table.set("active-region", {
            ...item,
            phase,
            phaseChangedAt: at,
            ...(armLease ? { leaseRequired: true, peerSeenAt: at } : {}),
          });
        return ok;
      },
      async getLock() {
        c("dynamodb:GetItem failover-lock");
        const item = world.lockIn(region);
        return item ? (structuredClone(item) as unknown as LockItem) : null;
      },
      async putLock(lock, nowEpoch) {
        c("dynamodb:PutItem failover-lock", { lock });
        const item = world.table.get("failover-lock") as LockItem | undefined;
        if (item && item.expiresAt >= nowEpoch) return false;
        world.table.set(
          "failover-lock",
          structuredClone(lock) as unknown as Record<string, unknown>,
        );
        return true;
      },
      // One table for both regions here: the cross-region race is the chaos world's
      // (test/chaos/world/dynamodb.ts replicates each copy with a delay).
      async claimLock(lock, nowEpoch, over) {
        c("dynamodb:PutItem failover-lock", { lock, over });
        const item = world.table.get("failover-lock") as LockItem | undefined;
        if (
          item &&
          item.expiresAt >= nowEpoch &&
          item.owner !== lock.owner &&
          // As the adapter's condition: over another run only before it recorded its scope.
          (over === undefined || item.owner !== over || item.facts?.[LOCK_SCOPE_FACT] !== undefined)
        )
          return false;
        world.table.set(
          "failover-lock",
          structuredClone(lock) as unknown as Record<string, unknown>,
        );
        return true;
      },
      async recordFact(owner, name, value) {
        c("dynamodb:UpdateItem failover-lock", { name, value });
        const item = world.table.get("failover-lock") as unknown as LockItem | undefined;
        if (!item || item.owner !== owner) return null;
        const facts = item.facts as Record<string, string | number>;
        facts[name] ??= value;
        return facts[name] as string | number;
      },
      async renewLock(owner, expiresAt) {
        c("dynamodb:UpdateItem failover-lock renew", { owner, expiresAt });
        const item = world.table.get("failover-lock");
        if (!item || item.owner !== owner) return false;
        world.table.set("failover-lock", { ...item, expiresAt });
        return true;
      },
      async deleteLock(owner) {
        c("dynamodb:DeleteItem failover-lock", { owner });
        const item = world.table.get("failover-lock");
        if (item && item.owner !== owner) return false;
        world.table.delete("failover-lock");
        return true;
      },
      async getCooldown() {
        c("dynamodb:GetItem failover-cooldown");
        const item = world.table.get("failover-cooldown");
        return item ? ({ ...item } as unknown as CooldownItem) : null;
      },
      async putCooldown(cooldown) {
        c("dynamodb:PutItem failover-cooldown", { cooldown });
        world.table.set("failover-cooldown", { ...cooldown });
      },
      async getReadiness(readinessRegion) {
        c("dynamodb:GetItem readiness", { region: readinessRegion });
        const item = world.table.get(`readiness#${readinessRegion}`);
        return item ? (structuredClone(item.evaluation) as ReadinessRecord) : null;
      },
      async putReadiness(record) {
        c("dynamodb:PutItem readiness", { region: record.region });
        world.table.set(`readiness#${record.region}`, { evaluation: structuredClone(record) });
      },
    },
    parameters: {
      async get(name) {
        c("ssm:GetParameter", { name });
        return world.ssm[region]!.get(name) ?? null;
      },
      async put(name, value) {
        c("ssm:PutParameter", { name, value });
        world.ssm[region]!.set(name, value);
      },
    },
    metrics: {
      async put(_namespace, data) {
        c("cloudwatch:PutMetricData", { data });
        world.metrics[region]!.push(...data);
      },
      async probeResults(probedRegion) {
        c("cloudwatch:GetMetricData", { probedRegion });
        return world.probes[probedRegion] ?? [];
      },
      async replicationLag(clusterIdentifier) {
        c("cloudwatch:GetMetricData", { clusterIdentifier });
        const history = world.lagHistory[clusterIdentifier];
        if (history) return history[0] ?? null;
        const lag = world.lagMs[clusterIdentifier];
        return lag === null || lag === undefined
          ? null
          : { lagMs: lag, at: new Date(world.clock).toISOString() };
      },
      async replicationLagHistory(clusterIdentifier) {
        c("cloudwatch:GetMetricData", { clusterIdentifier, history: true });
        const history = world.lagHistory[clusterIdentifier];
        if (history) return history;
        const lag = world.lagMs[clusterIdentifier];
        return lag === null || lag === undefined
          ? []
          : [{ lagMs: lag, at: new Date(world.clock).toISOString() }];
      },
    },
    events: {
      async put(event) {
        c("events:PutEvents", { event });
        world.events[region]!.push(event);
      },
    },
    replica: readerThenHealth(
      {
        async writerHeartbeat() {
          c("lambda:Invoke heartbeat reader");
          if (world.readerState[region] === "throttled") {
            throw new TransientError(
              "lambda:InvokeFunction heartbeat reader failed: TooManyRequestsException Rate Exceeded.",
            );
          }
          const at = world.heartbeatAt[region];
          if (at === null) return null;
          const writer = world.heartbeatWriter[region];
          return {
            beatAt: new Date(at ?? world.clock).toISOString(),
            ...(writer !== undefined ? { writer } : {}),
          };
        },
      },
      {
        // HealthReplica's reading of GET /health: the beat without its writer; a flooded one
        // answers API Gateway's 500 body, read as no beat.
        async writerHeartbeat() {
          c("GET /health (heartbeat)");
          if (world.healthFlooded[region]) return null;
          const at = world.heartbeatAt[region];
          if (at === null) return null;
          return { beatAt: new Date(at ?? world.clock).toISOString() };
        },
      },
    ),
    notifier: {
      async publish(subject, message) {
        c("sns:Publish", { subject });
        world.messages[region]!.push({ subject, message });
      },
    },
  };
}

function dnsOf(world: FakeWorld): DnsPort {
  // Route 53's control plane is in us-east-1.
  const c = (op: string) => world.call(EAST, "dns", op);
  return {
    async healthCheckStatus(id) {
      c("route53:GetHealthCheckStatus");
      return world.healthChecks.get(id) ?? "unhealthy";
    },
    async failoverRecords() {
      c("route53:ListResourceRecordSets");
      // Alias names come back fully qualified.
      return [...world.records].map(([region, failover]) => ({
        setIdentifier: failover.toLowerCase(),
        failover,
        aliasDnsName: `${world.topology.regions[region]!.apiDomainTarget!.dnsName.toUpperCase()}.`,
      }));
    },
    async makePrimary(_zone, _name, primary: DnsTarget, secondary: DnsTarget) {
      c("route53:ChangeResourceRecordSets");
      world.records.set(primary.region, "PRIMARY");
      world.records.set(secondary.region, "SECONDARY");
    },
  };
}
