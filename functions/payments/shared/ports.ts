// What the payment cores need from the outside world. Pure types: the cores depend on these,
// the handlers pass in PostgreSQL and AWS implementations (or tests pass fakes).
import type { RecordedAnswer } from "./idempotency";
import type { Payment, PaymentEventType, PlannedChange, Operation } from "./payment";

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
  /** Outbox events this request wrote (none on a replay). */
  readonly events: readonly OutboxEvent[];
}

interface IdempotentWrite {
  readonly idempotencyKey: string;
  /** SHA-256 of the request; the same key with another hash is refused. */
  readonly requestHash: string;
  readonly eventId: string;
  readonly originRegion: string;
  readonly at: Date;
}

export interface NewAuthorization extends IdempotentWrite {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly cardToken: string;
  readonly amount: number;
  readonly currency: string;
}

export interface TransitionRequest extends IdempotentWrite {
  /** The API key's merchant: only its payments are found, its key record is the one used. */
  readonly merchantId: string;
  readonly paymentId: string;
  readonly operation: Exclude<Operation, "authorize">;
  /** Decides the change from the locked current row; throws a domain error to refuse it. */
  readonly plan: (payment: Payment) => PlannedChange;
  /**
   * The answer to record under the key when `plan` refuses with this error, or undefined to
   * record nothing (the error then propagates and the transaction rolls back).
   */
  readonly refusal: (error: unknown) => { statusCode: number; body: unknown } | undefined;
}

export interface PaymentStore {
  /** The answer recorded under (merchant, key), if its request committed. */
  recordedAnswer(merchantId: string, idempotencyKey: string): Promise<RecordedAnswer | undefined>;
  /** Inserts the payment, its outbox event and its idempotency record atomically. */
  authorize(input: NewAuthorization): Promise<WriteResult>;
  /** Locks the payment, applies `plan`, writes the outbox event and idempotency record. */
  transition(input: TransitionRequest): Promise<WriteResult>;
  /** The merchant's payment; another merchant's is as absent as an unknown id. */
  find(merchantId: string, paymentId: string): Promise<Payment | undefined>;
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
