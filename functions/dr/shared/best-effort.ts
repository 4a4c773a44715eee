// A call that must never block or fail the workflow: the other region during a failover, and
// Route 53's control plane (us-east-1). Capped in time on top of the SDK client's own timeouts.
// Except the task's own deadline (review 23 M2): a call the invocation's SDK deadline refused or
// cut (shared/aws/deadline.ts) says this invocation ran out of time, not that the region called
// is down, so it is rethrown (TransientError): the state retries the whole idempotent step with a
// fresh invocation, as it did when Lambda killed the task at its timeout, instead of recording a
// healthy region as unreachable and skipping its part (a switchover's old-region parameters,
// Route 53's records, the old region's flag).
import { isDeadlineError } from "./deadline";
import type { Log } from "./ports";

export type BestEffort<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export async function bestEffort<T>(
  what: string,
  call: () => Promise<T>,
  deps: { readonly log: Log; readonly settings: { readonly bestEffortTimeoutMs: number } },
  timeoutMs = deps.settings.bestEffortTimeoutMs,
): Promise<BestEffort<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const value = await Promise.race([call(), timeout]);
    return { ok: true, value };
  } catch (error) {
    if (isDeadlineError(error)) throw error;
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    deps.log.warn("best-effort call failed; continuing", { call: what, error: message });
    return { ok: false, error: message };
  } finally {
    clearTimeout(timer);
  }
}
