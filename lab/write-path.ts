// The payment write path as the lab runs it, and the DR settle times that follow from it. The
// payment handlers run in real time (lab/region-api.ts), so in fast mode every real duration of
// theirs is `fast` times longer in lab time, where the DR workflow waits. The settle times are
// derived here from the lab's own write path with the same functions the synth derives the
// deployed ones with (infra/lib/fence-bound.ts); at production timings they are the deployed
// defaults (DR_FENCE_SETTLE_SECONDS 25, DR_LEASE_SETTLE_SECONDS 49). The peer lease's own term
// runs on the lab clock (lab/lease-clock.ts), with a real-time floor in fast mode (labLeaseSeconds).
// The handlers' own budgets (statement_timeout, the flag read's timeouts) scale with --fast down
// to real-time floors; the connect timeout and the settle's margin stay as deployed
// (labHandlerBudgets): the lab deploys its handlers with those, and its settle times count them.
import { PEER_LEASE } from "../functions/common/contract";
import { connectJitterCapMs } from "../functions/payments/shared/connect-jitter";
import { API_TIMEOUTS, clientConfig } from "../functions/payments/shared/database";
import { createDynamoDbClient } from "../functions/payments/shared/aws/dynamodb";
import type { Timeouts } from "../functions/payments/shared/database";
import { FLAG_READ } from "../functions/payments/shared/fencing";
import {
  FENCE_SETTLE_MARGIN_SECONDS,
  fenceSettleSeconds,
  leaseSettleSeconds,
} from "../infra/lib/fence-bound";

/**
 * The least real time a payment function gets, whatever its timeout scales to: its own database
 * connect timeout (API_TIMEOUTS.connectMs, real time in the handler). Below it a slow connect on
 * a loaded box would end as a Lambda timeout (a 500 from API Gateway) instead of the handler's
 * own 503, a failure the lab would have made up.
 *
 * Not the deployed relation, timeout >= connect + statement + jitter margin (connect-jitter.ts:
 * 10 s for a 3 s connect and a 5 s statement), on purpose (review M5): the handlers' connect and
 * statement timeouts are real time and unscaled, so that floor would be 9 s of real time at any
 * --fast above 1: the function timeout would no longer scale at all, and at --fast 20 every move's
 * fence settle would grow from 165 to 285 lab s (14 s real). The cost of this floor: a slow
 * connect followed by a statement can outlast 3 s real and end as the timeout's 500, and the
 * connect jitter the deployed timeout leaves room for is 0 (connectJitterCapMs). So the lab
 * reports every timeout it enforced, per region and function (Lab.functionTimeoutReport,
 * report.json `functionTimeouts`, the summary's "function timeouts" line): a run full of
 * synthetic 500s shows as such, not as a slow outage.
 */
export const FUNCTION_TIMEOUT_FLOOR_MS = API_TIMEOUTS.connectMs;

/**
 * The payment handlers' own real-time budgets, as the lab deploys them at a fast factor: the
 * connect and statement timeouts of their connections (API_TIMEOUTS), one flag read's connection
 * and request timeouts (FLAG_READ), and the settle's margin for a COMMIT sent at the last moment
 * (FENCE_SETTLE_MARGIN_SECONDS), all real ms. The same deployed value divided by `fast`, but never
 * below HANDLER_BUDGET_FLOORS_MS; the deployed values at production timings.
 */
export interface HandlerBudgets {
  readonly database: Timeouts;
  readonly flagRead: { readonly connectionTimeoutMs: number; readonly requestTimeoutMs: number };
  readonly settleMarginMs: number;
}

/**
 * The least real time each budget keeps in fast mode. Each one a real process of this machine has
 * to answer within, on a box shared with the load, the workflows and the other region:
 * - statement_timeout 2 s: the handlers' statements are single-row writes and reads against a
 *   local PostgreSQL (milliseconds), but two settings follow it (functions/payments/shared/
 *   database.ts): the client's query_timeout (statement + 1 s) and the server's
 *   idle_in_transaction_session_timeout (twice the statement), and on a box loaded by a whole
 *   `npm test` a handler's round trips through the lab's proxy take seconds. At a 1 s floor (2 s
 *   each) the first CI run failed twice: a failback's Verify failed on every attempt for its whole
 *   retry budget (seed 1192649929), and the planted second writer's old region committed nothing
 *   after the new one's first write; neither came back at load 7 outside CI, and the cause of each
 *   was not pinned down. At 2 s they are 3 s and 4 s.
 * - The connect timeout stays as deployed (3 s): it is the function timeout's floor
 *   (FUNCTION_TIMEOUT_FLOOR_MS), and the lab's links to the databases are proxies in the lab's
 *   one process, which a loaded box stalls for seconds (the stall test in handler-budgets.test.ts).
 * - The flag read's request timeout 1 s (2 s deployed) and its connection timeout 0.5 s (1 s): the
 *   flag endpoint is that process too, and the SDK retries a read that timed out (FLAG_READ's 3
 *   attempts), so a stall longer than one attempt costs a retry, not the payment; a local
 *   socket's connect is answered by the kernel, stalled process or not.
 * - The margin stays as deployed (2 s): it is what covers a statement or COMMIT sent just before
 *   the deadline crossing the lab's proxy, and the proxy is that stalled process too.
 *   statement_timeout counts "from the time a command arrives at the server"
 *   (https://www.postgresql.org/docs/16/runtime-config-client.html#GUC-STATEMENT-TIMEOUT), so
 *   a stall of the proxy delays a write that nothing else counts (review 25-13i H1).
 * A stall past the derived timeouts ends as the handler's own 503, before the function timeout;
 * report.json counts the failed attempts by status and code, which do not say whether the lab
 * or the database stalled.
 * Scaling these is what makes a fast run's settles scale: unscaled, the two settles of the fast
 * pair were ~25 s of real time at any --fast (issue 13, session 24).
 */
export const HANDLER_BUDGET_FLOORS_MS = {
  connectMs: FUNCTION_TIMEOUT_FLOOR_MS,
  statementMs: 2_000,
  flagConnectionTimeoutMs: 500,
  flagRequestTimeoutMs: 1_000,
  settleMarginMs: 2_000,
} as const;

/** The budgets as deployed, copied before deployHandlerBudgets can change the handlers' objects. */
const DEPLOYED = {
  connectMs: API_TIMEOUTS.connectMs,
  statementMs: API_TIMEOUTS.statementMs,
  flagConnectionTimeoutMs: FLAG_READ.connectionTimeoutMs,
  flagRequestTimeoutMs: FLAG_READ.requestTimeoutMs,
} as const;

/** The handlers' budgets at `fast` (HandlerBudgets): the deployed ones at 1. */
export function labHandlerBudgets(fast: number): HandlerBudgets {
  if (!(fast >= 1)) throw new Error(`fast must be >= 1, got ${fast}`);
  const scaled = (deployedMs: number, floorMs: number) =>
    Math.max(Math.min(floorMs, deployedMs), Math.round(deployedMs / fast));
  const floors = HANDLER_BUDGET_FLOORS_MS;
  return {
    database: {
      connectMs: scaled(DEPLOYED.connectMs, floors.connectMs),
      statementMs: scaled(DEPLOYED.statementMs, floors.statementMs),
    },
    flagRead: {
      connectionTimeoutMs: scaled(DEPLOYED.flagConnectionTimeoutMs, floors.flagConnectionTimeoutMs),
      requestTimeoutMs: scaled(DEPLOYED.flagRequestTimeoutMs, floors.flagRequestTimeoutMs),
    },
    settleMarginMs: scaled(FENCE_SETTLE_MARGIN_SECONDS * 1000, floors.settleMarginMs),
  };
}

/** `budgets` as given, if every budget is a whole number of ms above 0; else an error naming it. */
export function checkHandlerBudgets(budgets: HandlerBudgets): HandlerBudgets {
  const fields: [string, unknown][] = [
    ["database.connectMs", budgets?.database?.connectMs],
    ["database.statementMs", budgets?.database?.statementMs],
    ["flagRead.connectionTimeoutMs", budgets?.flagRead?.connectionTimeoutMs],
    ["flagRead.requestTimeoutMs", budgets?.flagRead?.requestTimeoutMs],
    ["settleMarginMs", budgets?.settleMarginMs],
  ];
  for (const [name, value] of fields) {
    if (!Number.isInteger(value) || (value as number) <= 0) {
      throw new Error(
        `handler budget ${name} must be a whole number of ms above 0, got ${JSON.stringify(value)}`,
      );
    }
  }
  return budgets;
}

/**
 * Deploys `budgets` to the handlers of this process (lab/region-api.ts, before it loads them):
 * they build their pools (API_TIMEOUTS, functions/payments/shared/database.ts) and their
 * DynamoDB client (FLAG_READ, functions/payments/shared/aws/dynamodb.ts) from these objects when
 * they first use them, as a deployment would set them.
 */
export function deployHandlerBudgets(budgets: HandlerBudgets): void {
  checkHandlerBudgets(budgets);
  Object.assign(API_TIMEOUTS as { -readonly [K in keyof Timeouts]: number }, budgets.database);
  Object.assign(FLAG_READ as { -readonly [K in keyof typeof FLAG_READ]: number }, budgets.flagRead);
}

/** What a handler's connection and flag read run with, read from what their modules build. */
export type BudgetsInUse = Pick<HandlerBudgets, "database" | "flagRead">;

/**
 * The budgets the handlers of this process run with, read back from a connection's settings and
 * a flag-read client built as theirs are (clientConfig; createDynamoDbClient, its request
 * handler's resolved timeouts) after the deploy: what every pool and client built from then on
 * gets, which is every handler's (they load after the deploy). It cannot see a value some module
 * copied before the deploy; none does today (review 25-13i L3).
 */
export async function handlerBudgetsInUse(): Promise<BudgetsInUse> {
  const connection = clientConfig(
    { kind: "url", connectionString: "postgres://lab@127.0.0.1/lab" },
    "lab-budget-probe",
  );
  const client = createDynamoDbClient() as unknown as {
    config: { requestHandler: { configProvider: Promise<Record<string, unknown>> } };
  };
  const handler = await client.config.requestHandler.configProvider;
  return {
    database: {
      connectMs: Number(connection.connectionTimeoutMillis),
      statementMs: Number(connection.statement_timeout),
    },
    flagRead: {
      connectionTimeoutMs: Number(handler.connectionTimeout),
      requestTimeoutMs: Number(handler.requestTimeout),
    },
  };
}

/** A payment function's timeout in the lab, real ms: its deployed timeout scaled, at least the floor. */
export function labFunctionTimeoutMs(timeoutSeconds: number, fast: number): number {
  if (!(timeoutSeconds > 0) || !(fast >= 1)) {
    throw new Error(
      `function timeout must be > 0 s and fast >= 1, got ${timeoutSeconds} s and ${fast}`,
    );
  }
  return Math.max(FUNCTION_TIMEOUT_FLOOR_MS, Math.round((timeoutSeconds * 1000) / fast));
}

/**
 * The real time the lab's peer lease leaves, beyond one renewal interval, for what stands between
 * a renewal and the guard: the prober's timer, the control-table calls, the replication timer to
 * the old primary's replica and the flag endpoint, all in the lab process's one event loop, which
 * the load, the workflows and Route 53 share (review 23 M1). PEER_LEASE's margin is sized against
 * a scheduled renewer's jitter in seconds of real time (two rounds, prober/core.ts); scaled down
 * to lab time at --fast 20 the lease left ~1 s of real time, and one stall of the lab process
 * made the healthy primary answer 503 peer_lease_lapsed.
 */
export const LEASE_JITTER_FLOOR_MS = 2000;

/**
 * The peer lease's term in the lab, lab seconds: PEER_LEASE, but never less than one renewal
 * interval plus LEASE_JITTER_FLOOR_MS of real time (as FUNCTION_TIMEOUT_FLOOR_MS floors the
 * function timeout). PEER_LEASE at production timings; 50 lab s at --fast 20.
 */
export function labLeaseSeconds(fast: number, renewalIntervalSeconds: number): number {
  if (!(fast >= 1) || !(renewalIntervalSeconds > 0)) {
    throw new Error(
      `lease floor needs fast >= 1 and a renewal interval > 0 s, got ${fast} and ${renewalIntervalSeconds} s`,
    );
  }
  return Math.max(
    PEER_LEASE.seconds,
    renewalIntervalSeconds + (LEASE_JITTER_FLOOR_MS / 1000) * fast,
  );
}

export interface LabWriteBounds {
  /** The peer lease's term the lab's handlers judge by, lab seconds (labLeaseSeconds). */
  readonly leaseSeconds: number;
  /** The handlers' own real-time budgets the lab deploys them with (labHandlerBudgets). */
  readonly handlerBudgets: HandlerBudgets;
  /** The longest write window of a payment function, lab seconds (its enforced timeout). */
  readonly writeTimeoutSeconds: number;
  /** DR_FENCE_SETTLE_SECONDS for the lab's DR tasks, lab seconds. */
  readonly fenceSettleSeconds: number;
  /** DR_LEASE_SETTLE_SECONDS for the lab's DR tasks, lab seconds. */
  readonly leaseSettleSeconds: number;
  /** DATABASE_CONNECT_JITTER_MS of the lab's payment functions, real ms. */
  readonly connectJitterMs: number;
}

/**
 * The bounds of the lab's write path at `fast`: the flag cache runs on the lab clock
 * (ACTIVE_REGION_CACHE_MS is scaled, lab/lab.ts); the handlers' budgets (labHandlerBudgets: the
 * flag read's timeouts, the statement_timeout of their connections, the margin) and the enforced
 * function timeout run in real time (a statement sent before the deadline runs on in the lab's
 * real PostgreSQL, lab/invocation.ts), so they count `fast` times over in lab time.
 */
export function labWriteBounds(
  fast: number,
  flagCacheMs: number,
  deployedTimeoutSeconds: number,
  renewalIntervalSeconds: number,
  handlerBudgets: HandlerBudgets = labHandlerBudgets(fast),
): LabWriteBounds {
  checkHandlerBudgets(handlerBudgets);
  const leaseSeconds = labLeaseSeconds(fast, renewalIntervalSeconds);
  const timeoutMs = labFunctionTimeoutMs(deployedTimeoutSeconds, fast);
  const writeTimeoutSeconds = (timeoutMs * fast) / 1000;
  // The bound's margin (FENCE_SETTLE_MARGIN_SECONDS: a COMMIT sent just before the timeout still
  // reaching the database) is a trip through the handlers' real proxy link, fsync and a loaded
  // box: real time, like the window it follows. The bound adds FENCE_SETTLE_MARGIN_SECONDS in lab
  // seconds; the rest of the lab's margin, `fast` lab seconds per real one, is added to the write
  // window here (review M1: at --fast 20 the 2 s margin was 0.1 s of real time).
  const settleWindowSeconds =
    writeTimeoutSeconds +
    (handlerBudgets.settleMarginMs * fast) / 1000 -
    FENCE_SETTLE_MARGIN_SECONDS;
  const statementMs = handlerBudgets.database.statementMs * fast;
  const { connectionTimeoutMs, requestTimeoutMs } = handlerBudgets.flagRead;
  return {
    leaseSeconds,
    handlerBudgets,
    writeTimeoutSeconds,
    fenceSettleSeconds: fenceSettleSeconds({
      flagCacheMs,
      flagReadMs: (connectionTimeoutMs + requestTimeoutMs) * fast,
      writeTimeoutSeconds: settleWindowSeconds,
      statementMs,
    }),
    // The lease's own term as the handlers judge it (the same floored term, passed to them as
    // LAB_LEASE_MS): the prober stamps its renewals and the handlers judge them on the lab clock
    // (lab/lease-clock.ts), so the settle counts it in lab seconds as it is.
    leaseSettleSeconds: leaseSettleSeconds(
      { writeTimeoutSeconds: settleWindowSeconds, statementMs },
      { seconds: leaseSeconds, clockSkewSeconds: PEER_LEASE.clockSkewSeconds },
    ),
    // What the function's timeout leaves after one connect and one statement (connect-jitter.ts),
    // from the lab function's actual timeout and budgets: none at --fast 20.
    connectJitterMs: connectJitterCapMs(timeoutMs, handlerBudgets.database),
  };
}
