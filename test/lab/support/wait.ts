// Real-time waits for the lab's tests (review 23 L8: each suite had its own copy of these). The
// lab runs in the jest process, so a wait is a timer: it yields to the lab's event loop.

/** Resolves after `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface UntilOptions {
  /** Real ms before it gives up (generous: a loaded 2-core box). @default 60_000 */
  readonly limitMs?: number;
  /** Real ms between two looks. @default 50 */
  readonly everyMs?: number;
}

/**
 * Looks at `value` every `everyMs` until it gives something (anything but undefined, null or
 * false) and returns that; throws, naming `what`, when `limitMs` of real time pass first. A
 * condition that is only a boolean resolves to `true`.
 */
export async function until<T>(
  what: string,
  value: () => T | undefined | null | false,
  { limitMs = 60_000, everyMs = 50 }: UntilOptions = {},
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = value();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    }
    await sleep(everyMs);
  }
}
