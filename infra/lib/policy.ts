import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import type { DataAwsIamPolicyDocumentStatement } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Fn } from "cdktf";
import type { Construct } from "constructs";

export type Statement = DataAwsIamPolicyDocumentStatement;

/**
 * An IAM policy document rendered by Terraform's local `aws_iam_policy_document` data source
 * (no AWS call), so policies are never hand-written JSON strings.
 */
export function policyDocument(
  scope: Construct,
  id: string,
  provider: AwsProvider,
  statements: Statement[],
): string {
  return new DataAwsIamPolicyDocument(scope, id, { provider, statement: statements }).json;
}

/** A statement letting an AWS service assume a role. */
export function assumeRoleStatement(services: string[], sourceAccount?: string): Statement {
  return {
    actions: ["sts:AssumeRole"],
    principals: [{ type: "Service", identifiers: services }],
    condition: sourceAccount
      ? [{ test: "StringEquals", variable: "aws:SourceAccount", values: [sourceAccount] }]
      : undefined,
  };
}

/** The account id inside an ARN (`arn:aws:service:region:account:...`). */
export function accountIdOf(arn: string): string {
  return Fn.element(Fn.split(":", arn), 4);
}
