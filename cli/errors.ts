// What the CLI says when something goes wrong: one line naming the problem, one naming the fix.
// Never a stack trace: a 3 a.m. reader needs the sentence, not the frames.

export class CliError extends Error {
  override name = "CliError";
  constructor(
    /** What is wrong, with the value received. */
    readonly problem: string,
    /** What to do about it: a command or a flag. */
    readonly fix: string,
    /** 2: bad usage or input (nothing was done); 1: anything else. */
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(`${problem}\n  fix: ${fix}`);
  }
}

/** The region (or the network to it) did not answer: the other region may still. */
export class RegionUnreachableError extends CliError {
  override name = "RegionUnreachableError";
}

interface SdkErrorShape {
  readonly name?: string;
  readonly code?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly cause?: unknown;
}

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
]);

/** The SDK error under the DR adapters' wrappers (they keep it as `cause`). */
function innermost(error: unknown): SdkErrorShape {
  let e = (error ?? {}) as SdkErrorShape;
  for (let depth = 0; depth < 4 && e.cause && typeof e.cause === "object"; depth++) {
    const inner = e.cause as SdkErrorShape;
    if (!inner.name && !inner.code) break;
    e = inner;
  }
  return e;
}

/** Where a call went, for the messages. */
export interface CallSite {
  readonly region: string;
  /** e.g. "read the control table payments-control-prod". */
  readonly doing: string;
  /** The profile given with --profile, for the credential hints. */
  readonly profile?: string;
}

/** True when the error means the region (or the network to it) did not answer. */
export function isUnreachable(error: unknown): boolean {
  const e = innermost(error);
  const code = e.code ?? (e.cause as SdkErrorShape | undefined)?.code ?? "";
  return (
    NETWORK_CODES.has(code) ||
    ["TimeoutError", "RequestTimeout", "AbortError"].includes(e.name ?? "") ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500
  );
}

/** Turns an AWS SDK error into a CliError that says what happened and what to do. */
export function explainAwsError(error: unknown, site: CallSite): CliError {
  if (error instanceof CliError) return error;
  const e = innermost(error);
  const name = e.name ?? "Error";
  const message = (e.message ?? String(error)).split("\n")[0];
  const profileHint = site.profile ? ` (profile ${site.profile})` : "";
  if (name === "CredentialsProviderError" || /Could not load credentials/i.test(message ?? "")) {
    return new CliError(
      `no AWS credentials found${profileHint} to ${site.doing} in ${site.region}`,
      site.profile
        ? `run \`aws sso login --profile ${site.profile}\` (or fix [profile ${site.profile}] in ~/.aws/config)`
        : "pass --profile <name> (or set AWS_PROFILE), run `aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    );
  }
  if (
    /ExpiredToken|TokenRefreshRequired|expired/i.test(name) ||
    /session.*expired/i.test(message ?? "")
  ) {
    return new CliError(
      `the AWS credentials${profileHint} have expired (${name})`,
      `refresh them: \`aws sso login${site.profile ? ` --profile ${site.profile}` : ""}\` or assume the role again`,
    );
  }
  if (
    [
      "UnrecognizedClientException",
      "InvalidClientTokenId",
      "InvalidSignatureException",
      "SignatureDoesNotMatch",
    ].includes(name)
  ) {
    return new CliError(
      `AWS rejected the credentials${profileHint} while trying to ${site.doing} in ${site.region}: ${name}`,
      "check AWS_PROFILE / --profile and the access keys in the environment (an old AWS_SESSION_TOKEN is a common cause)",
    );
  }
  if (
    /AccessDenied|UnauthorizedOperation|AuthorizationError/.test(name) ||
    e.$metadata?.httpStatusCode === 403
  ) {
    return new CliError(
      `not allowed to ${site.doing} in ${site.region}: ${message}`,
      "use the on-call role payments-dr-operator-<suffix> (MFA), whose policy allows every call this CLI makes",
    );
  }
  if (isUnreachable(error)) {
    return new RegionUnreachableError(
      `${site.region} did not answer while trying to ${site.doing} (${name}: ${message})`,
      "check the network; if the region is down, `payments-dr status` still shows the other region, and failover runs in the surviving region",
    );
  }
  return new CliError(
    `failed to ${site.doing} in ${site.region}: ${name}: ${message}`,
    "see the AWS error above; `payments-dr status` shows the state of both regions",
  );
}
