import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { FlowLog } from "@cdktf/provider-aws/lib/flow-log";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Route } from "@cdktf/provider-aws/lib/route";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { DefaultSecurityGroup } from "@cdktf/provider-aws/lib/default-security-group";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Construct } from "constructs";
import type { NatGatewayMode, RegionConfig } from "../config";
import { parseCidr } from "../config";
import { assumeRoleStatement, policyDocument } from "../lib/policy";
import type { Naming } from "../naming";
import type { PlatformKey } from "./keys";

/**
 * AWS services the Lambdas in private subnets call, reached through interface endpoints so that
 * the payment and failover paths work without NAT (DynamoDB has a gateway endpoint).
 */
export const INTERFACE_ENDPOINT_SERVICES = [
  "ssm",
  "kms",
  "events",
  "rds",
  "sns",
  "states",
  "monitoring",
  "sts",
] as const;

export const POSTGRES_PORT = 5432;

/**
 * How long `terraform destroy` waits for a security group or subnet that VPC Lambdas used: Lambda
 * releases its Hyperplane network interfaces up to 20-45 minutes after the function is deleted
 * (Lambda, "Connecting outbound networking to resources in a VPC"), and until then EC2 refuses
 * the delete with DependencyViolation. The provider retries DependencyViolation until the
 * timeout, so a destroy waits instead of failing.
 */
export const ENI_RELEASE_TIMEOUT = "60m";

/** The private subnets of a VPC (where its Lambdas and Aurora run), as cut below. */
export function privateSubnetCidrs(vpcCidr: string): string[] {
  return [0, 1, 2].map((i) => subnetCidr(vpcCidr, 3, i));
}

/** The `index`-th subnet of `cidr` after adding `newBits` to its prefix, like Terraform's cidrsubnet. */
export function subnetCidr(cidr: string, newBits: number, index: number): string {
  const parsed = parseCidr(cidr);
  if (!parsed) throw new Error(`cidr must be an IPv4 network address, got ${cidr}`);
  const prefix = parsed.prefix + newBits;
  if (index < 0 || index >= 2 ** newBits || prefix > 28) {
    throw new Error(`cannot cut subnet ${index} of /${prefix} from ${cidr}`);
  }
  const base = parsed.base + index * 2 ** (32 - prefix);
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(base / 2 ** shift) % 256);
  return `${octets.join(".")}/${prefix}`;
}

export interface NetworkProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly region: RegionConfig;
  /** The other region's VPC CIDR, allowed to reach the database over the peering. */
  readonly peerCidr: string;
  readonly key: PlatformKey;
  readonly logRetentionDays: number;
  /** @default - one NAT gateway per AZ ("per-az") */
  readonly natGateways?: NatGatewayMode;
}

/**
 * One region's network: a VPC cut into 3 private and 3 public subnets across 3 AZs, NAT, route
 * tables, KMS-encrypted flow logs, the Lambda and database security groups and the endpoints
 * the functions need.
 */
export class Network extends Construct {
  public readonly vpc: Vpc;
  public readonly privateSubnetIds: string[];
  public readonly publicSubnetIds: string[];
  public readonly privateRouteTables: RouteTable[];
  public readonly lambdaSecurityGroup: SecurityGroup;
  public readonly databaseSecurityGroup: SecurityGroup;
  public readonly cidr: string;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const { provider, naming, region } = props;
    const natMode = props.natGateways ?? "per-az";
    const azs = region.azs;
    if (azs.length !== 3) throw new Error(`network needs 3 availability zones, got ${azs.length}`);
    if (parseCidr(props.peerCidr) === undefined) {
      throw new Error(`peer cidr must be an IPv4 network address, got ${props.peerCidr}`);
    }
    const name = (component: string) => naming.name("generic", component, region.region);
    this.cidr = region.vpcCidr;

    this.vpc = new Vpc(this, "vpc", {
      provider,
      cidrBlock: region.vpcCidr,
      enableDnsHostnames: true, // interface endpoints need private DNS
      enableDnsSupport: true,
      tags: { Name: name("vpc") },
    });
    const igw = new InternetGateway(this, "igw", {
      provider,
      vpcId: this.vpc.id,
      tags: { Name: name("igw") },
    });

    // 8 equal slices: 0-2 private, 3-5 public, 6-7 spare for growth.
    const publicSubnets = azs.map(
      (az, i) =>
        new Subnet(this, `public-${i}`, {
          provider,
          vpcId: this.vpc.id,
          availabilityZone: az,
          cidrBlock: subnetCidr(region.vpcCidr, 3, 3 + i),
          mapPublicIpOnLaunch: false,
          tags: { Name: name(`public-${az.slice(-1)}`), tier: "public" },
        }),
    );
    const privateSubnets = azs.map(
      (az, i) =>
        new Subnet(this, `private-${i}`, {
          provider,
          vpcId: this.vpc.id,
          availabilityZone: az,
          cidrBlock: subnetCidr(region.vpcCidr, 3, i),
          timeouts: { delete: ENI_RELEASE_TIMEOUT },
          tags: { Name: name(`private-${az.slice(-1)}`), tier: "private" },
        }),
    );
    this.publicSubnetIds = publicSubnets.map((s) => s.id);
    this.privateSubnetIds = privateSubnets.map((s) => s.id);

    const publicRouteTable = new RouteTable(this, "public-rt", {
      provider,
      vpcId: this.vpc.id,
      tags: { Name: name("public") },
    });
    new Route(this, "public-default", {
      provider,
      routeTableId: publicRouteTable.id,
      destinationCidrBlock: "0.0.0.0/0",
      gatewayId: igw.id,
    });
    publicSubnets.forEach(
      (subnet, i) =>
        new RouteTableAssociation(this, `public-rta-${i}`, {
          provider,
          subnetId: subnet.id,
          routeTableId: publicRouteTable.id,
        }),
    );

    const natCount = natMode === "single" ? 1 : azs.length;
    const nats = publicSubnets.slice(0, natCount).map((subnet, i) => {
      const eip = new Eip(this, `nat-eip-${i}`, {
        provider,
        domain: "vpc",
        tags: { Name: name(`nat-${azs[i]!.slice(-1)}`) },
      });
      return new NatGateway(this, `nat-${i}`, {
        provider,
        allocationId: eip.allocationId,
        subnetId: subnet.id,
        tags: { Name: name(`nat-${azs[i]!.slice(-1)}`) },
        dependsOn: [igw],
      });
    });

    this.privateRouteTables = privateSubnets.map((subnet, i) => {
      const table = new RouteTable(this, `private-rt-${i}`, {
        provider,
        vpcId: this.vpc.id,
        tags: { Name: name(`private-${azs[i]!.slice(-1)}`) },
      });
      new Route(this, `private-default-${i}`, {
        provider,
        routeTableId: table.id,
        destinationCidrBlock: "0.0.0.0/0",
        natGatewayId: nats[natMode === "single" ? 0 : i]!.id,
      });
      new RouteTableAssociation(this, `private-rta-${i}`, {
        provider,
        subnetId: subnet.id,
        routeTableId: table.id,
      });
      return table;
    });

    this.flowLogs(props, name);

    this.lambdaSecurityGroup = new SecurityGroup(this, "lambda-sg", {
      provider,
      name: naming.name("securityGroup", "lambda", region.region),
      description: "Payment and DR Lambdas: HTTPS out, PostgreSQL to both VPCs",
      vpcId: this.vpc.id,
      tags: { Name: naming.name("securityGroup", "lambda", region.region) },
      timeouts: { delete: ENI_RELEASE_TIMEOUT },
    });
    // The VPC's default group, which AWS creates allowing all traffic between its members and
    // all egress, managed with no rules at all: nothing may use it by accident (CIS AWS
    // Foundations 5.4; Security Hub EC2.2).
    new DefaultSecurityGroup(this, "default-sg", {
      provider,
      vpcId: this.vpc.id,
      ingress: [],
      egress: [],
      tags: { Name: naming.name("securityGroup", "default-closed", region.region) },
    });
    this.databaseSecurityGroup = new SecurityGroup(this, "db-sg", {
      provider,
      name: naming.name("securityGroup", "db", region.region),
      description: "Aurora: PostgreSQL from the Lambda group and the peer VPC only",
      vpcId: this.vpc.id,
      tags: { Name: naming.name("securityGroup", "db", region.region) },
    });
    new VpcSecurityGroupEgressRule(this, "lambda-https-out", {
      provider,
      securityGroupId: this.lambdaSecurityGroup.id,
      description: "AWS APIs, the peer API and the prober's targets",
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      cidrIpv4: "0.0.0.0/0",
    });
    [region.vpcCidr, props.peerCidr].forEach(
      (cidr, i) =>
        new VpcSecurityGroupEgressRule(this, `lambda-postgres-out-${i}`, {
          provider,
          securityGroupId: this.lambdaSecurityGroup.id,
          description: i === 0 ? "PostgreSQL in this VPC" : "PostgreSQL in the peer VPC",
          ipProtocol: "tcp",
          fromPort: POSTGRES_PORT,
          toPort: POSTGRES_PORT,
          cidrIpv4: cidr,
        }),
    );
    new VpcSecurityGroupIngressRule(this, "db-from-lambda", {
      provider,
      securityGroupId: this.databaseSecurityGroup.id,
      description: "PostgreSQL from this region's Lambdas",
      ipProtocol: "tcp",
      fromPort: POSTGRES_PORT,
      toPort: POSTGRES_PORT,
      referencedSecurityGroupId: this.lambdaSecurityGroup.id,
    });
    // The peer region's Lambdas reach this database through the peering (its write path
    // follows the global writer). Security groups cannot be referenced across regions (VPC
    // peering, "Update your security groups to reference peer security groups": same region
    // only), so the peer's private subnets, where its Lambdas run, rather than its whole VPC.
    privateSubnetCidrs(props.peerCidr).forEach(
      (cidr, i) =>
        new VpcSecurityGroupIngressRule(this, i === 0 ? "db-from-peer" : `db-from-peer-${i}`, {
          provider,
          securityGroupId: this.databaseSecurityGroup.id,
          description: `PostgreSQL from the peer region's private subnet ${i + 1}`,
          ipProtocol: "tcp",
          fromPort: POSTGRES_PORT,
          toPort: POSTGRES_PORT,
          cidrIpv4: cidr,
        }),
    );

    this.endpoints(props, name);
  }

  private flowLogs(props: NetworkProps, name: (c: string) => string): void {
    const { provider, naming, region, key } = props;
    const logGroup = new CloudwatchLogGroup(this, "flow-logs", {
      provider,
      name: `/payments-dr/${naming.suffix}/vpc-flow-logs/${region.region}`,
      retentionInDays: props.logRetentionDays,
      kmsKeyId: key.arn,
      dependsOn: [key.policy],
    });
    const role = new IamRole(this, "flow-logs-role", {
      provider,
      name: naming.name("iamRole", "flow-logs", region.region),
      assumeRolePolicy: policyDocument(this, "flow-logs-trust", provider, [
        assumeRoleStatement(["vpc-flow-logs.amazonaws.com"], key.accountId),
      ]),
    });
    new IamRolePolicy(this, "flow-logs-policy", {
      provider,
      role: role.id,
      name: "write-flow-logs",
      policy: policyDocument(this, "flow-logs-permissions", provider, [
        {
          actions: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
          resources: [logGroup.arn, `${logGroup.arn}:*`],
        },
      ]),
    });
    new FlowLog(this, "flow-log", {
      provider,
      vpcId: this.vpc.id,
      trafficType: "ALL",
      logDestinationType: "cloud-watch-logs",
      logDestination: logGroup.arn,
      iamRoleArn: role.arn,
      maxAggregationInterval: 60,
      tags: { Name: name("flow-log") },
    });
  }

  private endpoints(props: NetworkProps, name: (c: string) => string): void {
    const { provider, naming, region, key } = props;
    // Only this account's principals, and only on this account's resources where the request
    // names one (IfExists: calls without a resource, such as sts:GetCallerIdentity or
    // cloudwatch:PutMetricData, carry no aws:ResourceAccount). A stolen credential of another
    // account, or a call to another account's bucket or table, cannot leave through them.
    const policy = policyDocument(this, "endpoint-policy", provider, [
      {
        sid: "ThisAccountOnly",
        principals: [{ type: "*", identifiers: ["*"] }],
        actions: ["*"],
        resources: ["*"],
        condition: [
          { test: "StringEquals", variable: "aws:PrincipalAccount", values: [key.accountId] },
          {
            test: "StringEqualsIfExists",
            variable: "aws:ResourceAccount",
            values: [key.accountId],
          },
        ],
      },
    ]);
    new VpcEndpoint(this, "dynamodb-endpoint", {
      provider,
      vpcId: this.vpc.id,
      serviceName: `com.amazonaws.${region.region}.dynamodb`,
      vpcEndpointType: "Gateway",
      routeTableIds: this.privateRouteTables.map((t) => t.id),
      policy,
      tags: { Name: name("dynamodb") },
    });
    const endpointGroup = new SecurityGroup(this, "endpoint-sg", {
      provider,
      name: naming.name("securityGroup", "endpoints", region.region),
      description: "Interface endpoints: HTTPS from this VPC",
      vpcId: this.vpc.id,
      tags: { Name: naming.name("securityGroup", "endpoints", region.region) },
    });
    new VpcSecurityGroupIngressRule(this, "endpoint-https-in", {
      provider,
      securityGroupId: endpointGroup.id,
      description: "HTTPS from this VPC",
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      cidrIpv4: region.vpcCidr,
    });
    for (const service of INTERFACE_ENDPOINT_SERVICES) {
      new VpcEndpoint(this, `${service}-endpoint`, {
        provider,
        vpcId: this.vpc.id,
        serviceName: `com.amazonaws.${region.region}.${service}`,
        vpcEndpointType: "Interface",
        privateDnsEnabled: true,
        subnetIds: this.privateSubnetIds,
        securityGroupIds: [endpointGroup.id],
        policy,
        tags: { Name: name(service) },
      });
    }
  }
}
