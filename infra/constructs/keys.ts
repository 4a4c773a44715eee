import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { KmsKeyPolicy } from "@cdktf/provider-aws/lib/kms-key-policy";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Construct } from "constructs";
import { accountIdOf, policyDocument } from "../lib/policy";
import type { Naming } from "../naming";
import { regionCode } from "../naming";

export interface PlatformKeyProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly region: string;
}

/**
 * The regional customer-managed key for logs, topics, queues, tables, parameters and backup
 * vaults in one region. The account id comes from the key's own ARN (no caller-identity data
 * source, so plans stay hermetic); that is why the policy is a separate resource. Services that
 * check the policy when a resource is created (CloudWatch Logs) must depend on `policy`.
 */
export class PlatformKey extends Construct {
  public readonly key: KmsKey;
  public readonly arn: string;
  public readonly accountId: string;
  public readonly policy: KmsKeyPolicy;

  constructor(scope: Construct, id: string, props: PlatformKeyProps) {
    super(scope, id);
    const { provider, naming, region } = props;
    this.key = new KmsKey(this, "key", {
      provider,
      description: `payments-dr platform key (${region}, ${naming.suffix})`,
      enableKeyRotation: true,
      deletionWindowInDays: 7,
    });
    this.arn = this.key.arn;
    this.accountId = accountIdOf(this.key.arn);
    new KmsAlias(this, "alias", {
      provider,
      name: naming.kmsAlias(`platform-${regionCode(region)}`),
      targetKeyId: this.key.keyId,
    });
    const account = this.accountId;
    this.policy = new KmsKeyPolicy(this, "policy", {
      provider,
      keyId: this.key.keyId,
      policy: policyDocument(this, "policy-document", provider, [
        {
          sid: "AccountAdministersKeyThroughIam",
          principals: [{ type: "AWS", identifiers: [`arn:aws:iam::${account}:root`] }],
          actions: ["kms:*"],
          resources: ["*"],
        },
        {
          sid: "CloudWatchLogsEncryptsThisAccountsLogGroups",
          principals: [{ type: "Service", identifiers: [`logs.${region}.amazonaws.com`] }],
          actions: [
            "kms:Encrypt*",
            "kms:Decrypt*",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:Describe*",
          ],
          resources: ["*"],
          condition: [
            {
              test: "ArnLike",
              variable: "kms:EncryptionContext:aws:logs:arn",
              values: [`arn:aws:logs:${region}:${account}:log-group:*`],
            },
          ],
        },
        {
          sid: "AlarmsAndEventsUseEncryptedTopicsAndQueues",
          principals: [
            { type: "Service", identifiers: ["cloudwatch.amazonaws.com", "events.amazonaws.com"] },
          ],
          // EventBridge also describes the key and re-encrypts for buses and archives under it
          // (EventBridge, "Authorizing EventBridge to use a customer managed key").
          actions: ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:ReEncrypt*"],
          resources: ["*"],
          condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [account] }],
        },
      ]),
    });
  }
}
