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
      const error = new Error("Task timed out: the invocation passed its function timeout");
      const callback = args.find((a) => typeof a === "function") as
        ((e: Error) => void) | undefined;
      if (callback) {
        process.nextTick(() => callback(error));
        return undefined;
      }
      return Promise.reject(error);
    }
    return query.apply(this, args);
  };
  proto.labDeadlineStore = store;
  return store;
}
