import { ConfigConfigRule } from "@cdktf/provider-aws/lib/config-config-rule";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { XrayGroup } from "@cdktf/provider-aws/lib/xray-group";
import { Construct } from "constructs";
import type { Naming } from "../naming";

/**
 * AWS-managed Config rules that keep DR readiness from drifting: PITR and CMK encryption on the
 * tables, encrypted Aurora storage, and every table and cluster in a daily backup plan that
 * keeps at least the configured retention.
 */
export function readinessRules(
  retentionDays: number,
): Record<string, { id: string; parameters?: object }> {
  return {
    "dynamodb-pitr": { id: "DYNAMODB_PITR_ENABLED" },
    "dynamodb-kms": { id: "DYNAMODB_TABLE_ENCRYPTED_KMS" },
    "rds-encrypted": { id: "RDS_STORAGE_ENCRYPTED" },
    "backup-plan-daily": {
      id: "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
      parameters: {
        requiredFrequencyValue: "1",
        requiredFrequencyUnit: "days",
        requiredRetentionDays: String(retentionDays),
      },
    },
    "aurora-backed-up": { id: "AURORA_RESOURCES_PROTECTED_BY_BACKUP_PLAN" },
    "dynamodb-backed-up": { id: "DYNAMODB_RESOURCES_PROTECTED_BY_BACKUP_PLAN" },
  };
}

export interface ReadinessProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  readonly region: string;
  /** Names of the Lambdas whose traces the X-Ray group gathers. */
  readonly functionNames: string[];
  readonly backupRetentionDays: number;
  /**
   * Also create the Config rules; they need an AWS Config recorder in the region, which most
   * organizations run centrally. @default false
   */
  readonly configRules?: boolean;
}

/** One region's DR-readiness checks and its X-Ray group. */
export class Readiness extends Construct {
  public readonly rules: ConfigConfigRule[] = [];
  public readonly xrayGroup: XrayGroup;

  constructor(scope: Construct, id: string, props: ReadinessProps) {
    super(scope, id);
    const { provider, naming, region } = props;
    this.xrayGroup = new XrayGroup(this, "xray", {
      provider,
      groupName: naming.name("xrayGroup", "dr"),
      filterExpression: props.functionNames.map((n) => `service("${n}")`).join(" OR "),
      insightsConfiguration: { insightsEnabled: true, notificationsEnabled: false },
    });
    if (!props.configRules) return;
    for (const [name, rule] of Object.entries(readinessRules(props.backupRetentionDays))) {
      this.rules.push(
        new ConfigConfigRule(this, name, {
          provider,
          name: naming.name("generic", name, region),
          description: `payments-dr readiness: ${rule.id}`,
          source: { owner: "AWS", sourceIdentifier: rule.id },
          inputParameters: rule.parameters ? JSON.stringify(rule.parameters) : undefined,
        }),
      );
    }
  }
}
