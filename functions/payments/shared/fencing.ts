// Fencing: writes are accepted only in the region the control table's active-region flag names.
// The flag is cached for at most 5 s, so once the orchestrator flips it the old primary stops
// writing within 5 s (the orchestrator waits that long before promoting the other side). A flag
// that cannot be read, or is missing, refuses writes: split brain is worse than a 503.
import type { ActiveRegionItem } from "../../common/contract";
import { ActiveRegionUnknownError, PassiveRegionError } from "./errors";

export const MAX_ACTIVE_REGION_CACHE_MS = 5_000;

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
