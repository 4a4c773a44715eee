// IAM of the lost-write reconciliation (issue 16), scoped to exactly what it touches:
// - the runbook's role (runbooks/reconcile.yaml): read the old primary's point-of-failure
//   snapshot, copy it to a manual snapshot, restore that into the one scratch cluster. No Delete*:
//   nothing it can do removes the old cluster, the snapshot or its copy.
// - the operator running `payments-dr reconcile`: the ledger row, the endpoints, the report
//   writer and its bucket's reconcile prefix, PutEvents on the events bus. The databases are
//   reached with database credentials, not IAM.
// Pure: names in, statements out; test/runbooks/reconcile.test.ts holds both to what the
// document and the CLI call, and to the policy pack's rules (infra/lib/policy-pack.ts): no
// Resource "*" on an action with resource types, no wildcard action, KMS only through RDS.
import { PARAMETERS } from "../../functions/common/contract";
import type { PolicyStatement } from "./policy-pack";

export interface ReconcileIamProps {
  readonly account: string;
  /** The old primary's region: where the snapshot is and the runbook runs. */
  readonly region: string;
  /** The new primary's region: where the report, the ledger row and the bus are. */
  readonly newRegion: string;
  readonly oldCluster: string;
  readonly scratchCluster: string;
  readonly keepPrefix: string;
  readonly subnetGroup: string;
  /** The scratch cluster's parameter group (commit times, no pg_cron). */
  readonly scratchParameterGroup: string;
  readonly auroraKeyArn: string;
  readonly ledgerTable: string;
  readonly reportWriterFunction: string;
  readonly reportBucketArn: string;
  readonly eventBus: string;
  readonly parameterPrefix: string;
}

/** A statement in the policy pack's shape (aws_iam_policy_document), always an Allow. */
export interface Statement extends PolicyStatement {
  readonly sid: string;
  readonly effect: "Allow";
  readonly actions: readonly string[];
  readonly resources: readonly string[];
}

/** The endpoint parameters the CLI compares the old copy's host with; never db/password. */
export const LIVE_ENDPOINT_PARAMETERS = [
  PARAMETERS.writerEndpoint,
  PARAMETERS.readerEndpoint,
  PARAMETERS.clusterEndpoint,
] as const;

/** What the runbook's role needs: the old primary's region and its names only. */
export type ReconcileRunbookIamProps = Pick<
  ReconcileIamProps,
  | "account"
  | "region"
  | "oldCluster"
  | "scratchCluster"
  | "keepPrefix"
  | "subnetGroup"
  | "scratchParameterGroup"
  | "auroraKeyArn"
>;

export function reconcileRunbookStatements(p: ReconcileRunbookIamProps): Statement[] {
  const rds = (type: string, name: string) =>
    `arn:aws:rds:${p.region}:${p.account}:${type}:${name}`;
  const failoverSnapshots = rds(
    "cluster-snapshot",
    `rds:unplanned-global-failover-${p.oldCluster}-*`,
  );
  const kept = rds("cluster-snapshot", `${p.keepPrefix}-*`);
  return allow([
    {
      sid: "ReadTheOldPrimarysSnapshots",
      actions: ["rds:DescribeDBClusterSnapshots"],
      resources: [rds("cluster", p.oldCluster), failoverSnapshots, kept],
    },
    {
      sid: "PreserveThePointOfFailureSnapshot",
      actions: ["rds:CopyDBClusterSnapshot", "rds:AddTagsToResource"],
      resources: [failoverSnapshots, kept],
    },
    {
      sid: "RestoreIntoTheScratchCluster",
      actions: [
        "rds:RestoreDBClusterFromSnapshot",
        "rds:CreateDBInstance",
        "rds:AddTagsToResource",
      ],
      resources: [
        kept,
        rds("cluster", p.scratchCluster),
        rds("db", `${p.scratchCluster}-1`),
        rds("subgrp", p.subnetGroup),
        // The cluster gets the scratch group (commit times kept, no pg_cron); its instance the
        // engine's default instance group. The security group is not an RDS resource: RDS authorizes these calls on none of EC2's
        // (Service Authorization Reference, Amazon RDS), so it is not listed.
        rds("cluster-pg", p.scratchParameterGroup),
        rds("pg", "default.aurora-postgresql*"),
      ],
    },
    {
      sid: "WatchTheScratchCluster",
      actions: ["rds:DescribeDBInstances", "rds:DescribeDBClusters"],
      resources: [rds("cluster", p.scratchCluster), rds("db", `${p.scratchCluster}-1`)],
    },
    {
      // Copying and restoring an encrypted snapshot with the Aurora key (aurora-copy-snapshot),
      // only through RDS in this region: the actions named, no wildcard (policy pack), as the
      // restore drill's role does.
      sid: "UseTheAuroraKey",
      actions: [
        "kms:CreateGrant",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:GenerateDataKey",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
      ],
      resources: [p.auroraKeyArn],
      condition: [
        {
          test: "StringEquals",
          variable: "kms:ViaService",
          values: [`rds.${p.region}.amazonaws.com`],
        },
      ],
    },
  ]);
}

function allow(statements: readonly Omit<Statement, "effect">[]): Statement[] {
  return statements.map((s) => ({ ...s, effect: "Allow" }));
}

export function reconcileOperatorStatements(p: ReconcileIamProps): Statement[] {
  const regions = [p.region, p.newRegion];
  return allow([
    {
      sid: "ReadTheFork",
      actions: ["dynamodb:GetItem"],
      resources: [`arn:aws:dynamodb:${p.newRegion}:${p.account}:table/${p.ledgerTable}`],
    },
    {
      // The CLI looks for the point-of-failure snapshot or its manual copy before it reports
      // (cli/commands/reconcile.ts, checkSnapshot): a read of the old cluster's snapshots.
      sid: "FindThePointOfFailureSnapshot",
      actions: ["rds:DescribeDBClusterSnapshots"],
      resources: [
        `arn:aws:rds:${p.region}:${p.account}:cluster:${p.oldCluster}`,
        `arn:aws:rds:${p.region}:${p.account}:cluster-snapshot:rds:unplanned-global-failover-${p.oldCluster}-*`,
        `arn:aws:rds:${p.region}:${p.account}:cluster-snapshot:${p.keepPrefix}-*`,
      ],
    },
    {
      // The three endpoints only: db/* would include the SecureString master password.
      sid: "ReadTheLiveEndpoints",
      actions: ["ssm:GetParameter"],
      resources: regions.flatMap((r) =>
        LIVE_ENDPOINT_PARAMETERS.map(
          (key) => `arn:aws:ssm:${r}:${p.account}:parameter${p.parameterPrefix}/${key}`,
        ),
      ),
    },
    {
      sid: "StoreTheReport",
      actions: ["lambda:GetFunctionConfiguration", "lambda:InvokeFunction"],
      resources: [`arn:aws:lambda:${p.newRegion}:${p.account}:function:${p.reportWriterFunction}`],
    },
    {
      sid: "StoreTheFinanceFiles",
      actions: ["s3:PutObject"],
      resources: [`${p.reportBucketArn}/reports/reconcile/*`],
    },
    {
      sid: "TellConsumers",
      actions: ["events:PutEvents"],
      resources: [`arn:aws:events:${p.newRegion}:${p.account}:event-bus/${p.eventBus}`],
    },
  ]);
}

/** One region as the reconciler role sees it: its names and the key its evidence is under. */
export interface ReconcilerRegion {
  readonly region: string;
  readonly cluster: string;
  readonly reportWriterFunction: string;
  readonly reportBucketArn: string;
  /** The region's platform key: the ledger table and the report bucket are encrypted with it. */
  readonly keyArn: string;
}

/**
 * The reconciler role's statements: the CLI's calls (reconcileOperatorStatements) with either
 * region as the old primary, merged by statement, plus the two key uses its calls need
 * (GetItem on the CMK-encrypted ledger, PutObject into the SSE-KMS bucket), each only through
 * that service in that region. PutEvents needs no key permission of the caller: EventBridge
 * uses the bus's key as its own principal, under the key policy (AWS, "Authorizing EventBridge
 * to use a customer managed key", eb-encryption-key-policy.html).
 */
export function reconcilerStatements(
  common: Pick<
    ReconcileIamProps,
    "account" | "keepPrefix" | "ledgerTable" | "eventBus" | "parameterPrefix"
  >,
  regions: readonly [ReconcilerRegion, ReconcilerRegion],
): Statement[] {
  const merged = new Map<string, Statement>();
  for (const [old, fresh] of [regions, [regions[1], regions[0]]] as const) {
    const statements = reconcileOperatorStatements({
      ...common,
      region: old.region,
      newRegion: fresh.region,
      oldCluster: old.cluster,
      reportWriterFunction: fresh.reportWriterFunction,
      reportBucketArn: fresh.reportBucketArn,
      // The runbook's names, unused by the operator's statements.
      scratchCluster: "",
      subnetGroup: "",
      scratchParameterGroup: "",
      auroraKeyArn: "",
    });
    for (const s of statements) {
      const seen = merged.get(s.sid);
      merged.set(
        s.sid,
        seen
          ? { ...seen, resources: [...new Set([...seen.resources, ...s.resources])].sort() }
          : { ...s, resources: [...s.resources].sort() },
      );
    }
  }
  const via = (service: string) => ({
    test: "StringEquals",
    variable: "kms:ViaService",
    values: regions.map((r) => `${service}.${r.region}.amazonaws.com`),
  });
  return [
    ...merged.values(),
    ...allow([
      {
        sid: "ReadTheForkUnderTheTableKey",
        actions: ["kms:Decrypt"],
        resources: regions.map((r) => r.keyArn),
        condition: [via("dynamodb")],
      },
      {
        sid: "StoreTheFinanceFilesUnderTheBucketKey",
        actions: ["kms:GenerateDataKey"],
        resources: regions.map((r) => r.keyArn),
        condition: [via("s3")],
      },
    ]),
  ];
}
