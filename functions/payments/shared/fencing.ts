// Fencing: writes are accepted only in the region the control table's active-region flag names,
// read from this region's own replica. The flag is cached for at most 5 s counted from when the
// read returned; the orchestrator promotes the other side only once this region's replica has
// the new flag and that cache, one flag read and the write functions' timeout have passed
// (infra/lib/fence-bound.ts), or the database has provably stopped this region committing. A
// flag that cannot be read, or is missing, refuses writes: split brain is worse than a 503.
//
// The peer lease (PEER_LEASE, review M3): while the flag has `leaseRequired`, a write also needs
// the standby's renewal (`peerSeenAt`) in this region's replica to be at most PEER_LEASE.seconds
// old by this function's clock, checked at every write against the current time (the cache
// never extends it). A renewal is never written after the standby's fence, and the global table
// replicates whole items, so a region that returns from an outage or a partition with a stale
// flag stops writing by itself instead of trusting that flag.
//
// The phase (review 23 H2): while the flag is `fenced` (from the Fence to the Unfence) this
// region refuses writes too, although the flag names it. In production every region's payment
// functions reach Aurora through the GLOBAL writer endpoint (PARAMETERS.writerEndpoint), which
// names the old writer until the promotion completes; a write accepted here between the Fence
// and the promotion would commit on the old writer, possibly after the proof that it stopped,
// and be lost by an AllowDataLoss failover. The one exception is the DR Verify task's synthetic
// payment and its void (DR_SYNTHETIC_MERCHANT, whose only key is the DR verify key: Terraform
// refuses any other key bound to it, infra/constructs/parameters.ts), which runs after Promote
// and before the Unfence that opens writes, and only once the flag carries this run's proof
// stamp (`promotingAt`, common/taking-over.ts promotingInto). A flag without a phase (seeded before phases
// existed) counts as open.
import type { ActiveRegionItem } from "../../common/contract";
import { DR_SYNTHETIC_MERCHANT, FENCE_PHASE, PEER_LEASE } from "../../common/contract";
import { promotingInto } from "../../common/taking-over";
import {
  ActiveRegionUnknownError,
  PassiveRegionError,
  PeerLeaseLapsedError,
  RegionFencedError,
} from "./errors";

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
 * writes go, whether they are open (the phase), and for /health the token and the proof stamp.
 */
export type ActiveRegionFlag = Pick<ActiveRegionItem, "activeRegion" | "phase"> &
  Partial<Pick<ActiveRegionItem, "fencingToken" | "leaseRequired" | "peerSeenAt" | "promotingAt">>;

/** Reads the flag strongly consistently; undefined when the item does not exist. */
export type FlagReader = () => Promise<ActiveRegionFlag | undefined>;

export interface ActiveRegionGuardOptions {
  /** This function's region (AWS_REGION). */
  readonly region: string;
  readonly read: FlagReader;
  /** How long a read flag is trusted, 0 to 5000 ms. */
  readonly cacheMs: number;
  /** How old the peer's renewal may be while the lease is armed. @default PEER_LEASE.seconds */
  readonly leaseMs?: number;
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

  /**
   * Throws PassiveRegionError unless this region takes writes (RegionFencedError, a kind of it,
   * while the flag names this region but is still `fenced`), PeerLeaseLapsedError when it is the
   * active region but the armed lease is not fresh. A lapsed lease on a cached flag is read
   * again before refusing: a newer renewal may be there. `caller.merchantId` is the merchant the
   * request's API key is bound to; only DR_SYNTHETIC_MERCHANT passes a fenced flag.
   */
  async assertActive(caller: { readonly merchantId?: string } = {}): Promise<void> {
    let flag = await this.flag();
    this.assertOpenHere(flag, caller);
    if (this.leaseHolds(flag)) return;
    flag = await this.readFresh();
    this.assertOpenHere(flag, caller);
    if (!this.leaseHolds(flag)) {
      const seen = typeof flag.peerSeenAt === "string" ? Date.parse(flag.peerSeenAt) : NaN;
      throw new PeerLeaseLapsedError(
        this.options.region,
        Number.isNaN(seen) ? null : (flag.peerSeenAt as string),
        Number.isNaN(seen) ? null : this.now() - seen,
      );
    }
  }

  private assertOpenHere(flag: ActiveRegionFlag, caller: { readonly merchantId?: string }): void {
    if (flag.activeRegion !== this.options.region) {
      throw new PassiveRegionError(this.options.region, flag.activeRegion);
    }
    if (writesOpen(flag)) return;
    // Only once this run has proven the old writer stopped (review 23b-10 L2): a DR-keyed write
    // between the Fence and the proof would go through the global endpoint to the old writer.
    if (caller.merchantId === DR_SYNTHETIC_MERCHANT && promotingInto(this.options.region, flag)) {
      return;
    }
    throw new RegionFencedError(this.options.region, flag.phase ?? "");
  }

  /** The lease check, against this function's clock now (peerLeaseState). */
  private leaseHolds(flag: ActiveRegionFlag): boolean {
    return !peerLeaseState(flag, this.now(), this.options.leaseMs).lapsed;
  }
}

/** The peer lease as one reading of the flag shows it, for the guard and for /health. */
export interface PeerLeaseState {
  /** `leaseRequired` is set: writes need a fresh renewal. */
  readonly armed: boolean;
  /** The last renewal this replica holds (kept while disarmed), null when none or unparsable. */
  readonly peerSeenAt: string | null;
  /** Its age by the reader's clock in seconds (negative when stamped ahead), null without one. */
  readonly ageSeconds: number | null;
  /** Armed and not fresh: the guard refuses writes. Never true while disarmed. */
  readonly lapsed: boolean;
}

/**
 * The lease as `flag` shows it at `nowMs`. A renewal stamped further in the future than two
 * clock skews counts as lapsed too: believing it would stretch the lease past its bound.
 */
export function peerLeaseState(
  flag: ActiveRegionFlag,
  nowMs: number,
  leaseMs: number = PEER_LEASE.seconds * 1000,
): PeerLeaseState {
  const armed = flag.leaseRequired === true;
  const seen = typeof flag.peerSeenAt === "string" ? Date.parse(flag.peerSeenAt) : NaN;
  const ageMs = Number.isNaN(seen) ? null : nowMs - seen;
  const fresh =
    ageMs !== null && ageMs <= leaseMs && ageMs >= -2 * PEER_LEASE.clockSkewSeconds * 1000;
  return {
    armed,
    peerSeenAt: ageMs === null ? null : (flag.peerSeenAt as string),
    ageSeconds: ageMs === null ? null : Math.round(ageMs / 100) / 10,
    lapsed: armed && !fresh,
  };
}

/**
 * The flag opens writes in the region it names: phase `open`, or no phase at all (a flag seeded
 * before phases existed). Any other phase (`fenced`, or one this code does not know) is closed.
 */
export function writesOpen(flag: Pick<ActiveRegionFlag, "phase">): boolean {
  return flag.phase === undefined || flag.phase === FENCE_PHASE.open;
}
