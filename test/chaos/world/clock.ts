// Virtual time for a chaos run. One queue holds every timed thing: the world's own events
// (replication, heartbeats, payments, the prober), the latency of each API call, and every
// setTimeout of the code under test (aws-local-stepfunctions' Wait states, retry intervals and
// task timeouts, the cores' best-effort caps), installed in place of the real timers for the run.
// The driver runs whatever is due next once nothing else can make progress, so a 20-minute
// failover takes milliseconds and every duration is the one drawn, not the real one.

export interface Timer {
  readonly id: number;
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void | Promise<void>;
  /** World events run inline; timers of the code under test need the microtasks to settle. */
  readonly internal: boolean;
  cancelled: boolean;
}

export class VirtualClock {
  /** Milliseconds since the epoch, as Date.now() would say. */
  now: number;
  private readonly queue: Timer[] = [];
  private seq = 0;
  private readonly byId = new Map<number, Timer>();

  constructor(start: number) {
    this.now = start;
  }

  /** Runs `fn` `ms` from now. */
  at(ms: number, fn: () => void | Promise<void>, internal = true): Timer {
    const timer: Timer = {
      id: ++this.seq,
      at: this.now + Math.max(0, ms),
      seq: this.seq,
      fn,
      internal,
      cancelled: false,
    };
    this.byId.set(timer.id, timer);
    // Sorted insert: the queue stays small (hundreds at most).
    let i = this.queue.length;
    while (i > 0 && after(this.queue[i - 1]!, timer)) i -= 1;
    this.queue.splice(i, 0, timer);
    return timer;
  }

  /** A promise the code under test awaits, resolved `ms` from now. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.at(ms, resolve, false));
  }

  cancel(id: number | undefined): void {
    const timer = id === undefined ? undefined : this.byId.get(id);
    if (timer) timer.cancelled = true;
  }

  /** The next live timer, removed from the queue; the clock moves to its time. */
  next(): Timer | undefined {
    for (;;) {
      const timer = this.queue.shift();
      if (!timer) return undefined;
      this.byId.delete(timer.id);
      if (timer.cancelled) continue;
      this.now = Math.max(this.now, timer.at);
      return timer;
    }
  }

  get pending(): number {
    return this.queue.filter((t) => !t.cancelled).length;
  }
}

function after(a: Timer, b: Timer): boolean {
  return a.at > b.at || (a.at === b.at && a.seq > b.seq);
}

type TimerHandle = { readonly __virtual: number; ref(): TimerHandle; unref(): TimerHandle };

/**
 * Replaces setTimeout/clearTimeout, Date.now and Math.random for the duration of `run`, so the
 * library's timers and jitter follow the virtual clock and the run's seed. Restored afterwards.
 */
export async function withVirtualTime<T>(
  clock: VirtualClock,
  random: () => number,
  run: () => Promise<T>,
): Promise<T> {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = {
    setTimeout: g.setTimeout,
    clearTimeout: g.clearTimeout,
    dateNow: Date.now,
    random: Math.random,
    stackTraceLimit: Error.stackTraceLimit,
  };
  // Thousands of errors per run (refused payments, retried calls): their stacks are not read.
  Error.stackTraceLimit = 0;
  g.setTimeout = (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = clock.at(ms ?? 0, () => fn(...args), false);
    const handle: TimerHandle = {
      __virtual: timer.id,
      ref: () => handle,
      unref: () => handle,
    };
    return handle;
  };
  g.clearTimeout = (handle: TimerHandle | undefined) => clock.cancel(handle?.__virtual);
  Date.now = () => clock.now;
  Math.random = random;
  try {
    return await run();
  } finally {
    g.setTimeout = saved.setTimeout;
    g.clearTimeout = saved.clearTimeout;
    Date.now = saved.dateNow;
    Math.random = saved.random;
    Error.stackTraceLimit = saved.stackTraceLimit;
  }
}
