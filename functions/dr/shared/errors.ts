// Errors thrown by the DR tasks. A task's error `name` is what the state machines' Retry and
// Catch match, so these names are a contract with state-machines/*.asl.json: rename one and the
// ASL tests fail.

/**
 * Base class. Every subclass sets `name` as a string literal: the bundles are minified, so a
 * class name read at run time would not survive.
 */
export abstract class DrError extends Error {
  abstract override name: string;
}

/** Throttling, 5xx, network errors and timeouts: the state machines retry these. */
export class TransientError extends DrError {
  override name = "TransientError";
}

/** IAM denied a call: never retried, the workflow stops safely and pages. */
export class AccessDeniedError extends DrError {
  override name = "AccessDeniedError";
}

/** Any other failed AWS call; the message names the service, the operation and the error code. */
export class DependencyError extends DrError {
  override name = "DependencyError";
  /** The AWS error code (the SDK error's name), when an AWS call failed with one. */
  readonly code: string | undefined;
  constructor(message: string, options?: ErrorOptions & { readonly code?: string }) {
    super(message, options);
    this.code = typeof options === "object" ? options.code : undefined;
  }
}

// Input validation: the workflow ends in InputRejected before it touches anything.

export class InvalidInputError extends DrError {
  override name = "InvalidInputError";
}
export class TargetAlreadyActiveError extends DrError {
  override name = "TargetAlreadyActiveError";
}
export class WrongRegionError extends DrError {
  override name = "WrongRegionError";
}
export class AutomaticFailbackRefusedError extends DrError {
  override name = "AutomaticFailbackRefusedError";
}

// Lock and cooldown: the workflow ends in Rejected; the running (or finished) run is untouched.

export class LockHeldError extends DrError {
  override name = "LockHeldError";
}
/**
 * A planned run (switchover, failback) could not claim the other region's copy of the lock
 * within its bounded retries: it released what it took and stops with a page, touching nothing.
 * Not in any ASL Retry (AcquireLock already retried): caught by States.ALL into PageOnCall.
 */
export class LockUnconfirmedError extends DrError {
  override name = "LockUnconfirmedError";
}
/**
 * An unplanned failover met a planned run's lock that is not yet confirmed (no lockScope): that
 * run either goes ahead or releases within its AcquireLock's lifetime. Retried by the failover's
 * AcquireLock Retry (its own entry, failover.asl.json), never Rejected (review H1).
 */
export class LockSettlingError extends DrError {
  override name = "LockSettlingError";
}
/**
 * A long run found its lock gone or taken by another run when it renewed it: it stops before
 * acting, pages, and is resumed only once on-call knows which run owns the topology.
 */
export class LockLostError extends DrError {
  override name = "LockLostError";
}
export class CooldownActiveError extends DrError {
  override name = "CooldownActiveError";
}
/** A fenced run tried to release its lock before completing; the lock must stay. */
export class RunNotCompleteError extends DrError {
  override name = "RunNotCompleteError";
}

// Preflight.

export class TargetClusterUnhealthyError extends DrError {
  override name = "TargetClusterUnhealthyError";
}
export class ReplicationLagUnknownError extends DrError {
  override name = "ReplicationLagUnknownError";
}
export class FailbackNotReadyError extends DrError {
  override name = "FailbackNotReadyError";
}
export class SourceClusterUnhealthyError extends DrError {
  override name = "SourceClusterUnhealthyError";
}
/** An alarm started a failover but the prober's latest view does not show the primary down. */
export class AlarmNotCorroboratedError extends DrError {
  override name = "AlarmNotCorroboratedError";
}
/**
 * An alarm started a failover, the prober sees the primary's /health failing, but the target's
 * cluster still receives writer heartbeats the primary committed after that began: a flooded or
 * throttled /health, not a dead region. Pages; on-call decides (review 22b-18 H1').
 */
export class PrimaryStillCommittingError extends DrError {
  override name = "PrimaryStillCommittingError";
}

// Role change.

/** The active-region flag is not what this run expects: someone else changed it. */
export class FencingConflictError extends DrError {
  override name = "FencingConflictError";
}
/** FailoverGlobalCluster refused in a way that makes detach-and-promote the way forward. */
export class ManagedFailoverUnavailableError extends DrError {
  override name = "ManagedFailoverUnavailableError";
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}
/**
 * RDS refused the managed failover and nothing shows the old primary unreachable: detaching is
 * one-way, so the run pages instead and leaves it to on-call (resume with forceDetach).
 */
export class ManagedFailoverRefusedError extends DrError {
  override name = "ManagedFailoverRefusedError";
}
/**
 * Right before promoting, the evidence that the old writer stopped no longer holds (a newer
 * heartbeat reached the target: the old primary replicates, so it may commit): look again.
 */
export class OldWriterActiveError extends DrError {
  override name = "OldWriterActiveError";
}
/**
 * A failover or switchover of the global cluster is under way (or done) that this run did not
 * ask for: someone else (a console click, another tool) is moving it. Never adopted as this
 * run's own: the workflow stops safely, nothing promoted by it, and pages (review 24-10k M1).
 */
export class ForeignFailoverError extends DrError {
  override name = "ForeignFailoverError";
}
/** Promote or Switchover ran before Fence succeeded; never expected, guards the invariant. */
export class NotFencedError extends DrError {
  override name = "NotFencedError";
}

// Verification.

/** The synthetic payment through the target region's API did not go through. */
export class VerificationFailedError extends DrError {
  override name = "VerificationFailedError";
}

/** Topology or settings in the environment are unusable. */
export class ConfigurationError extends DrError {
  override name = "ConfigurationError";
}

/** Re-protect found something it did not build where it would build (reconcile by hand). */
export class RebuildConflictError extends DrError {
  override name = "RebuildConflictError";
}

/**
 * The capacity loop (after ReleaseLock) found that its run no longer owns the move: the
 * active-region flag no longer names this run's target with its fencing token and the open phase.
 * It stops without creating or deleting anything (a warning of the completed run).
 */
export class CapacitySupersededError extends DrError {
  override name = "CapacitySupersededError";
}

/**
 * The region a planned move left has no working instance but the reader the capacity loop added
 * there, because its own instance is in a state Aurora does not leave by itself: the reader is
 * kept, and the page says to repair the standby (review 23, M1, M3).
 */
export class StandbyNotWorkingError extends DrError {
  override name = "StandbyNotWorkingError";
}
