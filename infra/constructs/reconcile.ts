import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { RdsClusterParameterGroup } from "@cdktf/provider-aws/lib/rds-cluster-parameter-group";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SsmDocument } from "@cdktf/provider-aws/lib/ssm-document";
import { Construct } from "constructs";
import type { Statement } from "../lib/policy";
import { assumeRoleStatement, policyDocument } from "../lib/policy";
import { onCallTrust } from "../lib/on-call";
import { reconcilerStatements, reconcileRunbookStatements } from "../lib/reconcile-iam";
import type { Statement as ReconcileStatement } from "../lib/reconcile-iam";
import { renderRunbook } from "../lib/runbook";
import type { Naming } from "../naming";
import { TRACK_COMMIT_TIMESTAMP } from "./database";

export const RECONCILE_RUNBOOK = "reconcile";

/** The reconciliation's names in one region; the document's name is the same in both. */
export function reconcileNames(naming: Naming, region: string) {
  return {
    /** `payments-reconcile-<suffix>`, as runbooks/reconcile.md tells on-call to start it. */
    document: naming.name("ssmDocument", RECONCILE_RUNBOOK),
    role: naming.name("iamRole", "dr-reconcile", region),
    /** The one scratch cluster (and its instance `-1`) the copy is restored into. */
    scratchCluster: naming.name("dbClusterIdentifier", "reconcile", region),
    /** The scratch cluster's parameters: commit times kept, no pg_cron. */
    scratchParameterGroup: naming.name("dbParameterGroup", "reconcile", region),
    /**
     * `payments-lost-<suffix>`, then `-<execution id>` (36 characters): the manual copies of
     * the point-of-failure snapshot, within RDS's 63-character snapshot identifiers.
     */
    keepPrefix: naming.name("dbClusterIdentifier", "lost"),
  };
}

export interface ReconcileRegion {
  readonly provider: AwsProvider;
  readonly region: string;
  readonly accountId: string;
  /** This region's Aurora cluster: the old primary when the runbook runs here. */
  readonly clusterIdentifier: string;
  readonly subnetGroupName: string;
  readonly securityGroupId: string;
  /** The Aurora storage key in this region: its snapshots are encrypted with it. */
  readonly storageKeyArn: string;
}

/** What the reconciler role writes to and reads in one region. */
export interface ReconcilerTargets {
  readonly reportWriterFunction: string;
  readonly reportBucketArn: string;
  /** The region's platform key (the ledger table's and the report bucket's). */
  readonly keyArn: string;
}

export interface ReconciliationProps {
  readonly naming: Naming;
  /**
   * The on-call principals that may assume the reconciler role (with recent MFA, as the
   * operator role), the ledger and each region's evidence stores: `payments-dr reconcile`'s
   * writes (payments.lost/replayed events, the finance files and the run report) run under it.
   */
  readonly reconciler: {
    readonly principals: readonly string[];
    readonly ledgerTable: string;
    readonly primary: ReconcilerTargets;
    readonly secondary: ReconcilerTargets;
  };
  readonly instanceClass: string;
  /** The live clusters' parameter group family (aurora-postgresql16): the snapshot's engine. */
  readonly parameterGroupFamily: string;
  readonly primary: ReconcileRegion;
  readonly secondary: ReconcileRegion;
}

/**
 * The lost-write reconciliation runbook (runbooks/reconcile.yaml) as an SSM Automation
 * document in both regions, as the drill document is: either region can be the old primary,
 * and the runbook runs in the old primary's region (its snapshot is there). Each region has its
 * own role, allowed exactly the calls of the document on that region's names
 * (infra/lib/reconcile-iam.ts), none of them a delete.
 */
/** A statement of infra/lib/reconcile-iam.ts as the policy document's (mutable) statement. */
function policyStatement(s: ReconcileStatement): Statement {
  return {
    sid: s.sid,
    effect: s.effect,
    actions: [...s.actions],
    resources: [...s.resources],
    ...(s.condition
      ? { condition: s.condition.map((c) => ({ ...c, values: [...c.values] })) }
      : {}),
  };
}

export class Reconciliation extends Construct {
  public readonly documents: Record<"primary" | "secondary", SsmDocument>;
  public readonly roles: Record<"primary" | "secondary", IamRole>;
  public readonly scratchParameterGroups: Record<"primary" | "secondary", RdsClusterParameterGroup>;
  /**
   * On-call's role for `payments-dr reconcile` (`payments-dr-reconciler-<suffix>`): the reads
   * it makes and its writes, exactly (infra/lib/reconcile-iam.ts, reconcilerStatements). The
   * operator role changes no data; the databases are reached with database credentials.
   */
  public readonly reconcilerRole: IamRole;

  constructor(scope: Construct, id: string, props: ReconciliationProps) {
    super(scope, id);
    const { naming } = props;
    const build = (key: "primary" | "secondary") => {
      const region = props[key];
      const { provider, accountId } = region;
      const names = reconcileNames(naming, region.region);
      // The copy must keep the old primary's commit times (TRACK_COMMIT_TIMESTAMP: a server
      // started without the setting discards them) and must never run pg_cron's heartbeat,
      // which would make a copy look like a live writer: not the live groups, not the default.
      const scratchParameters = new RdsClusterParameterGroup(this, `${key}-scratch-parameters`, {
        provider,
        name: names.scratchParameterGroup,
        family: props.parameterGroupFamily,
        description: "payments-dr reconciliation scratch cluster: commit times, no pg_cron",
        parameter: [
          { name: "rds.force_ssl", value: "1", applyMethod: "immediate" },
          TRACK_COMMIT_TIMESTAMP,
        ],
      });
      const role = new IamRole(this, `${key}-role`, {
        provider,
        name: names.role,
        description: `payments-dr lost-write reconciliation (${region.region}): keeps and restores the old primary's snapshot, deletes nothing`,
        maxSessionDuration: 3600,
        assumeRolePolicy: policyDocument(this, `${key}-trust`, provider, [
          {
            // Only SSM Automation, for executions in this account and region (the confused
            // deputy guard, as the drill role's trust): on-call starts it by hand.
            sid: "Service",
            ...assumeRoleStatement(["ssm.amazonaws.com"], accountId, [
              `arn:aws:ssm:${region.region}:${accountId}:automation-execution/*`,
            ]),
          },
        ]),
      });
      const statements: Statement[] = reconcileRunbookStatements({
        account: accountId,
        region: region.region,
        oldCluster: region.clusterIdentifier,
        scratchCluster: names.scratchCluster,
        keepPrefix: names.keepPrefix,
        subnetGroup: region.subnetGroupName,
        scratchParameterGroup: names.scratchParameterGroup,
        auroraKeyArn: region.storageKeyArn,
      }).map(policyStatement);
      new IamRolePolicy(this, `${key}-policy`, {
        provider,
        role: role.id,
        name: "dr-reconcile",
        policy: policyDocument(this, `${key}-permissions`, provider, statements),
      });
      const document = new SsmDocument(this, `${key}-document`, {
        provider,
        name: names.document,
        documentType: "Automation",
        documentFormat: "YAML",
        content: renderRunbook(RECONCILE_RUNBOOK, {
          EnvironmentSuffix: naming.suffix,
          ReconcileRoleArn: role.arn,
          OldClusterIdentifier: region.clusterIdentifier,
          InstanceClass: props.instanceClass,
          KeepPrefix: names.keepPrefix,
          ScratchCluster: names.scratchCluster,
          ScratchParameterGroup: scratchParameters.name,
          SubnetGroup: region.subnetGroupName,
          SecurityGroupId: region.securityGroupId,
          AuroraKeyArn: region.storageKeyArn,
        }),
      });
      return { role, document, scratchParameters };
    };
    const primary = build("primary");
    const secondary = build("secondary");
    this.documents = { primary: primary.document, secondary: secondary.document };
    this.roles = { primary: primary.role, secondary: secondary.role };
    this.scratchParameterGroups = {
      primary: primary.scratchParameters,
      secondary: secondary.scratchParameters,
    };
    const { provider, accountId } = props.primary;
    this.reconcilerRole = new IamRole(this, "reconciler", {
      provider,
      name: naming.name("iamRole", "dr-reconciler"),
      description:
        "On-call: payments-dr reconcile (reads the fork and endpoints; publishes payments.lost/replayed, stores the finance report)",
      // A replay of a large incident can outlast an hour; its last calls are the writes.
      maxSessionDuration: 43200,
      assumeRolePolicy: policyDocument(this, "reconciler-trust", provider, [
        onCallTrust(accountId, props.reconciler.principals),
      ]),
    });
    const target = (key: "primary" | "secondary") => ({
      region: props[key].region,
      cluster: props[key].clusterIdentifier,
      ...props.reconciler[key],
    });
    new IamRolePolicy(this, "reconciler-policy", {
      provider,
      role: this.reconcilerRole.id,
      name: "dr-reconciler",
      policy: policyDocument(
        this,
        "reconciler-permissions",
        provider,
        reconcilerStatements(
          {
            account: accountId,
            keepPrefix: reconcileNames(naming, props.primary.region).keepPrefix,
            ledgerTable: props.reconciler.ledgerTable,
            eventBus: naming.name("eventBus", "events"),
            parameterPrefix: naming.parameterPrefix,
          },
          [target("primary"), target("secondary")],
        ).map(policyStatement),
      ),
    });
  }
}
