// The reconciliation runbook: it preserves the point-of-failure snapshot before anything else,
// deletes nothing, uses only documented action inputs, and its role allows exactly what it calls.
import { parse } from "yaml";
import { placeholdersOf } from "../../infra/lib/asl";
import { checkPolicies, iamFigures } from "../../infra/lib/policy-pack";
import type { Statement } from "../../infra/lib/reconcile-iam";
import {
  reconcileOperatorStatements,
  reconcileRunbookStatements,
} from "../../infra/lib/reconcile-iam";
import type { TerraformJson } from "../../infra/lib/synthesized";
import { readRunbook, renderRunbook } from "../../infra/lib/runbook";
import { findResource, policyStatements, resources, synth } from "../infra/helpers";
import { WRITER_MOVED_ENV } from "../../infra/lib/addresses";
import type { Document } from "./support/document";
import { onFailure, undocumentedInputs } from "./support/document";

// The longest values the document can hold: an 8-character suffix, long ARNs.
const SUBSTITUTIONS = {
  EnvironmentSuffix: "abcdefgh",
  ReconcileRoleArn: "arn:aws:iam::123456789012:role/payments-dr-reconcile-use1-abcdefgh",
  OldClusterIdentifier: "payments-db-use1-abcdefgh",
  InstanceClass: "db.r5.large",
  KeepPrefix: "payments-lost-abcdefgh",
  ScratchCluster: "payments-reconcile-use1-abcdefgh",
  ScratchParameterGroup: "payments-reconcile-use1-abcdefgh",
  SubnetGroup: "payments-db-use1-abcdefgh",
  SecurityGroupId: "sg-0123456789abcdef0",
  AuroraKeyArn: "arn:aws:kms:us-east-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef",
};

const PROPS = {
  account: "123456789012",
  region: "us-east-1",
  newRegion: "us-west-2",
  oldCluster: SUBSTITUTIONS.OldClusterIdentifier,
  scratchCluster: SUBSTITUTIONS.ScratchCluster,
  keepPrefix: SUBSTITUTIONS.KeepPrefix,
  subnetGroup: SUBSTITUTIONS.SubnetGroup,
  scratchParameterGroup: SUBSTITUTIONS.ScratchParameterGroup,
  securityGroupId: SUBSTITUTIONS.SecurityGroupId,
  auroraKeyArn: SUBSTITUTIONS.AuroraKeyArn,
  ledgerTable: "payments-dr-ledger-abcdefgh",
  reportWriterFunction: "payments-report-writer-abcdefgh",
  reportBucketArn: "arn:aws:s3:::payments-abcdefgh-dr-reports-usw2-1",
  eventBus: "payments-events-abcdefgh",
  parameterPrefix: "/payments/abcdefgh",
};
const IAM = reconcileRunbookStatements(PROPS);
const OPERATOR = reconcileOperatorStatements(PROPS);

/** The statements as the synthesized Terraform would carry them, for the policy pack. */
function asTerraform(roles: Record<string, Statement[]>): TerraformJson {
  return {
    data: {
      aws_iam_policy_document: Object.fromEntries(
        Object.entries(roles).map(([name, statement]) => [name, { statement }]),
      ),
    },
    resource: {
      aws_iam_role_policy: Object.fromEntries(
        Object.keys(roles).map((name) => [
          name,
          { role: name, policy: `\${data.aws_iam_policy_document.${name}.json}` },
        ]),
      ),
    },
  } as unknown as TerraformJson;
}

describe("the reconciliation runbook", () => {
  const text = renderRunbook("reconcile", SUBSTITUTIONS);
  const doc = parse(text) as Document;
  const names = doc.mainSteps.map((s) => s.name);

  it("copies the point-of-failure snapshot to a manual one before it restores anything", () => {
    expect(doc.schemaVersion).toBe("0.3");
    expect(names.indexOf("PreserveSnapshot")).toBeLessThan(names.indexOf("RestoreScratchCluster"));
    const preserve = doc.mainSteps.find((s) => s.name === "PreserveSnapshot")!;
    expect(preserve.inputs).toMatchObject({
      Service: "rds",
      Api: "CopyDBClusterSnapshot",
      SourceDBClusterSnapshotIdentifier: "{{ SnapshotIdentifier }}",
    });
    // Restores from the copy, never from the system snapshot that retention may delete.
    const restore = doc.mainSteps.find((s) => s.name === "RestoreScratchCluster")!;
    expect(restore.inputs.SnapshotIdentifier).toBe("{{ PreserveSnapshot.ManualSnapshot }}");
    // A snapshot of the old primary only: AWS's name for it.
    expect(
      new RegExp(doc.parameters.SnapshotIdentifier!.allowedPattern!).test(
        "rds:unplanned-global-failover-payments-db-use1-abcdefgh-2026-11-30-08-00",
      ),
    ).toBe(true);
    expect(
      new RegExp(doc.parameters.SnapshotIdentifier!.allowedPattern!).test(
        "rds:payments-db-use1-2026-11-29",
      ),
    ).toBe(false);
  });

  it("deletes nothing and stops at the first failure", () => {
    expect(text).not.toMatch(/Delete|Remove|Modify/);
    for (const step of doc.mainSteps) {
      expect({ step: step.name, onFailure: onFailure(step) }).toEqual({
        step: step.name,
        onFailure: null,
      });
    }
  });

  it("uses only the documented inputs of each action and bounded waits", () => {
    for (const step of doc.mainSteps) {
      expect({ step: step.name, undocumented: undocumentedInputs(step) }).toEqual({
        step: step.name,
        undocumented: [],
      });
      if (step.action === "aws:waitForAwsResourceProperty")
        expect(step.timeoutSeconds).toBeGreaterThan(0);
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
    expect(placeholdersOf(readRunbook("reconcile"))).toEqual(Object.keys(SUBSTITUTIONS).sort());
    expect(text).not.toMatch(/\$\{/);
  });

  it("names snapshot copies and scratch instances within RDS's 63-character identifiers", () => {
    // "1 to 63 letters, numbers, or hyphens" (CopyDBClusterSnapshot, CreateDBInstance); the
    // execution id is a 36-character UUID.
    expect(`${SUBSTITUTIONS.KeepPrefix}-${"0".repeat(36)}`.length).toBeLessThanOrEqual(63);
    expect(`${SUBSTITUTIONS.ScratchCluster}-1`.length).toBeLessThanOrEqual(63);
  });

  it("runs as a role allowed exactly the calls its steps make, and no delete", () => {
    const called = new Set(
      doc.mainSteps
        .filter((s) => s.inputs.Service === "rds")
        .map((s) => `rds:${String(s.inputs.Api)}`),
    );
    const rdsAllowed = new Set(IAM.flatMap((s) => s.actions).filter((a) => a.startsWith("rds:")));
    // Tags on the copy and the restore need AddTagsToResource (RDS "Tagging Amazon RDS resources").
    expect(rdsAllowed).toEqual(new Set([...called, "rds:AddTagsToResource"]));
    expect(
      IAM.flatMap((s) => s.actions).some(
        (a) => /Delete|Remove|Modify|\*$/.test(a.split(":")[1]!) && !a.startsWith("kms:"),
      ),
    ).toBe(false);
    expect(IAM.flatMap((s) => s.resources)).not.toContain("*");
  });

  it('passes the policy pack: no "*" resource, no wildcard action, KMS only through RDS', () => {
    const json = asTerraform({ runbook: IAM, operator: OPERATOR });
    expect(checkPolicies(json, { suffix: "abcdefgh" })).toEqual([]);
    expect(iamFigures(json).wildcardActionStatements).toBe(0);
    for (const s of [...IAM, ...OPERATOR]) expect(s.effect).toBe("Allow");
    const kms = IAM.filter((s) => s.actions.some((a) => a.startsWith("kms:")));
    for (const s of kms) {
      expect(s.condition).toEqual([
        {
          test: "StringEquals",
          variable: "kms:ViaService",
          values: ["rds.us-east-1.amazonaws.com"],
        },
      ]);
    }
  });

  it("lets the operator read the live endpoints, never the master password", () => {
    const parameters = OPERATOR.filter((s) => s.actions.includes("ssm:GetParameter")).flatMap(
      (s) => s.resources,
    );
    expect(parameters.sort()).toEqual(
      ["us-east-1", "us-west-2"]
        .flatMap((r) =>
          ["db/writer-endpoint", "db/reader-endpoint", "db/cluster-endpoint"].map(
            (k) => `arn:aws:ssm:${r}:123456789012:parameter/payments/abcdefgh/${k}`,
          ),
        )
        .sort(),
    );
    expect(parameters.join(" ")).not.toMatch(/password|\*/);
  });
});

describe("the reconciler role (payments-dr reconcile's writes)", () => {
  const { json } = synth();
  const role = findResource(json, "aws_iam_role", "reconcile_reconciler");

  it("is assumable only by the on-call principals, with recent MFA, like the operator role", () => {
    expect(role.name).toBe("payments-dr-reconciler-dev");
    const trust = policyStatements(json, "reconcile_reconciler-trust");
    const operatorTrust = policyStatements(json, "dr-iam_operator-trust");
    expect(trust).toEqual(operatorTrust);
    expect(trust[0]!.condition?.map((c) => c.variable).sort()).toEqual(
      ["aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent", "aws:PrincipalArn"].sort(),
    );
  });

  it("writes only payments.lost/replayed to the buses and the finance files under reports/reconcile/", () => {
    const statements = policyStatements(json, "reconcile_reconciler-permissions");
    const writes = statements.filter((s) =>
      s.actions?.some((a) => ["events:PutEvents", "s3:PutObject"].includes(a)),
    );
    expect(writes.map((s) => s.sid).sort()).toEqual(["StoreTheFinanceFiles", "TellConsumers"]);
    for (const s of writes) expect(s.resources?.join(" ")).not.toMatch(/(^|\s)\*|:\*$/);
    expect(checkPolicies(json, { suffix: "dev" })).toEqual([]);
    // Every key use only through the service whose call needs it.
    for (const s of statements.filter((x) => x.actions?.some((a) => a.startsWith("kms:"))))
      expect(s.condition?.[0]?.variable).toBe("kms:ViaService");
  });
});

describe("the reconciliation as infra deploys it", () => {
  // The default synth (suffix "dev", the one other suites synthesize too) and the writer-moved
  // one (WRITER_REGION = secondary), which must deploy the same runbook in both regions.
  const { json } = synth();
  const moved = synth({ ...WRITER_MOVED_ENV }).json;
  const regions = { primary: ["us-east-1", "use1"], secondary: ["us-west-2", "usw2"] } as const;

  it.each(Object.keys(regions) as (keyof typeof regions)[])(
    "deploys the runbook in the %s region, run as that region's role on that region's cluster",
    (role) => {
      const [region, code] = regions[role];
      const document = findResource(json, "aws_ssm_document", `reconcile_${role}-document`);
      expect(document).toMatchObject({
        provider: `aws.${role}`,
        name: "payments-reconcile-dev",
        document_type: "Automation",
        document_format: "YAML",
      });
      const doc = parse(String(document.content)) as Document;
      // The document names this region's old cluster, scratch cluster and copies.
      const describe = doc.mainSteps.find((s) => s.name === "DescribeFailoverSnapshot")!;
      expect(describe.inputs.DBClusterIdentifier).toBe(`payments-db-${code}-dev`);
      const restore = doc.mainSteps.find((s) => s.name === "RestoreScratchCluster")!;
      expect(restore.inputs.DBClusterIdentifier).toBe(`payments-reconcile-${code}-dev`);
      // This region's database subnet group, by reference (created before the document).
      expect(restore.inputs.DBSubnetGroupName).toMatch(
        new RegExp(`^\\$\\{aws_db_subnet_group\\.database_${role}-subnets_\\w+\\.name\\}$`),
      );
      expect(String(restore.inputs.KmsKeyId)).toMatch(/^\$\{/);
      // The scratch cluster's own parameter group: commit times kept, no pg_cron (a copy that
      // beat would look like a live writer; one started without commit timestamps drops them).
      expect(restore.inputs.DBClusterParameterGroupName).toMatch(
        new RegExp(
          `^\\$\\{aws_rds_cluster_parameter_group\\.reconcile_${role}-scratch-parameters_\\w+\\.name\\}$`,
        ),
      );
      const group = findResource(
        json,
        "aws_rds_cluster_parameter_group",
        `reconcile_${role}-scratch-parameters`,
      );
      const live = findResource(
        json,
        "aws_rds_cluster_parameter_group",
        `database_${role}-parameters`,
      );
      expect(group).toMatchObject({
        provider: `aws.${role}`,
        name: `payments-reconcile-${code}-dev`,
        family: live.family,
      });
      const parameters = group.parameter as { name: string; value: string; apply_method: string }[];
      expect(parameters).toContainEqual({
        name: "track_commit_timestamp",
        value: "1",
        apply_method: "pending-reboot",
      });
      expect(parameters.map((x) => x.name)).not.toContain("shared_preload_libraries");
      const preserve = doc.mainSteps.find((s) => s.name === "PreserveSnapshot")!;
      expect(preserve.inputs.TargetDBClusterSnapshotIdentifier).toBe(
        "payments-lost-dev-{{ automation:EXECUTION_ID }}",
      );
      expect(preserve.inputs.KmsKeyId).toBe(restore.inputs.KmsKeyId);
      const roles = resources(json, "aws_iam_role");
      const [roleName] = Object.entries(roles).find(([n]) => n.includes(`reconcile_${role}-role`))!;
      expect(doc.parameters.AutomationAssumeRole!.default).toBe(`\${aws_iam_role.${roleName}.arn}`);
      expect(roles[roleName]).toMatchObject({
        provider: `aws.${role}`,
        name: `payments-dr-reconcile-${code}-dev`,
      });

      // Trust: SSM Automation of this account, for executions in this region only.
      const trust = policyStatements(json, `reconcile_${role}-trust`);
      expect(trust).toHaveLength(1);
      expect(trust[0]!.principals).toEqual([
        { type: "Service", identifiers: ["ssm.amazonaws.com"] },
      ]);
      expect(trust[0]!.actions).toEqual(["sts:AssumeRole"]);
      const conditions = Object.fromEntries(trust[0]!.condition!.map((c) => [c.variable, c]));
      expect(conditions["aws:SourceAccount"]!.test).toBe("StringEquals");
      // The account of this region's platform key, resolved at apply.
      expect(conditions["aws:SourceAccount"]!.values[0]).toContain(`platform-key-${role}_key_`);
      expect(conditions["aws:SourceArn"]).toMatchObject({ test: "ArnLike" });
      expect(conditions["aws:SourceArn"]!.values).toHaveLength(1);
      expect(conditions["aws:SourceArn"]!.values[0]).toMatch(
        new RegExp(`^arn:aws:ssm:${region}:.*:automation-execution/\\*$`),
      );

      // Permissions: exactly the pure statements the document test holds to its calls, on this
      // region's names (the account is the platform key's, resolved at apply).
      const permissions = policyStatements(json, `reconcile_${role}-permissions`);
      const accountToken = String(conditions["aws:SourceAccount"]!.values[0]);
      const expected = reconcileRunbookStatements({
        account: accountToken,
        region,
        oldCluster: `payments-db-${code}-dev`,
        scratchCluster: `payments-reconcile-${code}-dev`,
        keepPrefix: "payments-lost-dev",
        subnetGroup: String(restore.inputs.DBSubnetGroupName),
        scratchParameterGroup: `payments-reconcile-${code}-dev`,
        auroraKeyArn: String(restore.inputs.KmsKeyId),
      });
      expect(permissions).toEqual(JSON.parse(JSON.stringify(expected)));
      const other = role === "primary" ? "us-west-2" : "us-east-1";
      expect(JSON.stringify(permissions)).not.toContain(other);
    },
  );

  it("deploys the same runbook and role addresses when the writer moves", () => {
    const names = (j: typeof json) =>
      ["aws_ssm_document", "aws_iam_role", "aws_iam_role_policy"].flatMap((t) =>
        Object.keys(resources(j, t)).filter((n) => n.startsWith("reconcile_")),
      );
    expect(names(moved)).toEqual(names(json));
    // Per region its document, role and policy; once, the on-call reconciler role and policy.
    expect(names(json)).toHaveLength(8);
    const groups = (j: typeof json) =>
      Object.keys(resources(j, "aws_rds_cluster_parameter_group")).filter((n) =>
        n.startsWith("reconcile_"),
      );
    expect(groups(moved)).toEqual(groups(json));
    expect(groups(json)).toHaveLength(2);
  });

  it("lets on-call start it in either region as its role, and pass no other role for it", () => {
    const operator = policyStatements(json, "dr-iam_operator-permissions");
    const start = operator.find((s) => s.sid === "RunReconciliation")!;
    expect(start.actions).toEqual(["ssm:StartAutomationExecution"]);
    expect(start.resources!.map((r) => r.replace(/:\d{12}:|:\$\{[^}]+\}:/, ":ACCOUNT:"))).toEqual(
      Object.values(regions).map(
        ([region]) =>
          `arn:aws:ssm:${region}:ACCOUNT:automation-definition/payments-reconcile-dev:*`,
      ),
    );
    const pass = operator.find((s) => s.sid === "RunReconciliationAsItsRole")!;
    expect(pass.actions).toEqual(["iam:PassRole"]);
    expect(pass.resources!.map((r) => r.split(":role/")[1])).toEqual([
      "payments-dr-reconcile-use1-dev",
      "payments-dr-reconcile-usw2-dev",
    ]);
    expect(pass.condition).toEqual([
      { test: "StringEquals", variable: "iam:PassedToService", values: ["ssm.amazonaws.com"] },
    ]);
  });

  it('passes the policy pack as deployed (trust conditioned, names suffixed, no "*")', () => {
    expect(checkPolicies(json, { suffix: "dev" })).toEqual([]);
  });
});
