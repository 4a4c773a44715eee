// The data the state machines carry from task to task. Every Lambda task receives the whole
// state (`WorkflowState`) and its result is stored under `steps.<StateName>` (ResultPath), so a
// later task, the notification and the timeline can read what earlier steps did.

export type Workflow = "failover" | "switchover" | "failback";
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
  /** From when the evidence holds; null while there is none. */
  readonly stoppedAt: string | null;
  /** Seconds the Wait before the next look lasts (0 once stopped). */
  readonly nextCheckSeconds: number;
  /** Seconds since the first look of this execution; the ASL's bound reads it. */
  readonly elapsedSeconds: number;
  readonly looks: number;
}

export type PromotionMethod = "managed-failover" | "detach" | "switchover";

export interface PromoteResult extends StepTimes {
  readonly method: PromotionMethod;
  /** Why managed failover was not used, when method is "detach". */
  readonly detachReason?: string;
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

export interface RestoreCapacityResult extends StepTimes {
  /** The old primary's instance count (DR_CAPACITY), or null when it is not configured. */
  readonly desired: number | null;
  /** The new primary's instances before this step: "<id> (<class>, <status>)". */
  readonly existing: readonly string[];
  /** Readers this step asked for (CreateDBInstance accepted or already existing). */
  readonly requested: readonly string[];
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
};
