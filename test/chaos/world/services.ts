// The simple services the DR tasks use, one store per region: SSM Parameter Store, CloudWatch
// PutMetricData, EventBridge, SNS, and Route 53 (a global service whose control plane is in
// us-east-1: "Route 53 ... control plane is hosted in a single AWS Region", the fault isolation
// boundaries whitepaper). Their faults come from the network model; they keep what was written
// so the invariants can read it.
import type { DrEvent, MetricDatum } from "../../../functions/dr/shared/ports";

export class RegionServices {
  readonly parameters = new Map<string, string>();
  readonly metrics: MetricDatum[] = [];
  readonly events: DrEvent[] = [];
  readonly messages: { at: number; subject: string; message: string }[] = [];

  constructor(readonly region: string) {}
}

export class Route53 {
  /** The region each failover record points at. */
  readonly records = new Map<string, "PRIMARY" | "SECONDARY">();
  /** Route 53's control plane lives here. */
  readonly controlPlaneRegion = "us-east-1";
}
