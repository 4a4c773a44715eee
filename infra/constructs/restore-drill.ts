import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SsmDocument } from "@cdktf/provider-aws/lib/ssm-document";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { CONTROL, PARAMETERS, PAYMENTS_ENV } from "../../functions/common/contract";
import type { DrillConfig } from "../config";
import { NodejsFunction } from "../lib/nodejs-function";
import type { Statement } from "../lib/policy";
import { policyDocument } from "../lib/policy";
import { renderRunbook } from "../lib/runbook";
import type { Naming } from "../naming";
import type { PlatformKey } from "./keys";
import type { Network } from "./network";
import { keyUse } from "./reports";

export const RESTORE_RUNBOOK = "restore-drill";

/** The restore drill's scratch resources, by name prefix: the only ones it may delete. */
export function restoreNames(naming: Naming, region: string) {
  return {
    /** `payments-restore-<region code>-<suffix>`, then `-<run>` (cluster) and `-<run>-1`. */
    scratchPrefix: naming.name("dbClusterIdentifier", "restore", region),
    /** `payments-restore-control-<suffix>`, then `-<run>`. */
    tablePrefix: naming.name("dynamodbTable", "restore-control"),
    document: naming.name("ssmDocument", `dr-${RESTORE_RUNBOOK}`),
    role: naming.name("iamRole", "dr-restore-drill", region),
  };
}

export interface RestoreDrillProps {
  readonly provider: AwsProvider;
  readonly naming: Naming;
  /** The secondary region: where the cross-region copies are, and where it restores them. */
  readonly region: string;
  readonly key: PlatformKey;
  readonly network: Network;
  readonly drills: DrillConfig;
  readonly logRetentionDays: number;
  readonly instanceClass: string;
  /** The primary's Aurora cluster, whose copies the drill restores. */
  readonly sourceClusterArn: string;
  /** This region's cluster: its subnet group, parameter group and security group are reused. */
  readonly subnetGroupName: string;
  readonly clusterParameterGroupName: string;
  /** The Aurora multi-Region key's replica in this region: the scratch cluster's key. */
  readonly auroraKeyArn: string;
  readonly vault: { readonly name: string; readonly arn: string };
  /** The control table (its replica here), restored from its point-in-time recovery. */
  readonly controlTable: { readonly name: string; readonly arn: string };
  readonly alertTopicArn: string;
  readonly reportWriter: { readonly name: string; readonly arn: string };
}

/**
 * The monthly restore drill: its Automation document and schedule in the secondary region, the
 * role it runs as (allowed exactly what its steps call, deletes only on its own scratch names)
 * and the database check, a Lambda in the VPC because the scratch cluster is private.
 */
/**
 * The restore check as a client of the live database (the connection budget): one environment,
 * one connection to its region's reader endpoint (its other connection is to the scratch cluster).
 */
export const RESTORE_CHECK_CLIENT = {
  name: "restore-check",
  reservedConcurrency: 1,
  writerConnections: 0,
  ownClusterConnections: 1,
} as const;

export class RestoreDrill extends Construct {
  public readonly document: SsmDocument;
  public readonly role: IamRole;
  public readonly check: NodejsFunction;
  public readonly schedule: CloudwatchEventRule;

  constructor(scope: Construct, id: string, props: RestoreDrillProps) {
    super(scope, id);
    const { provider, naming, region, key } = props;
    const names = restoreNames(naming, region);
    const account = key.accountId;
    const parameter = (k: string) =>
      `arn:aws:ssm:${region}:${account}:parameter${naming.parameterPrefix}/${k}`;

    this.check = new NodejsFunction(this, "check", {
      provider,
      naming,
      region,
      key,
      group: "drills",
      source: "restore-check",
      component: "restore-check",
      description: "Restore drill: the restored copy's payments against the live database",
      memorySize: 256,
      // Two connections and five counting queries over a day of payments; well under the step.
      timeoutSeconds: 240,
      // One drill at a time; its connection to the live reader is in the connection budget.
      reservedConcurrency: RESTORE_CHECK_CLIENT.reservedConcurrency,
      environment: { [PAYMENTS_ENV.parameterPrefix]: naming.parameterPrefix },
      vpc: {
        subnetIds: props.network.privateSubnetIds,
        securityGroupIds: [props.network.lambdaSecurityGroup.id],
      },
      statements: [
        {
          sid: "DatabaseSettings",
          actions: ["ssm:GetParameters"],
          resources: [
            PARAMETERS.databaseName,
            PARAMETERS.username,
            PARAMETERS.password,
            PARAMETERS.readerEndpoint,
          ].map(parameter),
        },
        ...keyUse(key, region, [["ssm", ["kms:Decrypt"]]]),
      ],
      logRetentionDays: props.logRetentionDays,
    });

    const documentArn = `arn:aws:ssm:${region}:${account}:automation-definition/${names.document}:*`;
    const roleArn = `arn:aws:iam::${account}:role/${names.role}`;
    this.role = new IamRole(this, "role", {
      provider,
      name: names.role,
      description: `payments-dr restore drill (${region}): restores into scratch resources and deletes them`,
      maxSessionDuration: 3600,
      assumeRolePolicy: policyDocument(this, "trust", provider, [
        {
          // SSM runs the document as this role; EventBridge starts it on the schedule.
          actions: ["sts:AssumeRole"],
          principals: [
            { type: "Service", identifiers: ["ssm.amazonaws.com", "events.amazonaws.com"] },
          ],
          condition: [{ test: "StringEquals", variable: "aws:SourceAccount", values: [account] }],
        },
      ]),
    });
    new IamRolePolicy(this, "policy", {
      provider,
      role: this.role.id,
      name: "restore-drill",
      policy: policyDocument(
        this,
        "permissions",
        provider,
        restoreDrillStatements({
          region,
          account,
          names,
          documentArn,
          roleArn,
          key,
          props,
          checkFunctionArn: this.check.function.arn,
        }),
      ),
    });

    this.document = new SsmDocument(this, "document", {
      provider,
      name: names.document,
      documentType: "Automation",
      documentFormat: "YAML",
      content: renderRunbook(RESTORE_RUNBOOK, {
        EnvironmentSuffix: naming.suffix,
        Region: region,
        RestoreRoleArn: this.role.arn,
        InstanceClass: props.instanceClass,
        MaxBackupAgeHours: String(props.drills.restoreMaxBackupAgeHours),
        RestoreRtoTargetSeconds: String(props.drills.restoreRtoTargetSeconds),
        ControlTable: props.controlTable.name,
        ScratchPrefix: names.scratchPrefix,
        TablePrefix: names.tablePrefix,
        VaultName: props.vault.name,
        SourceClusterArn: props.sourceClusterArn,
        SubnetGroup: props.subnetGroupName,
        SecurityGroupId: props.network.databaseSecurityGroup.id,
        ClusterParameterGroup: props.clusterParameterGroupName,
        AuroraKeyArn: props.auroraKeyArn,
        CheckFunction: this.check.functionName,
        ReportWriterFunction: props.reportWriter.name,
        AlertTopicArn: props.alertTopicArn,
      }),
    });

    this.schedule = new CloudwatchEventRule(this, "schedule", {
      provider,
      name: naming.name("eventRule", "dr-restore-drill", region),
      description: `Monthly restore drill in ${region}, offset from the failover drill`,
      scheduleExpression: props.drills.restoreSchedule,
      state: props.drills.enabled ? "ENABLED" : "DISABLED",
    });
    new CloudwatchEventTarget(this, "target", {
      provider,
      rule: this.schedule.name,
      targetId: "restore-drill",
      arn: `${Fn.replace(this.document.arn, ":document/", ":automation-definition/")}:$DEFAULT`,
      roleArn: this.role.arn,
    });
  }
}

interface StatementInputs {
  readonly region: string;
  readonly account: string;
  readonly names: ReturnType<typeof restoreNames>;
  readonly documentArn: string;
  readonly roleArn: string;
  readonly key: PlatformKey;
  readonly props: RestoreDrillProps;
  readonly checkFunctionArn: string;
}

/**
 * What the restore drill may do: exactly the calls its steps make (test/runbooks/restore-drill
 * checks both ways), with every delete limited to its own scratch names and the live table
 * limited to its canary item and a read of the fencing flag.
 */
export function restoreDrillStatements(i: StatementInputs): Statement[] {
  const { region, account, names, props } = i;
  const rds = (type: string, name: string) => `arn:aws:rds:${region}:${account}:${type}:${name}`;
  const scratchCluster = rds("cluster", `${names.scratchPrefix}-*`);
  const scratchInstance = rds("db", `${names.scratchPrefix}-*`);
  const scratchTable = `arn:aws:dynamodb:${region}:${account}:table/${names.tablePrefix}-*`;
  const engineMajor = "aurora-postgresql*";
  const viaRds = [
    { test: "StringEquals", variable: "kms:ViaService", values: [`rds.${region}.amazonaws.com`] },
  ];
  return [
    {
      // EventBridge starts the document as this role, which SSM then runs it as.
      sid: "RunOnSchedule",
      actions: ["ssm:StartAutomationExecution"],
      resources: [i.documentArn],
    },
    {
      sid: "PassItselfToSsm",
      actions: ["iam:PassRole"],
      resources: [i.roleArn],
      condition: [
        { test: "StringEquals", variable: "iam:PassedToService", values: ["ssm.amazonaws.com"] },
      ],
    },
    {
      sid: "ReadItsOwnExecution",
      actions: ["ssm:GetAutomationExecution"],
      resources: [`arn:aws:ssm:${region}:${account}:automation-execution/*`],
    },
    {
      sid: "FindTheNewestCopy",
      actions: ["backup:ListRecoveryPointsByBackupVault"],
      resources: [props.vault.arn],
    },
    {
      sid: "ReadSnapshots",
      actions: ["rds:DescribeDBClusterSnapshots"],
      resources: [rds("cluster-snapshot", "*")],
    },
    {
      sid: "RestoreIntoScratch",
      actions: ["rds:RestoreDBClusterFromSnapshot"],
      resources: [
        scratchCluster,
        rds("cluster-snapshot", "*"),
        rds("subgrp", props.subnetGroupName),
        rds("cluster-pg", props.clusterParameterGroupName),
      ],
    },
    {
      sid: "AddTheScratchInstance",
      actions: ["rds:CreateDBInstance"],
      resources: [
        scratchInstance,
        scratchCluster,
        rds("subgrp", props.subnetGroupName),
        rds("pg", `default.${engineMajor}`),
      ],
    },
    {
      sid: "TagScratchOnCreate",
      actions: ["rds:AddTagsToResource"],
      resources: [scratchCluster, scratchInstance],
    },
    {
      // Listing (no identifier) finds earlier runs' leftovers; every cluster of the region is
      // readable, none is writable here but the scratch ones.
      sid: "ReadClusters",
      actions: ["rds:DescribeDBClusters"],
      resources: [rds("cluster", "*")],
    },
    {
      sid: "ReadScratchInstances",
      actions: ["rds:DescribeDBInstances"],
      resources: [scratchInstance],
    },
    {
      sid: "DeleteOnlyScratch",
      actions: ["rds:DeleteDBInstance", "rds:DeleteDBCluster"],
      resources: [scratchInstance, scratchCluster],
    },
    {
      sid: "ScratchKeyThroughRds",
      actions: [
        "kms:CreateGrant",
        "kms:DescribeKey",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
      ],
      resources: [props.auroraKeyArn, i.key.arn],
      condition: viaRds,
    },
    {
      sid: "WriteAndRemoveTheCanary",
      actions: ["dynamodb:PutItem", "dynamodb:DeleteItem"],
      resources: [props.controlTable.arn],
      condition: [
        {
          test: "ForAllValues:StringLike",
          variable: "dynamodb:LeadingKeys",
          values: ["restore-canary-*"],
        },
      ],
    },
    {
      sid: "ReadTheFencingFlag",
      actions: ["dynamodb:GetItem"],
      resources: [props.controlTable.arn],
      condition: [
        {
          test: "ForAllValues:StringEquals",
          variable: "dynamodb:LeadingKeys",
          values: [CONTROL.activeRegionItem],
        },
      ],
    },
    {
      sid: "RestoreTheTable",
      actions: [
        "dynamodb:DescribeContinuousBackups",
        "dynamodb:DescribeTable",
        "dynamodb:RestoreTableToPointInTime",
      ],
      resources: [props.controlTable.arn],
    },
    {
      // "read and write permissions on the target table are necessary for restore
      // functionality" (DynamoDB, "Using IAM with DynamoDB backup and restore").
      sid: "TheRestoredTable",
      actions: [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:BatchWriteItem",
        "dynamodb:DescribeTable",
        "dynamodb:DeleteTable",
      ],
      resources: [scratchTable],
    },
    {
      sid: "FindLeftoverTables",
      actions: ["dynamodb:ListTables"],
      resources: ["*"],
    },
    ...keyUse(i.key, region, [
      [
        "dynamodb",
        ["kms:CreateGrant", "kms:DescribeKey", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
      ],
      ["sns", ["kms:Decrypt", "kms:GenerateDataKey"]],
    ]),
    {
      sid: "CheckAndReport",
      actions: ["lambda:InvokeFunction"],
      resources: [i.checkFunctionArn, props.reportWriter.arn],
    },
    { sid: "Page", actions: ["sns:Publish"], resources: [props.alertTopicArn] },
  ];
}
