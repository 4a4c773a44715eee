// The data the state machines carry from task to task. Every Lambda task receives the whole
// state (`WorkflowState`) and its result is stored under `steps.<StateName>` (ResultPath), so a
// later task, the notification and the timeline can read what earlier steps did.

export type Workflow = "failover" | "switchover" | "failback" | "reprotect";
export type Trigger = "alarm" | "console" | "drill";
export type Mode = "automatic" | "approval";

/** The execution's identity, taken from the Step Functions context object by ValidateInput. */
export interface ExecutionContext {
  readonly executionId: string;
  readonly executionName: string;
  readonly startTime: string;
  readonly stateMachineArn: string;
}

/** The validated, normalised execution input. */
export interface DrRequest {
  readonly workflow: Workflow;
  /** Identifies the run across executions: `resumeFailoverId`, else this execution's name. */
  readonly failoverId: string;
  readonly resumed: boolean;
  readonly executionId: string;
  readonly executionName: string;
  readonly stateMachineArn: string;
  /** When this execution started (ISO 8601). */
  readonly startedAt: string;
  readonly targetRegion: string;
  /** The region that was active when the run began: the one being fenced. */
  readonly sourceRegion: string;
  readonly reason: string;
  readonly trigger: Trigger;
  readonly mode: Mode;
  readonly forceDetach: boolean;
  readonly ignoreCooldown: boolean;
  readonly allowUnknownLag: boolean;
  /**
   * On-call states that the old region can no longer commit (they checked it is down), so the
   * failover need not wait for proof. Console-started failovers only.
   */
  readonly assumeOldWriterStopped: boolean;
  /**
   * The drill (SSM Automation execution) this run belongs to: a cooldown written by a run of the
   * same drill does not refuse it. Drill-started runs only.
   */
  readonly drillId?: string;
}

export interface StepTimes {
  readonly startedAt: string;
  readonly endedAt: string;
}

export interface StepFailure {
  readonly Error: string;
  readonly Cause?: string;
}

/** Result of each step, as stored in `steps.<StateName>`. */
export interface LockResult extends StepTimes {
  readonly owner: string;
  readonly operation: Workflow;
  readonly acquiredAt: string;
  readonly expiresAt: number;
  /** Facts recorded on the lock: replicationLagMs (the RPO estimate of the first attempt), ... */
  readonly facts: Readonly<Record<string, string | number>>;
}

export interface PreflightResult extends StepTimes {
  readonly targetClusterStatus: string;
  /** Replication lag of the target cluster when the run began (ms), the RPO estimate. */
  readonly replicationLagMs: number | null;
  readonly replicationLagAt: string | null;
  /** The target already is the writer (a resumed run whose promotion completed). */
  readonly alreadyPromoted: boolean;
  /**
   * A resumed run that already fenced: it decided (and, in approval mode, was approved) back
   * then, so it neither asks again nor needs the prober, which stops probing a fenced region.
   */
  readonly alreadyFenced: boolean;
  /**
   * Present when an alarm-started failover must wait for on-call: the target lagged beyond the
   * RPO bound before the primary stopped answering (the RPO guard, not an outage, may be what
   * stopped it). Absent otherwise (the ASL tests IsPresent).
   */
  readonly approvalReason?: string;
  /**
   * The latest readiness evaluation of each region as it stood when the run began (read from
   * the target region's control table, best effort: it never blocks a failover).
   */
  readonly readiness?: readonly ReadinessSummary[];
}

/** One region's latest readiness evaluation, recorded in the run. */
export interface ReadinessSummary {
  readonly region: string;
  readonly at: string | null;
  /** ok, warn, unknown, fail; "missing" when none is stored, "unreadable" when the read failed. */
  readonly overall: string;
  /** "<check> <status>: <reason>" of each check that is not ok. */
  readonly findings: readonly string[];
}

export interface FenceResult extends StepTimes {
  readonly activeRegion: string;
  readonly previousRegion: string;
  readonly fencingToken: number;
  readonly fencedAt: string;
  /**
   * The flag's FENCE_PHASE when this execution read it: `open` only when an earlier execution of
   * the same run got through Unfence (a resume of a run that had completed).
   */
  readonly phase: string;
}

/** How the run knows the old region can no longer commit a payment. */
export type WriterStopEvidence =
  /** Its replica of the flag names the target, and the payment path's bound has passed since. */
  | "confirmed"
  /** rds.global_db_rpo: no heartbeat of the old writer reached the target for longer than the bound. */
  | "database"
  /** On-call said so (assumeOldWriterStopped). */
  | "operator"
  /** An earlier attempt of this run already promoted: it proved this before. */
  | "promotion-requested"
  /**
   * An earlier execution of this run got through Unfence (the flag it wrote is `open`), after it
   * had proved this and promoted; its lock, with the promotion fact, is gone with ReleaseLock.
   */
  | "completed"
  | "none";

export interface CheckOldWriterResult extends StepTimes {
  readonly stopped: boolean;
  readonly evidence: WriterStopEvidence;
  /** What the old region's replica of the flag said at this look. */
  readonly oldRegionFlag: "confirmed" | "replicating" | "unreachable";
  /** When the old region's replica was first seen naming the target (this run's token). */
  readonly confirmedAt: string | null;
  /** The newest writer heartbeat the target's cluster held at this look. */
  readonly heartbeatAt: string | null;
  /** When the target was first seen holding it (the database bound counts from here). */
  readonly heartbeatSeenAt?: string | null;
  /** Why the heartbeat does not count as proof (not alive, unreadable), when it does not. */
  readonly heartbeatNotProof?: string;
  /**
   * Confirmed path from a primary with rds.global_db_rpo: when the target was first seen holding
   * a heartbeat begun after the settle, i.e. since when COMMITs the guard paused have been
   * resumed (check-old-writer/core.ts pausedCommitsDrainedMs); null while none was seen.
   */
  readonly pausedCommitsResumedSeenAt?: string | null;
  /**
   * The first heartbeat (its value) from the old primary's instance begun after the settle; the
   * proof needs a second one a heartbeat interval later (review 24-10k M3). Null while none.
   */
  readonly pausedCommitsFirstBeatAt?: string | null;
  /** The instance that wrote the heartbeat the target holds, when the reader names it (013). */
  readonly heartbeatWriter?: string | null;
  /** While not stopped: what the proof still waits for, in words (the halt's page says it). */
  readonly waitingFor?: string;
  /** From when the evidence holds; null while there is none. */
  readonly stoppedAt: string | null;
  /** Seconds the Wait before the next look lasts (0 once stopped). */
  readonly nextCheckSeconds: number;
  /** Seconds since the first look of this execution; the ASL's bound reads it. */
  readonly elapsedSeconds: number;
  readonly looks: number;
}

export type PromotionMethod = "managed-failover" | "detach" | "switchover";

/**
 * Where an unplanned failover forked the data (issue 16): what the lost-write reconciliation
 * (functions/reconcile, `payments-dr reconcile`) starts from. Recorded on the lock before the
 * promotion is requested, so a retried or resumed Promote reports the first attempt's values.
 */
export interface ForkRecord {
  /** The old primary: its region (origin_region of its rows) and cluster. */
  readonly oldRegion: string;
  readonly oldCluster: string;
  readonly oldClusterArn: string;
  readonly promotedCluster: string;
  /**
   * The newest writer heartbeat of the old primary the promoted cluster held before the
   * promotion was requested: replication applies commits in order, so everything the old primary
   * committed up to here is on the new side. A lower bound of the real fork; null when unknown.
   */
  readonly lastReplicatedAt: string | null;
  /** AuroraGlobalDBReplicationLag when the run began (ms): the expected size of the loss. */
  readonly replicationLagMs: number | null;
  /** When the promotion (FailoverGlobalCluster or detach) was requested. */
  readonly failoverAt: string;
  /**
   * The point-of-failure snapshot AWS attempts when the old region recovers:
   * `rds:unplanned-global-failover-<old primary cluster>-<timestamp>` (aurora-global-database-
   * disaster-recovery.html). A system snapshot that expires with the old cluster's backup
   * retention: the reconcile runbook copies it to a manual snapshot first.
   */
  readonly snapshotPrefix: string;
}

export interface PromoteResult extends StepTimes {
  readonly method: PromotionMethod;
  /** Why managed failover was not used, when method is "detach". */
  readonly detachReason?: string;
  /** Failover (AllowDataLoss) only: where the data forked. */
  readonly fork?: ForkRecord;
}

export interface CheckPromotionResult extends StepTimes {
  readonly isWriter: boolean;
  /** Polls so far in this execution. */
  readonly polls: number;
  /** Seconds since the first poll of this execution; the ASL's bound and slow page read it. */
  readonly elapsedSeconds: number;
  /** Seconds the Wait before the next poll lasts. */
  readonly nextPollSeconds: number;
  readonly clusterStatus: string;
  readonly globalClusterStatus: string;
  readonly failoverStatus: string | null;
}

export interface UpdateParametersResult extends StepTimes {
  readonly writerEndpoint: string;
  readonly activeRegion: string;
  readonly otherRegion: "updated" | "unreachable";
}

export interface ShiftTrafficResult extends StepTimes {
  readonly records: "not-configured" | "switched" | "already-primary" | "unreachable";
  readonly healthChecks: Readonly<Record<string, "healthy" | "unhealthy" | "unknown">>;
  readonly note?: string;
}

export interface VerifyResult extends StepTimes {
  readonly paymentId: string;
  readonly healthStatus: number;
  readonly paymentStatus: number;
  readonly voidStatus: number;
}

export interface CapacityPending {
  readonly progressing: readonly { readonly identifier: string; readonly status: string }[];
  readonly missing: readonly string[];
  /**
   * Readers of the region left not deleted yet, by kind (review 23b, M1), for the page's advice:
   * - floor: kept because the standby has too few other instances available (`until` names
   *   them); never to be deleted by hand until they are (`broken`: one Aurora will not recover);
   * - held: another run's lock, or the left copy behind: delete once no run moves there;
   * - transitional: the reader itself is changing state: delete once it is available;
   * - failed: the release failed at this poll (review 23b, M2: the loop keeps watching the
   *   target; `identifier` is then the region's created-by readers).
   */
  readonly release: readonly CapacityRelease[];
  /**
   * Plan identifiers not asked for because another run held the lock (review 23b, L6), with the
   * holder: add them once that run ends.
   */
  readonly held?: readonly { readonly identifier: string; readonly reason: string }[];
}

export interface CapacityRelease {
  readonly identifier: string;
  readonly reason: string;
  readonly kind: "floor" | "held" | "transitional" | "failed";
  /** floor: the standby's instances that must be available before this reader may go. */
  readonly until?: readonly string[];
  /** floor: one of them is in a state Aurora does not leave by itself. */
  readonly broken?: boolean;
  /** floor, broken: the standby's instances still changing (rebooting, modifying...): no command. */
  readonly changing?: readonly string[];
  /**
   * floor, broken: the status of each standby instance not available, for the advice by state;
   * transitional: the reader's own status (review 24, L5).
   */
  readonly statuses?: Readonly<Record<string, string>>;
}

export interface RestoreCapacityResult extends StepTimes {
  /** The old primary's instance count (DR_CAPACITY), or null when it is not configured. */
  readonly desired: number | null;
  /** The new primary's instances before this step: "<id> (<class>, <status>)". */
  readonly existing: readonly string[];
  /** Readers this step asked for (CreateDBInstance accepted or already existing), all polls. */
  readonly requested: readonly string[];
  /**
   * Readers it added to the region a planned move left, deleted or being deleted there
   * (DeleteDBInstance accepted, or found `deleting` with its created-by tag: review 23b, L2), all
   * polls. Absent on a failover, which calls nothing in the region it left.
   */
  readonly released?: readonly string[];
  /**
   * Readers of the region left whose DeleteDBInstance a poll attempted, whatever came back, all
   * polls (review 24, L1): an accepted delete can still read `available` at the next poll, so
   * none of them counts as carrying the standby.
   */
  readonly deleteAttempted?: readonly string[];
  /** What the step still waits for (an instance or cluster in a transitional state). */
  readonly waiting?: readonly string[];
  /** The new primary's instances `available` at this poll (the writer included). */
  readonly available?: number;
  /**
   * What it waits for by kind, for the page's advice (review 23, M3): instances of the new
   * primary that exist and are not available yet (do not add another), plan identifiers not
   * asked for yet (add by hand), and readers in the region left not deleted yet, with why.
   */
  readonly pending?: CapacityPending;
  /** Nothing left to ask for: the ASL's loop ends. */
  readonly done?: boolean;
  /** Polls so far in this execution; the ASL's loop bound reads elapsedSeconds. */
  readonly polls?: number;
  readonly elapsedSeconds?: number;
  readonly nextPollSeconds?: number;
  /**
   * The poll that first found the standby with no working instance but the kept reader while the
   * new primary needed nothing more (review 23d): the loop retries the region left's unfinished
   * deletes from there for STANDBY_RETRY_POLLS polls, then pages.
   */
  readonly standbyBrokenSince?: number;
  readonly note: string;
}

export interface UnfenceResult extends StepTimes {
  readonly activeRegion: string;
  readonly fencingToken: number;
  readonly phase: string;
}

export interface TimelineEntry {
  readonly step: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly seconds: number;
}

/** Where a run's report is (or why it could not be requested). */
export interface ReportLink {
  /** s3:// URI of the HTML page; null when the report could not be requested. */
  readonly uri: string | null;
  readonly consoleUrl: string | null;
  readonly error?: string;
}

export interface RecordTimelineResult extends StepTimes {
  readonly eventId: string;
  readonly rtoSeconds: number;
  readonly rpoEstimateMs: number | null;
  readonly timeline: readonly TimelineEntry[];
  readonly report?: ReportLink;
}

export interface ReleaseLockResult extends StepTimes {
  readonly released: boolean;
  readonly cooldownUntil: number | null;
}

export interface NotifyResult extends StepTimes {
  readonly subject: string;
  readonly published: boolean;
  /** For a page: the failed step's error name and cause, reported by the Halted state. */
  readonly error?: string;
  readonly cause?: string;
  /** A page's report (the halted run's). */
  readonly report?: ReportLink;
  /** A capacity page's CapacityNotRestored metric: "published", or why not (sent after it). */
  readonly metric?: string;
}

/** Where the region that lost the writer stands on its way back to a caught-up secondary. */
export type RejoinStage =
  /** Its region does not answer yet. */
  | "region-unreachable"
  /** Not (yet) a member of the global cluster: Aurora re-adds it after a managed failover. */
  | "not-a-member"
  /** A standalone cluster (detached): Aurora never re-adds it; re-protect rebuilds it. */
  | "detached"
  /** A member, rebuilding its storage or not yet available. */
  | "resynchronizing"
  /** Connected, but its replication lag is unknown or above the limit. */
  | "catching-up"
  /**
   * Re-protect only: caught up, but the standby's prober has not renewed the peer lease lately,
   * so arming it would stop the writer's payments within PEER_LEASE.seconds.
   */
  | "renewer-silent"
  /**
   * Re-protect only: the prober renews in the standby's replica, but no fresh renewal shows in
   * the writer's, which is where its payments judge the lease (review 22 M2).
   */
  | "renewals-not-reaching-writer"
  | "ready";

export interface CheckRejoinResult extends StepTimes {
  readonly ready: boolean;
  /** Waiting cannot help (detached): the run stops with the message. */
  readonly blocked: boolean;
  readonly stage: RejoinStage;
  /** What is awaited, for the execution history and on-call. */
  readonly message: string;
  readonly region: string;
  readonly lagMs: number | null;
  readonly polls: number;
  /** Re-protect: when the wait to arm the peer lease began (capped, LEASE_WAIT_CAP_SECONDS). */
  readonly leaseWaitSince?: string;
  /**
   * Re-protect: the renewals seen fresh in the writer's replica at consecutive polls, each newer
   * than the last, and the latest one's stamp (ARMING_RENEWALS, review 23 M5).
   */
  readonly freshRenewals?: { readonly count: number; readonly peerSeenAt: string };
  /** Re-protect completed without arming the peer lease: why, and how to arm it later. */
  readonly leaseUnarmed?: string;
}

/** Where a rebuild of the global database stands (functions/dr/rebuild). */
export interface RebuildResult extends StepTimes {
  /** The secondary exists as a member with its instances; catching up is CheckRejoin's. */
  readonly done: boolean;
  /** "managed": the global cluster survived (managed failover); "detach": it is rebuilt. */
  readonly path: "managed" | "detach";
  /** What this poll did or waits for. */
  readonly action: string;
  readonly message: string;
  readonly polls: number;
  /** The old primary kept for reconciling lost writes, and its snapshot (detach path). */
  readonly retainedCluster?: string;
  readonly retainedSnapshot?: string;
  /** The manual copy of Aurora's point-of-failure snapshot of the old primary (managed path). */
  readonly pointOfFailureSnapshot?: string;
  /** Since when the old primary is still listed mid-removal (REMOVAL_WAIT_MINUTES bounds it). */
  readonly removalPendingSince?: string;
}

export interface Steps {
  readonly ValidateInput?: StepTimes;
  readonly AcquireLock?: LockResult;
  readonly Preflight?: PreflightResult;
  readonly RequestApproval?: { readonly approved?: boolean; readonly approvedBy?: string };
  readonly Fence?: FenceResult;
  readonly CheckOldWriter?: CheckOldWriterResult;
  readonly Promote?: PromoteResult;
  readonly Switchover?: PromoteResult;
  readonly CheckPromotion?: CheckPromotionResult;
  readonly UpdateParameters?: UpdateParametersResult;
  readonly ShiftTraffic?: ShiftTrafficResult;
  readonly Verify?: VerifyResult;
  readonly Unfence?: UnfenceResult;
  readonly RestoreCapacity?: RestoreCapacityResult;
  readonly RecordTimeline?: RecordTimelineResult;
  readonly NotifyCompleted?: NotifyResult;
  readonly ReleaseLock?: ReleaseLockResult;
  readonly CheckRejoin?: CheckRejoinResult;
  readonly Rebuild?: RebuildResult;
}

/** The state every task after ValidateInput receives. */
export interface WorkflowState {
  readonly input: unknown;
  readonly request: DrRequest;
  readonly steps: Steps;
  /** Written by Catch (ResultPath `$.failures.<StateName>`). */
  readonly failures?: Readonly<Record<string, StepFailure>>;
  /** Failures of non-blocking steps (ShiftTraffic, RecordTimeline, NotifyCompleted). */
  readonly warnings?: Readonly<Record<string, StepFailure>>;
}

/** Steps whose times make up the timeline, in workflow order. */
export const TIMELINE_STEPS: Readonly<Record<Workflow, readonly (keyof Steps)[]>> = {
  failover: [
    "ValidateInput",
    "Preflight",
    "AcquireLock",
    "Fence",
    "CheckOldWriter",
    "Promote",
    "CheckPromotion",
    "UpdateParameters",
    "ShiftTraffic",
    "Verify",
    "Unfence",
  ],
  switchover: [
    "ValidateInput",
    "Preflight",
    "AcquireLock",
    "Fence",
    "CheckOldWriter",
    "Switchover",
    "CheckPromotion",
    "UpdateParameters",
    "ShiftTraffic",
    "Verify",
    "Unfence",
  ],
  failback: [
    "ValidateInput",
    "CheckRejoin",
    "Preflight",
    "AcquireLock",
    "Fence",
    "CheckOldWriter",
    "Switchover",
    "CheckPromotion",
    "UpdateParameters",
    "ShiftTraffic",
    "Verify",
    "Unfence",
  ],
  reprotect: [
    "ValidateInput",
    "AcquireLock",
    "Rebuild",
    "CheckRejoin",
    "UpdateParameters",
    "ShiftTraffic",
  ],
};
