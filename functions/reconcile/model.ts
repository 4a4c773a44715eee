// Lost-write reconciliation after an unplanned failover (issue 16): the shapes the diff, the
// replay, the events and the report share, and the errors they throw. Pure: no I/O.
//
// The fork: Aurora's managed failover "doesn't wait for data to synchronize" and "can result in
// a loss of write transaction data that wasn't replicated to the chosen secondary" (AWS,
// aurora-global-database-disaster-recovery.html#aurora-global-database-failover). Whatever the
// old primary committed after the last commit the promoted cluster received is on the old side
// only. AWS keeps that side: "Before creating the new storage volume in the AWS Region, Aurora
// attempts to take a snapshot of the old storage volume at the point of failure", named
// `rds:unplanned-global-failover-<old-primary-cluster>-<timestamp>` (same page). This module
// compares a restored copy of it with the new primary.

/** Where the histories of the two clusters part (recorded by the failover run: ../dr/promote). */
export interface ForkPoint {
  /** The old primary's region: `origin_region` of the rows it wrote. */
  readonly oldRegion: string;
  /** The old primary cluster's identifier (for the report and the snapshot's name). */
  readonly oldCluster: string;
  /**
   * The newest old-primary commit the promoted cluster held when it was promoted (its newest
   * writer heartbeat), ISO 8601. Everything the old primary committed up to here is on the new
   * side (replication applies commits in order); after it, anything may be lost. Null when the
   * run could not read it: the scan then starts `scanMarginSeconds` before `failoverAt`.
   */
  readonly lastReplicatedAt: string | null;
  /** When the failover was requested (FailoverGlobalCluster / detach), ISO 8601. */
  readonly failoverAt: string;
  /** The failover run (Step Functions execution name) that recorded the fork. */
  readonly failoverRunId?: string;
  /** The point-of-failure snapshot (or its manual copy) the old copy was restored from. */
  readonly snapshot?: string;
}

export type EventType =
  | "payments.authorized"
  | "payments.captured"
  | "payments.partially_refunded"
  | "payments.refunded"
  | "payments.voided"
  | "payments.expired";

/** One row of payment_events, as either side holds it. */
export interface EventRow {
  readonly eventId: string;
  readonly paymentId: string;
  readonly type: EventType;
  readonly amount: number;
  readonly currency: string;
  readonly version: number;
  readonly operationId: string | null;
  readonly operationReference: string | null;
  readonly finalCapture: boolean | null;
  readonly requestId: string | null;
  readonly originRegion: string;
  readonly createdAt: Date;
  /** pg_xact_commit_timestamp when track_commit_timestamp is on, else createdAt. */
  readonly committedAt: Date;
}

/** One row of idempotency_keys. */
export interface KeyRow {
  readonly merchantId: string;
  readonly idempotencyKey: string;
  readonly operation: "authorize" | "capture" | "refund" | "void";
  readonly requestHash: string;
  readonly paymentId: string;
  readonly responseStatus: number;
  readonly responseBody: unknown;
  readonly requestId: string | null;
  readonly originRegion: string | null;
  readonly createdAt: Date;
  readonly committedAt: Date;
}

/** One row of payments (the card token is needed to rebuild an authorization, never reported). */
export interface PaymentRow {
  readonly id: string;
  readonly merchantId: string;
  readonly cardToken: string;
  readonly amount: number;
  readonly currency: string;
  readonly status: string;
  readonly capturedAmount: number;
  readonly refundedAmount: number;
  readonly reference: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly captureBefore: Date | null;
  readonly version: number;
  readonly originRegion: string;
  readonly createdAt: Date;
}

/** What the new primary holds for a lost payment. */
export interface NewSideState {
  readonly status: string;
  readonly version: number;
  readonly capturedAmount: number;
  readonly refundedAmount: number;
}

export type Outcome =
  /** Dry run: the replay would restore it. */
  | "replayable"
  /** Restored by a replay (this run or an earlier one). */
  | "replayed"
  /** Listed for a human; never replayed. */
  | "conflict";

export interface LostChange {
  readonly eventId: string;
  readonly type: EventType;
  readonly version: number;
  readonly amount: number;
  readonly committedAt: string;
  readonly idempotencyKey: string | null;
  readonly requestId: string | null;
  /** missing: not on the new side; replayed: restored there under another event id. */
  readonly state: "missing" | "replayed" | "diverged";
  /** The new primary's event at this version, when it has one (the replay's, or another). */
  readonly newEventId?: string;
}

/** A lost change with the old rows a replay rebuilds it from (never reported: card tokens). */
export interface ReplayStep {
  readonly payment: PaymentRow;
  readonly event: EventRow;
  readonly key: KeyRow;
}

/** One payment with writes the old primary committed that the new primary lacks. */
export interface LostPayment {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly amount: number;
  readonly currency: string;
  readonly capturedAmount: number;
  readonly refundedAmount: number;
  /** The status the old primary had, i.e. what the customer and merchant were told last. */
  readonly status: string;
  /** The authorization's key, else the first lost change's. */
  readonly idempotencyKey: string | null;
  /** When the first lost change committed on the old primary. */
  readonly committedAt: string;
  readonly changes: readonly LostChange[];
  /** The new primary's row, or null when it has none. */
  readonly newPrimary: NewSideState | null;
  /** What the new primary has instead, in words (finance's column). */
  readonly newPrimaryHas: string;
  readonly outcome: Outcome;
  /** Why a conflict is not replayed. */
  readonly reason?: string;
  /** The event ids consumers may have seen for writes that no longer exist. */
  readonly invalidatedEventIds: readonly string[];
}

/** An idempotency record lost without a payment change (a recorded refusal). */
export interface LostRecord {
  readonly merchantId: string;
  readonly idempotencyKey: string;
  readonly operation: string;
  readonly paymentId: string;
  readonly responseStatus: number;
  readonly committedAt: string;
  readonly newPrimaryHas: string;
}

export interface ReconcileChecks {
  /** Old-origin rows of the overlap window the new primary holds, all found in the copy. */
  readonly overlapRows: number;
  /** The copy's newest writer heartbeat (its own clock), when it has one. */
  readonly copyHeartbeatAt: string | null;
  /** The window scanned on the old side. */
  readonly scanFrom: string;
  readonly copyEnd: string | null;
  readonly failoverAt: string;
  readonly oldEventsScanned: number;
  readonly oldKeysScanned: number;
  readonly commitTimestamps: boolean;
}

export interface Reconciliation {
  readonly fork: ForkPoint;
  /** Per replayable payment, its missing changes in order (for replay.ts only). */
  readonly replaySteps: ReadonlyMap<string, readonly ReplayStep[]>;
  readonly lost: readonly LostPayment[];
  readonly lostRecords: readonly LostRecord[];
  readonly checks: ReconcileChecks;
}

/** Bad input to the reconciliation (options, the fork): names the field, value and what is allowed. */
export class ReconcileInputError extends Error {
  override name = "ReconcileInputError";
  constructor(field: string, value: unknown, allowed: string) {
    super(`${field}=${JSON.stringify(value) ?? "undefined"} is not allowed: ${allowed}`);
  }
}

/** The "old copy" is a live cluster (the new primary, a replica, a writer): refused, nothing read. */
export class LiveClusterError extends Error {
  override name = "LiveClusterError";
}

/** The copy does not reach the fork or misses rows: it would hide losses, so nothing is reported. */
export class CopyIncompleteError extends Error {
  override name = "CopyIncompleteError";
}

/** A row of either side that the payment API could never have written. */
export class InvalidRowError extends Error {
  override name = "InvalidRowError";
  constructor(
    side: "old copy" | "new primary",
    row: string,
    field: string,
    value: unknown,
    allowed: string,
  ) {
    super(
      `${side}: ${row}: ${field}=${JSON.stringify(value) ?? "undefined"} is not allowed: ${allowed}`,
    );
  }
}
