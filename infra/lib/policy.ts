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

/**
 * A statement letting an AWS service assume a role, for this account's resources only (the
 * confused-deputy guard: IAM User Guide, "The confused deputy problem"), and, where the service
 * sends it, only for the named source resources.
 */
export function assumeRoleStatement(
  services: string[],
  sourceAccount: string,
  sourceArns?: string[],
): Statement {
  return {
    actions: ["sts:AssumeRole"],
    principals: [{ type: "Service", identifiers: services }],
    condition: [
      { test: "StringEquals", variable: "aws:SourceAccount", values: [sourceAccount] },
      ...(sourceArns ? [{ test: "ArnLike", variable: "aws:SourceArn", values: sourceArns }] : []),
    ],
  };
}

/** The account id inside an ARN (`arn:aws:service:region:account:...`). */
export function accountIdOf(arn: string): string {
  return Fn.element(Fn.split(":", arn), 4);
}

/**
 * Deny every request to `resource` that does not arrive over TLS (aws:SecureTransport false):
 * SNS and SQS accept plain HTTP otherwise (SNS, "Enforce encryption of data in transit"; SQS,
 * "Amazon SQS security best practices").
 */
export function tlsOnlyStatement(service: "sns" | "sqs", resource: string): Statement {
  return {
    sid: "TlsOnly",
    effect: "Deny",
    principals: [{ type: "*", identifiers: ["*"] }],
    actions: [`${service}:*`],
    resources: [resource],
    condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
  };
}
