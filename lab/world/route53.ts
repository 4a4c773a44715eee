// Route 53 failover routing for api.<domain>, as the lab models it. Pages:
// "How Amazon Route 53 determines whether a health check is healthy"
// (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html):
// a check every RequestInterval (10 or 30 s), FailureThreshold consecutive results to change
// status, an HTTP check needs a TCP connection within 4 s and a 2xx/3xx within 2 s after it.
// "Choosing between alias and non-alias records": alias records take the target's TTL, 60 s
// for the API Gateway regional domain here (infra/lib/aws-timings.ts), so clients keep a
// resolved region for up to that long. Failover records: PRIMARY while healthy, else SECONDARY;
// "If none of the records in a group of records are healthy, Route 53 ... considers all the
// records in the group to be healthy" -> the PRIMARY.
// The control plane (GetHealthCheckStatus, ListResourceRecordSets, ChangeResourceRecordSets) lives
// in us-east-1: the DnsPort fails when the caller cannot reach that region. The health checkers
// are global and reach each region's API directly (a partition between the regions does not hide
// a region from them).
// Not modelled: checkers in several locations and the 18% rule (one checker), propagation of a
// status change to the DNS edge, resolvers that ignore TTLs.
import type { DnsPort, DnsTarget, FailoverRecord } from "../../functions/dr/shared/ports";
import type { LabClock } from "./clock";

export interface HealthCheckConfig {
  readonly intervalSeconds: number;
  readonly failureThreshold: number;
  readonly ttlSeconds: number;
}

interface Check {
  readonly id: string;
  readonly region: string;
  healthy: boolean;
  streak: number;
  /** Until the first result, a new health check takes its first answer. */
  known: boolean;
  lastResult?: boolean;
}

export class Route53 {
  readonly checks = new Map<string, Check>();
  /** Region of the PRIMARY and of the SECONDARY record. */
  records: { primary: string; secondary: string };
  readonly history: { at: number; region: string; healthy: boolean }[] = [];
  readonly recordChanges: { at: number; primary: string }[] = [];
  /** Every failed check (lab ms; real ms it took; the status or error): why a region flapped. */
  readonly failedChecks: { at: number; region: string; realMs: number; detail: string }[] = [];
  private timer?: NodeJS.Timeout;
  private inflight = false;
  /** Real ms a check waits for its answer: 6 s at production timings, scaled with the lab clock. */
  private readonly timeoutMs: number;

  constructor(
    private readonly clock: LabClock,
    readonly config: HealthCheckConfig,
    regions: { primary: string; secondary: string },
    /** This region's /health URL (the API process's local port). */
    private readonly healthUrl: (region: string) => string | undefined,
  ) {
    this.records = { ...regions };
    // Never below 1.5 s real: a local /health under load still takes real time.
    this.timeoutMs = Math.max(1_500, clock.real(6_000));
    for (const region of [regions.primary, regions.secondary]) {
      this.checks.set(healthCheckId(region), {
        id: healthCheckId(region),
        region,
        healthy: true,
        streak: 0,
        known: false,
      });
    }
  }

  /** The first round of checks, before any client resolves the name. */
  async prime(): Promise<void> {
    await this.round();
  }

  start(): void {
    this.timer = setInterval(
      () => void this.round(),
      this.clock.real(this.config.intervalSeconds * 1000),
    );
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async round(): Promise<void> {
    if (this.inflight) return;
    this.inflight = true;
    try {
      await Promise.all([...this.checks.values()].map((c) => this.checkOnce(c)));
    } finally {
      this.inflight = false;
    }
  }

  private async checkOnce(check: Check): Promise<void> {
    const url = this.healthUrl(check.region);
    let ok = false;
    let detail = "no endpoint";
    const started = Date.now();
    if (url) {
      try {
        // 4 s to connect + 2 s to answer; the lab has no separate connect phase: 6 s in all.
        const response = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
        ok = response.status >= 200 && response.status < 400;
        const body = await response.text();
        detail = `${response.status} ${body.slice(0, 160)}`;
      } catch (error) {
        ok = false;
        detail =
          (error as Error).name === "TimeoutError"
            ? `no answer within ${this.timeoutMs} ms`
            : (error as Error).message;
      }
    }
    if (!ok)
      this.failedChecks.push({
        at: this.clock.nowMs(),
        region: check.region,
        realMs: Date.now() - started,
        detail,
      });
    check.streak = check.lastResult === ok ? check.streak + 1 : 1;
    check.lastResult = ok;
    if (!check.known) {
      check.known = true;
      check.healthy = ok;
      this.history.push({ at: this.clock.nowMs(), region: check.region, healthy: ok });
      return;
    }
    if (ok !== check.healthy && check.streak >= this.config.failureThreshold) {
      check.healthy = ok;
      this.history.push({ at: this.clock.nowMs(), region: check.region, healthy: ok });
    }
  }

  /** The answer to a DNS query for api.<domain>. */
  resolve(): string {
    const primary = this.checks.get(healthCheckId(this.records.primary))!;
    const secondary = this.checks.get(healthCheckId(this.records.secondary))!;
    if (primary.healthy) return this.records.primary;
    if (secondary.healthy) return this.records.secondary;
    return this.records.primary;
  }

  /** The DnsPort of the DR tasks; `reach` fails when us-east-1 (the control plane) is out of reach. */
  port(reach: () => Promise<void>): DnsPort {
    return {
      healthCheckStatus: async (id) => {
        await reach();
        const check = this.checks.get(id);
        if (!check) throw new Error(`NoSuchHealthCheck: ${id}`);
        return check.healthy ? "healthy" : "unhealthy";
      },
      failoverRecords: async (): Promise<FailoverRecord[]> => {
        await reach();
        return [
          {
            setIdentifier: "primary",
            failover: "PRIMARY",
            aliasDnsName: apiDomainTarget(this.records.primary),
          },
          {
            setIdentifier: "secondary",
            failover: "SECONDARY",
            aliasDnsName: apiDomainTarget(this.records.secondary),
          },
        ];
      },
      makePrimary: async (_zone, _name, primary: DnsTarget, secondary: DnsTarget) => {
        await reach();
        this.records = { primary: primary.region, secondary: secondary.region };
        this.recordChanges.push({ at: this.clock.nowMs(), primary: primary.region });
      },
    };
  }
}

export function healthCheckId(region: string): string {
  return `lab-health-${region}`;
}

export function apiDomainTarget(region: string): string {
  return `d-lab.execute-api.${region}.amazonaws.com`;
}
