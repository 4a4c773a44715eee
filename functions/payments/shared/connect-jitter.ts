// Spreads the reconnections of many Lambda environments to a freshly promoted writer. After a
// failover every warm environment finds its connection to the old writer broken at about the same
// moment (up to ~1000 of them: the connection budget, infra/lib/connection-budget.ts); if each
// reconnects at once, the new writer takes ~1000 TLS handshakes and IAM token checks in the same
// instant. AWS's "Exponential Backoff And Jitter" (Architecture Blog, Marc Brooker) compares the
// schedules and recommends full jitter: sleep = random_between(0, min(cap, base * 2 ** attempt)),
// which spreads the callers evenly over the window and does the least total work. An environment
// reconnects once per request at most (Database.withClient), so the window is the cap itself.
// Pure: the randomness is passed in.
import type { Timeouts } from "./database";

/**
 * The widest spread of the first reconnections: 1000 environments over 1 s is about one new
 * connection per millisecond at the new writer. It is also what the API functions' budget
 * leaves (connectJitterCapMs: 10 s timeout - 3 s connect - 5 s statement - 1 s margin).
 */
export const CONNECT_JITTER_MAX_MS = 1_000;

/** Time kept free at the end of an invocation for the answer and Lambda's own overhead. */
export const CONNECT_JITTER_MARGIN_MS = 1_000;

/**
 * The jitter cap one function can afford: what is left of its Lambda timeout after one connect
 * and one statement at their timeouts and the margin, at most CONNECT_JITTER_MAX_MS, at least 0
 * (no jitter: a function with no room for it, such as /health, keeps its answer time).
 */
export function connectJitterCapMs(
  functionTimeoutMs: number,
  timeouts: Timeouts,
  marginMs = CONNECT_JITTER_MARGIN_MS,
): number {
  if (!Number.isFinite(functionTimeoutMs) || functionTimeoutMs <= 0) {
    throw new Error(`function timeout must be a positive number of ms, got ${functionTimeoutMs}`);
  }
  const room = functionTimeoutMs - timeouts.connectMs - timeouts.statementMs - marginMs;
  return Math.max(0, Math.min(CONNECT_JITTER_MAX_MS, Math.floor(room)));
}

/** Full jitter: uniform over [0, capMs). `random` returns [0, 1) as Math.random does. */
export function fullJitterMs(capMs: number, random: () => number): number {
  if (capMs <= 0) return 0;
  const r = random();
  if (!(r >= 0 && r < 1)) throw new Error(`random() must return [0, 1), got ${r}`);
  return Math.floor(r * capMs);
}
