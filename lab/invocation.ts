// Lambda ends an invocation at its function's timeout: the environment stops, its connections
// close, and a transaction it had not committed rolls back; API Gateway answers the client 500
// "Internal server error" (https://repost.aws/knowledge-center/api-gateway-internal-server-error:
// a Lambda function that timed out). The lab's API process plays every environment of a region
// at once and cannot be stopped per invocation, so an invocation's database traffic is cut
// instead: once its deadline has passed, any statement it sends (its COMMIT included) closes its
// connection unsent.
//
// A statement sent before the deadline is left alone, as PostgreSQL leaves it when Lambda stops
// the function: the server does not notice the gone client while the statement runs, so it runs
// on until it ends (an autocommit statement then commits, after the client got its 500) or
// statement_timeout aborts it. The DR settle times count that last statement
// (infra/lib/fence-bound.ts, writeWorstCaseSeconds; measured on a real server in
// test/functions/payments/late-statement.test.ts and test/lab/promotion.test.ts).
import { AsyncLocalStorage } from "node:async_hooks";
import type { Client } from "pg";

export interface Invocation {
  /** Real epoch ms at which the invocation ends. */
  readonly deadline: number;
  /**
   * The pooled connections this invocation checked out and has not released, filled in as it
   * sends statements; `endInvocation` closes them at the timeout. @default - none tracked
   */
  readonly checkouts?: Set<Checkout>;
}

/** One checkout of a pooled client by an invocation. */
interface Checkout {
  readonly client: PooledClient;
  /** pg-pool's release of this checkout (one per checkout). */
  readonly release: (error?: Error) => void;
  released: boolean;
  /** Closed by endInvocation: its statement in flight fails with the invocation's timeout. */
  ended: boolean;
}

type PooledClient = Client & {
  connection?: { stream?: { destroy(): void } };
  release?: ((error?: Error) => void) & { [CHECKOUT]?: Checkout };
};

const CHECKOUT = Symbol("lab checkout");

/** What an invocation's code sees once its environment is gone. */
export class InvocationTimedOutError extends Error {
  override name = "InvocationTimedOutError";
  constructor() {
    super("Task timed out: the invocation passed its function timeout");
  }
}

/**
 * The invocation timed out: its environment is torn down, and with it every connection it held
 * (review 22 L4). Lambda does not reuse an environment whose invocation timed out ("the Lambda
 * service resets the execution environment", Invoke phase with timeout,
 * https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html), so the next
 * request gets a new environment and opens a new connection: the lab frees the pool slot (a new
 * connection takes it) instead of queueing the next request behind a zombie. The server keeps
 * its side of the closed connection until the statement in flight ends (it does not notice a
 * gone client while it runs), so a timeout burst is a spike of server connections, as deployed.
 * The zombie's own code sees InvocationTimedOutError, not a broken connection it would retry.
 * Returns how many connections it closed.
 */
export function endInvocation(invocation: Invocation): number {
  let closed = 0;
  for (const checkout of invocation.checkouts ?? []) {
    if (checkout.released) continue;
    checkout.ended = true;
    checkout.released = true;
    checkout.client.connection?.stream?.destroy();
    checkout.release(new InvocationTimedOutError());
    closed += 1;
  }
  invocation.checkouts?.clear();
  return closed;
}

/** Records the checkout `client` is in as the invocation's, once per checkout. */
function track(client: PooledClient, invocation: Invocation): Checkout | undefined {
  const release = client.release;
  if (!invocation.checkouts || typeof release !== "function") return undefined;
  const known = release[CHECKOUT];
  if (known) return known;
  const checkout: Checkout = { client, release, released: false, ended: false };
  const wrapped = Object.assign(
    (error?: Error) => {
      // A zombie releasing what its timeout already released: a no-op, not pg-pool's throw.
      if (checkout.released) return;
      checkout.released = true;
      release(error);
    },
    { [CHECKOUT]: checkout },
  );
  client.release = wrapped;
  invocation.checkouts.add(checkout);
  return checkout;
}

type Query = (...args: unknown[]) => unknown;

/**
 * Patches `client` (pg's Client class) once: a statement sent from inside an invocation past its
 * deadline closes the connection and fails. Returns the store that runs an invocation.
 */
export function cutStatementsPastDeadline(client: typeof Client): AsyncLocalStorage<Invocation> {
  const proto = client.prototype as unknown as { query: Query; labDeadlineStore?: unknown };
  if (proto.labDeadlineStore) return proto.labDeadlineStore as AsyncLocalStorage<Invocation>;
  const store = new AsyncLocalStorage<Invocation>();
  const query = proto.query;
  proto.query = function (
    this: Client & { connection?: { stream?: { destroy(): void } } },
    ...args: unknown[]
  ) {
    const current = store.getStore();
    if (current && Date.now() >= current.deadline) {
      this.connection?.stream?.destroy();
      const error = new InvocationTimedOutError();
      const callback = args.find((a) => typeof a === "function") as
        ((e: Error) => void) | undefined;
      if (callback) {
        process.nextTick(() => callback(error));
        return undefined;
      }
      return Promise.reject(error);
    }
    const checkout = current ? track(this as PooledClient, current) : undefined;
    const result = query.apply(this, args);
    if (!checkout || !(result instanceof Promise)) return result;
    return result.catch((error: unknown) => {
      throw checkout.ended ? new InvocationTimedOutError() : error;
    });
  };
  proto.labDeadlineStore = store;
  return store;
}
