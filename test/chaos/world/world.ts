// The chaos world: both regions, their services (one module each, next to this file), the
// network between them and the virtual clock, behind the same ports the AWS adapters implement
// (functions/dr/shared/ports.ts). Every call a DR task makes goes through `call`, which charges
// the drawn latency, meets the network's faults with the client profile's attempts and timeouts
// (functions/dr/shared/aws/clients.ts) and refuses to act for a Lambda that was killed.
import { CONTROL, FENCE_PHASE, PARAMETERS } from "../../../functions/common/contract";
import type {
  DrDatabaseSpec,
  DrTopology,
  ReadinessRecord,
} from "../../../functions/common/contract";
import type { DrDeps } from "../../../functions/dr/shared/deps";
import { PROFILES } from "../../../functions/dr/shared/aws/clients";
import { activeRegionFlagOf } from "../../../functions/dr/shared/aws/control-table";
import {
  DependencyError,
  ManagedFailoverUnavailableError,
  TransientError,
} from "../../../functions/dr/shared/errors";
import type {
  CooldownItem,
  DnsPort,
  HeartbeatWatch,
  HttpPort,
  HttpResponse,
  LockItem,
  Profile,
  RegionPorts,
} from "../../../functions/dr/shared/ports";
import { LOCK_SCOPE_FACT } from "../../../functions/dr/shared/ports";
import { DEFAULT_SETTINGS } from "../../../functions/dr/shared/settings";
import { reportLocation, validateReportInput } from "../../../functions/reports/shared/model";
import type { ReportLocation, RunReportInput } from "../../../functions/reports/shared/model";
import type { DrSettings } from "../../../functions/dr/shared/settings";
import {
  deployedWritePath,
  fenceSettleSeconds,
  leaseSettleSeconds,
} from "../../../infra/lib/fence-bound";
import { AuroraGlobal, RdsFault } from "./aurora";
import { VirtualClock } from "./clock";
import { Detection } from "./cloudwatch";
import { GlobalTable } from "./dynamodb";
import type { Item } from "./dynamodb";
import { Network } from "./network";
import type { Service } from "./network";
import { RegionPayments, WRITE_TIMEOUT_MS } from "./payments";
import type { PaymentCommit } from "./payments";
import { Random } from "./random";
import { RegionServices, Route53 } from "./services";

export const EAST = "us-east-1";
export const WEST = "us-west-2";
const ACCOUNT = "123456789012";

export const CHAOS_TOPOLOGY: DrTopology = {
  environmentSuffix: "chaos",
  globalClusterIdentifier: "payments-global-chaos",
  parameterPrefix: "/payments/chaos",
  controlTable: "payments-control-chaos",
  dns: { hostedZoneId: "ZONE123", recordName: "api.pay.acme-corp.com" },
  regions: {
    [EAST]: {
      region: EAST,
      role: "primary",
      clusterArn: `arn:aws:rds:${EAST}:${ACCOUNT}:cluster:payments-use1-chaos`,
      clusterIdentifier: "payments-use1-chaos",
      apiUrl: "https://use1.api.chaos",
      eventBusName: "payments-use1-chaos",
      alertTopicArn: `arn:aws:sns:${EAST}:${ACCOUNT}:payments-alerts-use1-chaos`,
      healthCheckId: "hc-use1",
      apiDomainTarget: {
        dnsName: "d-use1.execute-api.us-east-1.amazonaws.com",
        hostedZoneId: "Z1",
      },
    },
    [WEST]: {
      region: WEST,
      role: "secondary",
      clusterArn: `arn:aws:rds:${WEST}:${ACCOUNT}:cluster:payments-usw2-chaos`,
      clusterIdentifier: "payments-usw2-chaos",
      apiUrl: "https://usw2.api.chaos",
      eventBusName: "payments-usw2-chaos",
      alertTopicArn: `arn:aws:sns:${WEST}:${ACCOUNT}:payments-alerts-usw2-chaos`,
      healthCheckId: "hc-usw2",
      apiDomainTarget: {
        dnsName: "d-usw2.execute-api.us-west-2.amazonaws.com",
        hostedZoneId: "Z2",
      },
    },
  },
};

export const API_KEY = "chaos-key-1";

/** The one instance class of the modelled clusters (the world does not model classes). */
const CHAOS_INSTANCE_CLASS = "db.r6g.large";

/** How Terraform builds each cluster (DR_DATABASE), for the Rebuild task. */
export const CHAOS_DATABASE: DrDatabaseSpec = {
  engine: "aurora-postgresql",
  engineVersion: "16.6",
  instanceClass: CHAOS_INSTANCE_CLASS,
  backupRetentionPeriod: 7,
  preferredBackupWindow: "02:00-02:30",
  preferredMaintenanceWindow: "sun:05:00-sun:05:30",
  deletionProtection: true,
  iamDatabaseAuthentication: true,
  monitoringRoleArn: `arn:aws:iam::${ACCOUNT}:role/payments-rds-monitoring-chaos`,
  monitoringInterval: 15,
  caCertificateIdentifier: "rds-ca-rsa2048-g1",
  regions: Object.fromEntries(
    [EAST, WEST].map((region) => {
      const id = CHAOS_TOPOLOGY.regions[region]!.clusterIdentifier;
      // The multi-Region key's replica in each region (an mrk- id is the same in every region).
      const key = `arn:aws:kms:${region}:${ACCOUNT}:key/mrk-0123456789abcdef`;
      return [
        region,
        {
          clusterIdentifier: id,
          kmsKeyId: key,
          dbSubnetGroupName: `payments-db-${region}-chaos`,
          vpcSecurityGroupIds: [`sg-db-${region}`],
          dbClusterParameterGroupName: `payments-db-${region}-chaos`,
          // The instance the deployed cluster has: the old primary's must be renamed first.
          readerInstanceIdentifiers: [`${id}-1`],
          performanceInsightsKmsKeyId: key,
        },
      ];
    }),
  ),
};

/** One Lambda invocation of a DR task: where it runs and whether it was killed. */
export interface Invocation {
  readonly region: string;
  readonly execution: string;
  readonly workflow: string;
  readonly sourceRegion: string | undefined;
  killed: boolean;
}

export interface CallRecord {
  readonly at: number;
  readonly execution: string;
  readonly workflow: string;
  readonly sourceRegion: string | undefined;
  readonly region: string;
  readonly profile: Profile | "dns" | "http";
  readonly op: string;
}

export interface WorldOptions {
  readonly seed: number;
  readonly start: number;
  /** Largest DynamoDB replication delay of the run, seconds. */
  readonly ddbMaxDelaySeconds: number;
  /** Draws a promotion's duration, seconds. */
  readonly promotionSeconds: (random: Random) => number;
  readonly rpoSeconds: number;
  /** The world starts after a failover to us-west-2 (for failback runs). */
  readonly afterFailover: boolean;
  readonly lagMetricWhileCut: "grows" | "missing";
}

class KilledError extends Error {
  override name = "Sandbox.Timedout";
}

export class ChaosWorld {
  readonly clock: VirtualClock;
  readonly random: Random;
  readonly network: Network;
  readonly table: GlobalTable;
  readonly aurora: AuroraGlobal;
  readonly payments: Record<string, RegionPayments>;
  readonly services: Record<string, RegionServices>;
  readonly route53 = new Route53();
  readonly detection: Detection;
  readonly topology = CHAOS_TOPOLOGY;
  readonly calls: CallRecord[] = [];
  readonly paymentCommits: PaymentCommit[] = [];
  settings: DrSettings;
  /** Callbacks on each payment commit (the invariants). */
  readonly commitListeners: ((commit: PaymentCommit) => void)[] = [];
  /** Callbacks when an alarm starts the failover workflow. */
  readonly alarmListeners: ((alarm: string) => void)[] = [];
  /** Set when an internal event resolved something the code under test awaits. */
  wake = false;

  constructor(readonly options: WorldOptions) {
    this.clock = new VirtualClock(options.start);
    this.random = new Random(options.seed);
    this.network = new Network(this.random);
    this.table = new GlobalTable(
      [EAST, WEST],
      this.clock,
      this.network,
      this.random,
      options.ddbMaxDelaySeconds,
    );
    const writer = options.afterFailover ? WEST : EAST;
    this.aurora = new AuroraGlobal(
      CHAOS_TOPOLOGY.globalClusterIdentifier,
      [EAST, WEST].map((region) => ({
        region,
        arn: CHAOS_TOPOLOGY.regions[region]!.clusterArn,
        identifier: CHAOS_TOPOLOGY.regions[region]!.clusterIdentifier,
        role: region === writer ? ("writer" as const) : ("secondary" as const),
        // Only the deployed primary's parameter group sets the guard.
        rpoSeconds: region === EAST ? options.rpoSeconds : null,
      })),
      this.clock,
      this.network,
      this.random,
      () => options.promotionSeconds(this.random),
    );
    this.aurora.lagMetricWhileCut = options.lagMetricWhileCut;
    this.payments = Object.fromEntries(
      [EAST, WEST].map((region) => [
        region,
        new RegionPayments(
          region,
          this.clock,
          this.network,
          this.random,
          this.table,
          this.aurora,
          (c) => {
            this.paymentCommits.push(c);
            for (const listen of this.commitListeners) listen(c);
          },
        ),
      ]),
    );
    this.services = { [EAST]: new RegionServices(EAST), [WEST]: new RegionServices(WEST) };
    this.detection = new Detection(
      WEST,
      EAST,
      (region) => CHAOS_TOPOLOGY.regions[region]!.clusterIdentifier,
      this.clock,
      this.network,
      this.table,
      this.aurora,
      this.payments,
      (alarm) => this.alarmListeners.forEach((listen) => listen(alarm)),
      options.rpoSeconds,
    );
    this.detection.leaseRandom = new Random((options.seed ^ 0x1ea5e) >>> 0);
    const settle = fenceSettleSeconds(deployedWritePath(WRITE_TIMEOUT_MS / 1000));
    this.settings = {
      ...DEFAULT_SETTINGS,
      fenceSettleSeconds: settle,
      leaseSettleSeconds: leaseSettleSeconds(deployedWritePath(WRITE_TIMEOUT_MS / 1000)),
      dbRpoSeconds: options.rpoSeconds,
    };
    this.seed(writer);
    this.detection.backfill(writer === EAST ? WEST : EAST, this.random);
  }

  private seed(writer: string): void {
    const prefix = CHAOS_TOPOLOGY.parameterPrefix;
    this.table.seed(
      CONTROL.activeRegionItem,
      writer === EAST
        ? {
            activeRegion: EAST,
            fencingToken: 0,
            updatedAt: "",
            updatedBy: "terraform",
            phase: "open",
          }
        : {
            activeRegion: WEST,
            fencingToken: 1,
            updatedAt: "",
            updatedBy: "earlier-failover",
            phase: "open",
            previousRegion: EAST,
            // An unplanned failover's flag: the peer lease is off until a failback arms it.
            leaseRequired: false,
          },
    );
    for (const region of [EAST, WEST]) {
      const ssm = this.services[region]!.parameters;
      ssm.set(`${prefix}/${PARAMETERS.drVerifyApiKey}`, API_KEY);
      ssm.set(`${prefix}/${PARAMETERS.writerEndpoint}`, this.aurora.globalEndpoint);
      ssm.set(`${prefix}/${PARAMETERS.activeRegion}`, writer);
    }
    this.route53.records.set(writer, "PRIMARY");
    this.route53.records.set(writer === EAST ? WEST : EAST, "SECONDARY");
  }

  flag(region: string): Item | undefined {
    return this.table.read(region, CONTROL.activeRegionItem);
  }

  /**
   * Operations whose next call lands and loses its answer (the "lost" fault, scripted for one
   * call rather than drawn for a share): the SDK then retries it.
   */
  readonly loseNextAnswer = new Set<string>();

  /** One API call of a DR task, as its SDK client would make it. */
  private async call<T>(
    inv: Invocation,
    region: string,
    service: Service,
    profile: Profile | "dns" | "http",
    op: string,
    effect: () => T,
    timeoutMs?: number,
  ): Promise<T> {
    this.calls.push({
      at: this.clock.now,
      execution: inv.execution,
      workflow: inv.workflow,
      sourceRegion: inv.sourceRegion,
      region,
      profile,
      op,
    });
    const p =
      PROFILES[profile === "dns" ? "bestEffort" : profile === "http" ? "bestEffort" : profile];
    const requestMs = timeoutMs ?? p.requestTimeout;
    let last = "";
    for (let attempt = 1; attempt <= p.maxAttempts; attempt += 1) {
      if (inv.killed) throw new KilledError("the Lambda was stopped");
      const scripted = attempt === 1 && this.loseNextAnswer.delete(op);
      const outcome = scripted
        ? "lost"
        : this.network.outcome(inv.region, region, service, this.clock.now);
      const latency = this.network.latencyMs(inv.region, region);
      if (outcome === "hang") {
        await this.clock.sleep(p.connectionTimeout);
        last = "connect ETIMEDOUT";
      } else if (outcome === "throttle" || outcome === "error") {
        await this.clock.sleep(latency);
        last =
          outcome === "throttle" ? "ThrottlingException: Rate exceeded" : "InternalError (500)";
      } else if (outcome === "lost") {
        // It lands; the answer never comes back.
        await this.clock.sleep(latency / 2);
        if (inv.killed) throw new KilledError("the Lambda was stopped");
        try {
          effect();
        } catch {
          // The caller never learns what it said.
        }
        await this.clock.sleep(Math.max(0, requestMs - latency / 2));
        last = "RequestTimeout: no answer (the call went through)";
      } else {
        await this.clock.sleep(latency / 2);
        if (inv.killed) throw new KilledError("the Lambda was stopped");
        const result = effect();
        await this.clock.sleep(latency / 2);
        return result;
      }
      if (attempt < p.maxAttempts) {
        await this.clock.sleep(this.random.uniform(0, outcome === "throttle" ? 1000 : 200));
      }
    }
    throw new TransientError(`${op} in ${region} (${profile}): ${last}`);
  }

  deps(inv: Invocation): DrDeps {
    return {
      topology: CHAOS_TOPOLOGY,
      database: CHAOS_DATABASE,
      settings: this.settings,
      ports: (region, profile) => this.ports(inv, region, profile),
      dns: () => this.dns(inv),
      http: this.http(inv),
      reports: { submit: (report) => this.submitReport(inv, report) },
      now: () => new Date(this.clock.now),
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
      executionRegion: inv.region,
    };
  }

  /** Run reports handed to each region's report writer (an async Lambda invoke in that region). */
  readonly reports: RunReportInput[] = [];

  private submitReport(inv: Invocation, report: RunReportInput): Promise<ReportLocation> {
    return this.call(inv, inv.region, "lambda", "bestEffort", "lambda:Invoke report-writer", () => {
      // The writer refuses a malformed report: the tasks must hand over one it accepts.
      this.reports.push(validateReportInput(report));
      const bucket = `payments-dr-reports-${inv.region}-chaos`;
      return reportLocation(bucket, inv.region, report.kind, report.runId, report.startedAt);
    });
  }

  private ports(inv: Invocation, region: string, profile: Profile): RegionPorts {
    // An RDS fault as the adapter (shared/aws/rds.ts) reports it: a named DependencyError, except
    // the one that says an earlier attempt already did it (a retried create), which is success.
    const rds = (effect: () => void, done?: string) => {
      try {
        effect();
      } catch (error) {
        if (!(error instanceof RdsFault)) throw error;
        if (error.code === done) return;
        throw new DependencyError(error.message);
      }
    };
    const call = <T>(service: Service, op: string, effect: () => T) =>
      this.call(inv, region, service, profile, op, effect);
    const aurora = this.aurora;
    const table = this.table;
    const key = (name: string) => name;
    const services = this.services[region]!;
    const detection = this.detection;
    const clock = this.clock;
    const http = (i: Invocation) => this.http(i);
    const settings = this.settings;
    return {
      region,
      database: {
        describeGlobalCluster: (id) =>
          call("rds", "rds:DescribeGlobalClusters", () => {
            if (id !== aurora.globalIdentifier || !aurora.globalExists) return null;
            const change = aurora.change && !aurora.change.completed ? aurora.change : undefined;
            return {
              identifier: id,
              status: change
                ? change.kind === "switchover"
                  ? "switching-over"
                  : "failing-over"
                : aurora.globalStatus,
              endpoint: aurora.globalEndpoint,
              deletionProtection: aurora.globalDeletionProtection,
              members: Object.values(aurora.clusters)
                .filter((c) => c.exists && c.member)
                .map((c) => ({ clusterArn: c.arn, isWriter: c.region === aurora.writer })),
              ...(change && change.kind !== "detach"
                ? {
                    failover: {
                      status: change.kind === "switchover" ? "switching-over" : "failing-over",
                      fromClusterArn: aurora.clusters[change.from]!.arn,
                      toClusterArn: aurora.clusters[change.to]!.arn,
                      isDataLossAllowed: change.kind === "failover",
                    },
                  }
                : {}),
            };
          }),
        describeCluster: (identifier) =>
          call("rds", "rds:DescribeDBClusters", () => {
            // DescribeDBClusters is regional: another region's cluster is not found.
            const c = aurora.clusterIn(region, identifier);
            if (!c) return null;
            return {
              arn: c.arn,
              status: c.status,
              endpoint: c.endpoint,
              instances: [...c.instances],
              ...(c.member ? { globalClusterIdentifier: aurora.globalIdentifier } : {}),
              // One engine version in this world: the config's (the engine check is unit-tested).
              engine: CHAOS_DATABASE.engine,
              engineVersion: CHAOS_DATABASE.engineVersion,
            };
          }),
        failoverGlobalCluster: (_id, targetArn) =>
          call("rds", "rds:FailoverGlobalCluster", () => {
            const to = aurora.regionOfArn(targetArn)!;
            if (to !== region) throw new DependencyError("DBClusterNotFoundFault");
            const result = aurora.failover(to);
            if (result !== "ok") {
              throw new ManagedFailoverUnavailableError(
                `FailoverGlobalCluster refused: ${result}`,
                result,
              );
            }
          }),
        switchoverGlobalCluster: (_id, targetArn) =>
          call("rds", "rds:SwitchoverGlobalCluster", () => {
            if (region !== aurora.writer)
              throw new DependencyError("InvalidGlobalClusterStateFault");
            const result = aurora.switchover(aurora.regionOfArn(targetArn)!);
            if (result !== "ok")
              throw new DependencyError(`rds:SwitchoverGlobalCluster: ${result}`);
          }),
        removeFromGlobalCluster: (_id, clusterArn) =>
          call("rds", "rds:RemoveFromGlobalCluster", () => {
            const result = aurora.detach(aurora.regionOfArn(clusterArn)!);
            // What the adapter makes of the API's documented faults (shared/aws/rds.ts).
            if (result !== "ok")
              throw new DependencyError(`rds:RemoveFromGlobalCluster: ${result}`, { code: result });
          }),
        // Re-protect's calls, each regional like the API (another region's objects are not found).
        describeInstance: (identifier) =>
          call("rds", "rds:DescribeDBInstances", () => {
            const i = aurora.instanceOf(region, identifier);
            return i
              ? {
                  identifier: i.identifier,
                  status: i.status,
                  clusterIdentifier: i.clusterIdentifier,
                  instanceClass: CHAOS_INSTANCE_CLASS,
                }
              : null;
          }),
        // RestoreCapacity's count of the promoted cluster's instances (the chaos runs carry no
        // DR_CAPACITY unless a scenario sets one, so it usually only says why it adds nothing).
        instances: (clusterIdentifier) =>
          call("rds", "rds:DescribeDBInstances", () =>
            aurora.instances
              .filter((i) => i.region === region && i.clusterIdentifier === clusterIdentifier)
              .map((i) => ({
                identifier: i.identifier,
                status: i.status,
                clusterIdentifier: i.clusterIdentifier,
                instanceClass: CHAOS_INSTANCE_CLASS,
              })),
          ),
        describeClusterSnapshot: (identifier) =>
          call("rds", "rds:DescribeDBClusterSnapshots", () => {
            const snap = aurora.snapshotOf(region, identifier);
            return snap
              ? {
                  identifier: snap.identifier,
                  status: snap.status,
                  clusterIdentifier: snap.clusterIdentifier,
                }
              : null;
          }),
        listClusterSnapshots: (clusterIdentifier) =>
          call("rds", "rds:DescribeDBClusterSnapshots", () =>
            aurora.snapshots
              .filter((s) => s.region === region && s.clusterIdentifier === clusterIdentifier)
              .map((s) => ({
                identifier: s.identifier,
                status: s.status,
                clusterIdentifier: s.clusterIdentifier,
                ...(s.createdAt !== undefined
                  ? { createdAt: new Date(s.createdAt).toISOString() }
                  : {}),
              }))
              .sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? "")),
          ),
        copyClusterSnapshot: (source, target) =>
          call("rds", "rds:CopyDBClusterSnapshot", () =>
            rds(
              () => aurora.copySnapshot(region, source, target),
              "DBClusterSnapshotAlreadyExistsFault",
            ),
          ),
        createClusterSnapshot: (clusterIdentifier, identifier) =>
          call("rds", "rds:CreateDBClusterSnapshot", () =>
            rds(
              () => aurora.createSnapshot(region, clusterIdentifier, identifier),
              "DBClusterSnapshotAlreadyExistsFault",
            ),
          ),
        renameCluster: (identifier, newIdentifier) =>
          call("rds", "rds:ModifyDBCluster", () =>
            rds(() => aurora.renameCluster(region, identifier, newIdentifier)),
          ),
        renameInstance: (identifier, newIdentifier) =>
          call("rds", "rds:ModifyDBInstance", () =>
            rds(() => aurora.renameInstance(region, identifier, newIdentifier)),
          ),
        unprotectGlobalCluster: () =>
          call("rds", "rds:ModifyGlobalCluster", () => rds(() => aurora.modifyGlobal(false))),
        deleteGlobalCluster: () =>
          call("rds", "rds:DeleteGlobalCluster", () =>
            rds(() => aurora.deleteGlobal(), "GlobalClusterNotFoundFault"),
          ),
        createGlobalCluster: (_id, sourceArn, deletionProtection) =>
          call("rds", "rds:CreateGlobalCluster", () =>
            rds(
              () => aurora.createGlobal(region, sourceArn, deletionProtection),
              "GlobalClusterAlreadyExistsFault",
            ),
          ),
        createSecondaryCluster: (request) =>
          call("rds", "rds:CreateDBCluster", () =>
            rds(
              () => aurora.createSecondary(region, request.clusterIdentifier, request.kmsKeyId),
              "DBClusterAlreadyExistsFault",
            ),
          ),
        createInstance: (request) =>
          call("rds", "rds:CreateDBInstance", () => {
            if (aurora.instanceOf(region, request.identifier)) {
              // What a retried call meets when its first answer was lost.
              return "exists" as const;
            }
            rds(() => aurora.createInstance(region, request.identifier, request.clusterIdentifier));
            return "created" as const;
          }),
        deleteInstance: (identifier) =>
          call("rds", "rds:DeleteDBInstance", () => {
            if (!aurora.instanceOf(region, identifier)) return "gone" as const;
            rds(() => aurora.deleteInstance(region, identifier));
            return "deleting" as const;
          }),
      },
      control: {
        getActiveRegion: () =>
          call("dynamodb", "dynamodb:GetItem active-region", () =>
            activeRegionFlagOf(table.read(region, CONTROL.activeRegionItem)),
          ),
        putActiveRegion: (expected, next) =>
          call("dynamodb", "dynamodb:UpdateItem active-region", () =>
            table.write(region, key(CONTROL.activeRegionItem), (current) => {
              const ok = expected
                ? current?.activeRegion === expected.activeRegion &&
                  (expected.fencingToken === 0
                    ? current.fencingToken === undefined || current.fencingToken === 0
                    : current.fencingToken === expected.fencingToken)
                : current === undefined;
              // As the adapter writes it: leaseRequired always, peerSeenAt when given, and the
              // previous move's promotingAt removed.
              if (!ok) return false;
              const { promotingAt: _previous, ...rest } = current ?? {};
              return { ...rest, ...next, leaseRequired: next.leaseRequired ?? false };
            }),
          ),
        markPromoting: (activeRegion, fencingToken, at) =>
          call("dynamodb", "dynamodb:UpdateItem active-region promoting", () =>
            table.write(region, CONTROL.activeRegionItem, (current) =>
              current?.activeRegion === activeRegion &&
              current.fencingToken === fencingToken &&
              current.phase === FENCE_PHASE.fenced
                ? { ...current, promotingAt: current.promotingAt ?? at }
                : false,
            ),
          ),
        renewPeerLease: (activeRegion, fencingToken, at, arm = false) =>
          call("dynamodb", "dynamodb:UpdateItem active-region peer lease", () =>
            table.write(region, CONTROL.activeRegionItem, (current) =>
              current?.activeRegion === activeRegion &&
              (current.fencingToken ?? 0) === fencingToken &&
              current.phase !== FENCE_PHASE.fenced
                ? {
                    ...current,
                    peerSeenAt: at,
                    leaseRequired: arm ? true : (current.leaseRequired ?? true),
                  }
                : false,
            ),
          ),
        setPhase: (activeRegion, fencingToken, phase, at, armLease) =>
          call("dynamodb", "dynamodb:UpdateItem active-region phase", () =>
            table.write(region, CONTROL.activeRegionItem, (current) =>
              current?.activeRegion === activeRegion &&
              current.fencingToken === fencingToken &&
              current.phase !== phase
                ? {
                    ...current,
                    phase,
                    phaseChangedAt: at,
                    ...(armLease ? { leaseRequired: true, peerSeenAt: at } : {}),
                  }
                : false,
            ),
          ),
        getLock: () =>
          call("dynamodb", "dynamodb:GetItem failover-lock", () => {
            const item = table.read(region, CONTROL.lockItem);
            return item ? (item as unknown as LockItem) : null;
          }),
        putLock: (lock, nowEpoch) =>
          call("dynamodb", "dynamodb:PutItem failover-lock", () =>
            table.write(region, CONTROL.lockItem, (current) =>
              current === undefined || (current.expiresAt as number) < nowEpoch
                ? (structuredClone(lock) as unknown as Item)
                : false,
            ),
          ),
        claimLock: (lock, nowEpoch, over) =>
          call("dynamodb", "dynamodb:PutItem failover-lock", () =>
            table.write(region, CONTROL.lockItem, (current) =>
              current === undefined ||
              (current.expiresAt as number) < nowEpoch ||
              current.owner === lock.owner ||
              // As the adapter's condition: over another run only before it recorded its scope.
              (over !== undefined &&
                current.owner === over &&
                (current.facts as Record<string, unknown> | undefined)?.[LOCK_SCOPE_FACT] ===
                  undefined)
                ? (structuredClone(lock) as unknown as Item)
                : false,
            ),
          ),
        recordFact: (owner, name, value) =>
          call("dynamodb", "dynamodb:UpdateItem failover-lock", () => {
            let stored: string | number | null = null;
            table.write(region, CONTROL.lockItem, (current) => {
              if (!current || current.owner !== owner) return false;
              const facts = { ...(current.facts as Record<string, string | number>) };
              facts[name] ??= value;
              stored = facts[name]!;
              return { ...current, facts };
            });
            return stored;
          }),
        renewLock: (owner, expiresAt) =>
          call("dynamodb", "dynamodb:UpdateItem failover-lock", () =>
            table.write(region, CONTROL.lockItem, (current) =>
              current && current.owner === owner ? { ...current, expiresAt } : false,
            ),
          ),
        deleteLock: (owner) =>
          call("dynamodb", "dynamodb:DeleteItem failover-lock", () => {
            const current = table.read(region, CONTROL.lockItem);
            if (current && current.owner !== owner) return false;
            if (current) table.write(region, CONTROL.lockItem, () => undefined);
            return true;
          }),
        getHeartbeatWatch: () =>
          call("dynamodb", "dynamodb:GetItem writer-heartbeat-watch", () => {
            const item = table.read(region, CONTROL.heartbeatWatchItem);
            return item ? (structuredClone(item) as unknown as HeartbeatWatch) : null;
          }),
        putHeartbeatWatch: (next, previousCheckedAt) =>
          call("dynamodb", "dynamodb:PutItem writer-heartbeat-watch", () =>
            table.write(region, CONTROL.heartbeatWatchItem, (current) =>
              (current?.checkedAt ?? null) === previousCheckedAt ? { ...next } : false,
            ),
          ),
        getCooldown: () =>
          call("dynamodb", "dynamodb:GetItem failover-cooldown", () => {
            const item = table.read(region, CONTROL.cooldownItem);
            return item ? (item as unknown as CooldownItem) : null;
          }),
        putCooldown: (cooldown) =>
          call("dynamodb", "dynamodb:PutItem failover-cooldown", () => {
            table.write(region, CONTROL.cooldownItem, () => ({ ...cooldown }));
          }),
        // The readiness item, replicated like every item of the global table.
        getReadiness: (of) =>
          call("dynamodb", "dynamodb:GetItem readiness", () => {
            const item = table.read(region, `${CONTROL.readinessItemPrefix}${of}`);
            return item ? (structuredClone(item.evaluation) as ReadinessRecord) : null;
          }),
        putReadiness: (record) =>
          call("dynamodb", "dynamodb:PutItem readiness", () => {
            table.write(region, `${CONTROL.readinessItemPrefix}${record.region}`, () => ({
              evaluation: structuredClone(record) as unknown as Item[string],
            }));
          }),
      },
      parameters: {
        get: (name) => call("ssm", "ssm:GetParameter", () => services.parameters.get(name) ?? null),
        put: (name, value) =>
          call("ssm", "ssm:PutParameter", () => {
            services.parameters.set(name, value);
          }),
      },
      metrics: {
        put: (_namespace, data) =>
          call("cloudwatch", "cloudwatch:PutMetricData", () => {
            services.metrics.push(...data);
          }),
        probeResults: (_probed, since) =>
          call("cloudwatch", "cloudwatch:GetMetricData probes", () =>
            region === WEST ? detection.probeResults(since.getTime()) : [],
          ),
        replicationLag: (cluster, since) =>
          call(
            "cloudwatch",
            "cloudwatch:GetMetricData lag",
            () => detection.lagHistory(region, cluster, since.getTime())[0] ?? null,
          ),
        replicationLagHistory: (cluster, since) =>
          call("cloudwatch", "cloudwatch:GetMetricData lag history", () =>
            detection.lagHistory(region, cluster, since.getTime()),
          ),
      },
      events: {
        put: (event) =>
          call("events", "events:PutEvents", () => {
            services.events.push(event);
          }),
      },
      notifier: {
        publish: (subject, message) =>
          call("sns", "sns:Publish", () => {
            services.messages.push({ at: clock.now, subject, message });
          }),
      },
      replica: {
        writerHeartbeat: async () => {
          const response = await http(inv).request(
            "GET",
            `${CHAOS_TOPOLOGY.regions[region]!.apiUrl}/health`,
            { timeoutMs: settings.replicaTimeoutMs },
          );
          const beatAt = (response.body as { replication?: { writerHeartbeatAt?: string | null } })
            ?.replication?.writerHeartbeatAt;
          return typeof beatAt === "string" ? { beatAt } : null;
        },
      },
    };
  }

  private dns(inv: Invocation): DnsPort {
    const r53 = this.route53;
    const call = <T>(op: string, effect: () => T) =>
      this.call(inv, r53.controlPlaneRegion, "route53", "dns", op, effect);
    return {
      healthCheckStatus: (id) =>
        call("route53:GetHealthCheckStatus", () => {
          const region = Object.values(CHAOS_TOPOLOGY.regions).find((r) => r.healthCheckId === id)!;
          return this.payments[region.region]!.health().status === 200 ? "healthy" : "unhealthy";
        }),
      failoverRecords: () =>
        call("route53:ListResourceRecordSets", () =>
          [...r53.records].map(([region, failover]) => ({
            setIdentifier: failover.toLowerCase(),
            failover,
            aliasDnsName: `${CHAOS_TOPOLOGY.regions[region]!.apiDomainTarget!.dnsName}.`,
          })),
        ),
      makePrimary: (_zone, _name, primary, secondary) =>
        call("route53:ChangeResourceRecordSets", () => {
          r53.records.set(primary.region, "PRIMARY");
          r53.records.set(secondary.region, "SECONDARY");
        }),
    };
  }

  /** Each region's payments API, as a DR Lambda in `inv.region` reaches it. */
  http(inv: Invocation): HttpPort {
    return {
      request: async (method, url, options): Promise<HttpResponse> => {
        const region = Object.values(CHAOS_TOPOLOGY.regions).find((r) => url.startsWith(r.apiUrl));
        if (!region) throw new Error(`no API at ${url}`);
        const path = new URL(url).pathname;
        const work = this.call(
          inv,
          region.region,
          "api",
          "http",
          `${method} ${path}`,
          () => ({
            method,
            path,
          }),
          options.timeoutMs,
        );
        const answer = (async () => {
          await work;
          const payments = this.payments[region.region]!;
          if (method === "GET" && path === "/health") return payments.health();
          if (options.headers?.["x-api-key"] !== API_KEY) return { status: 403, body: null };
          if (method === "POST" && path === "/payments") {
            return payments.synthesize(options.headers?.["Idempotency-Key"] ?? "");
          }
          const voided = /^\/payments\/([^/]+)\/void$/.exec(path);
          if (method === "POST" && voided) return payments.voidSynthetic(voided[1]!);
          return { status: 404, body: null };
        })();
        // fetch's AbortSignal.timeout: the whole request, whatever it waits for.
        let timer: ReturnType<VirtualClock["at"]> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = this.clock.at(
            options.timeoutMs,
            () =>
              reject(
                new TransientError(`${method} ${url}: no answer within ${options.timeoutMs} ms`),
              ),
            false,
          );
        });
        answer.catch(() => undefined);
        try {
          return await Promise.race([answer, timeout]);
        } finally {
          this.clock.cancel(timer?.id);
        }
      },
    };
  }

  /** Regular world activity: heartbeats, probes, lag metrics, payment traffic. */
  startBackground(options: {
    paymentsPerSecond: Record<string, number>;
    quietShare: number;
    /** pg_cron's writer heartbeat (migration 010); off only for the negative control. */
    heartbeat?: boolean;
    /** No payments in `region` in this window (the negative control's idle primary). */
    pause?: { region: string; from: number; to: number };
  }): void {
    const every = (ms: number, fn: () => void | Promise<void>) => {
      const tick = async () => {
        await fn();
        this.clock.at(ms, tick);
      };
      this.clock.at(ms, tick);
    };
    const heartbeat = options.heartbeat ?? true;
    this.aurora.anyCommit = !heartbeat;
    every(5_000, () => {
      if (heartbeat) this.aurora.heartbeatTick();
      this.detection.sampleLag();
    });
    every(10_000, () => this.detection.probe());
    every(60_000, () => this.detection.publishLag());
    for (const region of [EAST, WEST]) {
      const rate = options.paymentsPerSecond[region] ?? 0;
      if (rate <= 0) continue;
      const next = async () => {
        // Quiet spells: sometimes nobody pays for a while (the idle primary).
        const quiet = this.random.chance(options.quietShare);
        const gap = quiet
          ? this.random.uniform(30_000, 180_000)
          : (-Math.log(1 - this.random.next()) / rate) * 1000;
        this.clock.at(gap, async () => {
          const pause = options.pause;
          const paused =
            pause?.region === region && pause.from <= this.clock.now && this.clock.now < pause.to;
          if (!paused) await this.payments[region]!.write();
          await next();
        });
      };
      void next();
    }
    // Old writers that missed a failover are fenced once the network lets Aurora reach them.
    for (const fault of this.network.faults) {
      for (const at of [fault.from, fault.to]) {
        if (Number.isFinite(at) && at >= this.clock.now) {
          this.clock.at(at - this.clock.now, () => this.aurora.networkChanged());
        }
      }
    }
  }
}
