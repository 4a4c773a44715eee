// DynamoDB global table (version 2019.11.21, MREC) as the control table: one replica per region.
// What AWS documents, and this model does:
// - "Item changes in an MREC global table replica are asynchronously replicated to all other
//   replicas, typically within a second or less", with "no SLA on this latency": each write
//   reaches the other replica after a delay drawn up to the run's maximum (0-30 s).
// - "Conditional writes evaluate the condition expression against the version of the item in
//   the Region"; strongly consistent reads return the local replica's version.
// - Conflicts: "last writer wins", per item, by the write's timestamp.
// - A partition stops replication; "all pending outbound and inbound replications will be
//   retried" when it heals (Prescriptive Guidance, DynamoDB global tables: overview).
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html
import type { VirtualClock } from "./clock";
import type { Network } from "./network";
import type { Random } from "./random";

export type Item = Record<string, unknown>;

interface Version {
  /** undefined: deleted (a tombstone that still carries its timestamp). */
  readonly item: Item | undefined;
  readonly ts: number;
}

export class GlobalTable {
  private readonly replicas: Record<string, Map<string, Version>> = {};
  /** Every item version applied to a replica, for the invariants: region -> key -> history. */
  readonly history: { region: string; key: string; at: number; item: Item | undefined }[] = [];
  /**
   * Windows in which one direction replicates slower: a write made in `from` between `start`
   * and `end` (epoch ms) reaches `to` after a delay drawn up to `maxDelaySeconds` instead of
   * the run's maximum ("no SLA on this latency"; ReplicationLatency is per direction).
   */
  readonly slow: {
    from: string;
    to: string;
    start: number;
    end: number;
    maxDelaySeconds: number;
  }[] = [];

  constructor(
    private readonly regions: readonly string[],
    private readonly clock: VirtualClock,
    private readonly network: Network,
    private readonly random: Random,
    /** The largest replication delay of this run, in seconds (drawn 0-30 s). */
    readonly maxDelaySeconds: number,
  ) {
    for (const region of regions) this.replicas[region] = new Map();
  }

  /** The local replica's version (what a strongly consistent read in `region` returns). */
  read(region: string, key: string): Item | undefined {
    const item = this.replicas[region]!.get(key)?.item;
    if (item === undefined) return undefined;
    // Items are one level deep but for the lock's facts.
    const copy: Item = { ...item };
    if (item.facts && typeof item.facts === "object") copy.facts = { ...(item.facts as Item) };
    return copy;
  }

  /** Seeds an item in every replica (the Terraform-created flag). */
  seed(key: string, item: Item): void {
    for (const region of this.regions) this.apply(region, key, { item, ts: 0 });
  }

  /**
   * A conditional write in `region`, evaluated against that replica only. `decide` gets the local
   * item and returns the new one (undefined deletes), or `false` when the condition fails.
   */
  write(
    region: string,
    key: string,
    decide: (current: Item | undefined) => Item | undefined | false,
    /**
     * The draws of this write (timestamp, replication delay). The lease renewer passes its own
     * stream, so a schedule replays the same world with and without it (the regression cases of
     * review M3 compare the two).
     */
    random: Random = this.random,
  ): boolean {
    const current = this.read(region, key);
    const next = decide(current);
    if (next === false) return false;
    // Timestamps are unique and increase with the clock: last writer wins is well defined.
    const version: Version = {
      item: next && { ...next, ...(next.facts ? { facts: { ...(next.facts as Item) } } : {}) },
      ts: this.clock.now + random.next(),
    };
    this.apply(region, key, version);
    for (const other of this.regions) {
      if (other !== region) this.replicate(region, other, key, version, random);
    }
    return true;
  }

  private replicate(from: string, to: string, key: string, version: Version, random: Random): void {
    const now = this.clock.now;
    const slow = this.slow.find(
      (w) => w.from === from && w.to === to && w.start <= now && now < w.end,
    );
    // The draw is the same one either way: a world without a slow window replays unchanged.
    const delayMs =
      random.uniform(0, Math.max(this.maxDelaySeconds, slow?.maxDelaySeconds ?? 0)) * 1000;
    const deliver = () => {
      // Held back while the regions cannot talk; retried when they can.
      if (!this.network.reachable(from, to, this.clock.now)) {
        const up = this.network.nextLinkUp(from, to, this.clock.now);
        if (Number.isFinite(up))
          this.clock.at(up - this.clock.now + random.uniform(50, 1000), deliver);
        return;
      }
      this.apply(to, key, version);
    };
    this.clock.at(delayMs, deliver);
  }

  private apply(region: string, key: string, version: Version): void {
    const replica = this.replicas[region]!;
    const existing = replica.get(key);
    if (existing && existing.ts >= version.ts) return;
    replica.set(key, version);
    this.history.push({ region, key, at: this.clock.now, item: version.item });
  }
}
