// Route 53 failover records and health checks. The client must be in us-east-1 (the control
// plane); the DR tasks use it best-effort only.
import {
  ChangeResourceRecordSetsCommand,
  GetHealthCheckStatusCommand,
  ListResourceRecordSetsCommand,
} from "@aws-sdk/client-route-53";
import type { ResourceRecordSet, Route53Client } from "@aws-sdk/client-route-53";
import { DNS_FAILOVER } from "../../../common/contract";
import type { DnsPort, DnsTarget, FailoverRecord } from "../ports";
import { toPortError } from "./errors";

function normalise(name: string): string {
  return name.replace(/\.$/, "").toLowerCase();
}

export function failoverRecord(
  recordName: string,
  target: DnsTarget,
  failover: "PRIMARY" | "SECONDARY",
): ResourceRecordSet {
  return {
    Name: recordName,
    Type: DNS_FAILOVER.recordType,
    SetIdentifier:
      failover === "PRIMARY"
        ? DNS_FAILOVER.primarySetIdentifier
        : DNS_FAILOVER.secondarySetIdentifier,
    Failover: failover,
    // The record's own health check decides; the alias target is an API Gateway domain.
    AliasTarget: {
      DNSName: target.dnsName,
      HostedZoneId: target.hostedZoneId,
      EvaluateTargetHealth: false,
    },
    ...(target.healthCheckId ? { HealthCheckId: target.healthCheckId } : {}),
  };
}

export class Route53Dns implements DnsPort {
  constructor(private readonly route53: Route53Client) {}

  async healthCheckStatus(healthCheckId: string): Promise<"healthy" | "unhealthy"> {
    try {
      const out = await this.route53.send(
        new GetHealthCheckStatusCommand({ HealthCheckId: healthCheckId }),
      );
      const reports = out.HealthCheckObservations ?? [];
      const ok = reports.filter((o) => o.StatusReport?.Status?.startsWith("Success")).length;
      return ok * 2 > reports.length ? "healthy" : "unhealthy";
    } catch (error) {
      throw toPortError("route53:GetHealthCheckStatus", error);
    }
  }

  async failoverRecords(hostedZoneId: string, recordName: string): Promise<FailoverRecord[]> {
    try {
      const out = await this.route53.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: hostedZoneId,
          StartRecordName: recordName,
          StartRecordType: DNS_FAILOVER.recordType,
          MaxItems: 10,
        }),
      );
      return (out.ResourceRecordSets ?? [])
        .filter(
          (r) =>
            normalise(r.Name ?? "") === normalise(recordName) &&
            r.Type === DNS_FAILOVER.recordType &&
            (r.Failover === "PRIMARY" || r.Failover === "SECONDARY"),
        )
        .map((r) => ({
          setIdentifier: r.SetIdentifier ?? "",
          failover: r.Failover as "PRIMARY" | "SECONDARY",
          ...(r.AliasTarget?.DNSName ? { aliasDnsName: r.AliasTarget.DNSName } : {}),
        }));
    } catch (error) {
      throw toPortError("route53:ListResourceRecordSets", error);
    }
  }

  async makePrimary(
    hostedZoneId: string,
    recordName: string,
    primary: DnsTarget,
    secondary: DnsTarget,
  ): Promise<void> {
    try {
      await this.route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: hostedZoneId,
          ChangeBatch: {
            Comment: `payments-dr: ${primary.region} becomes PRIMARY`,
            Changes: [
              {
                Action: "UPSERT",
                ResourceRecordSet: failoverRecord(recordName, primary, "PRIMARY"),
              },
              {
                Action: "UPSERT",
                ResourceRecordSet: failoverRecord(recordName, secondary, "SECONDARY"),
              },
            ],
          },
        }),
      );
    } catch (error) {
      throw toPortError("route53:ChangeResourceRecordSets", error);
    }
  }
}
