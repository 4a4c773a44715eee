// How long the old region's payment path may still commit once its replica of the active-region
// flag names another region, from the deployed payment functions: the one place the DR
// orchestrator's settle time comes from (DR_FENCE_SETTLE_SECONDS), tested against the
// synthesized stack. Pure.
import { PEER_LEASE } from "../../functions/common/contract";
import { API_TIMEOUTS } from "../../functions/payments/shared/database";
import { FLAG_READ, MAX_ACTIVE_REGION_CACHE_MS } from "../../functions/payments/shared/fencing";

export interface PaymentWritePath {
  /** ACTIVE_REGION_CACHE_MS of the write functions: how long a read flag is trusted. */
  readonly flagCacheMs: number;
  /** One attempt of the flag read (connection + request timeout). */
  readonly flagReadMs: number;
  /**
   * The longest a payment write may take from its fencing check to its commit: a write function's
   * timeout; for the expiry job, its batch deadline (infra/constructs/payments-api.ts).
   */
  readonly writeTimeoutSeconds: number;
  /**
   * The server-side `statement_timeout` of the payment functions' connections, ms
   * (API_TIMEOUTS.statementMs, set per connection in functions/payments/shared/database.ts).
   */
  readonly statementMs: number;
}

/**
 * The last trip of a statement to the database, and the DR Lambda's clock against the payment
 * Lambdas' (Amazon Time Sync): a little.
 */
export const FENCE_SETTLE_MARGIN_SECONDS = 2;

/**
 * The longest a payment write can still commit after its fencing check, seconds: the one place
 * both settle times take the write path's worst case from (review 22-13 H1).
 *
 * The function's timeout ends the invocation, not the statements it already sent. Lambda stops
 * the function at its timeout (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html),
 * but PostgreSQL does not notice a gone client while a statement runs: client_connection_check_
 * interval "0, which disables connection checks" is the default, and without them "the server
 * will detect the loss of the connection only at the next interaction with the socket"
 * (https://www.postgresql.org/docs/16/runtime-config-connection.html#GUC-CLIENT-CONNECTION-CHECK-INTERVAL;
 * Aurora: detection is hard for sessions "actively running queries",
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Appendix.PostgreSQL.CommonDBATasks.DeadConnectionHandling.html).
 * So a statement sent just before the deadline (authorize's single autocommit CTE) runs on until
 * it ends or `statement_timeout` aborts it ("Abort any statement that takes more than the
 * specified amount of time",
 * https://www.postgresql.org/docs/16/runtime-config-client.html#GUC-STATEMENT-TIMEOUT), and an
 * autocommit statement that ends commits; lock waits are inside it. Measured on a real server
 * for an autocommit INSERT: test/functions/payments/late-statement.test.ts.
 *
 * Not covered here (review 23 L1): the wait of a COMMIT for its commit record. statement_timeout
 * does not end a commit that is already writing or waiting for its commit record (the project
 * measured it: functions/payments/shared/database.ts, errors.ts), so an explicit transaction's
 * COMMIT (capture, refund, void) sent before the deadline, or the commit of the autocommit
 * statement once its execution ended, can land later than this bound if the storage is slow to
 * acknowledge it. On Aurora that wait is the storage quorum's; AWS documents no bound for it.
 * - Paused by rds.global_db_rpo: the database proof covers it (state-machines/README.md, "A
 *   COMMIT the RPO guard paused": never acknowledged).
 * - Slow storage, on the confirmed path of a failover (no database proof): nothing covers it; a
 *   commit that waits longer than this bound's margin can land on the old writer after the
 *   AllowDataLoss promotion began, and be lost. (A switchover or failback waits for the target
 *   to catch up before the old writer is demoted, so such a commit is replicated, not lost.)
 *   The gap is stated here, not closed; no test pins a delayed COMMIT.
 */
export function writeWorstCaseSeconds(
  path: Pick<PaymentWritePath, "writeTimeoutSeconds" | "statementMs">,
): number {
  return path.writeTimeoutSeconds + path.statementMs / 1000;
}

/**
 * A read that returned the old flag began before the new one arrived, so it returned at most one
 * attempt later; the guard then trusts it for the cache window, counted from when the read
 * returned (functions/payments/shared/fencing.ts); a write that passed the check commits within
 * the write path's worst case (its function's timeout and its last statement's
 * statement_timeout, writeWorstCaseSeconds) or not at all. After that, nothing in the old region
 * commits a payment.
 */
export function fenceSettleSeconds(path: PaymentWritePath): number {
  return Math.ceil(
    (path.flagCacheMs + path.flagReadMs) / 1000 +
      writeWorstCaseSeconds(path) +
      FENCE_SETTLE_MARGIN_SECONDS,
  );
}

/**
 * How long after a Fence was written in the target region the old region's payment path may
 * still commit when its replica never received that fence, on the strength of the peer lease
 * alone (PEER_LEASE, review M3). The standby renews the lease only while its replica names the
 * other region, so every renewal the old region can hold was stamped before the fence (by the
 * renewer's clock, up to one skew off); its guard refuses once the renewal is older than the
 * lease by its own clock (one more skew), checked against the current time at every write, so
 * the flag cache adds nothing; a write that passed commits within the write path's worst case
 * (writeWorstCaseSeconds). Then the same margin as the settle time.
 */
export function leaseSettleSeconds(
  path: Pick<PaymentWritePath, "writeTimeoutSeconds" | "statementMs">,
  lease: { readonly seconds: number; readonly clockSkewSeconds: number } = PEER_LEASE,
): number {
  return Math.ceil(
    lease.seconds +
      2 * lease.clockSkewSeconds +
      writeWorstCaseSeconds(path) +
      FENCE_SETTLE_MARGIN_SECONDS,
  );
}

/** The write path as infra/constructs/payments-api.ts deploys it. */
export function deployedWritePath(writeTimeoutSeconds: number): PaymentWritePath {
  return {
    flagCacheMs: MAX_ACTIVE_REGION_CACHE_MS,
    flagReadMs: FLAG_READ.connectionTimeoutMs + FLAG_READ.requestTimeoutMs,
    writeTimeoutSeconds,
    statementMs: API_TIMEOUTS.statementMs,
  };
}

/**
 * Seconds the failover looks for proof that the old writer stopped before it stops safely and
 * pages: the database proof needs rpo + the heartbeat interval + a margin after the last
 * heartbeat, and four more minutes let a confirmation through DynamoDB's replication (no upper
 * bound is documented) and detection before it.
 */
export function writerStopBoundSeconds(
  rpoSeconds: number,
  heartbeatSeconds: number,
  marginSeconds: number,
): number {
  return rpoSeconds + heartbeatSeconds + marginSeconds + 240;
}
