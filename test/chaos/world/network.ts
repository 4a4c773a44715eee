// Regions and the network between them: who can reach what, how long a call takes and what goes
// wrong. A fault is a window of world time. What it does is what AWS clients see:
// - down: the region's endpoints do not answer (connections time out), its database and Lambdas
//   stop. Calls from its own Lambdas do not happen either: nothing runs there.
// - partition: both regions are up, but nothing crosses between them: DynamoDB global-table and
//   Aurora replication stop (both resume and catch up when it heals: "all pending outbound and
//   inbound replications will be retried", Prescriptive Guidance, DynamoDB global tables), and a
//   Lambda in one region cannot reach the other region's endpoints.
// - throttle / error: a share of the calls to one service of a region fail with
//   ThrottlingException or a 5xx (AWS SDK retries them within its attempts).
// - lost: a share of the calls land but the answer never comes back: the SDK times out and may
//   retry a call that already took effect.
// Latencies: calls within a region take 5-150 ms, across regions 60-200 ms (drawn per call).
import type { Random } from "./random";

export type Service =
  "rds" | "dynamodb" | "ssm" | "cloudwatch" | "events" | "sns" | "route53" | "api" | "lambda";

export type Fault =
  | { readonly kind: "down"; readonly region: string; readonly from: number; readonly to: number }
  | { readonly kind: "partition"; readonly from: number; readonly to: number }
  | {
      readonly kind: "throttle" | "error" | "lost";
      readonly region: string;
      readonly service: Service;
      readonly share: number;
      readonly from: number;
      readonly to: number;
      /**
       * Only calls made by Lambdas in this region (a cross-region path failing while each
       * region's own calls succeed). @default - every caller
       */
      readonly caller?: string;
    };

export type Outcome = "ok" | "hang" | "throttle" | "error" | "lost";

export class Network {
  readonly faults: Fault[] = [];

  constructor(private readonly random: Random) {}

  add(fault: Fault): void {
    this.faults.push(fault);
  }

  private active(now: number): Fault[] {
    return this.faults.filter((f) => f.from <= now && now < f.to);
  }

  isDown(region: string, now: number): boolean {
    return this.active(now).some((f) => f.kind === "down" && f.region === region);
  }

  partitioned(now: number): boolean {
    return this.active(now).some((f) => f.kind === "partition");
  }

  /** Traffic from `from` reaches `to` (same region: whenever it is up). */
  reachable(from: string, to: string, now: number): boolean {
    if (this.isDown(to, now) || this.isDown(from, now)) return false;
    return from === to || !this.partitioned(now);
  }

  /** When replication between the two regions next flows, from `now` (Infinity: never). */
  nextLinkUp(a: string, b: string, now: number): number {
    let t = now;
    for (let guard = 0; guard < 1000; guard += 1) {
      if (this.reachable(a, b, t)) return t;
      const blocking = this.active(t).filter(
        (f) => f.kind === "partition" || (f.kind === "down" && (f.region === a || f.region === b)),
      );
      const until = Math.max(...blocking.map((f) => f.to));
      if (!Number.isFinite(until)) return Infinity;
      t = until;
    }
    return Infinity;
  }

  /** What one call from a Lambda in `from` to `service` in `to` meets at `now`. */
  outcome(from: string, to: string, service: Service, now: number): Outcome {
    if (!this.reachable(from, to, now)) return "hang";
    for (const f of this.active(now)) {
      if (f.kind !== "throttle" && f.kind !== "error" && f.kind !== "lost") continue;
      if (f.region !== to || f.service !== service) continue;
      if (f.caller !== undefined && f.caller !== from) continue;
      if (this.random.chance(f.share)) return f.kind;
    }
    return "ok";
  }

  latencyMs(from: string, to: string): number {
    return from === to ? this.random.uniform(5, 150) : this.random.uniform(60, 200);
  }

  /** The last moment any fault is active (Infinity for a permanent one). */
  lastFaultEnds(): number {
    return Math.max(0, ...this.faults.map((f) => f.to));
  }
}
