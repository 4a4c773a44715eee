// IAM database authentication tokens for the application role (the SDK adapter of runtime.ts).
// A token is a SigV4-presigned "connect" request, valid for 15 minutes, checked only when a
// connection authenticates: an open connection outlives it. It must be signed for the region of
// the cluster the host belongs to, which after a failover is the other region's
// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.Connecting.html).
// The global writer endpoint (<name>.global-<id>.global.rds.amazonaws.com) names no region: it
// is a CNAME to the current writer cluster's endpoint, which does, so the region is read from the
// CNAME (one DNS answer, on the first connection of each pool; a failover moves the CNAME and the
// stale-endpoint path rebuilds the pool).
import { resolveCname } from "node:dns/promises";
import type { Signer } from "@aws-sdk/rds-signer";
import type { PasswordProvider } from "../database";

/** Aurora endpoints end in `.<region>.rds.amazonaws.com` (or `.rds.amazonaws.com.cn`). */
const RDS_HOST = /\.([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+)\.rds\.amazonaws\.com(?:\.cn)?$/;

/** The region of an RDS endpoint, or `fallback` for a host that names none (a custom CNAME). */
export function regionOfRdsHost(host: string, fallback: string): string {
  return RDS_HOST.exec(host.toLowerCase())?.[1] ?? fallback;
}

export type TokenProviderFactory = (target: {
  readonly host: string;
  readonly port: number;
  readonly user: string;
}) => PasswordProvider;

/** The region whose cluster answers at `host`, following one CNAME for a global endpoint. */
export async function regionOfEndpoint(
  host: string,
  fallback: string,
  cname: (host: string) => Promise<string[]> = resolveCname,
): Promise<string> {
  const named = regionOfRdsHost(host, "");
  if (named) return named;
  const targets = await cname(host).catch(() => [] as string[]);
  return targets.map((target) => regionOfRdsHost(target, "")).find(Boolean) ?? fallback;
}

/** Signs a token per call with the function's own credentials (its execution role). */
export function rdsIamTokens(functionRegion: string): TokenProviderFactory {
  return ({ host, port, user }) => {
    let signer: Promise<Signer> | undefined;
    return async () => {
      // Loaded on the first connection, not at init (cold start: no SDK module at load).
      signer ??= Promise.all([
        regionOfEndpoint(host, functionRegion),
        import("@aws-sdk/rds-signer"),
      ]).then(
        ([region, { Signer }]) => new Signer({ hostname: host, port, username: user, region }),
      );
      return (await signer).getAuthToken();
    };
  };
}
