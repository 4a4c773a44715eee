// The on-call roles' trust, one place for both: the operator role (infra/constructs/dr-iam.ts,
// start and watch the workflows, change no data) and the reconciler role
// (infra/constructs/reconcile.ts, the writes of `payments-dr reconcile`).
import type { Naming } from "../naming";
import type { Statement } from "./policy";

/** How recent the operator's MFA must be when they assume the role (aws:MultiFactorAuthAge). */
export const OPERATOR_MFA_MAX_AGE_SECONDS = 3600;

/** Who may assume the on-call roles: OPERATOR_PRINCIPAL_ARNS, else the account's on-call role. */
export function onCallPrincipals(
  configured: readonly string[] | undefined,
  accountId: string,
  naming: Naming,
): string[] {
  return configured?.length
    ? [...configured]
    : [`arn:aws:iam::${accountId}:role/${naming.name("iamRole", "dr-oncall")}`];
}

/** The trust of an on-call role: the named principals of this account, with recent MFA. */
export function onCallTrust(accountId: string, principals: readonly string[]): Statement {
  return {
    sid: "OnCallWithRecentMfa",
    actions: ["sts:AssumeRole"],
    // The account is the principal so that configured roles need not exist yet and may
    // carry a wildcard (SSO permission-set roles have generated suffixes); only the
    // principals named in aws:PrincipalArn can assume it, and only with recent MFA.
    principals: [{ type: "AWS", identifiers: [`arn:aws:iam::${accountId}:root`] }],
    condition: [
      { test: "ArnLike", variable: "aws:PrincipalArn", values: [...principals] },
      { test: "Bool", variable: "aws:MultiFactorAuthPresent", values: ["true"] },
      {
        test: "NumericLessThan",
        variable: "aws:MultiFactorAuthAge",
        values: [String(OPERATOR_MFA_MAX_AGE_SECONDS)],
      },
    ],
  };
}
