// What the payment cores need from the outside world. Pure types: the cores depend on these,
// the handlers pass in PostgreSQL and AWS implementations (or tests pass fakes).
import type { RecordedAnswer } from "./idempotency";
import type {
  Operation,
  Payment,
  PaymentEventType,
  PaymentOperation,
  PaymentStatus,
  PaymentView,
  PlannedChange,
} from "./payment";

/** One outbox row: a payment event waiting for (or past) publication. */
export interface OutboxEvent {
  readonly eventId: string;
  readonly type: PaymentEventType;
  /** The EventBridge detail, JSON text, published verbatim. */
  readonly detail: string;
  readonly createdAt: Date;
}

/**
 * What a write answers: status and body (a payment, a refund, or a recorded refusal in the error
 * shape), and whether it is a replay of an answer recorded earlier under the same key.
 */
export interface ApiAnswer {
  readonly statusCode: number;
  readonly body: unknown;
  readonly replayed: boolean;
}

/** The answer to a write, as first given (a replay returns it again), and what it wrote. */
export interface WriteResult extends ApiAnswer {
  /** Outbox events this request wrote (none on a replay or a refusal). */
  readonly events: readonly OutboxEvent[];
}

interface IdempotentWrite {
  readonly idempotencyKey: string;
  /** SHA-256 of the request; the same key with another hash is refused. */
  readonly requestHash: string;
  readonly eventId: string;
  readonly originRegion: string;
  /** The API request: recorded with the key and the event. */
  readonly requestId: string;
  readonly at: Date;
}

export interface NewAuthorization extends IdempotentWrite {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly cardToken: string;
  readonly amount: number;
  readonly currency: string;
  readonly reference: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly captureBefore: Date;
}

export interface TransitionRequest extends IdempotentWrite {
  /** The API key's merchant: only its payments are found, its key record is the one used. */
  readonly merchantId: string;
  readonly paymentId: string;
  readonly operation: Exclude<Operation, "authorize">;
  /**
   * Decides the change from the locked current row and its captures and refunds; throws a
   * domain error to refuse it.
   */
  readonly plan: (payment: Payment, operations: readonly PaymentOperation[]) => PlannedChange;
  /**
   * The answer to record under the key when `plan` refuses with this error, or undefined to
   * record nothing (the error then propagates and the transaction rolls back).
   */
  readonly refusal: (error: unknown) => { statusCode: number; body: unknown } | undefined;
  /** The answer to a change that went through, from the payment as it stands after it. */
  readonly respond: (
    view: PaymentView,
    created: PaymentOperation | undefined,
  ) => { statusCode: number; body: unknown };
}

/** GET /payments: one page of a merchant's payments, newest first. */
export interface ListQuery {
  readonly merchantId: string;
  /** 1 to 100. */
  readonly limit: number;
  /** A payment id of this merchant: the page holds payments listed after it (older). */
  readonly startingAfter?: string;
  /** A payment id of this merchant: the page holds payments listed before it (newer). */
  readonly endingBefore?: string;
  readonly status?: PaymentStatus;
  readonly reference?: string;
  readonly created: {
    readonly gt?: Date;
    readonly gte?: Date;
    readonly lt?: Date;
    readonly lte?: Date;
  };
}

export interface ListPage {
  readonly data: readonly PaymentView[];
  /** More payments lie beyond this page in the direction of the request. */
  readonly hasMore: boolean;
}

export interface PaymentStore {
  /** The answer recorded under (merchant, key), if its request committed. */
  recordedAnswer(merchantId: string, idempotencyKey: string): Promise<RecordedAnswer | undefined>;
  /** Inserts the payment, its outbox event and its idempotency record atomically. */
  authorize(input: NewAuthorization): Promise<WriteResult>;
  /** Locks the payment, applies `plan`, writes the outbox event and idempotency record. */
  transition(input: TransitionRequest): Promise<WriteResult>;
  /** The merchant's payment; another merchant's is as absent as an unknown id. */
  find(merchantId: string, paymentId: string): Promise<PaymentView | undefined>;
  /** A page of the merchant's payments; undefined when a cursor names no payment of theirs. */
  list(query: ListQuery): Promise<ListPage | undefined>;
}

/** What one run of the expiry job changed. */
export interface ExpiryBatch {
  /** Payments expired (or closed) in this batch. */
  readonly expired: number;
  readonly events: readonly OutboxEvent[];
}

export interface ExpiryStore {
  /**
   * In one transaction: locks up to `limit` open authorizations whose captureBefore is at or
   * before `at` (skipping rows another run holds), releases what is uncaptured and writes their
   * events. Calls `beforeCommit` with the number of payments last, inside the transaction: if it
   * throws, the transaction rolls back and the error propagates.
   */
  expireDue(
    at: Date,
    limit: number,
    context: {
      originRegion: string;
      newId: () => string;
      beforeCommit: (count: number) => void;
    },
  ): Promise<ExpiryBatch>;
  /**
   * In one transaction: deletes up to `limit` idempotency records created before `before`,
   * oldest first. Calls `beforeCommit` last, inside the transaction: if it throws, the
   * transaction rolls back and the error propagates.
   */
  pruneIdempotencyRecords(
    before: Date,
    limit: number,
    beforeCommit: (count: number) => void,
  ): Promise<number>;
}

export interface PublishOutcome {
  readonly eventId: string;
  readonly ok: boolean;
  readonly error?: string;
}

/** Publishes at most MAX_EVENTS_PER_PUT events; one outcome per event, in order. */
export type Publisher = (events: readonly OutboxEvent[]) => Promise<readonly PublishOutcome[]>;

/** PutEvents takes at most 10 entries. */
export const MAX_EVENTS_PER_PUT = 10;

export interface OutboxStore {
  markPublished(eventIds: readonly string[]): Promise<void>;
  /**
   * In one transaction: locks up to `limit` unpublished events (oldest first, skipping rows
   * another relay holds and the ids in `exclude`), passes them to `publish`, marks the ones
   * published and records the error of the others.
   */
  relay(
    limit: number,
    exclude: readonly string[],
    publish: (events: readonly OutboxEvent[]) => Promise<readonly PublishOutcome[]>,
  ): Promise<readonly PublishOutcome[]>;
}

/** A checkout session seen by an authorization (sessions table). */
export interface SessionTouch {
  readonly sessionId: string;
  readonly merchantId: string;
  readonly paymentId: string;
  readonly region: string;
  readonly at: Date;
}
