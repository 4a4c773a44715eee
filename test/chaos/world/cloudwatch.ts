// CloudWatch in the secondary region, and the detection that feeds it:
// - The prober (functions/monitoring/prober) in us-west-2 probes, every 10 s, the /health of the
//   region the flag (its own region's replica) names as active, and publishes 1 or 0 as
//   PaymentsDR/PrimaryHealthy; a probe fails when it cannot reach that region or /health does not
//   answer 200 (flag elsewhere, database not writable, or the RPO guard blocking the heartbeat
//   write). Nothing is published while us-west-2 itself is active or down.
// - Each round the prober also reads its own region's /health (the writer heartbeat that
//   region's cluster holds) and keeps the heartbeat watch item in its own region's replica of the
//   control table (functions/dr/shared/heartbeat-watch.ts, the same code as the real prober).
// - At the start of each round the prober renews the peer lease (PEER_LEASE) on the flag in its
//   own region's replica while that replica names the other region: the real prober core's
//   renewLease, through a control port on this world's table (a DynamoDB fault in the prober's
//   region makes the renewal fail, as it would).
// - The primary-unhealthy alarm: 3 of 3 periods of 10 s failed ("treat missing data as not
//   breaching"); entering ALARM starts the failover workflow through EventBridge.
// - AuroraGlobalDBReplicationLag: "This metric is available only in secondary AWS Regions", one
//   Maximum per minute; what it does while replication is cut is not documented, so a run draws
//   either a growing lag or no datapoints. The writer-unavailable alarm (above 60 s for 3
//   minutes) also starts the failover: a second trigger.
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html
import type { AuroraGlobal } from "./aurora";
import type { VirtualClock } from "./clock";
import { Random } from "./random";
import type { Network } from "./network";
import type { RegionPayments } from "./payments";
import type { GlobalTable } from "./dynamodb";
import { CONTROL, FENCE_PHASE, WRITER_HEARTBEAT } from "../../../functions/common/contract";
import { activeRegionFlagOf } from "../../../functions/dr/shared/aws/control-table";
import { observeHeartbeat, staleAfterSeconds } from "../../../functions/dr/shared/heartbeat-watch";
import type { ControlPort, HeartbeatWatch } from "../../../functions/dr/shared/ports";
import { renewLease } from "../../../functions/monitoring/prober/core";
import { answersTakingOver } from "../../../functions/common/taking-over";
import type { ProberDeps } from "../../../functions/monitoring/prober/core";

export interface Datapoint {
  readonly at: number;
  readonly value: number;
}

export class Detection {
  readonly probes: Datapoint[] = [];
  /** AuroraGlobalDBReplicationLag of each region's cluster, published in that region. */
  readonly lag: Record<string, Datapoint[]> = {};
  private readonly recentProbes: boolean[] = [];
  private readonly recentLag: number[] = [];
  private unhealthyAlarm = false;
  private lagAlarm = false;
  private readonly lagMinute: Record<string, number[]> = {};

  constructor(
    private readonly proberRegion: string,
    private readonly primaryRegion: string,
    /** The cluster identifier of each region. */
    private readonly clusterOf: (region: string) => string,
    private readonly clock: VirtualClock,
    private readonly network: Network,
    private readonly table: GlobalTable,
    private readonly aurora: AuroraGlobal,
    private readonly payments: Record<string, RegionPayments>,
    /** An alarm entered ALARM: EventBridge starts the failover workflow. */
    private readonly onAlarm: (alarm: string) => void,
    /** rds.global_db_rpo of the deployed primary (the prober's stale threshold). */
    private readonly rpoSeconds: number | null = null,
  ) {}

  /** The hour before the run: a secondary replicating normally, well under a second behind. */
  backfill(secondary: string, random: { uniform(min: number, max: number): number }): void {
    const now = this.clock.now;
    this.lag[secondary] = Array.from({ length: 60 }, (_, i) => ({
      at: now - (60 - i) * 60_000,
      value: random.uniform(20, 900),
    }));
  }

  /** The lease renewer can be switched off (a world test, the mutation tests). */
  renewing = true;
  /**
   * The renewer's own draws: the rest of the world replays the same with or without it. The
   * world seeds it from the schedule's seed.
   */
  leaseRandom = new Random(0x1ea5e);

  /** The prober's own region's control table, as the renewal reaches it. */
  private leasePort(): Pick<ControlPort, "getActiveRegion" | "renewPeerLease"> {
    const region = this.proberRegion;
    const reachable = () => {
      if (this.network.outcome(region, region, "dynamodb", this.clock.now) !== "ok") {
        throw new Error("ThrottlingException");
      }
    };
    return {
      getActiveRegion: async () => {
        reachable();
        return activeRegionFlagOf(this.table.read(region, CONTROL.activeRegionItem));
      },
      renewPeerLease: async (activeRegion, fencingToken, at) => {
        reachable();
        return this.table.write(
          region,
          CONTROL.activeRegionItem,
          (current) =>
            current?.activeRegion === activeRegion &&
            Number(current.fencingToken ?? 0) === fencingToken &&
            current.phase !== FENCE_PHASE.fenced
              ? { ...current, peerSeenAt: at, leaseRequired: current.leaseRequired ?? true }
              : false,
          this.leaseRandom,
        );
      },
    };
  }

  /** Every 10 s. */
  async probe(): Promise<void> {
    const now = this.clock.now;
    if (this.network.isDown(this.proberRegion, now)) return;
    if (this.renewing) {
      const quiet = () => undefined;
      await renewLease(this.proberRegion, {
        lease: { control: this.leasePort() },
        now: () => new Date(this.clock.now),
        log: { info: quiet, warn: quiet, error: quiet },
      } as unknown as ProberDeps);
    }
    const flag = this.table.read(this.proberRegion, CONTROL.activeRegionItem);
    const probed = (flag?.activeRegion as string | undefined) ?? this.primaryRegion;
    if (probed === this.proberRegion) return;
    const answer = this.network.reachable(this.proberRegion, probed, now)
      ? this.payments[probed]!.health()
      : null;
    const healthy = answer?.status === 200;
    this.probes.push({ at: now, value: healthy ? 1 : 0 });
    // As the real prober: a region taking over is healthy for the alarm, not a healthy writer.
    this.watchHeartbeat(healthy && !(answer !== null && answersTakingOver(answer)));
    this.recentProbes.push(healthy);
    if (this.recentProbes.length > 3) this.recentProbes.shift();
    const breaching = this.recentProbes.length === 3 && this.recentProbes.every((h) => !h);
    if (breaching && !this.unhealthyAlarm) this.onAlarm("primary-unhealthy");
    this.unhealthyAlarm = breaching;
  }

  /** The prober's look at its own region's heartbeat, after the round's probe of the writer. */
  private watchHeartbeat(writerHealthy: boolean): void {
    const region = this.proberRegion;
    const held = this.aurora.heartbeatHeldBy(region);
    const current = this.table.read(region, CONTROL.heartbeatWatchItem) as
      (HeartbeatWatch & Record<string, unknown>) | undefined;
    const next = observeHeartbeat(
      current ?? null,
      held === null ? null : new Date(held).toISOString(),
      new Date(this.clock.now),
      writerHealthy,
      staleAfterSeconds(this.rpoSeconds, WRITER_HEARTBEAT.intervalSeconds),
    );
    if (next) this.table.write(region, CONTROL.heartbeatWatchItem, () => ({ ...next }));
  }

  /** Every few seconds: the lag each minute's Maximum is taken from. */
  sampleLag(): void {
    for (const region of Object.keys(this.payments)) {
      const lagMs = this.aurora.reportedLagMs(region);
      if (lagMs !== null) (this.lagMinute[region] ??= []).push(lagMs);
    }
  }

  /** Every minute: each secondary's datapoint, and the writer-unavailable alarm (us-west-2's). */
  publishLag(): void {
    const now = this.clock.now;
    for (const region of Object.keys(this.payments)) {
      const minute = this.lagMinute[region] ?? [];
      this.lagMinute[region] = [];
      if (minute.length === 0 || this.network.isDown(region, now)) continue;
      const max = Math.max(...minute);
      (this.lag[region] ??= []).push({ at: now - 60_000, value: max });
      if (region !== this.proberRegion) continue;
      this.recentLag.push(max);
      if (this.recentLag.length > 3) this.recentLag.shift();
      const breaching = this.recentLag.length === 3 && this.recentLag.every((l) => l > 60_000);
      if (breaching && !this.lagAlarm) this.onAlarm("writer-unavailable");
      this.lagAlarm = breaching;
    }
  }

  /** What GetMetricData in the prober's region returns for the probes since `since`. */
  probeResults(since: number): { at: string; healthy: boolean }[] {
    return this.probes
      .filter((p) => p.at >= since && p.at <= this.clock.now)
      .reverse()
      .map((p) => ({ at: new Date(p.at).toISOString(), healthy: p.value >= 1 }));
  }

  /** What GetMetricData in `region` returns for `cluster`'s lag since `since`. */
  lagHistory(region: string, cluster: string, since: number): { lagMs: number; at: string }[] {
    if (cluster !== this.clusterOf(region)) return [];
    return (this.lag[region] ?? [])
      .filter((p) => p.at >= since && p.at + 60_000 <= this.clock.now)
      .reverse()
      .map((p) => ({ lagMs: p.value, at: new Date(p.at).toISOString() }));
  }
}
