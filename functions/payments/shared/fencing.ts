// Fencing: writes are accepted only in the region the control table's active-region flag names,
// read from this region's own replica. The flag is cached for at most 5 s counted from when the
// read returned; the orchestrator promotes the other side only once this region's replica has
// the new flag and that cache, one flag read and the write functions' timeout have passed
// (infra/lib/fence-bound.ts), or the database has provably stopped this region committing. A
// flag that cannot be read, or is missing, refuses writes: split brain is worse than a 503.
import type { ActiveRegionItem } from "../../common/contract";
import { ActiveRegionUnknownError, PassiveRegionError } from "./errors";

export const MAX_ACTIVE_REGION_CACHE_MS = 5_000;

/**
 * Timeouts of the DynamoDB client that reads the flag (aws/dynamodb.ts). A read that returns the
 * old flag after the new one arrived began before it arrived, so it returns at most one attempt
 * (connection + request timeout) after the arrival: the DR orchestrator's settle time counts it
 * (infra/lib/fence-bound.ts).
 */
export const FLAG_READ = {
  maxAttempts: 3,
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
} as const;

/**
 * What the payment path reads of the active-region item (functions/common/contract.ts): where
 * writes go, and for /health the token and the phase (informative only).
 */
export type ActiveRegionFlag = Pick<ActiveRegionItem, "activeRegion" | "phase"> &
  Partial<Pick<ActiveRegionItem, "fencingToken">>;

/** Reads the flag strongly consistently; undefined when the item does not exist. */
export type FlagReader = () => Promise<ActiveRegionFlag | undefined>;

export interface ActiveRegionGuardOptions {
  /** This function's region (AWS_REGION). */
  readonly region: string;
  readonly read: FlagReader;
  /** How long a read flag is trusted, 0 to 5000 ms. */
  readonly cacheMs: number;
  readonly now?: () => number;
}

export class ActiveRegionGuard {
  #cached?: { flag: ActiveRegionFlag; readAt: number };
  #inflight?: Promise<ActiveRegionFlag>;
  private readonly now: () => number;

  constructor(private readonly options: ActiveRegionGuardOptions) {
    if (
      !Number.isInteger(options.cacheMs) ||
      options.cacheMs < 0 ||
      options.cacheMs > MAX_ACTIVE_REGION_CACHE_MS
    ) {
      throw new Error(
        `active-region cache must be 0 to ${MAX_ACTIVE_REGION_CACHE_MS} ms, got ${options.cacheMs}`,
      );
    }
    this.now = options.now ?? Date.now;
  }

  get region(): string {
    return this.options.region;
  }

  /** The flag, read now (no cache): for /health. */
  async readFresh(): Promise<ActiveRegionFlag> {
    let flag: ActiveRegionFlag | undefined;
    try {
      flag = await this.options.read();
    } catch (error) {
      throw new ActiveRegionUnknownError(
        `active-region flag unreadable: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (!flag) throw new ActiveRegionUnknownError("active-region flag missing");
    this.#cached = { flag, readAt: this.now() };
    return flag;
  }

  /** The flag, cached for at most cacheMs; concurrent callers share one read. */
  async flag(): Promise<ActiveRegionFlag> {
    const cached = this.#cached;
    if (cached && this.now() - cached.readAt < this.options.cacheMs) return cached.flag;
    this.#inflight ??= this.readFresh().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** Throws PassiveRegionError unless this region takes writes. */
  async assertActive(): Promise<void> {
    const { activeRegion } = await this.flag();
    if (activeRegion !== this.options.region) {
      throw new PassiveRegionError(this.options.region, activeRegion);
    }
  }
}
