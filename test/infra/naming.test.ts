import { loadConfig } from "../../infra/config";
import { NAME_LIMITS, Naming, regionCode } from "../../infra/naming";
import { FULL_ENV, synth } from "./helpers";

describe("naming", () => {
  const naming = new Naming("dev");

  it("puts the suffix into physical names, with a region code where asked", () => {
    expect(naming.name("lambdaFunction", "authorize")).toBe("payments-authorize-dev");
    expect(naming.name("iamRole", "dr-automation", "us-west-2")).toBe(
      "payments-dr-automation-usw2-dev",
    );
    expect(naming.parameter("db", "writer-endpoint")).toBe("/payments/dev/db/writer-endpoint");
    expect(naming.kmsAlias("platform-use1")).toBe("alias/payments-platform-use1-dev");
  });

  it("derives short region codes for any region", () => {
    expect(regionCode("us-east-1")).toBe("use1");
    expect(regionCode("eu-central-1")).toBe("euc1");
    expect(regionCode("ap-southeast-2")).toBe("aps2");
  });

  it("rejects a name over the AWS limit for its kind", () => {
    const long = new Naming("abcdefgh");
    expect(() =>
      long.name("backupVault", "a-very-long-component-name-here", "ap-southeast-2"),
    ).toThrow(
      /backupVault name payments-a-very-long-component-name-here-aps2-abcdefgh is 54 characters, the limit is 50/,
    );
  });

  it("rejects components that are not kebab-case", () => {
    expect(() => naming.name("generic", "Bad_Name")).toThrow(/kebab-case, got "Bad_Name"/);
  });

  it("keeps every physical name of the longest environment within its limit and carrying the suffix", () => {
    // The longest suffix and the longest region code we support.
    const { json } = synth({
      ...FULL_ENV,
      ENVIRONMENT_SUFFIX: "abcdefgh",
      PRIMARY_REGION: "ap-southeast-2",
      SECONDARY_REGION: "ap-northeast-1",
    });
    const nameFields: Record<string, [string, number]> = {
      aws_iam_role: ["name", NAME_LIMITS.iamRole],
      aws_security_group: ["name", NAME_LIMITS.securityGroup],
      aws_cloudwatch_log_group: ["name", NAME_LIMITS.logGroup],
      aws_kms_alias: ["name", NAME_LIMITS.kmsAlias],
      aws_lambda_function: ["function_name", NAME_LIMITS.lambdaFunction],
      aws_rds_cluster: ["cluster_identifier", NAME_LIMITS.dbClusterIdentifier],
      aws_rds_cluster_instance: ["identifier", NAME_LIMITS.dbInstanceIdentifier],
      aws_dynamodb_table: ["name", NAME_LIMITS.dynamodbTable],
      aws_backup_vault: ["name", NAME_LIMITS.backupVault],
      aws_backup_plan: ["name", NAME_LIMITS.backupPlan],
      aws_sfn_state_machine: ["name", NAME_LIMITS.stateMachine],
      aws_cloudwatch_event_rule: ["name", NAME_LIMITS.eventRule],
      aws_sqs_queue: ["name", NAME_LIMITS.sqsQueue],
      aws_sns_topic: ["name", NAME_LIMITS.snsTopic],
    };
    let checked = 0;
    for (const [type, [field, limit]] of Object.entries(nameFields)) {
      for (const [logical, resource] of Object.entries(json.resource?.[type] ?? {})) {
        const value = resource[field];
        if (typeof value !== "string") continue;
        expect({ logical, value, ok: value.length <= limit }).toEqual({ logical, value, ok: true });
        expect(value).toContain("abcdefgh");
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it("tags every resource through the providers' default tags", () => {
    const config = loadConfig({});
    const { json } = synth();
    const providers = json.provider?.aws as Array<{
      alias: string;
      default_tags: Array<{ tags: object }>;
    }>;
    expect(providers.map((p) => [p.alias, p.default_tags[0]!.tags])).toEqual([
      [
        "primary",
        {
          app: "payments-dr",
          environment: config.environmentSuffix,
          "region-role": "primary",
          "managed-by": "cdktf",
        },
      ],
      [
        "secondary",
        {
          app: "payments-dr",
          environment: config.environmentSuffix,
          "region-role": "secondary",
          "managed-by": "cdktf",
        },
      ],
    ]);
  });
});

describe("state backend", () => {
  it("keeps local state by default", () => {
    const { json } = synth();
    expect(json.terraform?.backend).toEqual({
      local: { path: "terraform.payments-dr-dev.tfstate" },
    });
  });

  it("uses an encrypted S3 backend with S3-native locking, outside the primary region by default", () => {
    const { json } = synth({ TF_STATE_BUCKET: "acme-tf-state", TF_STATE_KEY: "dr/dev.tfstate" });
    expect(json.terraform?.backend).toEqual({
      s3: {
        bucket: "acme-tf-state",
        key: "dr/dev.tfstate",
        region: "us-west-2",
        encrypt: true,
        use_lockfile: true,
      },
    });
  });
});
