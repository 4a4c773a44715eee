// The contract between the infrastructure and the functions: environment variable names,
// parameter keys, control-table items and event names. Infra and functions both import this
// file, so a rename cannot leave one side behind. Pure constants: no AWS imports.

/** Environment variables set on every payment function, identical names in both regions. */
export const PAYMENTS_ENV = {
  /** `/payments/<suffix>`: root of this environment's SSM parameters. */
  parameterPrefix: "PARAMETER_PREFIX",
  controlTable: "CONTROL_TABLE",
  sessionsTable: "SESSIONS_TABLE",
  idempotencyTable: "IDEMPOTENCY_TABLE",
  eventBusName: "EVENT_BUS_NAME",
  /** Milliseconds the active-region flag may be cached; at most 5000. */
  activeRegionCacheMs: "ACTIVE_REGION_CACHE_MS",
  /** Seconds SSM values (endpoints, credentials) are cached. */
  parameterCacheSeconds: "PARAMETER_CACHE_SECONDS",
  /**
   * Hours an authorization may be captured (its captureBefore); then the expiry job releases it.
   * Default 168 (7 days), 1 to 720.
   */
  captureWindowHours: "CAPTURE_WINDOW_HOURS",
  /**
   * Connections per database pool of one execution environment (default DATABASE_POOL_MAX, 1 to
   * 16). Infra sets it from the connection budget (infra/lib/connection-budget.ts); only
   * in-process runs that serve many requests at once (the benchmark) raise it.
   */
  databasePoolMax: "DATABASE_POOL_MAX",
  /**
   * The widest full-jitter delay, ms, before a function reconnects to the database after losing
   * its connection or seeing the writer move (functions/payments/shared/connect-jitter.ts).
   * Infra sets it from the function's timeout; default 0 (off), at most 1000.
   */
  databaseConnectJitterMs: "DATABASE_CONNECT_JITTER_MS",
  /**
   * How a write's events reach EventBridge (EVENT_PUBLICATION_MODES): "relay" (default) leaves
   * them in the outbox for the outbox relay, which drains it continuously; "inline" also
   * publishes them right after commit, on the request path.
   */
  eventPublication: "EVENT_PUBLICATION",
  /** Milliseconds the outbox relay waits between polls of an empty outbox (default 100, 20 to 5000). */
  outboxPollMs: "OUTBOX_POLL_MS",
} as const;

/** Values of EVENT_PUBLICATION (PAYMENTS_ENV.eventPublication). */
export const EVENT_PUBLICATION_MODES = ["relay", "inline"] as const;
export type EventPublicationMode = (typeof EVENT_PUBLICATION_MODES)[number];

/**
 * Connections one pool opens in one Lambda execution environment. Lambda runs one invocation at
 * a time per environment ("Understanding Lambda function scaling",
 * https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html) and every handler uses
 * the database sequentially (one withClient at a time), so a second connection would sit idle
 * while still holding a server slot (~10 MB of writer memory each: max_connections is
 * DBInstanceClassMemory/9531392). One connection per pool makes "connections = environments x
 * pools" exact, which is what the synth-time budget counts.
 */
export const DATABASE_POOL_MAX = 1;

/** Environment variables of the DR task functions and the prober. */
export const DR_ENV = {
  /** JSON of type DrTopology: everything a task needs to know about both regions. */
  topology: "DR_TOPOLOGY",
  /** Minutes after a completed run during which a new run is rejected (default 30, 0 to 1440). */
  cooldownMinutes: "DR_COOLDOWN_MINUTES",
  /** Minutes a failover lock stays valid if its run never releases it (default 360, 30 to 10080). */
  lockTtlMinutes: "DR_LOCK_TTL_MINUTES",
  /** Largest replication lag, milliseconds, at which a failback may start (default 1000). */
  failbackMaxLagMs: "DR_FAILBACK_MAX_LAG_MS",
  /**
   * JSON of type DrDatabaseSpec: how Terraform builds each region's cluster, so a re-protect
   * rebuilds a secondary Terraform recognises as its own (set on the re-protect tasks only: the
   * 4 KB Lambda environment limit).
   */
  database: "DR_DATABASE",
  /** Prober: seconds between probes within one invocation (default 10, 1 to 60). */
  probeIntervalSeconds: "PROBE_INTERVAL_SECONDS",
  /** Prober: milliseconds one /health request may take before it counts as unhealthy (default 3000). */
  probeTimeoutMs: "PROBE_TIMEOUT_MS",
  /** JSON of type DrCapacity: the capacity a new primary is brought to after a promotion. */
  capacity: "DR_CAPACITY",
  /** Readiness evaluator: JSON of type ReadinessSettings (functions/monitoring/readiness). */
  readinessSettings: "READINESS_SETTINGS",
  /**
   * Seconds the old region's payment path may still commit after its replica of the flag names
   * another region: flag cache + one flag read + the write path's timeout + a margin. Derived at
   * synth from the deployed payment functions (infra/lib/fence-bound.ts).
   */
  fenceSettleSeconds: "DR_FENCE_SETTLE_SECONDS",
  /**
   * Seconds after a Fence was written in the target until the old region's payment path can no
   * longer commit on the strength of the peer lease alone (PEER_LEASE): lease + two clock skews +
   * the write path's timeout + a margin. Derived at synth (infra/lib/fence-bound.ts).
   */
  leaseSettleSeconds: "DR_LEASE_SETTLE_SECONDS",
  /** rds.global_db_rpo of the deployed primary's cluster, seconds; unset: no RPO guard. */
  dbRpoSeconds: "DR_DB_RPO_SECONDS",
  /**
   * Seconds added to rds.global_db_rpo + the heartbeat interval before the database proof holds
   * (DB_PROOF_MARGIN_SECONDS; default 30, 10 to 600).
   */
  writerStopMarginSeconds: "DR_WRITER_STOP_MARGIN_SECONDS",
} as const;

/**
 * The database's own proof of life. The active cluster commits this one-row table every
 * `intervalSeconds` (pg_cron, inside the database, so it needs no traffic and no Lambda), and
 * every region's /health reports the newest `beat_at` its own cluster holds as
 * `replication.writerHeartbeatAt`. Under rds.global_db_rpo, a heartbeat that stopped arriving
 * proves the old primary stopped committing (state-machines/README.md, "Never two writers").
 */
export const WRITER_HEARTBEAT = {
  table: "writer_heartbeat",
  /** pg_cron job name. */
  job: "payments-writer-heartbeat",
  intervalSeconds: 5,
  /** /health body: `replication.writerHeartbeatAt`, ISO 8601 or null. */
  healthField: "writerHeartbeatAt",
  /**
   * The heartbeat reader (review 23-18 H2): a payment function with no route and its own small
   * reservation, `payments-<readerComponent>-<suffix>` in each region, that the DR tasks and the
   * prober invoke through the Lambda API to read the beat their region's cluster holds. A flood
   * of the public /health cannot reach it: API Gateway does not route to it, and its reserved
   * concurrency is its own ("Reserved concurrency ... no other function can use that
   * concurrency", https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
   */
  readerComponent: "heartbeat",
} as const;

/** The heartbeat reader's function name (identical in both regions; Lambda names are regional). */
export function heartbeatReaderName(environmentSuffix: string): string {
  return `payments-${WRITER_HEARTBEAT.readerComponent}-${environmentSuffix}`;
}

/**
 * Environment of the report functions (functions/reports/) and of the DR tasks that ask the
 * writer for a report.
 */
export const REPORTS_ENV = {
  /** The report writer's function name, identical in both regions. */
  writerFunction: "REPORT_WRITER_FUNCTION",
  /** This region's report bucket. */
  bucket: "REPORT_BUCKET",
  /** JSON `{ "<region>": "<bucket>" }` of both regions' report buckets. */
  buckets: "REPORT_BUCKETS",
  ledgerTable: "LEDGER_TABLE",
  /** JSON of type TargetsByKind: the RTO and RPO targets each kind of run is held to. */
  targets: "REPORT_TARGETS",
  /** Days a report and its ledger row are kept. */
  retentionDays: "REPORT_RETENTION_DAYS",
  environmentSuffix: "ENVIRONMENT_SUFFIX",
  /** Days without a successful drill after which the drill watch reports it overdue. */
  maxDrillAgeDays: "DRILL_MAX_AGE_DAYS",
} as const;

/**
 * The ledger global table: one item per run (`id` = `<kind>/<region>/<runId>`), every item
 * also under the `by-time` index (`ledger` = "run", sorted by `endedAt`) for "the last N runs".
 * Items expire at `expiresAt` (epoch seconds), with their reports.
 */
export const LEDGER = {
  partitionKey: "id",
  timeIndex: "by-time",
  indexPartitionKey: "ledger",
  indexPartition: "run",
  indexSortKey: "endedAt",
  ttlAttribute: "expiresAt",
} as const;

/**
 * The PostgreSQL role the payment path connects as (migration 011 creates it; the migrate function
 * alone uses the master user). It authenticates with IAM database authentication, so the infra
 * grants `rds-db:connect` on `dbuser:<cluster resource id>/` + this name, case and all.
 */
export const DATABASE_APP_USER = "payments_app";

/** SSM parameter keys under `/payments/<suffix>/`; identical names in both regions. */
export const PARAMETERS = {
  /** The global writer endpoint; rewritten by the orchestrator after a detach-and-promote. */
  writerEndpoint: "db/writer-endpoint",
  /** This region's cluster reader endpoint. */
  readerEndpoint: "db/reader-endpoint",
  /** This region's cluster (writer) endpoint. */
  clusterEndpoint: "db/cluster-endpoint",
  databaseName: "db/name",
  username: "db/username",
  /** SecureString (platform CMK): the master password. */
  password: "db/password",
  /** The region currently taking writes; rewritten by the orchestrator. */
  activeRegion: "active-region",
  /**
   * SecureString (platform CMK): the key store, a JSON array of `{ merchantId, sha256 }`, each
   * the SHA-256 (hex) of an API key and the merchant it is bound to. Never the keys themselves.
   */
  apiKeys: "api/keys",
  /**
   * SecureString (platform CMK): the API key the DR Verify task uses, bound to
   * DR_SYNTHETIC_MERCHANT in `api/keys`.
   */
  drVerifyApiKey: "api/dr-verify-key",
  /** This region's API base URL (https://...). */
  apiUrl: "api/url",
} as const;

/**
 * The merchant the DR Verify task authorizes and voids its synthetic payments as. Its key
 * (`api/dr-verify-key`) sees only that merchant's payments; no merchant key may be bound to it.
 */
export const DR_SYNTHETIC_MERCHANT = "dr-synthetic";

/** Items of the `control` global table (partition key `pk`, string). */
export const CONTROL = {
  partitionKey: "pk",
  /**
   * The fencing flag: `{ pk, activeRegion, fencingToken (number, +1 per change), updatedAt,
   * updatedBy, reason }`. Writes are accepted only in `activeRegion`.
   */
  activeRegionItem: "active-region",
  /** The failover lock: `{ pk, owner, operation, acquiredAt, expiresAt (epoch s, TTL) }`. */
  lockItem: "failover-lock",
  /** Written when a run ends: `{ pk, lastCompletedAt, lastExecution, cooldownUntil }`. */
  cooldownItem: "failover-cooldown",
  /**
   * `readiness#<region>`: the latest readiness evaluation made in that region, written by its
   * evaluator: `{ pk, evaluation }` (Evaluation in functions/monitoring/readiness/core.ts).
   */
  readinessItemPrefix: "readiness#",
  /**
   * The prober's record of the writer heartbeat its region's cluster holds (HeartbeatWatch in
   * functions/dr/shared/ports.ts): `{ pk, beatAt, firstSeenAt, advanced, checkedAt, staleSince? }`.
   * Each region's prober writes its own replica's copy; the global table carries it to the other
   * region, where nothing reads it.
   */
  heartbeatWatchItem: "writer-heartbeat-watch",
  /** TTL attribute of the control table (epoch seconds). */
  ttlAttribute: "expiresAt",
} as const;

/**
 * The `active-region` item of the control table (without its partition key): written by the
 * orchestrator's Fence and Unfence (and seeded by Terraform), read by every payment write and by
 * /health. Only `activeRegion` decides where writes are accepted.
 */
export interface ActiveRegionItem {
  readonly activeRegion: string;
  /** +1 per change of the active region, never per phase. */
  readonly fencingToken: number;
  readonly updatedAt: string;
  /** The run id (failoverId) that wrote it, or "terraform" for the seed. */
  readonly updatedBy: string;
  readonly reason?: string;
  /** FENCE_PHASE value. */
  readonly phase?: string;
  readonly previousRegion?: string;
  /**
   * When the flag moved before this move (the previous flag's updatedAt, as Fence read it): the
   * earliest an unplanned failover's point of failure can be, so re-protect refuses an older
   * point-of-failure snapshot (it belongs to an earlier failover). Absent on a seeded flag.
   */
  readonly previousUpdatedAt?: string;
  /**
   * The peer lease is armed (PEER_LEASE): the payment functions of `activeRegion` refuse writes
   * unless `peerSeenAt` in their own replica is at most PEER_LEASE.seconds old. Absent or false:
   * not required (a flag seeded before the lease existed; the survivor of an unplanned failover,
   * whose peer is gone).
   */
  readonly leaseRequired?: boolean;
  /**
   * When the standby region last renewed the lease (ISO 8601, the renewer's clock), or when the
   * Fence that armed it was written.
   */
  readonly peerSeenAt?: string;
  /**
   * When this run proved the old writer stopped and went on to promote (ISO 8601), stamped by
   * Promote / Switchover in the TARGET region's replica only, conditional on this run's token and
   * phase `fenced`, first value kept; removed by every Fence. /health answers "taking-over" only
   * with it (functions/common/taking-over.ts).
   */
  readonly promotingAt?: string;
}

/**
 * The peer lease on the `active-region` item (review M3; argued in state-machines/README.md,
 * "Never two writers"). The standby region's prober renews `peerSeenAt` on the same item every
 * probe round, conditional on the flag naming the other region with the token it read, so a
 * renewal is never written after the standby's own Fence. Global tables replicate whole items,
 * last writer wins: a replica holding a renewal newer than `seconds` holds no version older than
 * a fence written `seconds` ago, so an active region that has not seen the flag refreshed within
 * `seconds` stops writing, whatever its replica still says.
 */
export const PEER_LEASE = {
  /** Writes are refused once the renewal the guard holds is older than this. */
  seconds: 30,
  /**
   * The most the renewer's clock, the payment functions' clock and the DR tasks' clock may
   * differ from true time (Amazon Time Sync keeps Lambda clocks within milliseconds; this is
   * generous); counted twice in every bound (stamp and check are on different clocks).
   */
  clockSkewSeconds: 1,
  /** The lease-age alarm warns at this age (before it lapses at `seconds`). */
  warnSeconds: 20,
} as const;

/**
 * Every top-level attribute the peer lease's renewal names: key, condition and update
 * (functions/dr/shared/aws/control-table.ts renewPeerLease). The renewer's IAM policy allows its
 * UpdateItem with these names and no others (`dynamodb:Attributes`, statement RenewPeerLease in
 * infra/constructs/orchestration.ts), so the prober's role cannot touch `updatedBy`, `reason`,
 * `previousRegion`, `phaseChangedAt` or anything else. The condition's names must be listed too:
 * AWS says the listed attributes "can be read, written, or evaluated in a conditional write or
 * scan filter", and that a caller "cannot perform conditional write operations based on any
 * other attributes" (specifying-conditions.html, examples 3 and 6). Dropping `activeRegion`,
 * `fencingToken` or `phase` from this list would deny every renewal, lapse the lease and stop
 * the writer's payments (test/infra/orchestration.test.ts checks the condition's names are here)
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html).
 * What IAM cannot say is "these three only in the condition": that the renewal never SETs
 * `activeRegion`, `fencingToken` or `phase` rests on the code and its tests.
 */
export const LEASE_RENEWAL_ATTRIBUTES = [
  "pk",
  "activeRegion",
  "fencingToken",
  "phase",
  "peerSeenAt",
  "leaseRequired",
] as const;

/**
 * `phase` attribute of the `active-region` item, written by the orchestrator next to
 * `activeRegion`. Only `activeRegion` decides where writes are accepted; `phase` says whether a
 * role change is still in progress, for dashboards, /health details and the DR tooling.
 */
export const FENCE_PHASE = {
  /**
   * Written by Fence with the new `activeRegion`: the old region already rejects writes, the new
   * region's database may still be read-only until its promotion completes.
   */
  fenced: "fenced",
  /** Written by Unfence once the new region's writer is verified: the role change is complete. */
  open: "open",
} as const;

/**
 * Route 53 failover records of `DrTopology.dns.recordName`: two alias records of this type,
 * `SetIdentifier` "primary" (Failover PRIMARY) and "secondary" (Failover SECONDARY). The
 * orchestrator makes a region primary by UPSERTing both in one batch with the alias targets
 * (`apiDomainTarget`) and health checks (`healthCheckId`) swapped; the infrastructure ignores
 * later changes to alias and health check.
 */
export const DNS_FAILOVER = {
  recordType: "A",
  primarySetIdentifier: "primary",
  secondarySetIdentifier: "secondary",
} as const;

/** The sessions table: partition key `sessionId`, TTL attribute `expiresAt` (epoch seconds). */
export const SESSIONS = { partitionKey: "sessionId", ttlAttribute: "expiresAt" } as const;

/**
 * The idempotency table: in-flight locks of the write endpoints (`lock#<merchant>#<key>` ->
 * holder, lockExpiresAt in epoch ms). PostgreSQL holds the answers; see
 * functions/payments/shared/idempotency.ts.
 */
export const IDEMPOTENCY = {
  partitionKey: "id",
  ttlAttribute: "expiration",
} as const;

/** EventBridge `source` values; the replication rules match these detail-type prefixes. */
export const EVENTS = {
  paymentsSource: "payments",
  drSource: "payments.dr",
  paymentsPrefix: "payments.",
  drPrefix: "dr.",
  /**
   * Every event's detail carries `eventId` (consumers deduplicate on it) and `originRegion`
   * (the region that published it). Replication rules forward only events whose originRegion
   * is their own region, so a replicated event is never sent back.
   */
  originRegionField: "originRegion",
  eventIdField: "eventId",
} as const;

/**
 * `DetailType` of each payment state change on the regional bus (`Source` =
 * EVENTS.paymentsSource). The detail (PaymentEventDetail, functions/payments/shared/payment.ts;
 * README "Event contract") carries `schemaVersion`, `eventId`, `type`, `originRegion`,
 * `occurredAt`, `requestId`, the payment's `version` after the change and its state, the amount
 * the change moved, and the capture or refund it created.
 */
export const PAYMENT_EVENTS = {
  authorized: "payments.authorized",
  /** Every capture, partial or final (`capture.final`). */
  captured: "payments.captured",
  partiallyRefunded: "payments.partially_refunded",
  refunded: "payments.refunded",
  /** A void: the uncaptured rest released on request. */
  voided: "payments.voided",
  /** The expiry job released the uncaptured rest at captureBefore. */
  expired: "payments.expired",
} as const;

/**
 * `DetailType` of the reconciliation's events after an unplanned failover (functions/reconcile,
 * README "Lost-write reconciliation"), on the same bus with `Source` = EVENTS.paymentsSource and
 * the `payments.` prefix, so the replication rules carry them like every payment event. They are
 * not outbox rows: `payments.lost` names a payment the new primary may not hold at all.
 * - `payments.lost`: a payment whose writes the old primary committed and the new primary lacks;
 *   `invalidatedEventIds` are the events consumers may have seen for those writes.
 * - `payments.replayed`: the replay restored it; `replayedEventIds` are the restored writes'
 *   events (published by the outbox relay as usual), `replacesEventIds` the lost ones.
 * Their detail carries `schemaVersion` (PAYMENT_EVENT_SCHEMA_VERSION), `eventId` (the same for
 * the same incident and payment, so a second run's events deduplicate), `type`, `originRegion`.
 */
export const RECONCILIATION_EVENTS = {
  lost: "payments.lost",
  replayed: "payments.replayed",
} as const;

/**
 * Version of the payment event detail. Adding a field keeps it; removing, renaming or changing
 * the meaning of one raises it. Events written before the field existed are version 1 too.
 */
export const PAYMENT_EVENT_SCHEMA_VERSION = 1;

/**
 * Optional environment of the payment functions, never set in a deployed region: a
 * `postgres://` URL that replaces the SSM database settings (tests, local runs; no TLS).
 */
export const PAYMENTS_LOCAL_ENV = {
  databaseUrl: "DATABASE_URL",
  /**
   * "aurora" runs the write path's writer identity check (functions/payments/shared/
   * writer-identity.ts) against DATABASE_URL too: tests that model Aurora's functions on a real
   * PostgreSQL. Aurora settings always run it.
   */
  writerIdentity: "DATABASE_WRITER_IDENTITY",
  /**
   * With DATABASE_URL: this region's own cluster endpoint (what db/cluster-endpoint names on
   * Aurora), for tests that put a model of the global endpoint in DATABASE_URL. Unset: the same
   * as DATABASE_URL.
   */
  ownClusterUrl: "DATABASE_OWN_CLUSTER_URL",
} as const;

/**
 * The capacity loop's bound in seconds (the literal in each workflow ASL's IsCapacityDone, a test
 * ties them): three times the "less than 10 minutes" AWS gives a replacement instance
 * (Concepts.AuroraHighAvailability.html), twice the "15 minutes or more" of an instance class
 * change (AuroraPostgreSQL.Managing.html). Here because the infra's config refuses a failover
 * cooldown shorter than it (the loop runs after the lock's release, functions/dr/restore-capacity).
 */
export const CAPACITY_BOUND_SECONDS = 1800;

/** CloudWatch namespace and metric names shared by the prober, the orchestrator and alarms. */
export const METRICS = {
  namespace: "PaymentsDR",
  /** 1 when the probed region's /health answered 200 in time, 0 otherwise. Dimension: Region. */
  probeHealthy: "PrimaryHealthy",
  /** 1 when this region takes writes (the control flag names it), 0 otherwise; published by
   * /health. Dimension: Region. */
  activeRegion: "ActiveRegion",
  /**
   * 1 per probe whose answer said nothing about the probed region (429 from a throttle: no
   * PrimaryHealthy datapoint). Persisting, it pages (review 22b-18 M1'). Dimension: Region (the
   * probed region).
   */
  probeInconclusive: "ProbeInconclusive",
  /** 1 per prober invocation, probing or not. Dimension: Region (the prober's). */
  proberHeartbeat: "ProberHeartbeat",
  /**
   * 1 when the writer heartbeat this region's cluster holds stood still for longer than it can
   * while the writer answered healthy (its pg_cron job is not running), 0 otherwise; published
   * by the prober after each probe round. Dimension: Region (the prober's).
   */
  writerHeartbeatStale: "WriterHeartbeatStale",
  /**
   * Age in seconds of the peer lease (PEER_LEASE) in the active region's replica, published by
   * the renewing prober after each renewal. Dimension: Region (the active region), plus
   * Armed=false while the lease is disarmed (a separate metric nothing pages on).
   */
  peerLeaseAge: "PeerLeaseAgeSeconds",
  /**
   * 1 for each peer-lease renewal that failed (the flag could not be read or the renewal not
   * written: IAM, throttling, an outage of the prober's own DynamoDB), armed or not. Dimension:
   * Region (the prober's own region, where renewals are written).
   */
  peerLeaseRenewalFailed: "PeerLeaseRenewalFailed",
  /** Payment API requests and 5xx answers, /health excluded (from the access logs). */
  apiRequests: "PaymentApiRequests",
  apiServerErrors: "PaymentApiServerErrors",
  /** Seconds each failover step took. Dimensions: Workflow, Step. */
  stepDuration: "StepDurationSeconds",
  /** Replication lag at failover, milliseconds: the RPO estimate. Dimension: Workflow. */
  rpoEstimate: "RpoEstimateMilliseconds",
  /**
   * 1 when a run's capacity loop (after its lock's release) ended in a warning or at its bound:
   * the new primary may run short of DR_CAPACITY's instances. Published by the Notify task's
   * "capacity" page. Dimensions: Workflow, Region (the run's target); and Region alone, which the
   * capacity-not-restored alarm watches.
   */
  capacityNotRestored: "CapacityNotRestored",
  /** Total failover time, seconds. Dimension: Workflow. */
  rto: "RtoSeconds",
  /**
   * 1 per write-path writer identity check that could not run (functions/payments/shared/
   * writer-identity.ts: function missing, permission denied, its timeout, the own cluster
   * endpoint unreachable): every write is refused until fixed. Dimensions: Region (the
   * writer-check-failed alarm), and Region, Reason.
   */
  writerCheckFailed: "WriterCheckFailed",
  /**
   * 1 per connection the writer identity check refused because it reaches another instance
   * than this region's writer (stale global endpoint DNS or pool after a move). Expected for
   * seconds to minutes after a move; not an outage of the database. Dimension: Region.
   */
  writerMismatch: "WriterMismatch",
  /**
   * The readiness evaluator's result, 0 ok, 1 warn, 2 unknown, 3 fail: the worst check
   * (dimension Region, the evaluator's) and each check (dimensions Region, Check).
   */
  readiness: "ReadinessStatus",
  readinessCheck: "ReadinessCheckStatus",
  /** Days since a drill last passed (from the ledger). Dimension: Drill. */
  drillOverdueDays: "DrillDaysSinceSuccess",
  /** 1 when the newest drill of its kind failed, 0 otherwise. Dimension: Drill. */
  drillFailing: "DrillFailing",
} as const;

/** What the DR functions know about one region, from `DR_TOPOLOGY`. */
export interface DrRegion {
  readonly region: string;
  /** "primary" or "secondary" as deployed; the active region can differ after a failover. */
  readonly role: "primary" | "secondary";
  readonly clusterArn: string;
  readonly clusterIdentifier: string;
  /** https://... base URL of this region's payments API (regional endpoint). */
  readonly apiUrl: string;
  readonly eventBusName: string;
  readonly alertTopicArn: string;
  /** Route 53 health check of this region's /health, when a domain is configured. */
  readonly healthCheckId?: string;
  /** Alias target of this region's custom domain (api.<domain>), when a domain is configured. */
  readonly apiDomainTarget?: { readonly dnsName: string; readonly hostedZoneId: string };
}

/**
 * The latest readiness evaluation of one region, as its evaluator stores it in the control table
 * (`readiness#<region>`) and the failover preflight and the CLI read it.
 */
export interface ReadinessRecord {
  readonly region: string;
  /** When the evaluation started (ISO 8601). */
  readonly at: string;
  /** Worst of the checks: ok, warn, unknown or fail. */
  readonly overall: string;
  /** The writer's region as Aurora reported it, or null. */
  readonly activeRegion: string | null;
  readonly checks: readonly {
    readonly id: string;
    readonly status: string;
    readonly reason: string;
    readonly fix: string;
    /** Consecutive evaluations, this one included, the check could not tell (unknown). */
    readonly unknownRuns?: number;
  }[];
  /** Minutes between the evaluator's scheduled runs (absent in records written before it). */
  readonly scheduleMinutes?: number;
}

/**
 * `DR_CAPACITY`: what the old primary had, so RestoreCapacity can give it to the new one. The
 * writer's cluster runs `instances` instances of `instanceClass` (DB_PRIMARY_INSTANCES,
 * DB_INSTANCE_CLASS); each region lists the identifiers Terraform gives its cluster's instances
 * when that region holds the writer, in order, and what a new instance is created with, exactly
 * as infra/constructs/database.ts creates one, so Terraform can adopt it without a change.
 */
export interface DrCapacity extends Pick<
  DrDatabaseSpec,
  | "instanceClass"
  | "engine"
  | "engineVersion"
  | "monitoringRoleArn"
  | "monitoringInterval"
  | "caCertificateIdentifier"
> {
  readonly instances: number;
  /**
   * DB_SECONDARY_INSTANCES: the standby's own count. A planned move (switchover, failback) takes
   * the region it leaves back to it by deleting the readers RestoreCapacity added there, never
   * one of the first `standbyInstances` identifiers (Terraform's) and never below that count.
   */
  readonly standbyInstances: number;
  readonly regions: Readonly<
    Record<
      string,
      {
        /** `payments-db-<n>-<region code>-<suffix>`, n = 1..instances. */
        readonly identifiers: readonly string[];
        readonly dbSubnetGroupName: string;
        /** The region's Aurora storage key, which Performance Insights also uses. */
        readonly performanceInsightsKmsKeyId: string;
        /** `region-code` tag. */
        readonly regionCode: string;
      }
    >
  >;
}

/**
 * One region's cluster as Terraform builds it (infra/constructs/database.ts). A re-protect that
 * rebuilds the secondary with exactly these values leaves nothing for `terraform plan` to
 * replace: the identifiers, the key, the subnet and parameter groups are the ones in state.
 */
export interface DrClusterSpec {
  readonly clusterIdentifier: string;
  /** This region's key of the multi-Region pair (ForceNew on the cluster). */
  readonly kmsKeyId: string;
  readonly dbSubnetGroupName: string;
  readonly vpcSecurityGroupIds: readonly string[];
  readonly dbClusterParameterGroupName: string;
  /** The reader instances of this region when it holds the secondary, in order (db-1, db-2, ...). */
  readonly readerInstanceIdentifiers: readonly string[];
  readonly performanceInsightsKmsKeyId: string;
}

/**
 * The parameter group family of an Aurora PostgreSQL engine version: 16.6 -> aurora-postgresql16
 * (one family per major version, "Example: aurora-postgresql14", API_CreateDBClusterParameterGroup).
 * Terraform names the clusters' parameter groups' family with it, and re-protect checks the
 * promoted cluster against it.
 */
export function parameterGroupFamily(engineVersion: string): string {
  return `aurora-postgresql${engineVersion.split(".")[0]}`;
}

/** The `DR_DATABASE` environment variable of the re-protect tasks. */
export interface DrDatabaseSpec {
  readonly engine: "aurora-postgresql";
  readonly engineVersion: string;
  readonly instanceClass: string;
  readonly backupRetentionPeriod: number;
  readonly preferredBackupWindow: string;
  readonly preferredMaintenanceWindow: string;
  readonly deletionProtection: boolean;
  /**
   * IAM database authentication on each cluster: the payment functions connect as payments_app
   * with an IAM token, and RDS leaves it off unless CreateDBCluster asks for it
   * (UsingWithRDS.IAMDBAuth.Enabling.html).
   */
  readonly iamDatabaseAuthentication: boolean;
  readonly monitoringRoleArn: string;
  readonly monitoringInterval: number;
  readonly caCertificateIdentifier: string;
  readonly regions: Readonly<Record<string, DrClusterSpec>>;
}

/** The `DR_TOPOLOGY` environment variable of every DR function. */
export interface DrTopology {
  readonly environmentSuffix: string;
  readonly globalClusterIdentifier: string;
  readonly parameterPrefix: string;
  readonly controlTable: string;
  /** Present when a domain is configured: the failover records of `recordName`. */
  readonly dns?: {
    readonly hostedZoneId: string;
    /** api.<domain> */
    readonly recordName: string;
  };
  readonly regions: Readonly<Record<string, DrRegion>>;
}
