// The restore drill: its document (every step says what happens on failure, the cleanup runs on
// every path, documented inputs only, under the 64 KB document limit), its scripts with a fake
// boto3, and its role: allowed exactly the calls the scripts and steps make.
import { parse } from "yaml";
import { validateReportInput } from "../../functions/reports/shared/model";
import { writeReport } from "../../functions/reports/writer/core";
import { placeholdersOf } from "../../infra/lib/asl";
import { readRunbook, renderRunbook } from "../../infra/lib/runbook";
import { Naming } from "../../infra/naming";
import { RESTORE_DRILL_COMPONENT } from "../../cli/target";
import { FULL_ENV, policyStatements, resourceList, synth } from "../infra/helpers";
import type { PolicyStatement } from "../infra/helpers";
import { testWriter } from "../reports/support/samples";
import { hasPython, runStep } from "./python";
import type { PythonStepResult } from "./python";
import type { Document } from "./support/document";
import { onFailure, paths, undocumentedInputs } from "./support/document";

const pythonIt = hasPython() || process.env.CI === "true" ? it : it.skip;

// The longest values the document can hold: an 8-character suffix, long ARNs.
const SUBSTITUTIONS = {
  EnvironmentSuffix: "abcdefgh",
  Region: "ap-southeast-2",
  RestoreRoleArn: "arn:aws:iam::123456789012:role/payments-dr-restore-drill-aps2-abcdefgh",
  InstanceClass: "db.r5.large",
  MaxBackupAgeHours: "48",
  RestoreRtoTargetSeconds: "7200",
  ControlTable: "payments-control-abcdefgh",
  ScratchPrefix: "payments-restore-aps2-abcdefgh",
  TablePrefix: "payments-restore-control-abcdefgh",
  VaultName: "payments-vault-aps2-abcdefgh",
  SourceClusterArn: "arn:aws:rds:ap-northeast-1:123456789012:cluster:payments-db-apn1-abcdefgh",
  SubnetGroup: "payments-db-aps2-abcdefgh",
  SecurityGroupId: "sg-0123456789abcdef0",
  ClusterParameterGroup: "payments-db-secondary-aps2-abcdefgh",
  AuroraKeyArn: "arn:aws:kms:ap-southeast-2:123456789012:key/mrk-0123456789abcdef0123456789abcdef",
  CheckFunction: "payments-restore-check-abcdefgh",
  ReportWriterFunction: "payments-report-writer-abcdefgh",
  AlertTopicArn: "arn:aws:sns:ap-southeast-2:123456789012:payments-alerts-abcdefgh",
};

const STEPS = [
  "WriteCanary",
  "FindRecoveryPoint",
  "RestoreAuroraCluster",
  "WaitForAuroraInstance",
  "CheckAurora",
  "RestoreTable",
  "WaitForTable",
  "CheckTable",
  "Cleanup",
  "WriteReport",
  "DidItPass",
  "AnnouncePassed",
  "PageFailed",
  "MarkFailed",
  "PageOnCall",
];
/** Steps that create something the cleanup must delete. */
const CREATING = ["WriteCanary", "RestoreAuroraCluster", "RestoreTable"];

describe("the restore drill document", () => {
  const text = renderRunbook("restore-drill", SUBSTITUTIONS);
  const doc = parse(text) as Document;
  const names = doc.mainSteps.map((s) => s.name);

  it("is an Automation document under the 64 KB limit, with the steps in order", () => {
    expect(doc.schemaVersion).toBe("0.3");
    expect(doc.assumeRole).toBe("{{ AutomationAssumeRole }}");
    expect(doc.parameters.AutomationAssumeRole!.default).toBe(SUBSTITUTIONS.RestoreRoleArn);
    expect(names).toEqual(STEPS);
    // CreateDocument: "The content of the document must not exceed 64KB" (SSM API reference);
    // a margin for the deployed values (ARNs resolved at apply time).
    expect(Buffer.byteLength(text)).toBeLessThan(60_000);
  });

  it("says on every step what happens when it fails", () => {
    for (const step of doc.mainSteps) {
      expect({ step: step.name, onFailure: step.onFailure }).toEqual({
        step: step.name,
        onFailure: expect.stringMatching(/^(Abort|step:[A-Za-z]+)$/),
      });
    }
    for (const name of STEPS.slice(0, STEPS.indexOf("Cleanup"))) {
      expect(onFailure(doc.mainSteps.find((s) => s.name === name)!)).toBe("Cleanup");
    }
  });

  it("cleans up on every path, before the report, and creates nothing after the cleanup", () => {
    const all = paths(doc, "WriteCanary");
    expect(all.length).toBeGreaterThan(40);
    for (const path of all) {
      const visited = path.filter((s) => !s.startsWith("!"));
      const cleanup = visited.indexOf("Cleanup");
      expect({ path, cleanup }).toEqual({ path, cleanup: expect.any(Number) });
      expect(cleanup).toBeGreaterThanOrEqual(0);
      for (const creating of CREATING) {
        const at = visited.lastIndexOf(creating);
        expect({ path, createdAfterCleanup: at > cleanup }).toEqual({
          path,
          createdAfterCleanup: false,
        });
      }
      expect(visited.indexOf("WriteReport")).toBeGreaterThan(cleanup);
      expect(["AnnouncePassed", "MarkFailed", "PageOnCall"]).toContain(visited.at(-1));
    }
  });

  it("uses only the documented inputs of each action, Python 3.11 and bounded waits", () => {
    for (const step of doc.mainSteps) {
      expect({ step: step.name, undocumented: undocumentedInputs(step) }).toEqual({
        step: step.name,
        undocumented: [],
      });
      if (step.action === "aws:executeScript") expect(step.inputs.Runtime).toBe("python3.11");
      // A wait without a timeout waits for the default (undocumented): always set one.
      if (step.action === "aws:waitForAwsResourceProperty") {
        expect(step.timeoutSeconds).toBeGreaterThan(0);
      }
      if (step.action === "aws:executeScript") {
        // aws:executeScript runs at most 600 s (automation-action-executeScript).
        expect(step.timeoutSeconds).toBeLessThanOrEqual(600);
      }
    }
  });

  it("refers only to its own parameters, automation variables and earlier steps' outputs", () => {
    const outputs = new Map(
      doc.mainSteps.flatMap((s, i) => (s.outputs ?? []).map((o) => [`${s.name}.${o.Name}`, i])),
    );
    doc.mainSteps.forEach((step, index) => {
      for (const match of JSON.stringify(step).matchAll(/\{\{\s*([\w:.]+)\s*\}\}/g)) {
        const reference = match[1]!;
        const known =
          reference in doc.parameters ||
          reference.startsWith("automation:") ||
          (outputs.get(reference) ?? Infinity) < index;
        expect({ step: step.name, reference, known }).toEqual({
          step: step.name,
          reference,
          known: true,
        });
      }
    });
  });

  it("inlines every script and leaves no placeholder behind", () => {
    expect(placeholdersOf(readRunbook("restore-drill"))).toEqual(Object.keys(SUBSTITUTIONS).sort());
    expect(text).not.toMatch(/\$\{/);
    const cleanup = String(doc.mainSteps.find((s) => s.name === "Cleanup")!.inputs.Script);
    expect(cleanup).toContain("def scratch_names(events):");
    expect(cleanup).toContain("def cleanup(events, context):");
  });
});

// ---- the scripts, with a fake boto3 ----

/** Every AWS call the scripts made in these tests, for the IAM test at the end. */
const calls: PythonStepResult["calls"] = [];

function step(
  script: string,
  handler: string,
  events: Record<string, unknown>,
  responses: Record<string, unknown>,
) {
  const result = runStep(["RestoreCommon", script], handler, events, responses);
  calls.push(...result.calls);
  return result;
}

const EXECUTION_ID = "1a2b3c4d-5e6f-4a1b-9c2d-0123456789ab";
const base = {
  ExecutionId: EXECUTION_ID,
  Region: "us-west-2",
  ScratchPrefix: "payments-restore-usw2-dev",
  TablePrefix: "payments-restore-control-dev",
  TableName: "payments-control-dev",
};
const SCRATCH = "payments-restore-usw2-dev-1a2b3c4d";
const TABLE = "payments-restore-control-dev-1a2b3c4d";
const CANARY = "restore-canary-1a2b3c4d";
const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
const SOURCE = "arn:aws:rds:us-east-1:123456789012:cluster:payments-db-use1-dev";
const VAULT_ARN = "arn:aws:backup:us-east-1:123456789012:backup-vault:payments-vault-use1-dev";
const snapshotArn = (n: number) =>
  `arn:aws:rds:us-west-2:123456789012:cluster-snapshot:awsbackup:copyjob-${n}`;

describe("the restore drill's scripts", () => {
  pythonIt("writes a canary the restored table must hold, expiring in a week", () => {
    const result = step("WriteCanary", "write_canary", base, { "dynamodb.put_item": {} });
    const put = result.calls[0]!;
    expect(put).toMatchObject({
      call: "dynamodb.put_item",
      region: "us-west-2",
      args: { TableName: "payments-control-dev" },
    });
    const item = put.args.Item as Record<string, { S?: string; N?: string }>;
    expect(item.pk).toEqual({ S: CANARY });
    expect(item.nonce!.S).toMatch(/^[0-9a-f]{32}$/);
    expect(result.ok).toEqual({
      CanaryKey: CANARY,
      CanaryNonce: item.nonce!.S,
      CanaryWrittenAt: item.writtenAt!.S,
    });
    const days = (Number(item.expiresAt!.N) * 1000 - Date.parse(item.writtenAt!.S!)) / 86_400_000;
    expect(days).toBeCloseTo(7, 1);
  });

  const find = {
    ...base,
    VaultName: "payments-vault-usw2-dev",
    SourceClusterArn: SOURCE,
    MaxBackupAgeHours: "48",
  };

  pythonIt(
    "restores the newest completed cross-region copy, reading every page of the vault",
    () => {
      const result = step("FindRecoveryPoint", "find_recovery_point", find, {
        "backup.list_recovery_points_by_backup_vault": [
          {
            RecoveryPoints: [
              {
                RecoveryPointArn: snapshotArn(1),
                Status: "COMPLETED",
                SourceBackupVaultArn: VAULT_ARN,
                CreationDate: hoursAgo(50),
                CompletionDate: hoursAgo(49),
              },
              // Not a copy of the primary: this region's own cluster (the mirror plan).
              {
                RecoveryPointArn: snapshotArn(9),
                ResourceArn: "arn:aws:rds:us-west-2:123456789012:cluster:payments-db-usw2-dev",
                Status: "COMPLETED",
                CreationDate: hoursAgo(1),
                CompletionDate: hoursAgo(1),
              },
            ],
            NextToken: "page-2",
          },
          {
            RecoveryPoints: [
              {
                RecoveryPointArn: snapshotArn(2),
                Status: "COMPLETED",
                SourceBackupVaultArn: VAULT_ARN,
                CreationDate: hoursAgo(26),
                CompletionDate: hoursAgo(25),
              },
              {
                RecoveryPointArn: snapshotArn(3),
                Status: "PARTIAL",
                SourceBackupVaultArn: VAULT_ARN,
                CreationDate: hoursAgo(2),
                CompletionDate: hoursAgo(2),
              },
            ],
          },
        ],
        // Asked without a type, RDS lists no AWS Backup snapshot; asked as "awsbackup", it does.
        "rds.describe_db_cluster_snapshots": [
          { DBClusterSnapshots: [] },
          {
            DBClusterSnapshots: [
              { Status: "available", SnapshotCreateTime: hoursAgo(26), EngineVersion: "16.6" },
            ],
          },
        ],
      });
      expect(result.error).toBeUndefined();
      expect(result.calls.map((c) => [c.call, c.args])).toEqual([
        [
          "backup.list_recovery_points_by_backup_vault",
          { BackupVaultName: "payments-vault-usw2-dev", ByResourceArn: SOURCE },
        ],
        [
          "backup.list_recovery_points_by_backup_vault",
          {
            BackupVaultName: "payments-vault-usw2-dev",
            ByResourceArn: SOURCE,
            NextToken: "page-2",
          },
        ],
        ["rds.describe_db_cluster_snapshots", { DBClusterSnapshotIdentifier: snapshotArn(2) }],
        [
          "rds.describe_db_cluster_snapshots",
          { DBClusterSnapshotIdentifier: snapshotArn(2), SnapshotType: "awsbackup" },
        ],
      ]);
      expect(result.ok).toMatchObject({ SnapshotArn: snapshotArn(2), EngineVersion: "16.6" });
      expect(Number(result.ok!.SnapshotAgeSeconds)).toBeGreaterThanOrEqual(26 * 3600 - 60);
    },
  );

  pythonIt("fails when the newest copy is older than the limit: copies are not arriving", () => {
    const result = step("FindRecoveryPoint", "find_recovery_point", find, {
      "backup.list_recovery_points_by_backup_vault": {
        RecoveryPoints: [
          {
            RecoveryPointArn: snapshotArn(1),
            Status: "COMPLETED",
            SourceBackupVaultArn: VAULT_ARN,
            CreationDate: hoursAgo(73),
          },
        ],
      },
      "rds.describe_db_cluster_snapshots": {
        DBClusterSnapshots: [
          { Status: "available", SnapshotCreateTime: hoursAgo(73), EngineVersion: "16.6" },
        ],
      },
    });
    expect(result.error).toMatch(
      /^the newest cross-region copy was taken 73\.0 h ago \(.*\), over the 48 h limit: copies are not arriving$/,
    );
  });

  pythonIt(
    "fails when there is no completed copy at all, saying how many recovery points there are",
    () => {
      const result = step("FindRecoveryPoint", "find_recovery_point", find, {
        "backup.list_recovery_points_by_backup_vault": {
          RecoveryPoints: [
            {
              RecoveryPointArn: snapshotArn(3),
              Status: "PARTIAL",
              SourceBackupVaultArn: VAULT_ARN,
              CreationDate: hoursAgo(2),
            },
          ],
        },
      });
      expect(result.error).toBe(
        `no completed cross-region copy of ${SOURCE} in vault payments-vault-usw2-dev (1 recovery points in all): are the copy jobs failing?`,
      );
    },
  );

  const restore = {
    ...base,
    SnapshotArn: snapshotArn(2),
    EngineVersion: "16.6",
    SubnetGroup: "payments-db-usw2-dev",
    SecurityGroupId: "sg-0db",
    ClusterParameterGroup: "payments-db-secondary-usw2-dev",
    KmsKeyId: "arn:aws:kms:us-west-2:123456789012:key/mrk-1",
    InstanceClass: "db.r5.large",
  };

  pythonIt(
    "restores into the scratch cluster with the secondary's network, parameters and key, and adds its instance",
    () => {
      const result = step("RestoreCluster", "restore_cluster", restore, {
        "rds.restore_db_cluster_from_snapshot": {},
        "rds.create_db_instance": {},
      });
      const tags = [{ Key: "payments-dr:restore-drill", Value: EXECUTION_ID }];
      expect(result.calls.map((c) => [c.call, c.args])).toEqual([
        [
          "rds.restore_db_cluster_from_snapshot",
          {
            DBClusterIdentifier: SCRATCH,
            SnapshotIdentifier: snapshotArn(2),
            Engine: "aurora-postgresql",
            EngineVersion: "16.6",
            DBSubnetGroupName: "payments-db-usw2-dev",
            VpcSecurityGroupIds: ["sg-0db"],
            DBClusterParameterGroupName: "payments-db-secondary-usw2-dev",
            KmsKeyId: "arn:aws:kms:us-west-2:123456789012:key/mrk-1",
            DeletionProtection: false,
            CopyTagsToSnapshot: false,
            Tags: tags,
          },
        ],
        [
          "rds.create_db_instance",
          {
            DBInstanceIdentifier: `${SCRATCH}-1`,
            DBClusterIdentifier: SCRATCH,
            Engine: "aurora-postgresql",
            DBInstanceClass: "db.r5.large",
            PubliclyAccessible: false,
            Tags: tags,
          },
        ],
      ]);
      expect(result.ok).toEqual({ ClusterId: SCRATCH, InstanceId: `${SCRATCH}-1` });
    },
  );

  pythonIt("finds what it created when the step is retried", () => {
    const result = step("RestoreCluster", "restore_cluster", restore, {
      "rds.restore_db_cluster_from_snapshot": { raise: "DBClusterAlreadyExistsFault" },
      "rds.create_db_instance": { raise: "DBInstanceAlreadyExistsFault" },
    });
    expect(result.error).toBeUndefined();
  });

  const auroraCheck = {
    ...base,
    CheckFunction: "payments-restore-check-dev",
    SnapshotTime: hoursAgo(26),
    WindowHours: "24",
  };

  pythonIt(
    "runs the database check on the scratch cluster's endpoint and passes its checks on",
    () => {
      const checks = [
        {
          name: "payments up to the cutoff",
          expected: "10",
          actual: "10",
          passed: true,
          basis: "live",
        },
      ];
      const result = step("CheckAurora", "check_aurora", auroraCheck, {
        "rds.describe_db_clusters": {
          DBClusters: [{ Endpoint: `${SCRATCH}.cluster-c1.us-west-2.rds.amazonaws.com` }],
        },
        "lambda.invoke": {
          StatusCode: 200,
          Payload: JSON.stringify({ passed: true, checks, newestPayment: hoursAgo(27) }),
        },
      });
      const invoke = result.calls.find((c) => c.call === "lambda.invoke")!;
      expect(invoke.args.FunctionName).toBe("payments-restore-check-dev");
      expect(JSON.parse(String(invoke.args.Payload))).toEqual({
        scratchEndpoint: `${SCRATCH}.cluster-c1.us-west-2.rds.amazonaws.com`,
        snapshotTime: auroraCheck.SnapshotTime,
        windowHours: 24,
      });
      expect(JSON.parse(String(result.ok!.Checks))).toEqual([
        { ...checks[0], name: "Aurora: payments up to the cutoff" },
      ]);
    },
  );

  pythonIt("fails the check step when the check cannot run, with the function's error", () => {
    const result = step("CheckAurora", "check_aurora", auroraCheck, {
      "rds.describe_db_clusters": { DBClusters: [{ Endpoint: "x.rds.amazonaws.com" }] },
      "lambda.invoke": {
        StatusCode: 200,
        FunctionError: "Unhandled",
        Payload: JSON.stringify({ errorType: "Error", errorMessage: "connect ETIMEDOUT" }),
      },
    });
    expect(result.error).toBe("the restore check failed: Error: connect ETIMEDOUT");
  });

  pythonIt("restores the table once point-in-time recovery has passed the canary", () => {
    const written = new Date(Date.now() - 60_000).toISOString();
    const pitr = (latest: string) => ({
      ContinuousBackupsDescription: {
        PointInTimeRecoveryDescription: {
          PointInTimeRecoveryStatus: "ENABLED",
          LatestRestorableDateTime: latest,
        },
      },
    });
    const later = new Date(Date.now() - 30_000).toISOString();
    const result = step(
      "RestoreTable",
      "restore_table",
      { ...base, CanaryWrittenAt: written, WaitSeconds: "480" },
      {
        "dynamodb.describe_continuous_backups": [
          pitr(new Date(Date.now() - 300_000).toISOString()),
          pitr(later),
        ],
        "dynamodb.restore_table_to_point_in_time": {},
      },
    );
    expect(result.error).toBeUndefined();
    expect(
      result.calls.filter((c) => c.call === "dynamodb.describe_continuous_backups"),
    ).toHaveLength(2);
    const restoreCall = result.calls.find(
      (c) => c.call === "dynamodb.restore_table_to_point_in_time",
    )!;
    expect(restoreCall.args).toMatchObject({
      SourceTableName: "payments-control-dev",
      TargetTableName: TABLE,
      BillingModeOverride: "PAY_PER_REQUEST",
    });
    expect(Date.parse(String(restoreCall.args.RestoreDateTime))).toBe(Date.parse(later));
    expect(result.ok).toEqual({ RestoredTable: TABLE, RestoredTo: later });
  });

  pythonIt("fails when point-in-time recovery is off or never reaches the canary", () => {
    const off = step(
      "RestoreTable",
      "restore_table",
      { ...base, CanaryWrittenAt: hoursAgo(0), WaitSeconds: "0" },
      {
        "dynamodb.describe_continuous_backups": {
          ContinuousBackupsDescription: {
            PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: "DISABLED" },
          },
        },
      },
    );
    expect(off.error).toBe("point-in-time recovery is DISABLED on payments-control-dev");
    const behind = step(
      "RestoreTable",
      "restore_table",
      { ...base, CanaryWrittenAt: hoursAgo(0), WaitSeconds: "-1" },
      {
        "dynamodb.describe_continuous_backups": {
          ContinuousBackupsDescription: {
            PointInTimeRecoveryDescription: {
              PointInTimeRecoveryStatus: "ENABLED",
              LatestRestorableDateTime: hoursAgo(1),
            },
          },
        },
      },
    );
    expect(behind.error).toMatch(
      /^the latest restorable time .* has not reached the canary written at /,
    );
  });

  const flag = {
    pk: { S: "active-region" },
    activeRegion: { S: "us-east-1" },
    fencingToken: { N: "4" },
    updatedAt: { S: hoursAgo(100) },
  };
  const tableCheck = {
    ...base,
    CanaryNonce: "n0nce",
    CanaryWrittenAt: hoursAgo(1),
    RestoredTo: hoursAgo(0.5),
  };
  const sse = (key: string) => ({ Table: { SSEDescription: { KMSMasterKeyArn: key } } });

  pythonIt(
    "finds the canary and the fencing flag as they were, encrypted with the source's key",
    () => {
      const result = step("CheckTable", "check_table", tableCheck, {
        "dynamodb.scan": [
          {
            Items: [{ pk: { S: CANARY }, nonce: { S: "n0nce" } }],
            LastEvaluatedKey: { pk: { S: CANARY } },
          },
          { Items: [flag] },
        ],
        "dynamodb.get_item": { Item: flag },
        "dynamodb.describe_table": sse("arn:aws:kms:us-west-2:1:key/k"),
      });
      expect(result.calls.filter((c) => c.call === "dynamodb.scan").map((c) => c.args)).toEqual([
        { TableName: TABLE, ConsistentRead: true },
        { TableName: TABLE, ConsistentRead: true, ExclusiveStartKey: { pk: { S: CANARY } } },
      ]);
      const checks = JSON.parse(String(result.ok!.Checks)) as Array<{
        name: string;
        passed: boolean;
      }>;
      expect(checks.map((c) => [c.name, c.passed])).toEqual([
        ["DynamoDB: the canary written before the restore point", true],
        ["DynamoDB: the fencing flag (active-region item)", true],
        ["DynamoDB: encrypted with the source's key", true],
      ]);
      expect(result.ok!.Passed).toBe(true);
    },
  );

  pythonIt(
    "fails the checks when the canary is missing or the copy differs, and skips a flag changed since",
    () => {
      const changed = { ...flag, fencingToken: { N: "5" }, updatedAt: { S: hoursAgo(0.1) } };
      const result = step("CheckTable", "check_table", tableCheck, {
        "dynamodb.scan": { Items: [flag] },
        "dynamodb.get_item": { Item: changed },
        "dynamodb.describe_table": [
          sse("arn:aws:kms:us-west-2:1:key/source"),
          sse("arn:aws:kms:us-west-2:1:key/other"),
        ],
      });
      const checks = JSON.parse(String(result.ok!.Checks)) as Array<{
        name: string;
        expected: string;
        actual: string;
        passed: boolean;
      }>;
      expect(checks[0]).toMatchObject({ actual: "missing", passed: false });
      expect(checks[1]).toMatchObject({
        expected: expect.stringMatching(/^not compared: changed at .*, after the restore point$/),
        passed: true,
      });
      expect(checks[2]).toMatchObject({
        expected: "arn:aws:kms:us-west-2:1:key/source",
        actual: "arn:aws:kms:us-west-2:1:key/other",
        passed: false,
      });
      expect(result.ok!.Passed).toBe(false);
    },
  );

  const noLeftovers = {
    "rds.describe_db_clusters": [{ DBClusters: [] }],
    "dynamodb.list_tables": { TableNames: [] },
  };

  pythonIt("deletes the instance, then the cluster, the table and the canary", () => {
    const result = step("CleanupRestore", "cleanup", base, {
      "rds.describe_db_clusters": [
        {
          DBClusters: [
            {
              DBClusterIdentifier: SCRATCH,
              Status: "available",
              DBClusterMembers: [{ DBInstanceIdentifier: `${SCRATCH}-1` }],
            },
          ],
        },
        { DBClusters: [] },
      ],
      "rds.describe_db_instances": { DBInstances: [{ DBInstanceStatus: "available" }] },
      "rds.delete_db_instance": {},
      "rds.delete_db_cluster": {},
      "dynamodb.describe_table": { Table: { TableStatus: "ACTIVE" } },
      "dynamodb.delete_table": {},
      "dynamodb.delete_item": {},
      "dynamodb.list_tables": { TableNames: [] },
    });
    expect(result.error).toBeUndefined();
    const writes = result.calls
      .filter((c) => /\.delete_/.test(c.call))
      .map((c) => [c.call, c.args]);
    expect(writes).toEqual([
      ["rds.delete_db_instance", { DBInstanceIdentifier: `${SCRATCH}-1`, SkipFinalSnapshot: true }],
      ["rds.delete_db_cluster", { DBClusterIdentifier: SCRATCH, SkipFinalSnapshot: true }],
      ["dynamodb.delete_table", { TableName: TABLE }],
      ["dynamodb.delete_item", { TableName: "payments-control-dev", Key: { pk: { S: CANARY } } }],
    ]);
  });

  pythonIt(
    "runs again while the restore is still being created, and is done once nothing is left",
    () => {
      const busy = step("CleanupRestore", "cleanup", base, {
        ...noLeftovers,
        "rds.describe_db_clusters": [
          {
            DBClusters: [
              {
                DBClusterIdentifier: SCRATCH,
                Status: "creating",
                DBClusterMembers: [{ DBInstanceIdentifier: `${SCRATCH}-1` }],
              },
            ],
          },
          { DBClusters: [] },
        ],
        "rds.describe_db_instances": { DBInstances: [{ DBInstanceStatus: "creating" }] },
        "dynamodb.describe_table": { Table: { TableStatus: "CREATING" } },
        "dynamodb.delete_item": {},
      });
      expect(busy.error).toBe(
        `not deletable yet, retrying: instance ${SCRATCH}-1 is creating; cluster ${SCRATCH} is creating; table ${TABLE} is CREATING`,
      );
      // Nothing was created yet (a failure before the restores): all absent, done.
      const absent = step("CleanupRestore", "cleanup", base, {
        ...noLeftovers,
        "rds.describe_db_clusters": [{ raise: "DBClusterNotFoundFault" }, { DBClusters: [] }],
        "dynamodb.describe_table": { raise: "ResourceNotFoundException" },
        "dynamodb.delete_item": {},
      });
      expect(absent.ok).toEqual({
        Deleted: `cluster ${SCRATCH} (absent); table ${TABLE} (absent); canary ${CANARY}`,
        Leftovers: "",
      });
    },
  );

  pythonIt("deletes what an earlier, cancelled run left, and never anything else", () => {
    const old = "payments-restore-usw2-dev-99999999";
    const result = step("CleanupRestore", "cleanup", base, {
      "rds.describe_db_clusters": [
        { raise: "DBClusterNotFoundFault" },
        {
          DBClusters: [
            { DBClusterIdentifier: "payments-db-usw2-dev", ClusterCreateTime: hoursAgo(5000) },
            {
              DBClusterIdentifier: "payments-restore-usw2-dev2-99999999",
              ClusterCreateTime: hoursAgo(50),
            },
            {
              DBClusterIdentifier: "payments-restore-usw2-dev-77777777",
              ClusterCreateTime: hoursAgo(1),
            },
            { DBClusterIdentifier: old, ClusterCreateTime: hoursAgo(30) },
          ],
        },
        { DBClusters: [{ DBClusterIdentifier: old, Status: "available", DBClusterMembers: [] }] },
      ],
      "rds.delete_db_cluster": {},
      "dynamodb.describe_table": [
        { raise: "ResourceNotFoundException" },
        { Table: { CreationDateTime: hoursAgo(40) } },
        { Table: { TableStatus: "ACTIVE" } },
      ],
      "dynamodb.delete_item": {},
      "dynamodb.list_tables": {
        TableNames: ["payments-control-dev", "payments-restore-control-dev-99999999"],
      },
      "dynamodb.delete_table": {},
    });
    expect(result.error).toBeUndefined();
    expect(
      result.calls.filter((c) => /\.delete_(db_cluster|table)$/.test(c.call)).map((c) => c.args),
    ).toEqual([
      { DBClusterIdentifier: old, SkipFinalSnapshot: true },
      { TableName: "payments-restore-control-dev-99999999" },
    ]);
    expect(result.ok!.Leftovers).toBe(`${old}, payments-restore-control-dev-99999999`);
  });

  const reportEvents = {
    Path: "auto",
    Kind: "restore-drill",
    Title: "Restore drill in us-west-2",
    Summary: "Both restored and held what they should.",
    ExecutionId: EXECUTION_ID,
    Region: "us-west-2",
    WriterFunction: "payments-report-writer-dev",
    PlannedSteps:
      "WriteCanary,FindRecoveryPoint,RestoreAuroraCluster,WaitForAuroraInstance,CheckAurora,RestoreTable,WaitForTable,CheckTable,Cleanup",
    CheckSteps: "CheckAurora,CheckTable",
    Measures:
      "auroraRestoreSeconds=RestoreAuroraCluster:WaitForAuroraInstance,tableRestoreSeconds=RestoreTable:WaitForTable",
    MeasurementLimitSeconds: "7200",
    RtoSteps: "RestoreAuroraCluster:CheckAurora",
    RpoOutput: "FindRecoveryPoint.SnapshotAgeSeconds",
    RpoBasis: "the age of the newest cross-region copy",
  };
  const t = (minute: number) => new Date(Date.UTC(2026, 10, 24, 15, minute, 0)).toISOString();
  const ran = (
    name: string,
    from: number,
    to: number,
    outputs: Record<string, string[]> = {},
    status = "Success",
  ) => ({
    StepName: name,
    StepStatus: status,
    ExecutionStartTime: t(from),
    ExecutionEndTime: t(to),
    Outputs: outputs,
  });
  const check = (name: string, passed: boolean) => ({
    name,
    expected: "1",
    actual: passed ? "1" : "0",
    passed,
  });
  const automation = (steps: object[]) => ({
    AutomationExecution: {
      ExecutionStartTime: t(0),
      DocumentName: "payments-dr-restore-drill-dev",
      ExecutedBy: "arn:aws:sts::123456789012:assumed-role/payments-dr-restore-drill-usw2-dev/x",
      Parameters: {
        AutomationAssumeRole: ["arn:aws:iam::123456789012:role/payments-dr-restore-drill-usw2-dev"],
        InstanceClass: ["db.r5.large"],
      },
      StepExecutions: steps,
    },
  });
  const location = {
    consoleUrl: "https://us-west-2.console.aws.amazon.com/s3/object/b?prefix=r.html",
    htmlUri: "s3://b/r.html",
  };
  const passed = [
    ran("WriteCanary", 0, 0),
    ran("FindRecoveryPoint", 0, 1, { SnapshotAgeSeconds: ["93600"] }),
    ran("RestoreAuroraCluster", 1, 2),
    ran("WaitForAuroraInstance", 2, 31),
    ran("CheckAurora", 31, 33, {
      Checks: [JSON.stringify([check("Aurora: payments up to the cutoff", true)])],
    }),
    ran("RestoreTable", 33, 34),
    ran("WaitForTable", 34, 41),
    ran("CheckTable", 41, 42, { Checks: [JSON.stringify([check("DynamoDB: the canary", true)])] }),
    ran("Cleanup", 42, 45, { Leftovers: [""] }),
  ];

  pythonIt(
    "reports restore times, the checks, the copy's age, and the RTO to a checked database",
    async () => {
      const result = runStep("WriteDrillReport", "write_drill_report", reportEvents, {
        "ssm.get_automation_execution": automation(passed),
        "lambda.invoke": { StatusCode: 200, Payload: JSON.stringify({ written: true, location }) },
      });
      calls.push(...result.calls);
      expect(result.ok).toMatchObject({ Outcome: "succeeded", ReportUrl: location.consoleUrl });
      const invoke = result.calls.find((c) => c.call === "lambda.invoke")!;
      const { report } = JSON.parse(String(invoke.args.Payload)) as {
        report: Record<string, unknown>;
      };
      expect(report).toMatchObject({
        kind: "restore-drill",
        outcome: "succeeded",
        summary: "Both restored and held what they should.",
        rtoSeconds: 32 * 60,
        rtoStartedAt: t(1),
        rpoSeconds: 93600,
        measurements: [
          { name: "auroraRestoreSeconds", value: 30 * 60, unit: "s", limit: 7200 },
          { name: "tableRestoreSeconds", value: 8 * 60, unit: "s", limit: 7200 },
        ],
        trigger: { kind: "schedule" },
      });
      expect((report.checks as unknown[]).length).toBe(2);
      expect(() => validateReportInput(report)).not.toThrow();
      const stored = await writeReport(report, testWriter());
      expect(stored).toMatchObject({ written: true, outcome: "succeeded" });
    },
  );

  pythonIt(
    "fails the drill on a failed check even when every step passed, and warns about a failed cleanup",
    () => {
      const failedCheck = [
        ...passed.slice(0, 4),
        ran("CheckAurora", 31, 33, {
          Checks: [JSON.stringify([check("Aurora: payments up to the cutoff", false)])],
        }),
        ...passed.slice(5, 8),
        ran("Cleanup", 42, 100, {}, "Failed"),
      ];
      const result = runStep("WriteDrillReport", "write_drill_report", reportEvents, {
        "ssm.get_automation_execution": automation(failedCheck),
        "lambda.invoke": { StatusCode: 200, Payload: JSON.stringify({ written: true, location }) },
      });
      const { report } = JSON.parse(
        String(result.calls.find((c) => c.call === "lambda.invoke")!.args.Payload),
      ) as {
        report: { outcome: string; summary: string; warnings: string[] };
      };
      expect(result.ok).toMatchObject({ Outcome: "failed" });
      expect(report.summary).toBe("The drill failed at Cleanup: no failure message.");
      expect(report.warnings).toContain(
        "The cleanup did not finish: scratch resources may remain; the next restore drill deletes them (runbooks/restore-drill.md).",
      );
    },
  );
});

// ---- its role: exactly what it does ----

/** The IAM actions a call needs (service authorization reference), for the calls made above. */
const ACTIONS: Record<string, string[]> = {
  "dynamodb.put_item": ["dynamodb:PutItem"],
  "dynamodb.get_item": ["dynamodb:GetItem"],
  "dynamodb.delete_item": ["dynamodb:DeleteItem"],
  "dynamodb.scan": ["dynamodb:Scan"],
  "dynamodb.describe_table": ["dynamodb:DescribeTable"],
  "dynamodb.delete_table": ["dynamodb:DeleteTable"],
  "dynamodb.list_tables": ["dynamodb:ListTables"],
  "dynamodb.describe_continuous_backups": ["dynamodb:DescribeContinuousBackups"],
  // "read and write permissions on the target table are necessary" (backuprestore_IAM).
  "dynamodb.restore_table_to_point_in_time": [
    "dynamodb:RestoreTableToPointInTime",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:BatchWriteItem",
  ],
  "backup.list_recovery_points_by_backup_vault": ["backup:ListRecoveryPointsByBackupVault"],
  "rds.describe_db_cluster_snapshots": ["rds:DescribeDBClusterSnapshots"],
  // Tags on create need AddTagsToResource.
  "rds.restore_db_cluster_from_snapshot": [
    "rds:RestoreDBClusterFromSnapshot",
    "rds:AddTagsToResource",
  ],
  "rds.create_db_instance": ["rds:CreateDBInstance", "rds:AddTagsToResource"],
  "rds.describe_db_clusters": ["rds:DescribeDBClusters"],
  "rds.describe_db_instances": ["rds:DescribeDBInstances"],
  "rds.delete_db_instance": ["rds:DeleteDBInstance"],
  "rds.delete_db_cluster": ["rds:DeleteDBCluster"],
  "lambda.invoke": ["lambda:InvokeFunction"],
  "ssm.get_automation_execution": ["ssm:GetAutomationExecution"],
};

describe("the restore drill's role", () => {
  const { json } = synth(FULL_ENV);
  const statements = policyStatements(json, "restore-drill_permissions");
  const granted = (s: PolicyStatement[]) => new Set(s.flatMap((x) => x.actions ?? []));

  pythonIt(
    "allows exactly the calls its scripts and steps make, and starting itself on the schedule",
    () => {
      const doc = parse(renderRunbook("restore-drill", SUBSTITUTIONS)) as Document;
      const stepCalls = doc.mainSteps
        .filter(
          (s) => s.action === "aws:executeAwsApi" || s.action === "aws:waitForAwsResourceProperty",
        )
        .map((s) => `${String(s.inputs.Service).toLowerCase()}:${s.inputs.Api}`);
      expect(stepCalls.sort()).toEqual([
        "dynamodb:DescribeTable",
        "rds:DescribeDBInstances",
        "sns:Publish",
        "sns:Publish",
        "sns:Publish",
      ]);
      const made = new Set(calls.map((c) => c.call));
      const unmapped = [...made].filter((c) => !ACTIONS[c]);
      expect(unmapped).toEqual([]);
      const needed = new Set([
        ...[...made].flatMap((c) => ACTIONS[c]!),
        ...stepCalls,
        // The schedule: EventBridge starts the document as this role, passed on to SSM.
        "ssm:StartAutomationExecution",
        "iam:PassRole",
      ]);
      const nonKms = [...granted(statements)].filter((a) => !a.startsWith("kms:"));
      expect(nonKms.sort()).toEqual([...needed].sort());
    },
  );

  it("deletes only its own scratch resources and touches only its canary in the live table", () => {
    const bySid = Object.fromEntries(statements.map((s) => [s.sid, s]));
    expect(bySid.DeleteOnlyScratch!.resources!.sort()).toEqual([
      expect.stringMatching(/:rds:us-west-2:.*:cluster:payments-restore-usw2-dev-\*$/),
      expect.stringMatching(/:rds:us-west-2:.*:db:payments-restore-usw2-dev-\*$/),
    ]);
    expect(bySid.TheRestoredTable!.resources).toEqual([
      expect.stringMatching(/:dynamodb:us-west-2:.*:table\/payments-restore-control-dev-\*$/),
    ]);
    expect(bySid.WriteAndRemoveTheCanary).toMatchObject({
      actions: ["dynamodb:PutItem", "dynamodb:DeleteItem"],
      condition: [
        {
          test: "ForAllValues:StringLike",
          variable: "dynamodb:LeadingKeys",
          values: ["restore-canary-*"],
        },
      ],
    });
    expect(bySid.ReadTheFencingFlag!.condition).toEqual([
      {
        test: "ForAllValues:StringEquals",
        variable: "dynamodb:LeadingKeys",
        values: ["active-region"],
      },
    ]);
    // The only "*": listing tables, which has no resource-level permission.
    expect(statements.filter((s) => s.resources?.includes("*")).map((s) => s.actions)).toEqual([
      ["dynamodb:ListTables"],
    ]);
    for (const s of statements.filter((x) => x.actions?.some((a) => a.startsWith("kms:")))) {
      expect(s.condition?.[0]?.variable).toBe("kms:ViaService");
    }
  });

  it("is assumed only by SSM and EventBridge of this account, and the schedule runs it monthly", () => {
    const trust = policyStatements(json, "restore-drill_trust");
    expect(trust).toEqual([
      {
        actions: ["sts:AssumeRole"],
        principals: [
          { type: "Service", identifiers: ["ssm.amazonaws.com", "events.amazonaws.com"] },
        ],
        condition: [
          { test: "StringEquals", variable: "aws:SourceAccount", values: [expect.any(String)] },
        ],
      },
    ]);
    const rule = resourceList(json, "aws_cloudwatch_event_rule").find(
      (r) => r.name === "payments-dr-restore-drill-usw2-dev",
    )!;
    expect(rule).toMatchObject({
      provider: "aws.secondary",
      schedule_expression: "cron(0 15 ? * TUE#4 *)",
      state: "ENABLED",
    });
    const documents = resourceList(json, "aws_ssm_document").filter(
      (d) => d.name === "payments-dr-restore-drill-dev",
    );
    // The name `payments-dr drill --restore` starts.
    expect(new Naming("dev").name("ssmDocument", RESTORE_DRILL_COMPONENT)).toBe(
      "payments-dr-restore-drill-dev",
    );
    expect(documents.map((d) => d.provider)).toEqual(["aws.secondary"]);
    const check = resourceList(json, "aws_lambda_function").find(
      (f) => f.function_name === "payments-restore-check-dev",
    )!;
    expect(check).toMatchObject({
      provider: "aws.secondary",
      vpc_config: { security_group_ids: [expect.stringContaining("network-secondary_lambda-sg")] },
    });
  });
});
