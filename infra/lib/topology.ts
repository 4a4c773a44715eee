// `DR_TOPOLOGY`: what every DR function knows about both regions, identical in both regions and
// rendered as JSON by Terraform (the ARNs, ids and URLs are only known at apply time). The
// functions parse and check it (functions/dr/shared/topology.ts); its type is the contract
// (DrTopology in functions/common/contract.ts).
import { Fn } from "cdktf";
import type { DrRegion, DrTopology } from "../../functions/common/contract";

export interface TopologySource extends Omit<DrTopology, "regions"> {
  /** Exactly two regions, one of them deployed as primary. */
  readonly regions: readonly DrRegion[];
}

/** The `DR_TOPOLOGY` value: a Terraform expression that renders the JSON. */
export function drTopology(source: TopologySource): string {
  const primaries = source.regions.filter((r) => r.role === "primary").length;
  if (source.regions.length !== 2 || primaries !== 1) {
    throw new Error(
      `the DR topology needs two regions, one primary, got ${source.regions.length} with ${primaries} primary`,
    );
  }
  return Fn.jsonencode({
    ...source,
    regions: Object.fromEntries(source.regions.map((r) => [r.region, r])),
  });
}
