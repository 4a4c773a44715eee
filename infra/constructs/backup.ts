import { BackupPlan } from "@cdktf/provider-aws/lib/backup-plan";
import { BackupSelection } from "@cdktf/provider-aws/lib/backup-selection";
import { BackupVault } from "@cdktf/provider-aws/lib/backup-vault";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Construct } from "constructs";
import type { BackupConfig } from "../config";
import { assumeRoleStatement, policyDocument } from "../lib/policy";
import type { Naming } from "../naming";
import type { PlatformKey } from "./keys";

export const BACKUP_MANAGED_POLICIES = [
  "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
  "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
];

export interface BackupRegion {
  readonly provider: AwsProvider;
  readonly region: string;
  readonly key: PlatformKey;
  /** ARNs of this region's copies of the data: its Aurora cluster and its table replicas. */
  readonly resourceArns: string[];
}

export interface BackupProps {
  readonly naming: Naming;
  readonly backup: BackupConfig;
  readonly primary: BackupRegion;
  readonly secondary: BackupRegion;
}

/**
 * AWS Backup in both regions: a KMS-encrypted vault in each, a daily plan in the primary that
 * copies every recovery point to the secondary vault, and a mirror plan in the secondary (copying
 * back) so backups keep running after a failover without any change. Continuous backups give
 * Aurora point-in-time restore within the retention; their cross-region copies are snapshots.
 */
export class Backup extends Construct {
  public readonly role: IamRole;
  public readonly primaryVault: BackupVault;
  public readonly secondaryVault: BackupVault;
  public readonly primaryPlan: BackupPlan;
  public readonly secondaryPlan: BackupPlan;

  constructor(scope: Construct, id: string, props: BackupProps) {
    super(scope, id);
    const { naming, primary, secondary } = props;
    if (props.backup.retentionDays < 1) {
      throw new Error(`backup retention must be at least 1 day, got ${props.backup.retentionDays}`);
    }
    this.role = new IamRole(this, "role", {
      provider: primary.provider,
      name: naming.name("iamRole", "backup"),
      assumeRolePolicy: policyDocument(this, "trust", primary.provider, [
        // AWS Backup assumes the role for jobs, plans and vaults alike; no one source ARN
        // covers them, so the account is the condition.
        assumeRoleStatement(["backup.amazonaws.com"], primary.key.accountId),
      ]),
    });
    BACKUP_MANAGED_POLICIES.forEach(
      (policyArn, i) =>
        new IamRolePolicyAttachment(this, `role-policy-${i}`, {
          provider: primary.provider,
          role: this.role.name,
          policyArn,
        }),
    );

    this.primaryVault = this.vault("primary", primary, naming);
    this.secondaryVault = this.vault("secondary", secondary, naming);
    this.primaryPlan = this.plan("primary", props, this.primaryVault, this.secondaryVault);
    this.secondaryPlan = this.plan("secondary", props, this.secondaryVault, this.primaryVault);
  }

  private vault(role: string, region: BackupRegion, naming: Naming): BackupVault {
    return new BackupVault(this, `${role}-vault`, {
      provider: region.provider,
      name: naming.name("backupVault", "vault", region.region),
      kmsKeyArn: region.key.arn,
      // Destroyable: recovery points go with the environment.
      forceDestroy: true,
    });
  }

  private plan(
    role: "primary" | "secondary",
    props: BackupProps,
    vault: BackupVault,
    copyTo: BackupVault,
  ): BackupPlan {
    const region = props[role];
    const retention = props.backup.retentionDays;
    const plan = new BackupPlan(this, `${role}-plan`, {
      provider: region.provider,
      name: props.naming.name(
        "backupPlan",
        role === "primary" ? "daily" : "daily-mirror",
        region.region,
      ),
      rule: [
        {
          ruleName: "daily",
          schedule: props.backup.scheduleCron,
          scheduleExpressionTimezone: "UTC",
          startWindow: 60,
          completionWindow: 360,
          targetVaultName: vault.name,
          enableContinuousBackup: true,
          lifecycle: { deleteAfter: retention },
          copyAction: [{ destinationVaultArn: copyTo.arn, lifecycle: { deleteAfter: retention } }],
          recoveryPointTags: { "backup-plan": role === "primary" ? "daily" : "daily-mirror" },
        },
      ],
    });
    new BackupSelection(this, `${role}-selection`, {
      provider: region.provider,
      name: props.naming.name("backupSelection", "data", region.region),
      planId: plan.id,
      iamRoleArn: this.role.arn,
      resources: region.resourceArns,
    });
    return plan;
  }
}
