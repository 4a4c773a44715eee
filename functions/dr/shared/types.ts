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
   * The latest readiness evaluation of each region as it stood when the run began (read from
   * the target region's control table, best effort: it never blocks a failover).
   */
  readonly readiness?: readonly ReadinessSummary[];
}

/** One region's latest readiness evaluation, recorded in the run. */
export interface ReadinessSummary {
  readonly region: string;
  readonly at: string | null;
  /** ok, warn, unknown, fail; "missing" when no evaluation is stored, "unreadable" when the read failed. */
  readonly overall: string;
  /** "id: reason" of each check that is not ok. */
  readonly findings: readonly string[];
}

export interface FenceResult extends StepTimes {
  readonly activeRegion: string;
  readonly previousRegion: string;
  readonly fencingToken: number;
  readonly fencedAt: string;
  /** What the old region's copy of the flag said (best-effort read; never blocks). */
  readonly oldRegionFlag: "confirmed" | "replicating" | "unreachable" | "skipped";
}

export type PromotionMethod = "managed-failover" | "detach" | "switchover";

export interface PromoteResult extends StepTimes {
  readonly method: PromotionMethod;
  /** Why managed failover was not used, when method is "detach". */
  readonly detachReason?: string;
}

export interface CheckPromotionResult extends StepTimes {
  readonly isWriter: boolean;
  /** Polls so far in this execution; the state machine's Choice stops at its literal maximum. */
  readonly polls: number;
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

export interface RecordTimelineResult extends StepTimes {
  readonly eventId: string;
  readonly rtoSeconds: number;
  readonly rpoEstimateMs: number | null;
  readonly timeline: readonly TimelineEntry[];
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
}

export interface Steps {
  readonly ValidateInput?: StepTimes;
  readonly AcquireLock?: LockResult;
  readonly Preflight?: PreflightResult;
  readonly RequestApproval?: { readonly approved?: boolean; readonly approvedBy?: string };
  readonly Fence?: FenceResult;
  readonly Promote?: PromoteResult;
  readonly Switchover?: PromoteResult;
  readonly CheckPromotion?: CheckPromotionResult;
  readonly UpdateParameters?: UpdateParametersResult;
  readonly ShiftTraffic?: ShiftTrafficResult;
  readonly Verify?: VerifyResult;
  readonly Unfence?: UnfenceResult;
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
    "Switchover",
    "CheckPromotion",
    "UpdateParameters",
    "ShiftTraffic",
    "Verify",
    "Unfence",
  ],
};
