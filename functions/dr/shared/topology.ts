// DR_TOPOLOGY, parsed and checked once per process. Pure: no AWS imports.
import type { DrDatabaseSpec, DrRegion, DrTopology } from "../../common/contract";
import { ConfigurationError } from "./errors";

const ARN = /^arn:aws[\w-]*:rds:[a-z0-9-]+:\d{12}:cluster:[\w-]+$/;

/** Parses and validates the DR_TOPOLOGY JSON; throws ConfigurationError naming the bad field. */
export function parseTopology(json: string): DrTopology {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ConfigurationError("DR_TOPOLOGY is not valid JSON");
  }
  const t = value as DrTopology;
  const fail = (what: string): never => {
    throw new ConfigurationError(`DR_TOPOLOGY: ${what}`);
  };
  if (typeof t !== "object" || t === null) fail("must be an object");
  for (const key of [
    "environmentSuffix",
    "globalClusterIdentifier",
    "parameterPrefix",
    "controlTable",
  ] as const) {
    if (typeof t[key] !== "string" || t[key] === "") fail(`${key} must be a non-empty string`);
  }
  if (!t.parameterPrefix.startsWith("/") || t.parameterPrefix.endsWith("/")) {
    fail(`parameterPrefix must start with "/" and not end with one, got ${t.parameterPrefix}`);
  }
  const regions = Object.entries(t.regions ?? {});
  if (regions.length !== 2) fail(`regions must list exactly two regions, got ${regions.length}`);
  if (regions.filter(([, r]) => r.role === "primary").length !== 1) {
    fail("exactly one region must have role primary");
  }
  for (const [name, r] of regions) {
    if (r.region !== name) fail(`regions.${name}.region must be ${name}, got ${r.region}`);
    if (!ARN.test(r.clusterArn ?? "")) {
      fail(`regions.${name}.clusterArn must be an RDS cluster ARN, got ${r.clusterArn}`);
    }
    if (!(r.clusterArn ?? "").includes(`:rds:${name}:`)) {
      fail(`regions.${name}.clusterArn must be in ${name}, got ${r.clusterArn}`);
    }
    for (const key of ["clusterIdentifier", "eventBusName", "alertTopicArn"] as const) {
      if (typeof r[key] !== "string" || r[key] === "") {
        fail(`regions.${name}.${key} must be a non-empty string`);
      }
    }
    if (!/^https:\/\/\S+$/.test(r.apiUrl ?? "")) {
      fail(`regions.${name}.apiUrl must be an https URL, got ${r.apiUrl}`);
    }
  }
  return t;
}

export function regionOf(topology: DrTopology, region: string): DrRegion {
  const found = topology.regions[region];
  if (!found) throw new ConfigurationError(`region ${region} is not in DR_TOPOLOGY`);
  return found;
}

/** The other of the two regions. */
export function otherRegion(topology: DrTopology, region: string): string {
  const other = Object.keys(topology.regions).find((name) => name !== region);
  if (!other) throw new ConfigurationError(`DR_TOPOLOGY has no region other than ${region}`);
  return other;
}

/** The region deployed as primary: active when the flag has never been written. */
export function deployedPrimary(topology: DrTopology): string {
  const entry = Object.values(topology.regions).find((r) => r.role === "primary");
  if (!entry) throw new ConfigurationError("DR_TOPOLOGY has no primary region");
  return entry.region;
}

export function parameterName(topology: DrTopology, key: string): string {
  return `${topology.parameterPrefix}/${key}`;
}

/** The region's API base URL without a trailing slash. */
export function apiBase(topology: DrTopology, region: string): string {
  return regionOf(topology, region).apiUrl.replace(/\/+$/, "");
}

/** Parses and checks DR_DATABASE; throws ConfigurationError naming the bad field. */
export function parseDatabaseSpec(json: string): DrDatabaseSpec {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ConfigurationError("DR_DATABASE is not valid JSON");
  }
  const spec = value as DrDatabaseSpec;
  const fail = (what: string): never => {
    throw new ConfigurationError(`DR_DATABASE: ${what}`);
  };
  if (typeof spec !== "object" || spec === null) fail("must be an object");
  for (const key of ["engineVersion", "instanceClass", "monitoringRoleArn"] as const) {
    if (typeof spec[key] !== "string" || spec[key] === "")
      fail(`${key} must be a non-empty string`);
  }
  for (const [name, r] of Object.entries(spec.regions ?? {})) {
    for (const key of [
      "clusterIdentifier",
      "kmsKeyId",
      "dbSubnetGroupName",
      "dbClusterParameterGroupName",
    ] as const) {
      if (typeof r[key] !== "string" || r[key] === "") {
        fail(`regions.${name}.${key} must be a non-empty string`);
      }
    }
    if (!Array.isArray(r.readerInstanceIdentifiers) || r.readerInstanceIdentifiers.length === 0) {
      fail(`regions.${name}.readerInstanceIdentifiers must list at least one instance`);
    }
  }
  if (Object.keys(spec.regions ?? {}).length !== 2) fail("regions must list exactly two regions");
  return spec;
}
