// The payment path of one region, as it runs (functions/payments/shared/write-runtime.ts): each
// write Lambda container has its own ActiveRegionGuard (the real class), reading the flag from
// its region's replica of the control table with the deployed cache (ACTIVE_REGION_CACHE_MS,
// 5 s, counted from when the read returned); a write that passes the check spends a drawn time
// in the idempotency layer and the transaction, and commits on its region's Aurora cluster if
// the cluster takes it then, within the function's 10 s timeout plus its last statement's
// statement_timeout (a statement sent just before the deadline runs on: infra/lib/fence-bound.ts
// writeWorstCaseSeconds; acknowledged only within the timeout). A commit the RPO guard pauses
// waits until it goes through, past the function's timeout if need be (acknowledged only within). A flag read usually takes a few
// milliseconds, now and then up to one DynamoDB attempt (1 s connect + 2 s request): what the
// read returns is the replica's version when it started.
// Clients hit both regions' APIs (stale DNS, regional URLs), with pauses: the worst case for
// the fence, and the idle primary the RPO guard alone would let through.
import {
  MAX_ACTIVE_REGION_CACHE_MS,
  FLAG_READ,
  ActiveRegionGuard,
} from "../../../functions/payments/shared/fencing";
import type { ActiveRegionFlag } from "../../../functions/payments/shared/fencing";
import { TAKING_OVER_STATUS, promotingInto } from "../../../functions/common/taking-over";
import { CONTROL, DR_SYNTHETIC_MERCHANT, FENCE_PHASE } from "../../../functions/common/contract";
import { API_TIMEOUTS } from "../../../functions/payments/shared/database";
import type { AuroraGlobal, Commit } from "./aurora";
import type { VirtualClock } from "./clock";
import type { GlobalTable } from "./dynamodb";
import type { Network } from "./network";
import type { Random } from "./random";

/** The write functions' timeout (infra/constructs/payments-api.ts). */
export const WRITE_TIMEOUT_MS = 10_000;
/**
 * How long a statement sent just before the function's timeout may still run on the server: the
 * payment connections' statement_timeout (functions/payments/shared/database.ts). PostgreSQL does
 * not notice the gone client while it runs (test/functions/payments/late-statement.test.ts).
 */
export const LAST_STATEMENT_MS = API_TIMEOUTS.statementMs;

interface Container {
  guard: ActiveRegionGuard;
  /** The container's own clock while it serves a request (Lambda: one request at a time). */
  time: number;
  busyUntil: number;
}

export interface PaymentCommit {
  readonly region: string;
  readonly at: number;
  readonly commit: Commit;
  readonly synthetic: boolean;
  /** The flag the guard let it through with. */
  readonly token: number | undefined;
}

export class RegionPayments {
  private readonly containers: Container[] = [];
  readonly commits: PaymentCommit[] = [];
  /** Writes refused by the guard, by reason, for the run's report. */
  readonly refused: Record<string, number> = {};
  /** Synthetic payments by idempotency key (the DR Verify step). */
  private readonly synthetic = new Map<string, { id: string; voided: boolean }>();

  constructor(
    readonly region: string,
    private readonly clock: VirtualClock,
    private readonly network: Network,
    private readonly random: Random,
    private readonly table: GlobalTable,
    private readonly aurora: AuroraGlobal,
    /** Called after each payment commit (the invariants look at it). */
    private readonly onCommit: (commit: PaymentCommit) => void,
  ) {}

  private container(): Container {
    const idle = this.containers.find((c) => c.busyUntil <= this.clock.now);
    if (idle) {
      idle.time = this.clock.now;
      return idle;
    }
    const container: Container = {
      time: this.clock.now + this.random.uniform(200, 1500), // cold start
      busyUntil: 0,
      guard: undefined as unknown as ActiveRegionGuard,
    };
    container.guard = new ActiveRegionGuard({
      region: this.region,
      cacheMs: MAX_ACTIVE_REGION_CACHE_MS,
      now: () => container.time,
      read: async () => this.readFlag(container),
    });
    this.containers.push(container);
    return container;
  }

  private async readFlag(container: Container): Promise<ActiveRegionFlag | undefined> {
    const item = this.table.read(this.region, CONTROL.activeRegionItem);
    const slow = this.random.chance(0.05);
    container.time += slow
      ? this.random.uniform(100, FLAG_READ.connectionTimeoutMs + FLAG_READ.requestTimeoutMs)
      : this.random.uniform(3, 30);
    if (this.network.outcome(this.region, this.region, "dynamodb", container.time) !== "ok") {
      throw new Error("ThrottlingException");
    }
    return item
      ? {
          activeRegion: String(item.activeRegion),
          fencingToken: item.fencingToken as number | undefined,
          phase: item.phase as string | undefined,
          ...(typeof item.leaseRequired === "boolean" ? { leaseRequired: item.leaseRequired } : {}),
          ...(typeof item.peerSeenAt === "string" ? { peerSeenAt: item.peerSeenAt } : {}),
          // As the real reader (functions/payments/shared/aws/dynamodb.ts): the guard lets the DR
          // merchant through a fenced flag only with the run's proof stamp (review 23b-10 L2).
          ...(typeof item.promotingAt === "string" ? { promotingAt: item.promotingAt } : {}),
        }
      : undefined;
  }

  /**
   * One write request arriving now. Resolves when the guard has decided, with its verdict and,
   * for an accepted write, a promise of its commit (null: it never committed), on the clock.
   */
  async write(options: { synthetic?: boolean } = {}): Promise<{
    verdict: "accepted" | "refused" | "down";
    settled: Promise<PaymentCommit | null>;
  }> {
    const none = Promise.resolve(null);
    if (this.network.isDown(this.region, this.clock.now)) return { verdict: "down", settled: none };
    const container = this.container();
    const started = container.time;
    let flag: ActiveRegionFlag;
    try {
      // The synthetic payment is the DR Verify task's, on the DR key's merchant: the one caller
      // the guard lets through a fenced flag (functions/payments/shared/fencing.ts).
      await container.guard.assertActive(
        options.synthetic ? { merchantId: DR_SYNTHETIC_MERCHANT } : {},
      );
      flag = await container.guard.flag();
    } catch (error) {
      const reason = (error as Error).name;
      this.refused[reason] = (this.refused[reason] ?? 0) + 1;
      container.busyUntil = container.time;
      return { verdict: "refused", settled: none };
    }
    const deadline = started + WRITE_TIMEOUT_MS;
    // The idempotency layer and the transaction: usually quick, sometimes the whole budget, and
    // then the last statement, sent before the deadline, may land up to its statement_timeout
    // after it (the client has its timeout by then).
    const slow = this.random.chance(0.1);
    const duration = slow
      ? this.random.uniform(0, deadline - container.time + LAST_STATEMENT_MS)
      : Math.min(this.random.uniform(15, 300), deadline - container.time);
    const commitAt = container.time + duration;
    container.busyUntil = deadline;
    let settle!: (commit: PaymentCommit | null) => void;
    const settled = new Promise<PaymentCommit | null>((resolve) => (settle = resolve));
    const attempt = () => {
      const { result, commit } = this.aurora.commit(
        this.region,
        options.synthetic ? "synthetic" : "payment",
      );
      if (result === "committed" && commit) {
        container.busyUntil = this.clock.now;
        // The answer reaches the client if the region's API still answers and the function has
        // not timed out.
        commit.acknowledged =
          !this.network.isDown(this.region, this.clock.now) && this.clock.now <= deadline;
        const record: PaymentCommit = {
          region: this.region,
          at: this.clock.now,
          commit,
          synthetic: options.synthetic ?? false,
          token: flag.fencingToken,
        };
        this.commits.push(record);
        this.onCommit(record);
        // Resolved on a timer of its own: whoever awaits it runs before the world moves on.
        this.clock.at(0, () => settle(record), false);
        return;
      }
      // Paused by the RPO guard: the COMMIT is the server's now, and the Lambda timing out does
      // not take it back: "Paused transactions are resumed and committed as soon as the lag ...
      // becomes less than the RPO" (aurora-global-database-disaster-recovery#aurora-global-
      // database-manage-recovery; review M1). The client got a timeout by then.
      if (result === "blocked") {
        this.clock.at(1000, attempt);
        return;
      }
      container.busyUntil = this.clock.now;
      this.clock.at(0, () => settle(null), false);
    };
    this.clock.at(commitAt - this.clock.now, attempt);
    return { verdict: "accepted", settled };
  }

  /** POST /payments of the DR Verify step: idempotent on its key, committed like any payment. */
  async synthesize(key: string): Promise<{ status: number; body: unknown }> {
    const existing = this.synthetic.get(key);
    if (existing) return { status: 201, body: { id: existing.id } };
    const { verdict, settled } = await this.write({ synthetic: true });
    if (verdict !== "accepted") return { status: verdict === "down" ? 503 : 409, body: null };
    // The Lambda answers once its commit is in (Verify's own timeout races this).
    const committed = await settled;
    if (!committed) return { status: 500, body: { error: "the transaction did not commit" } };
    const id = `pay_${committed.commit.id}`;
    this.synthetic.set(key, { id, voided: false });
    return { status: 201, body: { id, status: "authorized" } };
  }

  voidSynthetic(id: string): { status: number; body: unknown } {
    const payment = [...this.synthetic.values()].find((p) => p.id === id);
    if (!payment) return { status: 404, body: null };
    if (payment.voided) return { status: 409, body: { error: "already voided" } };
    payment.voided = true;
    return { status: 200, body: { id, status: "voided" } };
  }

  /** What GET /health answers in this region (functions/payments/health/core.ts). */
  health(): { status: number; body: unknown } {
    const item = this.table.read(this.region, CONTROL.activeRegionItem);
    const active = item?.activeRegion === this.region;
    const moving = active && item?.phase === FENCE_PHASE.fenced;
    // While a move into this region is fenced, /health writes nothing (no heartbeat): it only
    // looks at its own cluster, read-only (functions/payments/health/core.ts).
    const writable = active && !moving && this.aurora.accepts(this.region) === "committed";
    const heartbeat = this.aurora.heartbeatHeldBy(this.region);
    const cluster = this.aurora.clusters[this.region];
    const down = this.network.isDown(this.region, this.clock.now);
    const ownCluster: "writable" | "in recovery" | "unreachable" =
      down || !cluster?.exists
        ? "unreachable"
        : cluster.role === "secondary"
          ? "in recovery"
          : "writable";
    // A region that is down answers nothing: its /health fails like its database.
    const takingOver =
      !down &&
      promotingInto(
        this.region,
        item
          ? {
              activeRegion: String(item.activeRegion),
              ...(typeof item.phase === "string" ? { phase: item.phase } : {}),
              ...(typeof item.promotingAt === "string" ? { promotingAt: item.promotingAt } : {}),
            }
          : null,
      );
    return {
      status: writable || takingOver ? 200 : 503,
      body: {
        status: takingOver
          ? TAKING_OVER_STATUS
          : writable
            ? "healthy"
            : active
              ? "unhealthy"
              : "passive",
        region: this.region,
        activeRegion: item?.activeRegion ?? null,
        checks: {
          database: moving ? ownCluster : writable ? "writable" : active ? "unreachable" : null,
        },
        replication: {
          writerHeartbeatAt: heartbeat === null ? null : new Date(heartbeat).toISOString(),
        },
      },
    };
  }
}
