import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Route53HealthCheck } from "@cdktf/provider-aws/lib/route53-health-check";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { Route53Zone } from "@cdktf/provider-aws/lib/route53-zone";
import { Construct } from "constructs";
import type { RoutingConfig } from "../config";
import type { Naming } from "../naming";

export const HEALTH_PATH = "/health";

export interface PublicZoneProps {
  readonly provider: AwsProvider;
  readonly domainName: string;
}

/** The public hosted zone of DOMAIN_NAME (Route 53 is global; any provider can manage it). */
export class PublicZone extends Construct {
  public readonly zone: Route53Zone;
  public readonly domainName: string;

  constructor(scope: Construct, id: string, props: PublicZoneProps) {
    super(scope, id);
    this.domainName = props.domainName;
    this.zone = new Route53Zone(this, "zone", {
      provider: props.provider,
      name: props.domainName,
      comment: "payments-dr: failover records for api.<domain>",
      forceDestroy: true,
    });
  }
}

export interface RoutedRegion {
  readonly region: string;
  /** The API's execute-api host name, probed directly so health never depends on our DNS. */
  readonly apiHost: string;
  /**
   * The regional custom domain's alias target, when a domain is configured.
   * @default - no failover records for this region
   */
  readonly aliasTarget?: { readonly name: string; readonly zoneId: string };
}

export interface FailoverRoutingProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly routing: RoutingConfig;
  readonly primary: RoutedRegion;
  readonly secondary: RoutedRegion;
  /**
   * The slot whose region the PRIMARY failover record points at (WRITER_REGION). The records
   * keep their addresses and set identifiers; only their first alias target and health check
   * follow the writer, and those Terraform ignores after creation (the orchestrator owns them).
   * @default "primary"
   */
  readonly writer?: "primary" | "secondary";
  /**
   * The zone that gets the failover records of api.<domain>.
   * @default - health checks only: clients use each region's API URL
   */
  readonly zone?: PublicZone;
}

/**
 * HTTPS health checks on each region's /health and, with a zone, failover alias records for
 * api.<domain>. Failover runs on health checks (Route 53's data plane). The orchestrator moves
 * traffic by flipping the active-region flag, which makes the old primary's /health fail; the
 * new primary's /health passes only once it is active and writable. Nothing moves traffic back
 * when the old region recovers: its /health keeps failing while it is passive.
 */
export class FailoverRouting extends Construct {
  public readonly primaryHealthCheck: Route53HealthCheck;
  public readonly secondaryHealthCheck: Route53HealthCheck;
  public readonly recordName?: string;

  constructor(scope: Construct, id: string, props: FailoverRoutingProps) {
    super(scope, id);
    const { provider, naming, routing } = props;
    if (routing.healthCheckFailureThreshold < 1 || routing.healthCheckFailureThreshold > 10) {
      throw new Error(
        `health check failure threshold must be 1 to 10, got ${routing.healthCheckFailureThreshold}`,
      );
    }
    const check = (role: string, target: RoutedRegion) =>
      new Route53HealthCheck(this, `${role}-health`, {
        provider,
        type: "HTTPS",
        fqdn: target.apiHost,
        port: 443,
        resourcePath: HEALTH_PATH,
        enableSni: true,
        requestInterval: routing.healthCheckIntervalSeconds,
        failureThreshold: routing.healthCheckFailureThreshold,
        measureLatency: true,
        tags: { Name: naming.name("healthCheck", "api-health", target.region) },
      });
    this.primaryHealthCheck = check("primary", props.primary);
    this.secondaryHealthCheck = check("secondary", props.secondary);

    if (!props.zone) return;
    const zone = props.zone;
    this.recordName = `api.${zone.domainName}`;
    const record = (
      role: "PRIMARY" | "SECONDARY",
      target: RoutedRegion,
      healthCheck: Route53HealthCheck,
    ) => {
      if (!target.aliasTarget) {
        throw new Error(`failover record needs a custom domain in ${target.region}, got none`);
      }
      return new Route53Record(this, `${role.toLowerCase()}-record`, {
        provider,
        zoneId: zone.zone.zoneId,
        name: this.recordName!,
        type: "A",
        setIdentifier: role.toLowerCase(),
        failoverRoutingPolicy: { type: role },
        healthCheckId: healthCheck.id,
        alias: {
          name: target.aliasTarget.name,
          zoneId: target.aliasTarget.zoneId,
          evaluateTargetHealth: false,
        },
        // The orchestrator swaps targets so the new region becomes PRIMARY; keep its choice.
        lifecycle: { ignoreChanges: ["alias", "health_check_id"] },
      });
    };
    const bySlot = {
      primary: [props.primary, this.primaryHealthCheck] as const,
      secondary: [props.secondary, this.secondaryHealthCheck] as const,
    };
    const writer = props.writer ?? "primary";
    record("PRIMARY", ...bySlot[writer]);
    record("SECONDARY", ...bySlot[writer === "primary" ? "secondary" : "primary"]);
  }
}
