// Moves the custom domain's traffic. The flag flip already makes the old region's /health fail,
// so Route 53's failover records move traffic on their own; this step reads the health checks
// and, when Route 53's control plane (us-east-1) answers, swaps the records' PRIMARY/SECONDARY so
// the new region stays primary once the old one recovers. Everything here is best-effort: it
// never throws for a Route 53 failure and never blocks the workflow.
import { bestEffort } from "../shared/best-effort";
import type { DrDeps } from "../shared/deps";
import type { DnsTarget } from "../shared/ports";
import { regionOf } from "../shared/topology";
import type { ShiftTrafficResult, StepTimes, WorkflowState } from "../shared/types";
import { stateTask } from "../shared/task";

export type ShiftTrafficOutcome = Omit<ShiftTrafficResult, keyof StepTimes>;

export async function shiftTraffic(
  state: WorkflowState,
  deps: DrDeps,
): Promise<ShiftTrafficOutcome> {
  const { request } = state;
  const { topology } = deps;
  const dnsConfig = topology.dns;
  if (!dnsConfig) {
    return { records: "not-configured", healthChecks: {} };
  }
  const dns = deps.dns();
  const healthChecks: Record<string, "healthy" | "unhealthy" | "unknown"> = {};
  await Promise.all(
    [request.targetRegion, request.sourceRegion].map(async (name) => {
      const id = regionOf(topology, name).healthCheckId;
      if (!id) return;
      const status = await bestEffort(
        `GetHealthCheckStatus ${id}`,
        () => dns.healthCheckStatus(id),
        deps,
      );
      healthChecks[name] = status.ok ? status.value : "unknown";
    }),
  );

  const primary = dnsTarget(deps, request.targetRegion);
  const secondary = dnsTarget(deps, request.sourceRegion);
  if (!primary || !secondary) {
    return {
      records: "not-configured",
      healthChecks,
      note: "a region has no apiDomainTarget in DR_TOPOLOGY",
    };
  }
  const result = await bestEffort(
    "swap failover records",
    async () => {
      const records = await dns.failoverRecords(dnsConfig.hostedZoneId, dnsConfig.recordName);
      const current = records.find((r) => r.failover === "PRIMARY");
      if (current?.aliasDnsName && sameName(current.aliasDnsName, primary.dnsName)) {
        return "already-primary" as const;
      }
      await dns.makePrimary(dnsConfig.hostedZoneId, dnsConfig.recordName, primary, secondary);
      return "switched" as const;
    },
    deps,
    // A read and a write.
    2 * deps.settings.bestEffortTimeoutMs,
  );
  if (!result.ok) {
    return {
      records: "unreachable",
      healthChecks,
      note: `Route 53 did not answer (${result.error}); health-check failover still routes to the healthy region. Swap the records later.`,
    };
  }
  deps.log.info("failover records checked", { records: result.value, healthChecks });
  return { records: result.value, healthChecks };
}

function sameName(a: string, b: string): boolean {
  const normalise = (name: string) => name.replace(/\.$/, "").toLowerCase();
  return normalise(a) === normalise(b);
}

function dnsTarget(deps: DrDeps, region: string): DnsTarget | undefined {
  const r = regionOf(deps.topology, region);
  if (!r.apiDomainTarget) return undefined;
  return {
    region,
    dnsName: r.apiDomainTarget.dnsName,
    hostedZoneId: r.apiDomainTarget.hostedZoneId,
    healthCheckId: r.healthCheckId,
  };
}

/** The ShiftTraffic task (functions/dr/tasks.ts). */
export const SHIFT_TRAFFIC_TASK = stateTask({
  step: "ShiftTraffic",
  description: "Swaps the Route 53 failover records, best-effort",
  workflows: ["failover", "switchover", "failback", "reprotect"],
  permissions: { dns: ["healthCheckStatus", "failoverRecords", "makePrimary"] },
  run: shiftTraffic,
});
