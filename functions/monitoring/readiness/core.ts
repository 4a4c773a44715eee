// The readiness evaluator's checks: pure, no AWS imports. Each check reads the world through a
// ReadinessSource (the AWS adapter is aws.ts; tests mock the SDK under it) and yields ok / warn /
// fail / unknown with a one-line reason and the fix. A check that cannot read what it needs
// (a region that does not answer, AccessDenied) yields `unknown` or `fail` with why; no check
// ever throws out of evaluate(). Read-only: nothing here changes a resource.
//
// Modelled on AWS's Region switch plan evaluation ("Region switch runs a plan evaluation ...
// every 30 minutes during steady state", r53recovery/latest/dg/region-switch-plans.html), which
// checks permissions, resource configuration and capacity, and goes further: every check names
// its fix.
import type { DrTopology } from "../../common/contract";
import { METRICS, heartbeatReaderName } from "../../common/contract";
import type { Grant, GrantTargets } from "../../dr/shared/grants";
import { parameterArn, taskGrants } from "../../dr/shared/grants";
import type { TaskPermissions } from "../../dr/shared/permissions";
import { DR_TASK_NAMES, drTask } from "../../dr/tasks";
import type { Log } from "../../common/logger";

export type CheckStatus = "ok" | "warn" | "unknown" | "fail";

/** Metric value of each status (PaymentsDR/ReadinessCheckStatus): higher is worse. */
export const STATUS_VALUE: Readonly<Record<CheckStatus, number>> = {
  ok: 0,
  warn: 1,
  unknown: 2,
  fail: 3,
};

export interface CheckResult {
  readonly id: CheckId;
  readonly status: CheckStatus;
  /** One line: what was found. */
  readonly reason: string;
  /** One line: what to do; empty when ok. */
  readonly fix: string;
  /** Consecutive stored evaluations, this one included, in which this check could not tell. */
  readonly unknownRuns?: number;
}

export interface Evaluation {
  readonly region: string;
  readonly at: string;
  readonly overall: CheckStatus;
  /** The writer's region as Aurora reports it, when it could be read. */
  readonly activeRegion: string | null;
  readonly checks: readonly CheckResult[];
  readonly durationMs: number;
  /** The evaluator's schedule, so a reader can tell when the next one was due. */
  readonly scheduleMinutes?: number;
}

/** Why a read failed: "unreachable" (timeout, network, 5xx) or "denied" (IAM). */
export class SourceError extends Error {
  override name = "SourceError";
  constructor(
    message: string,
    readonly kind: "unreachable" | "denied" | "other",
  ) {
    super(message);
  }
}

export interface GlobalClusterInfo {
  readonly status: string;
  readonly members: readonly { readonly clusterArn: string; readonly isWriter: boolean }[];
}

export interface ClusterInfo {
  readonly arn: string;
  readonly status: string;
  readonly engineVersion: string;
}

export interface InstanceInfo {
  readonly identifier: string;
  readonly status: string;
  readonly instanceClass: string;
}

export interface KeyInfo {
  readonly arn: string;
  /** KeyState: Enabled, Disabled, PendingDeletion, PendingReplicaDeletion, ... */
  readonly state: string;
  readonly multiRegionType?: "PRIMARY" | "REPLICA";
}

export interface FunctionInfo {
  readonly codeSha256: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly runtime: string;
  readonly environmentNames: readonly string[];
  /** Reserved concurrency; undefined when unreserved. */
  readonly reservedConcurrency?: number;
}

export interface TableInfo {
  readonly status: string;
  /**
   * CreationDateTime of the table as DescribeTable answers in this region ("the date and time
   * when the table was created", API_TableDescription). For a global table's replica AWS does
   * not say whether that is the replica's creation or the table's (DOCS SILENT): either is the
   * first deploy, or a replica re-added later, which would extend the grace by that much.
   */
  readonly createdAt?: Date;
  readonly replicas: readonly { readonly region: string; readonly status: string }[];
}

export interface StateMachineInfo {
  readonly status: string;
  readonly definition: string;
}

export interface SimulationResult {
  readonly action: string;
  readonly resource: string;
  /** allowed | explicitDeny | implicitDeny | noSuchEntity (the role does not exist) */
  readonly decision: string;
}

export interface RecoveryPointInfo {
  readonly resourceArn: string;
  readonly createdAt: Date;
  readonly status: string;
  /** Set on a copy: the vault it was copied from. */
  readonly sourceVaultArn?: string;
}

/** A completed AWS Backup copy job (ListCopyJobs). */
export interface CopyJobInfo {
  /** The resource whose recovery point was copied. */
  readonly resourceArn: string;
  /** CompletionDate: when the copy landed in the destination vault. */
  readonly completedAt: Date;
}

export interface AlarmInfo {
  readonly name: string;
  readonly state: string;
  readonly since: Date;
}

/** Everything the checks read; every method is read-only. Throws SourceError. */
export interface ReadinessSource {
  globalCluster(region: string, identifier: string): Promise<GlobalClusterInfo | null>;
  cluster(region: string, identifier: string): Promise<ClusterInfo | null>;
  instances(region: string, clusterIdentifier: string): Promise<readonly InstanceInfo[]>;
  key(region: string, keyArn: string): Promise<KeyInfo>;
  functionInfo(region: string, name: string): Promise<FunctionInfo | null>;
  /** Lambda's account-level concurrency limit (GetAccountSettings). */
  accountConcurrency(region: string): Promise<number>;
  parameters(region: string, prefix: string): Promise<readonly { name: string; type: string }[]>;
  table(region: string, name: string): Promise<TableInfo | null>;
  pointInTimeRecovery(region: string, name: string): Promise<string>;
  stateMachine(region: string, arn: string): Promise<StateMachineInfo | null>;
  simulate(
    roleArn: string,
    actions: readonly string[],
    resources: readonly string[],
    context?: Readonly<Record<string, string>>,
  ): Promise<readonly SimulationResult[]>;
  /** The applied quota value, or AWS's default when none was applied; null when unknown. */
  quota(region: string, serviceCode: string, quotaCode: string): Promise<number | null>;
  /**
   * The quota's peak usage since `since`: the metric Service Quotas names for it (UsageMetric),
   * at its recommended statistic; null when the quota has no usage metric or no datapoint.
   */
  quotaUsage(
    region: string,
    serviceCode: string,
    quotaCode: string,
    since: Date,
  ): Promise<number | null>;
  recoveryPoints(
    region: string,
    vaultName: string,
    since: Date,
  ): Promise<readonly RecoveryPointInfo[]>;
  /**
   * The COMPLETED copy jobs of `region` into the vault `destinationVaultArn`, completed after
   * `since` (ListCopyJobs ByDestinationVaultArn, ByState, ByCompleteAfter).
   */
  copyJobs(
    region: string,
    destinationVaultArn: string,
    since: Date,
  ): Promise<readonly CopyJobInfo[]>;
  /** End time of the newest successful run of the SSM Automation document, or null. */
  lastSuccessfulAutomation(region: string, documentName: string): Promise<Date | null>;
  /** Newest datapoint of a metric since `since` (Maximum per minute), or null. */
  latestMetric(
    region: string,
    metric: {
      readonly namespace: string;
      readonly name: string;
      readonly dimensions: Readonly<Record<string, string>>;
    },
    since: Date,
  ): Promise<{ readonly value: number; readonly at: Date } | null>;
  alarms(region: string, namePrefix: string, state: string): Promise<readonly AlarmInfo[]>;
}

/** What the evaluator knows of the deployment (READINESS_SETTINGS, rendered by Terraform). */
export interface ReadinessSettings {
  readonly accountId: string;
  /** Physical names identical in both regions. */
  readonly paymentFunctions: readonly string[];
  /** The DR task functions, in registry order (functions/dr/tasks.ts). */
  readonly taskFunctions: readonly string[];
  /** The report writer function (the tasks that submit a run's report invoke it). */
  readonly reportWriter: string;
  readonly tables: readonly string[];
  readonly stateMachines: readonly string[];
  readonly drillDocument: string;
  /** Per region. */
  readonly regions: Readonly<
    Record<
      string,
      {
        /** The Aurora storage key (multi-Region primary or replica) and the platform key. */
        readonly keyArns: readonly string[];
        /** Each DR task's own role (registry name -> ARN). */
        readonly taskRoleArns: Readonly<Record<string, string>>;
        /** The role of the region's state machines. */
        readonly workflowRoleArn: string;
        /**
         * The instances Terraform gives the region's cluster when it holds the writer
         * (`payments-db-<n>-<region code>-<suffix>`): what the re-protect and capacity roles are
         * granted instance calls on by name.
         */
        readonly instanceIdentifiers: readonly string[];
        readonly backupVault: string;
        /** The cluster's DB subnet group and cluster parameter group (re-protect creates in them). */
        readonly subnetGroup: string;
        readonly clusterParameterGroup: string;
      }
    >
  >;
  /** The prober's region (where PaymentsDR/ProberHeartbeat is published). */
  readonly proberRegion: string;
  /** Alarms of this environment: `payments-...-<suffix>`. */
  readonly alarmPrefix: string;
  readonly alarmSuffix: string;
  readonly database: {
    readonly instanceClass: string;
    readonly writerInstances: number;
    readonly standbyInstances: number;
    readonly engineVersion: string;
    /** The RDS Enhanced Monitoring role new instances are created with. */
    readonly monitoringRoleArn: string;
  };
  /** Replication lag: warn above `warnMs`, fail above `failMs` (the RPO target). */
  readonly lag: { readonly warnMs: number; readonly failMs: number };
  readonly quotas: readonly { serviceCode: string; quotaCode: string; name: string }[];
  /**
   * Hours after the environment was first deployed (its control table's creation) during which
   * evidence that cannot exist yet (the first backup copy, the first prober beats, alarms whose
   * metric is not published yet) warns instead of failing, so a new environment does not page.
   * The first drill is given DRILL_MAX_AGE_DAYS, or this grace if longer. 0: no grace.
   */
  readonly freshnessGraceHours: number;
  /**
   * Consecutive evaluations a check may be `unknown` before it counts as `fail` (and pages
   * through the overall status): READINESS_UNKNOWN_PAGE_AFTER.
   */
  readonly unknownPageAfter: number;
  /** Minutes between two scheduled evaluations (READINESS_SCHEDULE_MINUTES). */
  readonly scheduleMinutes: number;
  /**
   * What the connection budget (infra/lib/connection-budget.ts) assumed of Lambda concurrency:
   * the account quota LAMBDA_CONCURRENCY_LIMIT it was computed with, the concurrency it reserves
   * for database functions in each region, and the database functions it left unreserved (whose
   * environments it counts as the quota minus the reservations).
   */
  readonly lambdaBudget: {
    readonly accountConcurrency: number;
    readonly reserved: Readonly<Record<string, number>>;
    readonly unreserved: readonly string[];
  };
}

export interface ReadinessDeps {
  readonly topology: DrTopology;
  readonly settings: ReadinessSettings;
  readonly source: ReadinessSource;
  /** The region this evaluation runs in (AWS_REGION). */
  readonly region: string;
  readonly now: () => Date;
  readonly log: Log;
  /** Cap on one check, reads included, so one hanging call cannot hold the evaluation. */
  readonly checkTimeoutMs: number;
}

export const CHECK_IDS = [
  "aurora-global-cluster",
  "aurora-engine-versions",
  "aurora-replication-lag",
  "aurora-secondary-available",
  "kms-keys",
  "lambda-parity",
  "ssm-parity",
  "dynamodb-replicas",
  "state-machine-parity",
  "iam-permissions",
  "lambda-concurrency",
  "service-quotas",
  "db-capacity",
  "backup-copies",
  "drill-recency",
  "prober-reporting",
  "alarms-insufficient-data",
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

/** Freshness bounds. */
export const BACKUP_COPY_MAX_AGE_HOURS = 36;
/** A daily copy older than this means one day was missed: warn before the 36 h bound fails. */
export const BACKUP_COPY_WARN_AGE_HOURS = 26;
export const DRILL_MAX_AGE_DAYS = 40;
/** A monthly drill that is a few days late warns before the 40-day bound fails. */
export const DRILL_WARN_AGE_DAYS = 35;
export const PROBER_MAX_SILENCE_MINUTES = 5;
/** An alarm may sit in INSUFFICIENT_DATA this long after a change (new alarm, new metric). */
export const INSUFFICIENT_DATA_GRACE_MINUTES = 60;
/** Default of freshnessGraceHours: a daily backup plus its cross-Region copy, with a day spare. */
export const DEFAULT_FRESHNESS_GRACE_HOURS = 48;
/** Concurrency AWS keeps unreserved in every region (configuration-concurrency.html). */
export const LAMBDA_UNRESERVED_MINIMUM = 100;

/** Service Quotas: Lambda "Concurrent executions". */
const LAMBDA_CONCURRENCY_QUOTA = "L-B99A9384";
export const LAG_LOOKBACK_MINUTES = 15;

/** What one check sees: the writer's and the standby's regions, when known. */
interface Scene {
  readonly deps: ReadinessDeps;
  readonly regions: readonly string[];
  /** The region Aurora reports as the writer's (null when the global cluster is unreadable). */
  readonly active: string | null;
  readonly standby: string | null;
  /** When the environment was first deployed (the control table's creation), when known. */
  readonly deployedAt: Date | null;
}

/**
 * Why a missing piece of evidence only warns: the environment is younger than `hours`. Null when
 * it is older, or when its age is unknown (then nothing is excused).
 */
function newEnvironment(scene: Scene, hours: number): string | null {
  const { deployedAt, deps } = scene;
  if (!deployedAt || hours <= 0) return null;
  const age = hoursSince(deps.now(), deployedAt);
  if (age >= hours) return null;
  const until = new Date(deployedAt.getTime() + hours * 3_600_000).toISOString().slice(0, 16);
  return `new environment (deployed ${age < 1 ? `${Math.round(age * 60)} min` : `${Math.round(age)} h`} ago): a warning until ${until}Z, then a failure`;
}

type Check = (scene: Scene) => Promise<Omit<CheckResult, "id">>;

const ok = (reason: string) => ({ status: "ok" as const, reason, fix: "" });
const warn = (reason: string, fix: string) => ({ status: "warn" as const, reason, fix });
const fail = (reason: string, fix: string) => ({ status: "fail" as const, reason, fix });

/** The status and reason of a check whose reads failed. */
function unreadable(error: unknown): Omit<CheckResult, "id"> {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof SourceError && error.kind === "denied") {
    return fail(
      `cannot read: ${message}`,
      "grant the readiness role this read (infra/constructs/readiness.ts) and redeploy",
    );
  }
  if (error instanceof SourceError && error.kind === "unreachable") {
    return {
      status: "unknown",
      reason: `no answer: ${message}`,
      fix: "if the region is down, fail over (README, Failing over); otherwise it clears on the next run",
    };
  }
  return {
    status: "unknown",
    reason: `could not evaluate: ${message}`,
    fix: "read the evaluator's logs",
  };
}

export function worst(statuses: readonly CheckStatus[]): CheckStatus {
  return statuses.reduce<CheckStatus>((a, b) => (STATUS_VALUE[b] > STATUS_VALUE[a] ? b : a), "ok");
}

function regionOfArn(arn: string): string {
  return arn.split(":")[3] ?? "";
}

function list(items: readonly string[], max = 3): string {
  return items.length <= max
    ? items.join(", ")
    : `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

function hoursSince(now: Date, then: Date): number {
  return (now.getTime() - then.getTime()) / 3_600_000;
}

// ---- the checks ----

const globalCluster: Check = async ({ deps, regions }) => {
  const { topology, source, region } = deps;
  const g = await source.globalCluster(region, topology.globalClusterIdentifier);
  if (!g) {
    return fail(
      `global cluster ${topology.globalClusterIdentifier} does not exist`,
      "re-protect: rebuild the global database from the surviving cluster (README, After a failover)",
    );
  }
  const expected = regions.map((r) => topology.regions[r]!.clusterArn);
  const missing = expected.filter((arn) => !g.members.some((m) => m.clusterArn === arn));
  if (missing.length > 0) {
    return fail(
      `${list(missing)} not a member of ${topology.globalClusterIdentifier}: no secondary to fail over to`,
      "re-protect: add the detached region back as a secondary (README, After a failover)",
    );
  }
  const writers = g.members.filter((m) => m.isWriter);
  if (writers.length !== 1) {
    return fail(
      `${writers.length} writers among ${g.members.length} members`,
      "open a case with AWS; do not start a failover until the global cluster has one writer",
    );
  }
  if (g.status !== "available") {
    return warn(
      `global cluster is ${g.status} (a failover, switchover or upgrade is running)`,
      "wait for it to finish; check `payments-dr status` if it lasts over 30 minutes",
    );
  }
  return ok(`${g.members.length} members, writer ${regionOfArn(writers[0]!.clusterArn)}`);
};

const engineVersions: Check = async ({ deps, regions }) => {
  const { topology, source, settings } = deps;
  const found = await Promise.all(
    regions.map(async (r) => ({
      region: r,
      cluster: await source.cluster(r, topology.regions[r]!.clusterIdentifier),
    })),
  );
  const absent = found.filter((f) => !f.cluster).map((f) => f.region);
  if (absent.length > 0) {
    return fail(`no cluster in ${list(absent)}`, "re-protect the missing region");
  }
  const versions = found.map((f) => `${f.region} ${f.cluster!.engineVersion}`);
  if (new Set(found.map((f) => f.cluster!.engineVersion)).size > 1) {
    // Aurora: managed failover and switchover need the same engine version in every member
    // (aurora-global-database-disaster-recovery.html, "Prerequisites").
    return fail(
      `engine versions differ (${versions.join(", ")}): managed failover and switchover refuse`,
      "upgrade the global cluster so both members run one version (ModifyGlobalCluster), then set DB_ENGINE_VERSION to it",
    );
  }
  const version = found[0]!.cluster!.engineVersion;
  if (version !== settings.database.engineVersion) {
    return warn(
      `both clusters run ${version}, Terraform is configured for ${settings.database.engineVersion}`,
      `set DB_ENGINE_VERSION=${version} so the next apply does not try to change it`,
    );
  }
  return ok(`both clusters run ${version}`);
};

const replicationLag: Check = async ({ deps, standby }) => {
  if (!standby) return { status: "unknown", reason: "no standby region known", fix: "" };
  const { topology, source, settings, now } = deps;
  const cluster = topology.regions[standby]!.clusterIdentifier;
  // Aurora: AuroraGlobalDBReplicationLag is published by the secondary cluster only, in its
  // region, in milliseconds (Aurora.AuroraMonitoring.Metrics.html).
  const lag = await source.latestMetric(
    standby,
    {
      namespace: "AWS/RDS",
      name: "AuroraGlobalDBReplicationLag",
      dimensions: { DBClusterIdentifier: cluster },
    },
    new Date(now().getTime() - LAG_LOOKBACK_MINUTES * 60_000),
  );
  if (!lag) {
    return fail(
      `no AuroraGlobalDBReplicationLag for ${cluster} in ${LAG_LOOKBACK_MINUTES} min: the RPO of a failover cannot be estimated and the failover workflow would refuse without allowUnknownLag`,
      `check that ${cluster} has an available instance and replication is running (payments-dr status)`,
    );
  }
  const { warnMs, failMs } = settings.lag;
  if (lag.value > failMs) {
    return fail(
      `replication lag ${lag.value} ms > ${failMs} ms (the RPO target)`,
      "find what slows the writer or the secondary (commit rate, instance size); a failover now loses more than the RPO target",
    );
  }
  if (lag.value > warnMs) {
    return warn(
      `replication lag ${lag.value} ms > ${warnMs} ms`,
      "watch it; size the secondary like the writer if it persists",
    );
  }
  return ok(`replication lag ${lag.value} ms`);
};

const secondaryAvailable: Check = async ({ deps, standby }) => {
  if (!standby) return { status: "unknown", reason: "no standby region known", fix: "" };
  const { topology, source } = deps;
  const id = topology.regions[standby]!.clusterIdentifier;
  const [cluster, instances] = await Promise.all([
    source.cluster(standby, id),
    source.instances(standby, id),
  ]);
  if (!cluster) return fail(`${id} does not exist in ${standby}`, "re-protect the standby region");
  if (cluster.status !== "available") {
    return fail(
      `${id} is ${cluster.status}, not available`,
      "wait for the change on it to finish, or look at its events in the RDS console",
    );
  }
  // Aurora: "Before you can perform a switchover or failover to a headless secondary Aurora DB
  // cluster, you must add a DB instance to it" (aurora-global-database-disaster-recovery.html).
  const available = instances.filter((i) => i.status === "available");
  if (available.length === 0) {
    return fail(
      `${id} has no available instance (headless): it cannot be promoted`,
      `add an instance to ${id} (terraform apply restores DB_SECONDARY_INSTANCES)`,
    );
  }
  return ok(`${id} available with ${available.length} instance(s)`);
};

const kmsKeys: Check = async ({ deps, regions }) => {
  const { source, settings } = deps;
  const keys = await Promise.all(
    regions.flatMap((r) => settings.regions[r]!.keyArns.map((arn) => source.key(r, arn))),
  );
  const bad = keys.filter((k) => k.state !== "Enabled");
  if (bad.length > 0) {
    return fail(
      `${list(bad.map((k) => `${k.arn} is ${k.state}`))}: the data it encrypts cannot be read in that region`,
      "enable the key (kms enable-key) or cancel its deletion (kms cancel-key-deletion)",
    );
  }
  const replicas = keys.filter((k) => k.multiRegionType === "REPLICA").length;
  return ok(`${keys.length} keys enabled (${replicas} multi-Region replica)`);
};

const lambdaParity: Check = async ({ deps, regions }) => {
  const { source, settings } = deps;
  const failures: string[] = [];
  const warnings: string[] = [];
  await Promise.all(
    settings.paymentFunctions.map(async (name) => {
      const [a, b] = await Promise.all(regions.map((r) => source.functionInfo(r, name)));
      const missing = regions.filter((_, i) => ![a, b][i]);
      if (missing.length > 0) {
        failures.push(`${name} missing in ${list(missing)}`);
        return;
      }
      if (a!.codeSha256 !== b!.codeSha256) failures.push(`${name} code differs`);
      if (a!.runtime !== b!.runtime) failures.push(`${name} runtime ${a!.runtime}/${b!.runtime}`);
      const envA = [...a!.environmentNames].sort().join(",");
      const envB = [...b!.environmentNames].sort().join(",");
      if (envA !== envB) failures.push(`${name} environment variables differ`);
      if (a!.memoryMb !== b!.memoryMb)
        warnings.push(`${name} memory ${a!.memoryMb}/${b!.memoryMb}`);
      if (a!.timeoutSeconds !== b!.timeoutSeconds) {
        warnings.push(`${name} timeout ${a!.timeoutSeconds}/${b!.timeoutSeconds}`);
      }
    }),
  );
  const fix = "terraform apply both regions from one commit (the plan shows the drift)";
  if (failures.length > 0) return fail(`${list(failures.sort())}`, fix);
  if (warnings.length > 0) return warn(`${list(warnings.sort())}`, fix);
  return ok(`${settings.paymentFunctions.length} payment functions identical in both regions`);
};

const ssmParity: Check = async ({ deps, regions }) => {
  const { source, topology } = deps;
  const [a, b] = await Promise.all(
    regions.map((r) => source.parameters(r, topology.parameterPrefix)),
  );
  const typeOf = (ps: readonly { name: string; type: string }[]) =>
    new Map(ps.map((p) => [p.name, p.type]));
  const [ma, mb] = [typeOf(a!), typeOf(b!)];
  const problems: string[] = [];
  for (const [name, type] of ma) {
    if (!mb.has(name)) problems.push(`${name} missing in ${regions[1]}`);
    else if (mb.get(name) !== type) problems.push(`${name} is ${type}/${mb.get(name)}`);
  }
  for (const name of mb.keys())
    if (!ma.has(name)) problems.push(`${name} missing in ${regions[0]}`);
  if (problems.length > 0) {
    return fail(
      list(problems.sort()),
      "terraform apply both regions; a parameter written by hand goes in both regions with the same type",
    );
  }
  return ok(`${ma.size} parameters under ${topology.parameterPrefix} match`);
};

const dynamodbReplicas: Check = async ({ deps, regions }) => {
  const { source, settings, region } = deps;
  const failures: string[] = [];
  const warnings: string[] = [];
  await Promise.all(
    settings.tables.map(async (name) => {
      const table = await source.table(region, name);
      if (!table) {
        failures.push(`${name} missing in ${region}`);
        return;
      }
      for (const r of regions.filter((x) => x !== region)) {
        const replica = table.replicas.find((x) => x.region === r);
        // DynamoDB: ReplicaStatus is CREATING | CREATION_FAILED | UPDATING | DELETING | ACTIVE |
        // REGION_DISABLED | INACCESSIBLE_ENCRYPTION_CREDENTIALS (API_ReplicaDescription).
        if (!replica) failures.push(`${name} has no replica in ${r}`);
        else if (replica.status === "UPDATING" || replica.status === "CREATING") {
          warnings.push(`${name} replica in ${r} is ${replica.status}`);
        } else if (replica.status !== "ACTIVE") {
          failures.push(`${name} replica in ${r} is ${replica.status}`);
        }
      }
      const pitr = await Promise.all(regions.map((r) => source.pointInTimeRecovery(r, name)));
      pitr.forEach((status, i) => {
        if (status !== "ENABLED") failures.push(`${name} PITR ${status} in ${regions[i]}`);
      });
    }),
  );
  if (failures.length > 0) {
    return fail(
      list(failures.sort()),
      "terraform apply (replicas and PITR are in infra/constructs/tables.ts); a KMS-inaccessible replica needs its key enabled",
    );
  }
  if (warnings.length > 0) return warn(list(warnings.sort()), "wait for the replica to finish");
  return ok(`${settings.tables.length} tables replicated to both regions with PITR`);
};

/** A definition with its region-specific ARNs made comparable. */
function normalizedDefinition(definition: string, region: string): string {
  return definition.split(`:${region}:`).join(":<region>:");
}

const stateMachineParity: Check = async ({ deps, regions }) => {
  const { source, settings } = deps;
  const problems: string[] = [];
  await Promise.all(
    settings.stateMachines.map(async (name) => {
      const found = await Promise.all(
        regions.map((r) =>
          source.stateMachine(r, `arn:aws:states:${r}:${settings.accountId}:stateMachine:${name}`),
        ),
      );
      const missing = regions.filter((_, i) => found[i]?.status !== "ACTIVE");
      if (missing.length > 0) {
        problems.push(`${name} not active in ${list(missing)}`);
        return;
      }
      const [a, b] = found.map((m, i) => normalizedDefinition(m!.definition, regions[i]!));
      if (a !== b) problems.push(`${name} definitions differ`);
    }),
  );
  if (problems.length > 0) {
    return fail(list(problems.sort()), "terraform apply both regions from one commit");
  }
  return ok(`${settings.stateMachines.length} workflows identical in both regions`);
};

/** One IAM simulation: these actions on these resources, with this request context. */
export interface RequiredCall {
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly context?: Readonly<Record<string, string>>;
  /** The statements (Sid) of the role's policy that grant it: what to restore when denied. */
  readonly statements?: readonly string[];
}

/** A role of one region's DR automation and the calls it must be allowed. */
export interface RoleCalls {
  /** The task (registry name) or "workflows". */
  readonly job: string;
  readonly roleArn: string;
  readonly calls: readonly RequiredCall[];
}

/**
 * The ARNs the shared grants (functions/dr/shared/grants.ts) name, rebuilt from what the
 * evaluator is given: the account, the regions, the topology's names and the settings' names.
 * infra/constructs/dr-iam.ts builds the same targets from the Terraform resources; a name that
 * differs between the two shows up as a denial here, on a role that is in fact right, and is
 * caught by the test that simulates against the policies dr-iam.ts renders
 * (test/functions/monitoring/support/iam-simulator.ts).
 */
export function grantTargetsOf(
  topology: DrTopology,
  settings: ReadinessSettings,
  region: string,
): GrantTargets {
  const account = settings.accountId;
  const regions = Object.keys(topology.regions);
  const each = (f: (r: string) => string | string[]) => regions.flatMap(f);
  const rds = (r: string, kind: string, name: string) =>
    `arn:aws:rds:${r}:${account}:${kind}:${name}`;
  const clusterIds = regions.map((r) => [r, topology.regions[r]!.clusterIdentifier] as const);
  const snapshotsNamed = (name: (cluster: string) => string) =>
    clusterIds.map(([r, c]) => rds(r, "cluster-snapshot", name(c)));
  const instances = (r: string) => settings.regions[r]!.instanceIdentifiers;
  return {
    regions,
    database: {
      globalCluster: [`arn:aws:rds::${account}:global-cluster:${topology.globalClusterIdentifier}`],
      clusters: each((r) => topology.regions[r]!.clusterArn),
      anyInstance: each((r) => rds(r, "db", "*")),
      instances: each((r) => instances(r).map((n) => rds(r, "db", n))),
      // The names beyond the standby's own count (granted only with the created-by tag).
      restoredReaders: each((r) =>
        instances(r)
          .slice(settings.database.standbyInstances)
          .map((n) => rds(r, "db", n)),
      ),
      keptInstances: each((r) => instances(r).map((n) => rds(r, "db", `${n}-detached-*`))),
      keptClusters: clusterIds.map(([r, c]) => rds(r, "cluster", `${c}-detached-*`)),
      snapshots: snapshotsNamed((c) => `${c}-at-reprotect-*`),
      pointOfFailure: snapshotsNamed((c) => `rds:unplanned-global-failover-${c}-*`),
      pointOfFailureCopies: snapshotsNamed((c) => `${c}-at-failover-*`),
      anyClusterSnapshot: each((r) => rds(r, "cluster-snapshot", "*")),
      subnetGroups: each((r) => rds(r, "subgrp", settings.regions[r]!.subnetGroup)),
      clusterParameterGroups: each((r) =>
        rds(r, "cluster-pg", settings.regions[r]!.clusterParameterGroup),
      ),
      defaultParameterGroups: each((r) => rds(r, "pg", "default.aurora-postgresql*")),
    },
    // keyArns: [the Aurora storage key, the platform key] of each region (READINESS_SETTINGS).
    storageKeys: each((r) => settings.regions[r]!.keyArns[0]!),
    platformKeys: each((r) => settings.regions[r]!.keyArns[1]!),
    monitoringRole: settings.database.monitoringRoleArn,
    controlTables: each((r) => `arn:aws:dynamodb:${r}:${account}:table/${topology.controlTable}`),
    parameters: (keys) =>
      each((r) => keys.map((k) => parameterArn(r, account, topology.parameterPrefix, k))),
    buses: each(
      (r) => `arn:aws:events:${r}:${account}:event-bus/${topology.regions[r]!.eventBusName}`,
    ),
    topics: each((r) => topology.regions[r]!.alertTopicArn),
    reportWriter: `arn:aws:lambda:${region}:${account}:function:${settings.reportWriter}`,
    heartbeatReaders: each(
      (r) =>
        `arn:aws:lambda:${r}:${account}:function:${heartbeatReaderName(topology.environmentSuffix)}`,
    ),
    healthChecks: each((r) => {
      const id = topology.regions[r]!.healthCheckId;
      return id ? [`arn:aws:route53:::healthcheck/${id}`] : [];
    }),
    ...(topology.dns
      ? { hostedZone: `arn:aws:route53:::hostedzone/${topology.dns.hostedZoneId}` }
      : {}),
  };
}

/**
 * The request context a grant's conditions need to be simulated as the task's request would
 * carry it: one value per condition key, the one of the region the role's tasks run in where the
 * value names a region (kms:ViaService `<service>.<region>.amazonaws.com`), else the first.
 * SimulatePrincipalPolicy evaluates a condition whose key the request lacks as not met
 * (IAM API Reference, ContextEntries: "Whenever a context key is evaluated in one of the
 * simulated IAM permissions policies, the corresponding value is supplied").
 */
function contextOf(grant: Grant, region: string): Record<string, string> | undefined {
  if (!grant.condition || grant.condition.length === 0) return undefined;
  return Object.fromEntries(
    grant.condition.map((c) => [
      c.variable,
      c.values.find((v) => v.includes(`.${region}.`)) ?? c.values[0]!,
    ]),
  );
}

/**
 * What one DR task's declaration (`*_TASK.permissions`, functions/dr/tasks.ts) needs, as IAM
 * simulations on the exact ARNs: every grant its role is built from (taskGrants, the one builder
 * infra/constructs/dr-iam.ts renders the role's policy with), so every call the task's code makes
 * (checked against its source in test/functions/dr/permissions.test.ts), with what AWS also
 * authorizes with those calls (tags at creation, PassRole of the monitoring role, the KMS keys
 * through the services). Grants on the same resources with the same context are simulated in one
 * call (SimulatePrincipalPolicy evaluates every action on every resource given, so only grants
 * with the same resources can share one without a false denial).
 */
export function declaredCalls(
  permissions: TaskPermissions,
  topology: DrTopology,
  settings: ReadinessSettings,
  region: string,
): RequiredCall[] {
  const batches = new Map<
    string,
    { actions: Set<string>; sids: Set<string>; call: Omit<RequiredCall, "actions"> }
  >();
  for (const grant of taskGrants(permissions, grantTargetsOf(topology, settings, region))) {
    if (grant.resources.length === 0) continue;
    const context = contextOf(grant, region);
    const key = JSON.stringify([grant.resources, context ?? {}]);
    const batch = batches.get(key) ?? {
      actions: new Set<string>(),
      sids: new Set<string>(),
      call: { resources: grant.resources, ...(context ? { context } : {}) },
    };
    for (const action of grant.actions) batch.actions.add(action);
    batch.sids.add(grant.sid);
    batches.set(key, batch);
  }
  return [...batches.values()].map(({ actions, sids, call }) => ({
    actions: [...actions],
    ...call,
    statements: [...sids],
  }));
}

/**
 * Every role of one region's DR automation and the calls it must be allowed, on the exact
 * resources: each task's own role (from its declaration in the task registry) and the workflow
 * role (invoke that region's task functions).
 */
export function requiredCalls(
  topology: DrTopology,
  settings: ReadinessSettings,
  region: string,
): RoleCalls[] {
  const account = settings.accountId;
  const roles = settings.regions[region]!;
  const tasks: RoleCalls[] = DR_TASK_NAMES.map((task) => ({
    job: task,
    roleArn: roles.taskRoleArns[task]!,
    calls: declaredCalls(drTask(task).permissions, topology, settings, region),
  })).filter((t) => t.calls.length > 0);
  return [
    {
      job: "workflows",
      roleArn: roles.workflowRoleArn,
      calls: [
        {
          actions: ["lambda:InvokeFunction"],
          resources: settings.taskFunctions.map(
            (f) => `arn:aws:lambda:${region}:${account}:function:${f}`,
          ),
          statements: ["InvokeTheirTasks"],
        },
      ],
    },
    ...tasks,
  ];
}

/** Simulations in flight at once (iamPermissions). */
const SIMULATIONS_AT_ONCE = 4;

/** `run` over `items`, at most `limit` at once; the answers in the items' order. */
async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<R>,
): Promise<R[]> {
  const answers = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      answers[i] = await run(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return answers;
}

const iamPermissions: Check = async ({ deps, regions }) => {
  const { source, settings, topology } = deps;
  const denied: string[] = [];
  const missing = new Set<string>();
  let simulated = 0;
  const work = regions.flatMap((r) =>
    requiredCalls(topology, settings, r).flatMap(({ roleArn, calls }) =>
      calls.map((call) => ({ roleArn, call })),
    ),
  );
  const roles = new Set(work.map((w) => w.roleArn)).size;
  // About 150 calls per evaluation (both regions): one at a time they fit the check's time cap
  // only at under ~350 ms each. A few at once, not all: IAM throttles its API per account (the
  // SDK retries a throttled call), and the answers are read back in order, so the message does
  // not depend on which call answered first.
  const answers = await inParallel(work, SIMULATIONS_AT_ONCE, ({ roleArn, call }) =>
    source.simulate(roleArn, call.actions, call.resources, call.context),
  );
  for (const [i, { roleArn, call }] of work.entries()) {
    const role = roleArn.split("/").pop();
    const results = answers[i]!;
    simulated += results.length;
    for (const result of results) {
      if (result.decision === "noSuchEntity") {
        if (!denied.includes(`${role} does not exist`)) denied.push(`${role} does not exist`);
        missing.add(`${role}: the role`);
      } else if (result.decision !== "allowed") {
        denied.push(`${role} ${result.action} on ${result.resource}`);
        missing.add(`${role}: ${(call.statements ?? []).join("/")}`);
      }
    }
  }
  if (denied.length > 0) {
    return fail(
      `${denied.length} workflow call(s) denied: ${list(denied)}`,
      `restore the statements ${list([...missing].sort())} (infra/constructs/dr-iam.ts): terraform apply both regions from the deployed commit; if the policy has them, a permissions boundary or SCP denies the call`,
    );
  }
  return ok(`${simulated} action/resource pairs allowed for ${roles} DR roles`);
};

const lambdaConcurrency: Check = async ({ deps, active, standby }) => {
  if (!active || !standby) return { status: "unknown", reason: "no active region known", fix: "" };
  const { source, settings } = deps;
  const [activeLimit, standbyLimit] = await Promise.all([
    source.accountConcurrency(active),
    source.accountConcurrency(standby),
  ]);
  const reserved = await Promise.all(
    settings.paymentFunctions.map(async (name) => {
      const [a, s] = await Promise.all([
        source.functionInfo(active, name),
        source.functionInfo(standby, name),
      ]);
      return { name, active: a?.reservedConcurrency, standby: s?.reservedConcurrency };
    }),
  );
  const short = reserved.filter(
    (r) => r.active !== undefined && (r.standby === undefined || r.standby < r.active),
  );
  // Room for the active region's load (its peak concurrency plus the margin), not the same limit.
  const concurrency = await headroom(deps, active, standby, "lambda", LAMBDA_CONCURRENCY_QUOTA);
  const lacking = headroomShort(
    { ...concurrency, activeLimit, standbyLimit, needed: concurrency.needed ?? activeLimit },
    active,
    standby,
  );
  if (lacking) {
    return fail(
      `concurrent executions: ${lacking}: the standby throttles at the active region's load`,
      `raise Lambda concurrent executions in ${standby} (Service Quotas, ${LAMBDA_CONCURRENCY_QUOTA}) to at least ${concurrency.needed ?? activeLimit}`,
    );
  }
  if (short.length > 0) {
    return fail(
      `reserved concurrency lower in ${standby}: ${list(short.map((s) => `${s.name} ${s.standby ?? "none"} < ${s.active}`))}`,
      "set PAYMENTS_RESERVED_CONCURRENCY once and apply both regions",
    );
  }
  // The connection budget's assumptions, in both regions (the recovery region is where they
  // bite: a failover sends every environment of it to its new writer).
  const budget = settings.lambdaBudget;
  const limits: Record<string, number> = { [active]: activeLimit, [standby]: standbyLimit };
  const budgetFix = (r: string, limit: number) =>
    `set LAMBDA_CONCURRENCY_LIMIT=${limit} (the quota in ${r}) and apply: the synth re-checks the connection budget (npm run budget)`;
  for (const r of [standby, active]) {
    const limit = limits[r]!;
    const reserved = budget.reserved[r] ?? 0;
    // AWS refuses reservations that leave less than 100 unreserved (configuration-concurrency.html).
    if (limit < reserved + LAMBDA_UNRESERVED_MINIMUM) {
      return fail(
        `${r} allows ${limit} concurrent executions; the connection budget reserves ${reserved} for database functions, which needs at least ${reserved + LAMBDA_UNRESERVED_MINIMUM}`,
        `raise Lambda concurrent executions in ${r} (Service Quotas, L-B99A9384) to at least ${reserved + LAMBDA_UNRESERVED_MINIMUM}`,
      );
    }
    if (limit > budget.accountConcurrency && budget.unreserved.length > 0) {
      return fail(
        `${r} allows ${limit} concurrent executions, more than the ${budget.accountConcurrency} the connection budget assumed: unreserved ${list([...budget.unreserved])} can open more writer connections than budgeted`,
        `${budgetFix(r, limit)}, or reserve concurrency for them (PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION)`,
      );
    }
  }
  const differs = [standby, active].filter((r) => limits[r] !== budget.accountConcurrency);
  if (differs.length > 0) {
    const r = differs[0]!;
    return warn(
      `the connection budget assumed ${budget.accountConcurrency} concurrent executions, ${r} allows ${limits[r]}: its figures are not this account's`,
      budgetFix(r, limits[r]!),
    );
  }
  if (standbyLimit < activeLimit) {
    return warn(
      `${standby} has room for ${active}'s peak concurrency (${concurrency.peak ?? "unknown"}) plus ${QUOTA_MARGIN * 100}% but allows ${standbyLimit} < ${activeLimit}`,
      `raise Lambda concurrent executions in ${standby} (Service Quotas, ${LAMBDA_CONCURRENCY_QUOTA}) to ${activeLimit} so it can grow as far`,
    );
  }
  return ok(
    `${standby} allows ${standbyLimit} concurrent executions (${active}: ${activeLimit}), as the connection budget assumed, ${budget.reserved[standby] ?? 0} reserved for database functions`,
  );
};

/**
 * Headroom a recovery region's quota must have over the active region's peak usage: a failover
 * moves the whole load, and the 7-day peak is not the next one.
 */
export const QUOTA_MARGIN = 0.2;
/** How far back the active region's peak usage is read: a week of daily and weekly peaks. */
export const QUOTA_USAGE_DAYS = 7;

interface Headroom {
  readonly activeLimit: number | null;
  readonly standbyLimit: number | null;
  /** The active region's peak usage over QUOTA_USAGE_DAYS; null when unknown. */
  readonly peak: number | null;
  /** What the standby must allow: the peak plus QUOTA_MARGIN, or the active limit without a peak. */
  readonly needed: number | null;
}

/**
 * A quota in both regions and the active region's usage of it. The recovery region must carry
 * the active region's load, so its limit is compared with that load (peak usage plus
 * QUOTA_MARGIN), not with the active region's limit: a standby with a lower limit but room for
 * the load is ready (a warning: it cannot grow as far), one with an equal limit but a load near
 * it is not. Without a usage figure the limits are compared, as the only evidence there is.
 */
async function headroom(
  deps: ReadinessDeps,
  active: string,
  standby: string,
  serviceCode: string,
  quotaCode: string,
): Promise<Headroom> {
  const since = new Date(deps.now().getTime() - QUOTA_USAGE_DAYS * 86_400_000);
  const [activeLimit, standbyLimit, peak] = await Promise.all([
    deps.source.quota(active, serviceCode, quotaCode),
    deps.source.quota(standby, serviceCode, quotaCode),
    // A usage figure that cannot be read leaves the limit comparison, not an unknown check.
    deps.source.quotaUsage(active, serviceCode, quotaCode, since).catch(() => null),
  ]);
  const needed = peak !== null ? Math.ceil(peak * (1 + QUOTA_MARGIN)) : activeLimit;
  return { activeLimit, standbyLimit, peak, needed };
}

function headroomShort(h: Headroom, active: string, standby: string): string | null {
  if (h.standbyLimit === null || h.needed === null || h.standbyLimit >= h.needed) return null;
  return h.peak !== null
    ? `${standby} allows ${h.standbyLimit}, ${active} peaked at ${h.peak} in ${QUOTA_USAGE_DAYS} days (+${QUOTA_MARGIN * 100}% = ${h.needed})`
    : `${standby} allows ${h.standbyLimit} < ${h.needed} in ${active} (no usage figure)`;
}

const serviceQuotas: Check = async ({ deps, active, standby }) => {
  if (!active || !standby) return { status: "unknown", reason: "no active region known", fix: "" };
  const { settings } = deps;
  const short: string[] = [];
  const below: string[] = [];
  const unknown: string[] = [];
  for (const q of settings.quotas) {
    const h = await headroom(deps, active, standby, q.serviceCode, q.quotaCode);
    const name = `${q.serviceCode} ${q.name} (${q.quotaCode})`;
    if (h.standbyLimit === null || h.needed === null) {
      unknown.push(`${q.serviceCode} ${q.name}`);
      continue;
    }
    const lacking = headroomShort(h, active, standby);
    if (lacking) short.push(`${name}: ${lacking}`);
    else if (h.activeLimit !== null && h.standbyLimit < h.activeLimit) {
      below.push(`${name} ${h.standbyLimit} < ${h.activeLimit}`);
    }
  }
  if (short.length > 0) {
    return fail(
      `no room in ${standby} for ${active}'s load: ${list(short)}`,
      `request at least the needed values in ${standby} (Service Quotas console or request-service-quota-increase)`,
    );
  }
  if (unknown.length > 0) {
    return warn(`no value for ${list(unknown)}`, "check the quota codes in READINESS_SETTINGS");
  }
  if (below.length > 0) {
    return warn(
      `${standby} has room for ${active}'s peak load plus ${QUOTA_MARGIN * 100}% but lower limits: ${list(below)}`,
      `request the same values in ${standby} so it can grow as far after a failover`,
    );
  }
  return ok(
    `${settings.quotas.length} quotas in ${standby} cover ${active}'s ${QUOTA_USAGE_DAYS}-day peak plus ${QUOTA_MARGIN * 100}% and its limits`,
  );
};

/** db.r6g.2xlarge -> 8 (large = 1, xlarge = 2, Nxlarge = 2N): relative size within a family. */
export function classSize(instanceClass: string): number {
  const size = instanceClass.split(".")[2] ?? "";
  if (size === "large") return 1;
  if (size === "xlarge") return 2;
  const n = /^(\d+)xlarge$/.exec(size);
  return n ? 2 * Number(n[1]) : 0;
}

const dbCapacity: Check = async ({ deps, active, standby }) => {
  if (!active || !standby) return { status: "unknown", reason: "no active region known", fix: "" };
  const { source, topology, settings } = deps;
  const [activeInstances, standbyInstances] = await Promise.all([
    source.instances(active, topology.regions[active]!.clusterIdentifier),
    source.instances(standby, topology.regions[standby]!.clusterIdentifier),
  ]);
  const up = (xs: readonly InstanceInfo[]) => xs.filter((i) => i.status === "available");
  const largest = (xs: readonly InstanceInfo[]) =>
    xs.reduce((m, i) => Math.max(m, classSize(i.instanceClass)), 0);
  const s = up(standbyInstances);
  const a = up(activeInstances);
  if (s.length === 0) {
    return fail(`${standby} has no available instance`, "see aurora-secondary-available");
  }
  if (largest(s) < largest(a)) {
    return fail(
      `${standby}'s largest instance (${list(s.map((i) => i.instanceClass))}) is smaller than ${active}'s (${list(a.map((i) => i.instanceClass))}): after a failover the writer cannot carry the load`,
      `set DB_INSTANCE_CLASS once so both regions use the same class, and apply`,
    );
  }
  const { standbyInstances: planned, writerInstances } = settings.database;
  // The active region at the writer's configured count (issue 17: "instance count ... able to
  // carry the active region's load"). After a failover RestoreCapacity adds the readers after the
  // run's report and page, best effort; a refused or cut-short loop pages once, and this is what
  // keeps saying so until the readers exist. Instances being created count as coming, not as
  // carrying load: a warn, never a fail (the writer carries the load alone meanwhile).
  if (a.length < writerInstances) {
    const coming = activeInstances.filter((i) => i.status === "creating").length;
    return warn(
      `${a.length} of ${writerInstances} instance(s) available in the active region ${active}${coming > 0 ? ` (${coming} being created)` : ""}: no in-region failover target until the readers exist`,
      coming > 0
        ? "wait for the instance being created"
        : "add the missing readers (README, Capacity after a failover) or terraform apply",
    );
  }
  if (s.length < planned) {
    return warn(
      `${s.length} of ${planned} standby instance(s) available in ${standby}`,
      "terraform apply (or wait for the instance being created)",
    );
  }
  return ok(
    `${standby}: ${s.length} instance(s) of ${s[0]!.instanceClass} standing by; a failover adds readers up to ${writerInstances}`,
  );
};

const backupCopies: Check = async (scene) => {
  const { deps, active, standby } = scene;
  if (!active || !standby) return { status: "unknown", reason: "no active region known", fix: "" };
  const { source, settings, topology, now } = deps;
  const since = new Date(now().getTime() - BACKUP_COPY_MAX_AGE_HOURS * 3_600_000);
  const vault = settings.regions[standby]!.backupVault;
  const vaultArn = `arn:aws:backup:${standby}:${settings.accountId}:backup-vault:${vault}`;
  // When a copy landed is the copy job's CompletionDate. A recovery point's CreationDate is not:
  // "Copies retain their source configuration, including creation dates ... The creation date
  // refers to when the source was created, not when the copy was created" (AWS Backup, "Creating
  // backup copies across AWS Regions", https://docs.aws.amazon.com/aws-backup/latest/devguide/
  // cross-region-backup.html). The plan backs Aurora and the tables up continuously, so their
  // copies carry the continuous recovery point's creation date, which can be months old, and a
  // listing by creation date misses them. The copy jobs run in the active region, where the
  // plan is (ListCopyJobs, API reference); the recovery points of the standby vault still count
  // (their date is never later than the copy's, so they cannot make a stale copy look fresh),
  // and are all there is when the active region does not answer.
  const [jobs, points] = await Promise.allSettled([
    source.copyJobs(active, vaultArn, since),
    source.recoveryPoints(standby, vault, since),
  ]);
  if (jobs.status === "rejected" && points.status === "rejected") throw jobs.reason;
  const landed = new Map<string, Date>();
  const seen = (arn: string, at: Date) => {
    const known = landed.get(arn);
    if (!known || known < at) landed.set(arn, at);
  };
  if (jobs.status === "fulfilled") for (const j of jobs.value) seen(j.resourceArn, j.completedAt);
  if (points.status === "fulfilled") {
    // A copy in the destination vault is a COMPLETED recovery point with its source vault set.
    for (const p of points.value) {
      if (p.status === "COMPLETED" && p.sourceVaultArn) seen(p.resourceArn, p.createdAt);
    }
  }
  const sources = [
    topology.regions[active]!.clusterArn,
    ...settings.tables.map((t) => `arn:aws:dynamodb:${active}:${settings.accountId}:table/${t}`),
  ];
  const stale: string[] = [];
  const aging: string[] = [];
  for (const arn of sources) {
    const newest = landed.get(arn);
    const name = arn.split(/[:/]/).pop()!;
    if (!newest) stale.push(name);
    else if (hoursSince(now(), newest) > BACKUP_COPY_WARN_AGE_HOURS) {
      aging.push(`${name} ${Math.round(hoursSince(now(), newest))} h`);
    }
  }
  if (stale.length > 0 && jobs.status === "rejected") {
    const denied = jobs.reason instanceof SourceError && jobs.reason.kind === "denied";
    if (denied) return unreadable(jobs.reason);
    // Without the copy jobs a continuous backup's copy cannot be dated: not a page.
    return {
      status: "unknown",
      reason: `the copy jobs in ${active} could not be read (${jobs.reason instanceof Error ? jobs.reason.message : String(jobs.reason)}) and ${standby}'s vault shows no copy newer than ${BACKUP_COPY_MAX_AGE_HOURS} h for ${list(stale)}`,
      fix: `once ${active} answers, look at its copy jobs (AWS Backup console, Jobs, Copy jobs)`,
    };
  }
  if (stale.length > 0) {
    const reason = `no copy to ${standby} completed within ${BACKUP_COPY_MAX_AGE_HOURS} h for ${list(stale)}`;
    const fix = `look at the copy jobs of the backup plan in ${active} (AWS Backup console, Jobs, Copy jobs)`;
    const young = newEnvironment(scene, deps.settings.freshnessGraceHours);
    return young ? warn(`${reason}; ${young}`, fix) : fail(reason, fix);
  }
  if (aging.length > 0) {
    return warn(`newest copies are old: ${list(aging)}`, "check last night's backup and copy jobs");
  }
  return ok(
    `${sources.length} resources copied to ${standby} within ${BACKUP_COPY_WARN_AGE_HOURS} h`,
  );
};

const drillRecency: Check = async (scene) => {
  const { deps, regions } = scene;
  const { source, settings, now } = deps;
  const settled = await Promise.allSettled(
    regions.map((r) => source.lastSuccessfulAutomation(r, settings.drillDocument)),
  );
  const dates = settled.flatMap((s) => (s.status === "fulfilled" && s.value ? [s.value] : []));
  const newest = dates.reduce<Date | null>((m, d) => (m && m > d ? m : d), null);
  if (!newest) {
    // A region that did not answer may hold the drill: not knowing is not a failure.
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (rejected) return unreadable(rejected.reason);
    const fix = "run one: payments-dr drill (README, Drills)";
    // A new environment is held to the same bound as between two drills, counted from its birth.
    const young = newEnvironment(
      scene,
      Math.max(settings.freshnessGraceHours, DRILL_MAX_AGE_DAYS * 24),
    );
    return young
      ? warn(`no successful drill on record yet; ${young}`, fix)
      : fail("no successful drill on record", fix);
  }
  const days = hoursSince(now(), newest) / 24;
  const when = `${Math.floor(days)} days ago (${newest.toISOString().slice(0, 10)})`;
  if (days > DRILL_MAX_AGE_DAYS) {
    return fail(
      `last successful drill ${when}, over ${DRILL_MAX_AGE_DAYS} days`,
      "run one: payments-dr drill; check the drill schedule is enabled (DRILLS_ENABLED)",
    );
  }
  if (days > DRILL_WARN_AGE_DAYS) {
    return warn(
      `last successful drill ${when}`,
      "run one before it is 40 days old: payments-dr drill",
    );
  }
  return ok(`last successful drill ${when}`);
};

const proberReporting: Check = async (scene) => {
  const { deps } = scene;
  const { source, settings, now } = deps;
  const heartbeat = await source.latestMetric(
    settings.proberRegion,
    {
      namespace: METRICS.namespace,
      name: METRICS.proberHeartbeat,
      dimensions: { Region: settings.proberRegion },
    },
    new Date(now().getTime() - 60 * 60_000),
  );
  if (!heartbeat) {
    const fix = "check the prober function's errors and its schedule (payments-dr-prober-*)";
    const young = newEnvironment(scene, settings.freshnessGraceHours);
    return young
      ? warn(`no prober heartbeat in ${settings.proberRegion} yet; ${young}`, fix)
      : fail(
          `no prober heartbeat in ${settings.proberRegion} for an hour: failure detection is blind`,
          fix,
        );
  }
  const minutes = (now().getTime() - heartbeat.at.getTime()) / 60_000;
  if (minutes > PROBER_MAX_SILENCE_MINUTES) {
    return fail(
      `last prober heartbeat ${Math.round(minutes)} min ago`,
      "check the prober function's errors and its schedule (payments-dr-prober-*)",
    );
  }
  return ok(`prober reported ${Math.round(minutes)} min ago`);
};

const alarmsInsufficient: Check = async (scene) => {
  const { deps, regions } = scene;
  const { source, settings, now } = deps;
  const found = await Promise.all(
    regions.map(async (r) =>
      (await source.alarms(r, settings.alarmPrefix, "INSUFFICIENT_DATA"))
        .filter((a) => a.name.endsWith(settings.alarmSuffix))
        .map((a) => ({ ...a, region: r })),
    ),
  );
  const all = found.flat();
  const grace = INSUFFICIENT_DATA_GRACE_MINUTES * 60_000;
  const stuck = all.filter((a) => now().getTime() - a.since.getTime() > grace);
  if (stuck.length > 0) {
    const reason = `${stuck.length} alarm(s) in INSUFFICIENT_DATA for over ${INSUFFICIENT_DATA_GRACE_MINUTES} min, so they cannot page: ${list(stuck.map((a) => a.name))}`;
    const fix =
      "check that the metric each watches is still published (dimensions, function or table names)";
    // In a new environment some metrics do not exist yet (no backup, drill or failover so far).
    const young = newEnvironment(scene, settings.freshnessGraceHours);
    return young ? warn(`${reason}; ${young}`, fix) : fail(reason, fix);
  }
  if (all.length > 0) {
    return warn(
      `${all.length} alarm(s) just entered INSUFFICIENT_DATA: ${list(all.map((a) => a.name))}`,
      "normal for a few minutes after a deploy; fails if it lasts an hour",
    );
  }
  return ok("no alarm without data");
};

export const CHECKS: Readonly<Record<CheckId, Check>> = {
  "aurora-global-cluster": globalCluster,
  "aurora-engine-versions": engineVersions,
  "aurora-replication-lag": replicationLag,
  "aurora-secondary-available": secondaryAvailable,
  "kms-keys": kmsKeys,
  "lambda-parity": lambdaParity,
  "ssm-parity": ssmParity,
  "dynamodb-replicas": dynamodbReplicas,
  "state-machine-parity": stateMachineParity,
  "iam-permissions": iamPermissions,
  "lambda-concurrency": lambdaConcurrency,
  "service-quotas": serviceQuotas,
  "db-capacity": dbCapacity,
  "backup-copies": backupCopies,
  "drill-recency": drillRecency,
  "prober-reporting": proberReporting,
  "alarms-insufficient-data": alarmsInsufficient,
};

async function bounded<T>(ms: number, what: string, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new SourceError(`${what}: no answer within ${ms} ms`, "unreachable")),
      ms,
    );
  });
  try {
    return await Promise.race([run(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every check (or `only` these), in parallel, each capped in time; never throws. */
export async function evaluate(
  deps: ReadinessDeps,
  only: readonly CheckId[] = CHECK_IDS,
): Promise<Evaluation> {
  const started = deps.now();
  const regions = Object.keys(deps.topology.regions).sort((a, b) =>
    a === deps.region ? -1 : b === deps.region ? 1 : 0,
  );
  // Who writes, as Aurora reports it: read once, from this region.
  let active: string | null = null;
  try {
    const g = await bounded(deps.checkTimeoutMs, "rds:DescribeGlobalClusters", () =>
      deps.source.globalCluster(deps.region, deps.topology.globalClusterIdentifier),
    );
    const writer = g?.members.find((m) => m.isWriter);
    active = writer ? regionOfArn(writer.clusterArn) : null;
  } catch (error) {
    deps.log.warn("could not read the global cluster's writer", { error: String(error) });
  }
  const standby = active ? (regions.find((r) => r !== active) ?? null) : null;
  // The environment's birth: its control table is created by the first deploy and never replaced
  // (a data store, test/fixtures/addresses), so a redeploy does not restart the grace.
  let deployedAt: Date | null = null;
  try {
    const table = await bounded(deps.checkTimeoutMs, "dynamodb:DescribeTable", () =>
      deps.source.table(deps.region, deps.topology.controlTable),
    );
    deployedAt = table?.createdAt ?? null;
  } catch (error) {
    deps.log.warn("could not read the control table's creation time", { error: String(error) });
  }
  const scene: Scene = { deps, regions, active, standby, deployedAt };
  const checks = await Promise.all(
    only.map(async (id): Promise<CheckResult> => {
      try {
        return { id, ...(await bounded(deps.checkTimeoutMs, id, () => CHECKS[id](scene))) };
      } catch (error) {
        deps.log.warn("check could not run", { check: id, error: String(error) });
        return { id, ...unreadable(error) };
      }
    }),
  );
  return {
    region: deps.region,
    at: started.toISOString(),
    overall: worst(checks.map((c) => c.status)),
    activeRegion: active,
    checks,
    durationMs: deps.now().getTime() - started.getTime(),
    scheduleMinutes: deps.settings.scheduleMinutes,
  };
}

/**
 * The evaluation as metrics: one per check (dimensions Region, Check) and, for a full
 * evaluation, the overall status (dimension Region), which the paging alarm watches.
 */
export function evaluationMetrics(evaluation: Evaluation, complete = true) {
  const at = new Date(evaluation.at);
  return [
    ...evaluation.checks.map((c) => ({
      name: READINESS_METRICS.check,
      value: STATUS_VALUE[c.status],
      unit: "None" as const,
      dimensions: { Region: evaluation.region, Check: c.id },
      timestamp: at,
    })),
    ...(complete
      ? [
          {
            name: READINESS_METRICS.overall,
            value: STATUS_VALUE[evaluation.overall],
            unit: "None" as const,
            dimensions: { Region: evaluation.region },
            timestamp: at,
          },
        ]
      : []),
  ];
}

/** Metric names in the PaymentsDR namespace (values: STATUS_VALUE). */
export const READINESS_METRICS = {
  check: METRICS.readinessCheck,
  overall: METRICS.readiness,
} as const;
