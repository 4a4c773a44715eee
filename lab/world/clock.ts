// Lab time. At production timings (factor 1) lab time is wall-clock time. With `--fast N` every
// AWS timing the lab models (health-check intervals, alarm periods, Wait states, replication
// delays, the orchestrator's own clock) runs N times faster: the DR cores, the prober and the
// metrics see a clock that advances N lab-seconds per real second, so their windows (cooldown,
// corroboration, lock TTL) keep their production meaning. Durations that are not modelled (a real
// PostgreSQL promotion, an HTTP round trip) are not sped up, so in fast mode they weigh N times
// more in lab seconds: figures from fast runs are for CI, the README quotes production runs.
export class LabClock {
  /**
   * @param startedAt the clock's origin, real epoch ms: now by default; a process of the lab's
   *   (lab/region-api.ts) passes the lab's own (LAB_CLOCK_STARTED_AT) to read the same lab time.
   */
  constructor(
    readonly factor: number,
    readonly startedAt: number = Date.now(),
  ) {
    if (!Number.isFinite(factor) || factor < 1 || factor > 100) {
      throw new Error(`the fast factor must be from 1 to 100, got ${factor}`);
    }
  }

  /** Lab time now, epoch ms. */
  nowMs(): number {
    return this.toLab(Date.now());
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /** A real epoch ms as lab epoch ms. */
  toLab(realMs: number): number {
    return this.startedAt + (realMs - this.startedAt) * this.factor;
  }

  /** A lab epoch ms as real epoch ms (what a database's now() said at that lab instant). */
  toReal(labMs: number): number {
    return this.startedAt + (labMs - this.startedAt) / this.factor;
  }

  /** Real milliseconds for a lab duration. */
  real(labMs: number): number {
    return labMs / this.factor;
  }

  /** Sleeps for a lab duration. */
  sleep(labMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      // The listener goes when the sleep ends: one long-lived signal (the load's, the prober's)
      // sees thousands of sleeps, and EventTarget walks its listeners on every add, so leaving
      // them grew each add's cost until the lab's event loop fell minutes behind.
      const onAbort = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(
        () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        Math.max(0, this.real(labMs)),
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Lab seconds since the lab started. */
  elapsed(labMs = this.nowMs()): number {
    return (labMs - this.startedAt) / 1000;
  }
}

/** Seeded random numbers (mulberry32): a run prints its seed, and the seed reproduces its draws. */
export class Random {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    let t = (this.state += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [min, max]. */
  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }
}

/**
 * One independent Random per concern, each derived from the run's seed and the concern's name.
 * One shared stream did not reproduce a run: the load generator and the DynamoDB replication
 * delays draw once per payment or write, so how many numbers they had taken before the Aurora
 * failover was drawn depended on the box's speed, and the same seed drew a 32.8 s failover in one
 * run and 36.9 s in the next. With a stream per concern the failover, restart, fault and every
 * other one-off draw are the same for a seed whatever the load did; the per-payment streams
 * (load, replication) still follow the real-time order of payments, which no seed can fix.
 */
export class RandomStreams {
  private readonly streams = new Map<string, Random>();
  constructor(readonly seed: number) {}

  /** The stream named `name`: the same sequence for the same seed, whoever drew before. */
  get(name: string): Random {
    let stream = this.streams.get(name);
    if (!stream) {
      stream = new Random(streamSeed(this.seed, name));
      this.streams.set(name, stream);
    }
    return stream;
  }
}

/** FNV-1a of the name mixed into the seed (murmur3's finaliser), so near names seed far apart. */
function streamSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
