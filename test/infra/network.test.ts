import {
  ENI_RELEASE_TIMEOUT,
  privateSubnetCidrs,
  subnetCidr,
} from "../../infra/constructs/network";
import { policyStatements } from "./helpers";
import { inRegion, resourceList, resources, synth, CUSTOM_ENV } from "./helpers";

const REGIONS = [
  ["primary", "us-east-1", "10.10.0.0/16", "10.20.0.0/16"],
  ["secondary", "us-west-2", "10.20.0.0/16", "10.10.0.0/16"],
] as const;

describe("network", () => {
  const { json } = synth();

  it("cuts subnets like Terraform's cidrsubnet", () => {
    expect(subnetCidr("10.10.0.0/16", 3, 0)).toBe("10.10.0.0/19");
    expect(subnetCidr("10.10.0.0/16", 3, 5)).toBe("10.10.160.0/19");
    expect(subnetCidr("172.16.8.0/24", 3, 7)).toBe("172.16.8.224/27");
    expect(() => subnetCidr("10.0.0.0/16", 3, 8)).toThrow(/cannot cut subnet 8/);
  });

  describe.each(REGIONS)("in the %s region (%s)", (role, region, cidr, peerCidr) => {
    it("has one DNS-enabled VPC with the configured CIDR", () => {
      const vpcs = inRegion(resourceList(json, "aws_vpc"), role);
      expect(vpcs).toHaveLength(1);
      expect(vpcs[0]).toMatchObject({
        cidr_block: cidr,
        enable_dns_hostnames: true,
        enable_dns_support: true,
      });
    });

    it("has three private and three public subnets across three zones", () => {
      const subnets = inRegion(resourceList(json, "aws_subnet"), role);
      const tier = (t: string) =>
        subnets.filter((s) => (s.tags as Record<string, string>).tier === t);
      for (const t of ["private", "public"]) {
        expect(
          tier(t)
            .map((s) => s.availability_zone)
            .sort(),
        ).toEqual([`${region}a`, `${region}b`, `${region}c`]);
      }
      expect(tier("public").every((s) => s.map_public_ip_on_launch === false)).toBe(true);
      const cidrs = subnets.map((s) => s.cidr_block);
      expect(new Set(cidrs).size).toBe(6);
    });

    it("has a NAT gateway per zone and a default route through each from its private table", () => {
      expect(inRegion(resourceList(json, "aws_nat_gateway"), role)).toHaveLength(3);
      const natRoutes = inRegion(resourceList(json, "aws_route"), role).filter(
        (r) => r.nat_gateway_id,
      );
      expect(natRoutes).toHaveLength(3);
      expect(new Set(natRoutes.map((r) => r.nat_gateway_id)).size).toBe(3);
      expect(natRoutes.every((r) => r.destination_cidr_block === "0.0.0.0/0")).toBe(true);
    });

    it("sends flow logs to a KMS-encrypted log group with retention", () => {
      const groups = inRegion(resourceList(json, "aws_cloudwatch_log_group"), role).filter((g) =>
        String(g.name).includes("vpc-flow-logs"),
      );
      expect(groups).toHaveLength(1);
      // An audit trail: a year by default (PCI DSS 10.5.1), FLOW_LOG_RETENTION_DAYS.
      expect(groups[0]!.retention_in_days).toBe(365);
      expect(String(groups[0]!.kms_key_id)).toMatch(/aws_kms_key\.platform-key-/);
      const flowLogs = inRegion(resourceList(json, "aws_flow_log"), role);
      expect(flowLogs).toHaveLength(1);
      expect(flowLogs[0]).toMatchObject({
        traffic_type: "ALL",
        log_destination_type: "cloud-watch-logs",
      });
    });

    it("lets PostgreSQL into the database only from the Lambda group and the peer's private subnets", () => {
      const ingress = inRegion(
        resourceList(json, "aws_vpc_security_group_ingress_rule"),
        role,
      ).filter((r) => r.from_port === 5432);
      expect(ingress).toHaveLength(4);
      const sources = ingress.map((r) => r.cidr_ipv4 ?? r.referenced_security_group_id);
      // Not the whole peer /16: its public subnets (NAT) and spare ranges stay out.
      expect(sources).not.toContain(peerCidr);
      expect(sources).toEqual(expect.arrayContaining(privateSubnetCidrs(peerCidr)));
      const peerPrivate = inRegion(
        resourceList(json, "aws_subnet"),
        role === "primary" ? "secondary" : "primary",
      )
        .filter((n) =>
          String(n.tags && (n.tags as Record<string, string>).Name).includes("private"),
        )
        .map((n) => n.cidr_block);
      expect([...peerPrivate].sort()).toEqual([...privateSubnetCidrs(peerCidr)].sort());
      expect(sources.some((s) => String(s).includes("lambda-sg"))).toBe(true);
      expect(ingress.every((r) => r.to_port === 5432 && r.ip_protocol === "tcp")).toBe(true);
      expect(ingress.every((r) => String(r.security_group_id).includes("db-sg"))).toBe(true);
    });

    it("manages the VPC's default security group with no rules", () => {
      const defaults = inRegion(resourceList(json, "aws_default_security_group"), role);
      expect(defaults).toHaveLength(1);
      expect(defaults[0]).toMatchObject({ ingress: [], egress: [] });
    });

    // VPC Lambdas' network interfaces stay up to 20-45 minutes after the function is gone
    // (Lambda, "Connecting outbound networking to resources in a VPC"); EC2 refuses to delete
    // their group and subnets with DependencyViolation until then.
    it("waits for Lambda's network interfaces when destroying the Lambda group and private subnets", () => {
      const lambda = inRegion(resourceList(json, "aws_security_group"), role).find((g) =>
        String(g.name).startsWith("payments-lambda-"),
      )!;
      expect(lambda.timeouts).toEqual({ delete: ENI_RELEASE_TIMEOUT });
      const minutes = Number(ENI_RELEASE_TIMEOUT.replace("m", ""));
      expect(minutes).toBeGreaterThan(45);
      const privates = inRegion(resourceList(json, "aws_subnet"), role).filter((n) =>
        String((n.tags as Record<string, string>).Name).includes("private"),
      );
      expect(
        privates.every((n) => (n.timeouts as { delete?: string }).delete === ENI_RELEASE_TIMEOUT),
      ).toBe(true);
    });

    it("lets only this account's principals use the endpoints, on this account's resources", () => {
      const endpoints = inRegion(resourceList(json, "aws_vpc_endpoint"), role);
      expect(endpoints.every((e) => String(e.policy).includes("endpoint-policy"))).toBe(true);
      const [statement] = policyStatements(json, `network-${role}_endpoint-policy`);
      expect(statement!.condition).toEqual([
        { test: "StringEquals", variable: "aws:PrincipalAccount", values: [expect.any(String)] },
        {
          test: "StringEqualsIfExists",
          variable: "aws:ResourceAccount",
          values: [expect.any(String)],
        },
      ]);
    });

    it("reaches DynamoDB, SSM and the other services the functions call without NAT", () => {
      const endpoints = inRegion(resourceList(json, "aws_vpc_endpoint"), role);
      const services = endpoints.map((e) =>
        String(e.service_name).replace(`com.amazonaws.${region}.`, ""),
      );
      expect(services.sort()).toEqual(
        ["dynamodb", "events", "kms", "monitoring", "rds", "sns", "ssm", "states", "sts"].sort(),
      );
      const dynamodb = endpoints.find((e) => String(e.service_name).endsWith(".dynamodb"))!;
      expect(dynamodb.vpc_endpoint_type).toBe("Gateway");
      expect(dynamodb.route_table_ids).toHaveLength(3);
      const ssm = endpoints.find((e) => String(e.service_name).endsWith(".ssm"))!;
      expect(ssm).toMatchObject({ vpc_endpoint_type: "Interface", private_dns_enabled: true });
      expect(ssm.subnet_ids).toHaveLength(3);
    });
  });

  it("peers the regions, requested in the primary and accepted in the secondary", () => {
    const [connection] = Object.values(resources(json, "aws_vpc_peering_connection"));
    expect(connection).toMatchObject({
      provider: "aws.primary",
      peer_region: "us-west-2",
      auto_accept: false,
    });
    const [accepter] = Object.values(resources(json, "aws_vpc_peering_connection_accepter"));
    expect(accepter).toMatchObject({ provider: "aws.secondary", auto_accept: true });
  });

  it.each(REGIONS)(
    "routes every private table in the %s region to the peer over the peering",
    (role, _r, _c, peerCidr) => {
      const privateTables = Object.entries(resources(json, "aws_route_table"))
        .filter(([name, t]) => name.includes("private") && t.provider === `aws.${role}`)
        .map(([name]) => name);
      expect(privateTables).toHaveLength(3);
      const peerRoutes = inRegion(resourceList(json, "aws_route"), role).filter(
        (r) => r.vpc_peering_connection_id,
      );
      expect(peerRoutes.map((r) => r.destination_cidr_block)).toEqual([
        peerCidr,
        peerCidr,
        peerCidr,
      ]);
      const tablesRouted = peerRoutes.map((r) => String(r.route_table_id).split(".")[1]).sort();
      expect(tablesRouted).toEqual(privateTables.sort());
    },
  );

  it("uses a single NAT gateway when asked, for cheap test environments", () => {
    const { json: cheap } = synth(CUSTOM_ENV);
    for (const role of ["primary", "secondary"] as const) {
      expect(inRegion(resourceList(cheap, "aws_nat_gateway"), role)).toHaveLength(1);
      const natRoutes = inRegion(resourceList(cheap, "aws_route"), role).filter(
        (r) => r.nat_gateway_id,
      );
      expect(natRoutes).toHaveLength(3);
      expect(new Set(natRoutes.map((r) => r.nat_gateway_id)).size).toBe(1);
    }
  });

  it("uses no data source that calls an AWS API, so plans stay hermetic", () => {
    const dataTypes = Object.keys(json.data ?? {});
    expect(dataTypes.filter((t) => t !== "aws_iam_policy_document")).toEqual([]);
  });
});
