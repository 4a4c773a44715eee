import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Route } from "@cdktf/provider-aws/lib/route";
import { VpcPeeringConnection } from "@cdktf/provider-aws/lib/vpc-peering-connection";
import { VpcPeeringConnectionAccepterA as VpcPeeringConnectionAccepter } from "@cdktf/provider-aws/lib/vpc-peering-connection-accepter";
import { Construct } from "constructs";
import type { Naming } from "../naming";
import type { Network } from "./network";

export interface PeeringSide {
  readonly provider: AwsProvider;
  readonly network: Network;
  readonly region: string;
}

export interface PeeringProps {
  readonly naming: Naming;
  /** Requests the peering (the primary region). */
  readonly requester: PeeringSide;
  /** Accepts it through its own provider (the secondary region). */
  readonly accepter: PeeringSide;
}

/**
 * Cross-region VPC peering with a route to the peer in every private route table on both
 * sides, so each region's Lambdas reach the other region's database and the replication and
 * DR paths never leave AWS's network.
 */
export class Peering extends Construct {
  public readonly connectionId: string;

  constructor(scope: Construct, id: string, props: PeeringProps) {
    super(scope, id);
    const { requester, accepter, naming } = props;
    if (requester.region === accepter.region) {
      throw new Error(`peering needs two regions, got ${requester.region} twice`);
    }
    const name = naming.name("generic", "peering");
    // Cross-region peering cannot be auto-accepted by the requester; the accepter does it.
    const connection = new VpcPeeringConnection(this, "connection", {
      provider: requester.provider,
      vpcId: requester.network.vpc.id,
      peerVpcId: accepter.network.vpc.id,
      peerRegion: accepter.region,
      autoAccept: false,
      tags: { Name: name, side: "requester" },
    });
    const accepted = new VpcPeeringConnectionAccepter(this, "accepter", {
      provider: accepter.provider,
      vpcPeeringConnectionId: connection.id,
      autoAccept: true,
      tags: { Name: name, side: "accepter" },
    });
    // Routes use the accepter's id so they are created only once the peering is active.
    this.connectionId = accepted.vpcPeeringConnectionId;

    const routes = (side: PeeringSide, peer: PeeringSide, label: string) =>
      side.network.privateRouteTables.forEach(
        (table, i) =>
          new Route(this, `${label}-route-${i}`, {
            provider: side.provider,
            routeTableId: table.id,
            destinationCidrBlock: peer.network.cidr,
            vpcPeeringConnectionId: this.connectionId,
          }),
      );
    routes(requester, accepter, "requester");
    routes(accepter, requester, "accepter");
  }
}
