// The per-invocation deadline of a DR task's AWS calls (issue 10, review L2). Each client's own
// budget fits one call (clients.ts: attempts x timeouts + backoff), but a task makes several
// calls, and under throttling the SDK's hidden retries wait longer: the standard mode's backoff is
// random x min(base x 2^i, MAX_BACKOFF) ("Retry behavior", AWS SDKs and Tools reference,
// https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html), and a Retry-After
// hint from the service (`retry-after` or `x-amz-retry-after`) stretches a wait by up to 5 s more
// (@smithy/core 3.41, StandardRetryStrategy.refreshRetryTokenForRetry), or by all it says in the
// earlier strategy the Lambda runtime's SDK may still run (retryDelayBoundMs). A Lambda killed at its
// timeout is retried by the state's Retry as Sandbox.Timedout, safely (every task looks first),
// but silently and with a full timeout spent. So, within one invocation (the deadline is the
// Lambda's remaining time less DEADLINE_MARGIN_MS, from context.getRemainingTimeInMillis(),
// https://docs.aws.amazon.com/lambda/latest/dg/nodejs-context.html):
// - no SDK retry starts unless its backoff, the hint included, and its whole attempt (connect +
//   request timeout) end before the deadline: the task cannot see or budget these;
// - no attempt at all starts after the deadline, and an attempt still running at the deadline
//   is cut there. A call's first attempt is the task's own choice (AcquireLock budgets its
//   release deletes, which answer in milliseconds, into the last 2 s: refusing them for want of
//   a full 3 s worst case would leave its lock behind, review H2), so it is not refused for its
//   worst case, only bounded by the deadline.
// Either way the call fails with DeadlineError, whose name is TransientError: the name every
// task's Retry in state-machines/*.asl.json matches, so the state retries it with a fresh
// invocation and a fresh deadline, as it would a throttled call. Outside a task (the prober,
// tests without a Lambda context) there is no deadline and nothing changes.
import {
  DEADLINE_MARGIN_MS,
  DeadlineError,
  currentDeadline,
  isDeadlineError,
  withDeadline,
} from "../deadline";

export { DEADLINE_MARGIN_MS, DeadlineError, currentDeadline, isDeadlineError, withDeadline };

/** Marks an SDK error whose retry the deadline refused (the SDK rethrows its last error). */
const REFUSED = Symbol("deadlineRefused");

interface RetryToken {
  getRetryCount(): number;
}
interface RetryErrorInfo {
  readonly error?: unknown;
  readonly errorType?: string;
  readonly retryAfterHint?: Date;
}
interface RetryStrategy {
  readonly mode?: string;
  acquireInitialRetryToken(scope: string): Promise<RetryToken>;
  refreshRetryTokenForRetry(token: RetryToken, info: RetryErrorInfo): Promise<RetryToken>;
  recordSuccess(token: RetryToken): void;
}

/**
 * The longest the SDK may wait before retry number `count + 1` (see the header).
 * Production runs the Lambda runtime's SDK, not node_modules' (infra/lib/bundle.ts keeps
 * `@aws-sdk/client-*` external; the runtime ships its own SDK v3 and updates it,
 * https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html), and the runtime's may
 * predate the 2026 retry behaviour, which "requires opting in (AWS_NEW_RETRIES_2026=true) until
 * it becomes the default" (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-
 * behavior.html). So the bound covers both strategies (review 23 M3): the larger base of each
 * (@smithy/core 3.41: throttling 1 s, other 50 ms; the earlier standard strategy,
 * @smithy/util-retry: throttling 500 ms, other 100 ms), a backoff cap of 20 s in both, and a
 * Retry-After hint taken whole: 3.41 caps its stretch at backoff + 5 s, the earlier strategy
 * waits as long as the hint says (the cap came in smithy-typescript PR #2080). An
 * underestimate would let a retry sleep past the Lambda timeout (retried as Sandbox.Timedout,
 * as before the deadline); an overestimate only refuses a retry the state then makes.
 */
export function retryDelayBoundMs(count: number, info: RetryErrorInfo, now: number): number {
  const base = info.errorType === "THROTTLING" ? 1000 : 100;
  const backoff = Math.min(base * 2 ** count, 20_000);
  const hint = info.retryAfterHint instanceof Date ? info.retryAfterHint.getTime() - now : 0;
  return Math.max(backoff, hint);
}

/** The retry strategy of `client`, refusing retries that cannot end before the deadline. */
function boundRetries(
  inner: RetryStrategy,
  attemptMs: number,
  maxAttempts: number,
  service: string,
): RetryStrategy {
  return {
    ...(inner.mode ? { mode: inner.mode } : {}),
    acquireInitialRetryToken: (scope) => inner.acquireInitialRetryToken(scope),
    recordSuccess: (token) => inner.recordSuccess(token),
    refreshRetryTokenForRetry: async (token, info) => {
      const deadline = currentDeadline();
      // Only a retry the SDK would make (attempts left, a retryable error: the standard mode
      // retries throttling, transient and server errors) is the deadline's to refuse.
      const wouldRetry =
        token.getRetryCount() + 1 < maxAttempts && info.errorType !== "CLIENT_ERROR";
      if (deadline !== undefined && wouldRetry) {
        const now = Date.now();
        const wait = retryDelayBoundMs(token.getRetryCount(), info, now);
        if (now + wait + attemptMs > deadline && info.error && typeof info.error === "object") {
          (info.error as Record<symbol, string>)[REFUSED] =
            `${service}: no time for another attempt in this invocation (the SDK's wait up to ${wait} ms, Retry-After included, plus the attempt's ${attemptMs} ms would end ${now + wait + attemptMs - deadline} ms after the task's deadline, ${DEADLINE_MARGIN_MS} ms before its Lambda timeout); retried by the state with a fresh invocation. Last error: ${describe(info.error)}`;
          throw info.error;
        }
      }
      return inner.refreshRetryTokenForRetry(token, info);
    },
  };
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return `${e?.name ?? "Error"}: ${e?.message ?? String(error)}`;
}

type Handler = (args: unknown) => Promise<unknown>;
interface MiddlewareStack {
  add(middleware: (next: Handler) => Handler, options: { step: string; name: string }): void;
  addRelativeTo(
    middleware: (next: Handler) => Handler,
    options: { relation: "after" | "before"; toMiddleware: string; name: string },
  ): void;
}

/** What deadlineBound needs of an SDK v3 client. */
export interface BoundableClient {
  readonly config: object;
  readonly middlewareStack: object;
}

/** Where deadlineBound says it left a client unbounded (a test replaces it). */
export const shapeWarnings = {
  warn: (message: string, detail: Record<string, unknown>): void => {
    console.warn(JSON.stringify({ level: "WARN", message, ...detail }));
  },
};

/**
 * Why `client` cannot be bound, or undefined when it can: the parts of the SDK's shape the
 * wrapper relies on (a retryStrategy provider, the middleware stack's add/addRelativeTo, and a
 * middleware named retryMiddleware to add the per-attempt cut after: a relative middleware
 * whose anchor is missing fails every call when the stack is built).
 */
function unboundable(client: BoundableClient): string | undefined {
  const config = client.config as { retryStrategy?: unknown };
  if (typeof config.retryStrategy !== "function") return "no retryStrategy provider";
  const stack = client.middlewareStack as Partial<MiddlewareStack> & {
    identify?: () => string[];
  };
  if (typeof stack.add !== "function" || typeof stack.addRelativeTo !== "function") {
    return "no middlewareStack.add/addRelativeTo";
  }
  if (typeof stack.identify !== "function") return "no middlewareStack.identify";
  if (!stack.identify().some((name) => name.split(" ")[0] === "retryMiddleware")) {
    return "no retryMiddleware";
  }
  return undefined;
}

/**
 * Binds every call of `client` to the deadline of the invocation it runs in (see the header).
 * `attemptMs`: one attempt's worst case, connect + request timeout; `maxAttempts` the client's.
 * Built into every DR client
 * (clients.ts regionClient); a client of another shape is returned unbounded, with a warning.
 */
export function deadlineBound<C extends BoundableClient>(
  client: C,
  attemptMs: number,
  maxAttempts: number,
  service: string,
): C {
  // The Lambda runtime's SDK may change shape under us (it is updated with the runtime): a DR
  // client that throws here would stop every task mid-incident (review 23 M3). So an
  // unexpected shape runs unbounded, as before the deadline existed: the Lambda timeout and the
  // state's Retry (Sandbox.Timedout) still bound it; the warning says which part changed.
  const why = unboundable(client);
  if (why !== undefined) {
    shapeWarnings.warn(
      "the SDK client's shape is not the one the deadline wrapper knows; its calls run without the invocation's deadline",
      { service, why },
    );
    return client;
  }
  const config = client.config as { retryStrategy: () => Promise<RetryStrategy> };
  const original = config.retryStrategy;
  let bound: Promise<RetryStrategy> | undefined;
  config.retryStrategy = () =>
    (bound ??= original().then((inner) => boundRetries(inner, attemptMs, maxAttempts, service)));
  const stack = client.middlewareStack as MiddlewareStack;
  // Outside the retry loop: a refused retry surfaces as the SDK's last error, marked.
  stack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const refused = (error as Record<symbol, string> | null)?.[REFUSED];
        if (refused !== undefined && !(error instanceof DeadlineError)) {
          throw new DeadlineError(refused, { cause: error });
        }
        throw error;
      }
    },
    { step: "initialize", name: "drDeadlineRefusals" },
  );
  // Inside the retry loop: once per attempt.
  stack.addRelativeTo(
    (next) => async (args) => {
      const deadline = currentDeadline();
      if (deadline === undefined) return next(args);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DeadlineError(
          `${service}: the task's deadline passed (${DEADLINE_MARGIN_MS} ms before its Lambda timeout) before this attempt; retried by the state with a fresh invocation`,
        );
      }
      let timer: NodeJS.Timeout | undefined;
      const cut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new DeadlineError(
                `${service}: an attempt was still running at the task's deadline (${DEADLINE_MARGIN_MS} ms before its Lambda timeout) and was abandoned; retried by the state with a fresh invocation`,
              ),
            ),
          left,
        );
      });
      try {
        return await Promise.race([next(args), cut]);
      } finally {
        clearTimeout(timer);
      }
    },
    { relation: "after", toMiddleware: "retryMiddleware", name: "drDeadlineAttempt" },
  );
  return client;
}
