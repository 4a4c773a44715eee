// What every command gets: the deployment, the clients, the terminal, and who we are in AWS.
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import type { AwsClients } from "./aws";
import { explainAwsError, isUnreachable } from "./errors";
import type { Io } from "./io";
import type { Deployment } from "./target";

export interface CommandContext {
  readonly deployment: Deployment;
  readonly clients: AwsClients;
  readonly io: Io;
  readonly json: boolean;
  readonly yes: boolean;
  /** Milliseconds between polls while following a run. */
  readonly intervalMs: number;
  /** The caller's account and ARN (STS GetCallerIdentity): checks the credentials first. */
  identity(preferredRegion?: string): Promise<{ account: string; arn: string }>;
}

export function commandContext(base: Omit<CommandContext, "identity">): CommandContext {
  let cached: Promise<{ account: string; arn: string }> | undefined;
  const identity = async (preferred?: string) => {
    const { deployment, clients } = base;
    const order = preferred
      ? [preferred, ...deployment.regions.filter((r) => r !== preferred)]
      : [deployment.secondary, deployment.primary];
    let last: unknown;
    for (const region of order) {
      try {
        const out = await clients.sts(region).send(new GetCallerIdentityCommand({}));
        return { account: out.Account ?? "", arn: out.Arn ?? "" };
      } catch (error) {
        last = error;
        // Only a region that does not answer is worth trying the other one for.
        if (!isUnreachable(error)) break;
      }
    }
    throw explainAwsError(last, {
      region: order[0]!,
      doing: "identify the caller (sts:GetCallerIdentity)",
      profile: deployment.profile,
    });
  };
  return {
    ...base,
    identity: (preferred) =>
      (cached ??= identity(preferred).catch((e: unknown) => {
        cached = undefined;
        throw e;
      })),
  };
}
