// The readiness evaluator's checks over the real AWS adapter, its SDK clients mocked per region
// with the responses AWS gives (support/aws-readiness-world.ts). Every check is shown ok on a
// healthy deployment and warn and/or fail on the breakage it exists to catch; reads that fail
// give unknown/fail with why, never an exception.
import "aws-sdk-client-mock-jest";
import { DescribeDBInstancesCommand, DescribeGlobalClustersCommand } from "@aws-sdk/client-rds";
import { GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { SimulatePrincipalPolicyCommand } from "@aws-sdk/client-iam";
import { GetAccountSettingsCommand, GetFunctionConfigurationCommand } from "@aws-sdk/client-lambda";
import { DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { GetParametersByPathCommand } from "@aws-sdk/client-ssm";
import { GetServiceQuotaCommand } from "@aws-sdk/client-service-quotas";
import type { CheckId, CheckResult } from "../../../functions/monitoring/readiness/core";
import {
  CHECK_IDS,
  classSize,
  evaluate,
  evaluationMetrics,
  requiredCalls,
} from "../../../functions/monitoring/readiness/core";
import { PORT_ACTIONS } from "../../../functions/dr/shared/permissions";
import { DR_TASK_NAMES, drTask } from "../../../functions/dr/tasks";
import { TOPOLOGY } from "../dr/support/fake-world";
import {
  ACCOUNT,
  EAST,
  ReadinessWorld,
  SETTINGS,
  sdkError,
  WEST,
} from "./support/aws-readiness-world";
import { simulatePrincipalPolicy } from "./support/iam-simulator";

let world: ReadinessWorld;
beforeEach(() => {
  world = new ReadinessWorld();
});
afterEach(() => world.restore());

async function check(id: CheckId, region = WEST): Promise<CheckResult> {
  const evaluation = await evaluate(world.deps(region), [id]);
  return evaluation.checks[0]!;
}

describe("a healthy deployment", () => {
  it("passes every check from either region, with a reason and no fix", async () => {
    for (const region of [EAST, WEST]) {
      const evaluation = await evaluate(world.deps(region));
      const notOk = evaluation.checks.filter((c) => c.status !== "ok");
      expect({ region, notOk }).toEqual({ region, notOk: [] });
      expect(evaluation).toMatchObject({ region, overall: "ok", activeRegion: EAST });
      expect(evaluation.checks.map((c) => c.id)).toEqual([...CHECK_IDS]);
      for (const c of evaluation.checks) expect(c.reason).not.toBe("");
    }
  });

  it("reads the global cluster by its identifier, and the instances by cluster filter", async () => {
    await evaluate(world.deps(WEST), ["aurora-secondary-available"]);
    expect(world.stubs[WEST]!.rds).toHaveReceivedCommandWith(DescribeGlobalClustersCommand, {
      GlobalClusterIdentifier: TOPOLOGY.globalClusterIdentifier,
    });
    expect(world.stubs[WEST]!.rds).toHaveReceivedCommandWith(DescribeDBInstancesCommand, {
      Filters: [{ Name: "db-cluster-id", Values: [TOPOLOGY.regions[WEST]!.clusterIdentifier] }],
    });
  });
});

describe("Aurora", () => {
  it("fails when the standby cluster was detached from the global cluster", async () => {
    world.members = world.members.filter((m) => m.IsWriter);
    const c = await check("aurora-global-cluster");
    expect(c).toMatchObject({ status: "fail", reason: expect.stringContaining("not a member") });
    expect(c.fix).toMatch(/re-protect/);
  });

  it("fails when the global cluster is gone", async () => {
    world.stubs[WEST]!.rds.on(DescribeGlobalClustersCommand).rejects(
      sdkError("GlobalClusterNotFoundFault", 404),
    );
    expect(await check("aurora-global-cluster")).toMatchObject({ status: "fail" });
  });

  it("warns while a switchover runs (the global cluster is switching-over)", async () => {
    world.globalStatus = "switching-over";
    expect(await check("aurora-global-cluster")).toMatchObject({
      status: "warn",
      reason: expect.stringContaining("switching-over"),
    });
  });

  it("fails when the engine versions differ, and warns when Terraform is behind", async () => {
    // Aurora: managed failover/switchover need the same engine version on every member
    // (aurora-global-database-disaster-recovery.html).
    world.clusters[WEST] = { Status: "available", EngineVersion: "16.4" };
    expect(await check("aurora-engine-versions")).toMatchObject({ status: "fail" });
    world.clusters[WEST] = { Status: "available", EngineVersion: "16.8" };
    world.clusters[EAST] = { Status: "available", EngineVersion: "16.8" };
    const c = await check("aurora-engine-versions");
    expect(c).toMatchObject({ status: "warn" });
    expect(c.fix).toContain("DB_ENGINE_VERSION=16.8");
  });

  it("warns above 1 s of lag, fails above the RPO target and when the lag is unknown", async () => {
    world.lagMs = 4_200;
    expect(await check("aurora-replication-lag")).toMatchObject({ status: "warn" });
    world.lagMs = 310_000;
    expect(await check("aurora-replication-lag")).toMatchObject({ status: "fail" });
    world.lagMs = null;
    expect(await check("aurora-replication-lag")).toMatchObject({
      status: "fail",
      reason: expect.stringContaining("no AuroraGlobalDBReplicationLag"),
    });
  });

  it("reads the lag where the secondary publishes it, even from the writer's region", async () => {
    world.lagMs = 4_200;
    expect(await check("aurora-replication-lag", EAST)).toMatchObject({ status: "warn" });
  });

  it("fails on a headless or unavailable secondary", async () => {
    // "Before you can perform a switchover or failover to a headless secondary Aurora DB
    // cluster, you must add a DB instance to it" (aurora-global-database-disaster-recovery.html).
    world.instances[WEST] = [];
    expect(await check("aurora-secondary-available")).toMatchObject({
      status: "fail",
      reason: expect.stringContaining("headless"),
    });
    world.instances[WEST] = [{ id: "i", status: "available", cls: "db.r6g.large" }];
    world.clusters[WEST] = { Status: "storage-optimization", EngineVersion: "16.6" };
    expect(await check("aurora-secondary-available")).toMatchObject({ status: "fail" });
  });

  it("fails when a multi-Region replica key is disabled or pending deletion", async () => {
    world.keyStates[SETTINGS.regions[WEST]!.keyArns[0]!] = "PendingDeletion";
    const c = await check("kms-keys");
    expect(c).toMatchObject({ status: "fail", reason: expect.stringContaining("PendingDeletion") });
    expect(c.fix).toContain("cancel-key-deletion");
  });
});

describe("parity between the regions", () => {
  const fn = SETTINGS.paymentFunctions[0]!;

  it("fails when a payment function's code, runtime or environment names differ", async () => {
    world.functions[WEST]![fn]!.CodeSha256 = "other";
    expect(await check("lambda-parity")).toMatchObject({
      status: "fail",
      reason: `${fn} code differs`,
    });
    world.functions[WEST]![fn]!.CodeSha256 = `sha-${fn}`;
    world.functions[WEST]![fn]!.Environment.Variables.EXTRA = "1";
    expect(await check("lambda-parity")).toMatchObject({ status: "fail" });
  });

  it("compares environment variable names, not their regional values", async () => {
    world.functions[WEST]![fn]!.Environment.Variables.PARAMETER_PREFIX = "/other";
    expect(await check("lambda-parity")).toMatchObject({ status: "ok" });
  });

  it("warns when only memory or timeout differ, and fails when a function is missing", async () => {
    world.functions[WEST]![fn]!.MemorySize = 1024;
    expect(await check("lambda-parity")).toMatchObject({ status: "warn" });
    delete world.functions[EAST]![fn];
    expect(await check("lambda-parity")).toMatchObject({
      status: "fail",
      reason: expect.stringContaining(`missing in ${EAST}`),
    });
  });

  it("fails when a parameter is missing in one region or has another type, over pages", async () => {
    world.parameters[WEST]!.push({ Name: "/payments/test/api/keys", Type: "SecureString" });
    const c = await check("ssm-parity");
    expect(c).toMatchObject({
      status: "fail",
      reason: `/payments/test/api/keys missing in ${EAST}`,
    });
    // Three parameters at two per page: SSM paged, and every page was read.
    expect(
      world.stubs[EAST]!.ssm.commandCalls(GetParametersByPathCommand).map((x) => x.args[0].input),
    ).toEqual([
      {
        Path: "/payments/test",
        Recursive: true,
        WithDecryption: false,
        MaxResults: 10,
        NextToken: undefined,
      },
      expect.objectContaining({ NextToken: "2" }),
    ]);
    world.parameters[WEST]!.pop();
    world.parameters[WEST]![0]!.Type = "SecureString";
    expect(await check("ssm-parity")).toMatchObject({ status: "fail" });
  });

  it("fails on a replica that is not ACTIVE or PITR off, warns while a replica updates", async () => {
    world.replicaStatus[EAST]!["payments-sessions-test"] = "UPDATING";
    expect(await check("dynamodb-replicas")).toMatchObject({ status: "warn" });
    world.replicaStatus[EAST]!["payments-sessions-test"] = "INACCESSIBLE_ENCRYPTION_CREDENTIALS";
    expect(await check("dynamodb-replicas")).toMatchObject({ status: "fail" });
    world.replicaStatus[EAST]!["payments-sessions-test"] = "ACTIVE";
    world.pitr[EAST]!["payments-control-test"] = "DISABLED";
    expect(await check("dynamodb-replicas")).toMatchObject({
      status: "fail",
      reason: `payments-control-test PITR DISABLED in ${EAST}`,
    });
  });

  it("ignores the region in ARNs but fails when a workflow definition differs", async () => {
    const key = `${WEST}/payments-failover-test`;
    expect(await check("state-machine-parity")).toMatchObject({ status: "ok" });
    world.definitions[key] = world.definitions[key]!.replace(
      '"End":true',
      '"End":true,"Comment":"x"',
    );
    expect(await check("state-machine-parity")).toMatchObject({ status: "fail" });
    world.definitions[key] = null;
    expect(await check("state-machine-parity")).toMatchObject({
      status: "fail",
      reason: expect.stringContaining("not active"),
    });
  });
});

describe("permissions", () => {
  it("keeps at most four simulations in flight, and reports the denials in the roles' order", async () => {
    // IAM throttles its API per account; one at a time, ~150 simulations outlast the check's
    // time cap at a few hundred ms each. Answers come back out of order here (random delays).
    let inFlight = 0;
    let most = 0;
    world.iamStub.on(SimulatePrincipalPolicyCommand).callsFake(async (input) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 4)));
      inFlight -= 1;
      return simulatePrincipalPolicy(world.policies, input);
    });
    const promote = `arn:aws:iam::${ACCOUNT}:role/payments-fn-dr-promote-usw2-test`;
    const fence = `arn:aws:iam::${ACCOUNT}:role/payments-fn-dr-fence-usw2-test`;
    world.revoke(promote, "rds:FailoverGlobalCluster");
    world.revoke(fence, "dynamodb:UpdateItem");
    const result = await check("iam-permissions");
    expect(most).toBe(4);
    expect(result.status).toBe("fail");
    const order = [EAST, WEST].flatMap((r) =>
      requiredCalls(TOPOLOGY, SETTINGS, r).map((role) => role.roleArn),
    );
    const at = (role: string) => result.reason.indexOf(role.split("/").pop()!);
    expect(at(promote)).toBeGreaterThan(-1);
    expect(at(fence)).toBeGreaterThan(-1);
    expect(Math.sign(at(promote) - at(fence))).toBe(
      Math.sign(order.indexOf(promote) - order.indexOf(fence)),
    );
  });

  it("simulates each task's own role with its declared calls, and the workflow role, on the exact ARNs", async () => {
    expect(await check("iam-permissions")).toMatchObject({ status: "ok" });
    const calls = world.iamStub
      .commandCalls(SimulatePrincipalPolicyCommand)
      .map((c) => c.args[0].input);
    const expected = [EAST, WEST].flatMap((r) =>
      requiredCalls(TOPOLOGY, SETTINGS, r).flatMap((role) => role.calls),
    );
    expect(calls).toHaveLength(expected.length);
    const role = (task: string, code: string) =>
      `arn:aws:iam::${ACCOUNT}:role/payments-fn-dr-${task}-${code}-test`;
    // The workflow role invokes that region's task functions, nothing else.
    expect(calls).toContainEqual({
      PolicySourceArn: SETTINGS.regions[WEST]!.workflowRoleArn,
      ActionNames: ["lambda:InvokeFunction"],
      ResourceArns: SETTINGS.taskFunctions.map(
        (f) => `arn:aws:lambda:${WEST}:${ACCOUNT}:function:${f}`,
      ),
      ContextEntries: [],
      Marker: undefined,
    });
    // Promote's role fails the global cluster over, on the global cluster and both clusters.
    const clusters = [EAST, WEST].map((r) => TOPOLOGY.regions[r]!.clusterArn);
    expect(calls).toContainEqual(
      expect.objectContaining({
        PolicySourceArn: role("promote", "usw2"),
        // With the other calls on the same ARNs, in one simulation.
        ActionNames: expect.arrayContaining(["rds:FailoverGlobalCluster"]),
        ResourceArns: [
          `arn:aws:rds::${ACCOUNT}:global-cluster:${TOPOLOGY.globalClusterIdentifier}`,
          ...clusters,
        ],
      }),
    );
    // RestoreCapacity's role adds the named instances to the clusters, with the engine's default
    // parameter group: the resources CreateDBInstance is authorized on (its declaration, not a
    // copy), and the subnet groups READINESS_SETTINGS names.
    expect(calls).toContainEqual(
      expect.objectContaining({
        PolicySourceArn: role("restore-capacity", "use1"),
        ActionNames: ["rds:CreateDBInstance"],
        ResourceArns: [
          ...[EAST, WEST].flatMap((r) =>
            SETTINGS.regions[r]!.instanceIdentifiers.map(
              (n) => `arn:aws:rds:${r}:${ACCOUNT}:db:${n}`,
            ),
          ),
          ...clusters,
          ...[EAST, WEST].map(
            (r) => `arn:aws:rds:${r}:${ACCOUNT}:subgrp:${SETTINGS.regions[r]!.subnetGroup}`,
          ),
          ...[EAST, WEST].map((r) => `arn:aws:rds:${r}:${ACCOUNT}:pg:default.aurora-postgresql*`),
        ],
      }),
    );
    // Least privilege is checked as declared: Fence's role is never asked for a database call.
    expect(
      calls.filter(
        (c) =>
          c.PolicySourceArn === role("fence", "use1") &&
          c.ActionNames!.some((a) => a.startsWith("rds:")),
      ),
    ).toEqual([]);
    expect(calls).toContainEqual(
      expect.objectContaining({
        ActionNames: ["cloudwatch:PutMetricData"],
        ContextEntries: [
          {
            ContextKeyName: "cloudwatch:namespace",
            ContextKeyValues: ["PaymentsDR"],
            ContextKeyType: "string",
          },
        ],
      }),
    );
  });

  it("takes each task's calls from the task registry's declaration", () => {
    // Every declared port method of every task reaches the simulation as its PORT_ACTIONS.
    for (const r of [EAST, WEST]) {
      const roles = requiredCalls(TOPOLOGY, SETTINGS, r);
      for (const task of DR_TASK_NAMES) {
        const declared = drTask(task).permissions;
        const simulated = new Set(
          roles.filter((x) => x.job === task).flatMap((x) => x.calls.flatMap((c) => c.actions)),
        );
        const wanted = (Object.keys(PORT_ACTIONS) as (keyof typeof PORT_ACTIONS)[]).flatMap(
          (port) =>
            port === "parameters"
              ? [
                  ...((declared.parameters?.read ?? []).length ? PORT_ACTIONS.parameters.get : []),
                  ...((declared.parameters?.write ?? []).length ? PORT_ACTIONS.parameters.put : []),
                ]
              : ((declared[port] ?? []) as string[]).flatMap(
                  (m) => (PORT_ACTIONS[port] as Record<string, readonly string[]>)[m]!,
                ),
        );
        // Every SDK command's action, and beyond them only what AWS authorizes with them
        // (tags at creation, PassRole, the keys through a service).
        const implied = [...simulated].filter((a) => !wanted.includes(a));
        expect(
          implied.filter((a) => !/^(kms:|iam:PassRole$|rds:AddTagsToResource$)/.test(a)),
        ).toEqual([]);
        for (const a of wanted) expect(simulated).toContain(a);
      }
    }
  });

  it("simulates every action on every ARN each role's policy grants, and nothing it does not", () => {
    // The policies dr-iam.ts renders (with the ARNs Terraform would resolve) against what the
    // evaluator asks IAM, pair by pair: a name built differently on either side (the first
    // attempt's Terraform references) shows up here.
    const pairs = (statements: { actions: readonly string[]; resources: readonly string[] }[]) =>
      [
        ...new Set(
          statements.flatMap((s) => s.actions.flatMap((a) => s.resources.map((x) => `${a} ${x}`))),
        ),
      ].sort();
    for (const r of [EAST, WEST]) {
      for (const role of requiredCalls(TOPOLOGY, SETTINGS, r)) {
        expect({ role: role.roleArn, pairs: pairs([...role.calls]) }).toEqual({
          role: role.roleArn,
          pairs: pairs(world.policies.get(role.roleArn)!),
        });
      }
    }
  });

  it("fails naming the role, action and resource a workflow would be denied", async () => {
    const arn = TOPOLOGY.regions[WEST]!.clusterArn;
    world.revoke(
      SETTINGS.regions[EAST]!.taskRoleArns["promote"]!,
      "rds:FailoverGlobalCluster",
      arn,
    );
    const c = await check("iam-permissions");
    expect(c.status).toBe("fail");
    expect(c.reason).toContain(`rds:FailoverGlobalCluster on ${arn}`);
    expect(c.reason).toContain("payments-fn-dr-promote-use1-test");
    expect(c.reason).toMatch(/^1 workflow call\(s\) denied/);
  });

  it("fails on a missing grant AWS checks beside the call: the storage key through RDS", async () => {
    // RestoreCapacity's CreateDBInstance needs kms:CreateGrant on the region's storage key
    // (Aurora, "AWS KMS key management"): without it the reader is never created.
    world.revoke(SETTINGS.regions[WEST]!.taskRoleArns["restore-capacity"]!, "kms:CreateGrant");
    const c = await check("iam-permissions");
    expect(c.status).toBe("fail");
    expect(c.reason).toContain(
      `payments-fn-dr-restore-capacity-usw2-test kms:CreateGrant on ${SETTINGS.regions[EAST]!.keyArns[0]}`,
    );
    expect(c.fix).toContain("payments-fn-dr-restore-capacity-usw2-test: StorageKeysThroughRds");
    expect(c.fix).toContain("terraform apply");
    // Simulated with the service the key is used through, in the region the role's task runs in.
    expect(
      world.iamStub
        .commandCalls(SimulatePrincipalPolicyCommand)
        .map((x) => x.args[0].input)
        .filter(
          (i) =>
            i.PolicySourceArn === SETTINGS.regions[WEST]!.taskRoleArns["restore-capacity"] &&
            i.ActionNames!.includes("kms:CreateGrant"),
        ),
    ).toEqual([
      {
        PolicySourceArn: SETTINGS.regions[WEST]!.taskRoleArns["restore-capacity"],
        ActionNames: ["kms:CreateGrant", "kms:DescribeKey"],
        ResourceArns: [EAST, WEST].map((r) => SETTINGS.regions[r]!.keyArns[0]),
        ContextEntries: [
          {
            ContextKeyName: "kms:ViaService",
            ContextKeyValues: [`rds.${WEST}.amazonaws.com`],
            ContextKeyType: "string",
          },
        ],
        Marker: undefined,
      },
    ]);
  });

  it.each([
    ["rebuild", "iam:PassRole", undefined, "PassTheMonitoringRole"],
    [
      "rebuild",
      "rds:CreateDBCluster",
      `arn:aws:rds:${WEST}:${ACCOUNT}:subgrp:payments-db-usw2-test`,
      "DatabaseCreateSecondaryCluster",
    ],
    ["release-lock", "dynamodb:DeleteItem", undefined, "ControlTable"],
    ["update-parameters", "ssm:PutParameter", undefined, "WriteParameters"],
    ["notify", "sns:Publish", undefined, "Page"],
    ["record-timeline", "events:PutEvents", undefined, "Timeline"],
  ])("fails when %s's role lacks %s", async (task, action, resource, sid) => {
    const roleArn = SETTINGS.regions[EAST]!.taskRoleArns[task]!;
    world.revoke(roleArn, action, resource);
    const c = await check("iam-permissions");
    expect(c.status).toBe("fail");
    expect(c.reason).toContain(`payments-fn-dr-${task}-use1-test ${action} on ${resource ?? ""}`);
    expect(c.fix).toContain(`payments-fn-dr-${task}-use1-test: `);
    expect(c.fix).toContain(sid);
  });

  it("fails when a DR role does not exist", async () => {
    world.policies.delete(SETTINGS.regions[WEST]!.workflowRoleArn);
    const c = await check("iam-permissions");
    expect(c.status).toBe("fail");
    expect(c.reason).toContain("payments-dr-workflows-usw2-test does not exist");
    expect(c.fix).toContain("payments-dr-workflows-usw2-test: the role");
  });

  it("reads the older one-result-per-resource answer too", async () => {
    world.iamStub.on(SimulatePrincipalPolicyCommand).callsFake((input) => ({
      EvaluationResults: input.ResourceArns.map((r: string) => ({
        EvalActionName: input.ActionNames[0],
        EvalResourceName: r,
        EvalDecision: r.includes(":sns:") ? "explicitDeny" : "allowed",
      })),
    }));
    expect(await check("iam-permissions")).toMatchObject({
      status: "fail",
      reason: expect.stringContaining("sns:Publish"),
    });
  });

  it("fails with the missing grant when the evaluator itself may not simulate", async () => {
    world.broken.set("iam", () => sdkError("AccessDenied", 403));
    const c = await check("iam-permissions");
    expect(c).toMatchObject({ status: "fail", reason: expect.stringContaining("AccessDenied") });
    expect(c.fix).toMatch(/readiness role/);
  });
});

describe("capacity and quotas", () => {
  it("fails when the standby allows less Lambda concurrency or reserves less", async () => {
    world.accountConcurrency[WEST] = 400;
    expect(await check("lambda-concurrency")).toMatchObject({ status: "fail" });
    world.accountConcurrency[WEST] = 1000;
    world.functions[EAST]![SETTINGS.paymentFunctions[0]!]!.reserved = 100;
    expect(await check("lambda-concurrency")).toMatchObject({
      status: "fail",
      reason: expect.stringContaining("reserved concurrency lower"),
    });
  });

  it("compares the standby's quota with the active region's peak usage plus 20%, not with its limit", async () => {
    // us-east-1 raised its DB instance quota to 80 and runs 2; us-west-2 never raised its own:
    // AWS's default, 40, applies. Room for the load: only a warning (it cannot grow as far).
    world.quotas[EAST]!["L-7B6409FD"] = 80;
    delete world.quotas[WEST]!["L-7B6409FD"];
    expect(await check("service-quotas")).toMatchObject({
      status: "warn",
      reason: `${WEST} has room for ${EAST}'s peak load plus 20% but lower limits: rds DB instances (L-7B6409FD) 40 < 80`,
    });
    expect(world.stubs[WEST]!.serviceQuotas).toHaveReceivedCommandWith(GetServiceQuotaCommand, {
      ServiceCode: "rds",
      QuotaCode: "L-7B6409FD",
    });
    // The usage is the metric Service Quotas names, read in the active region at Maximum.
    expect(world.stubs[EAST]!.cloudwatch).toHaveReceivedCommandWith(GetMetricDataCommand, {
      MetricDataQueries: [
        expect.objectContaining({
          MetricStat: expect.objectContaining({
            Metric: {
              Namespace: "AWS/Usage",
              MetricName: "ResourceCount",
              Dimensions: [
                { Name: "Service", Value: "RDS" },
                { Name: "Type", Value: "Resource" },
                { Name: "Resource", Value: "DBInstances" },
                { Name: "Class", Value: "None" },
              ],
            },
            Stat: "Maximum",
          }),
        }),
      ],
    });
    // Equal limits are no readiness when the load is near them: 34 in use needs 41 > 40.
    world.quotas[EAST]!["L-7B6409FD"] = 40;
    world.usage[EAST]!["L-7B6409FD"] = 34;
    expect(await check("service-quotas")).toMatchObject({
      status: "fail",
      reason: `no room in ${WEST} for ${EAST}'s load: rds DB instances (L-7B6409FD): ${WEST} allows 40, ${EAST} peaked at 34 in 7 days (+20% = 41)`,
    });
  });

  it("falls back to comparing the limits when the active region has no usage figure", async () => {
    world.quotas[EAST]!["L-7B6409FD"] = 80;
    world.usage[EAST]!["L-7B6409FD"] = null;
    expect(await check("service-quotas")).toMatchObject({
      status: "fail",
      reason: expect.stringContaining(`${WEST} allows 40 < 80 in ${EAST} (no usage figure)`),
    });
  });

  it("warns when a quota has no value at all", async () => {
    world.quotas[WEST]!["L-B99A9384"] = null;
    expect(await check("service-quotas")).toMatchObject({ status: "warn" });
  });

  it("fails when the standby's concurrency cannot carry the active region's peak plus 20%", async () => {
    world.accountConcurrency[WEST] = 500;
    expect(await check("lambda-concurrency")).toMatchObject({
      status: "fail",
      reason: `concurrent executions: ${WEST} allows 500, ${EAST} peaked at 420 in 7 days (+20% = 504): the standby throttles at the active region's load`,
      fix: `raise Lambda concurrent executions in ${WEST} (Service Quotas, L-B99A9384) to at least 504`,
    });
  });

  it("fails when the standby's instances are smaller than the writer's, warns when fewer than planned", async () => {
    world.instances[WEST] = [{ id: "w1", status: "available", cls: "db.r6g.large" }];
    world.instances[EAST] = [{ id: "e1", status: "available", cls: "db.r6g.2xlarge" }];
    expect(await check("db-capacity")).toMatchObject({ status: "fail" });
    world.instances[EAST] = [
      { id: "e1", status: "available", cls: "db.r6g.large" },
      { id: "e2", status: "available", cls: "db.r6g.large" },
    ];
    world.instances[WEST] = [
      { id: "w1", status: "available", cls: "db.r6g.large" },
      { id: "w2", status: "creating", cls: "db.r6g.large" },
    ];
    expect(await evaluate(world.deps(WEST), ["db-capacity"])).toMatchObject({
      checks: [{ status: "ok" }],
    });
  });

  it("warns when the active region has fewer available instances than the writer's configured count", async () => {
    // A failover whose capacity loop was refused leaves the new primary with its one instance.
    world.instances[EAST] = [{ id: "e1", status: "available", cls: "db.r6g.large" }];
    expect(await check("db-capacity")).toMatchObject({
      status: "warn",
      reason: `1 of 2 instance(s) available in the active region ${EAST}: no in-region failover target until the readers exist`,
      fix: "add the missing readers (README, Capacity after a failover) or terraform apply",
    });
    world.instances[EAST]!.push({ id: "e2", status: "creating", cls: "db.r6g.large" });
    expect(await check("db-capacity")).toMatchObject({
      status: "warn",
      reason: expect.stringContaining("(1 being created)"),
      fix: "wait for the instance being created",
    });
  });

  it("fails when a region's quota cannot hold the concurrency the connection budget reserves, in the recovery region too", async () => {
    // 545 reserved for database functions in us-west-2 needs 645: AWS keeps 100 unreserved
    // (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
    world.accountConcurrency[EAST] = 600;
    world.accountConcurrency[WEST] = 600;
    const c = await check("lambda-concurrency");
    expect(c).toMatchObject({
      status: "fail",
      reason: `${WEST} allows 600 concurrent executions; the connection budget reserves 545 for database functions, which needs at least 645`,
      fix: `raise Lambda concurrent executions in ${WEST} (Service Quotas, L-B99A9384) to at least 645`,
    });
    expect(world.stubs[WEST]!.lambda).toHaveReceivedCommandWith(GetAccountSettingsCommand, {});
    expect(world.stubs[EAST]!.lambda).toHaveReceivedCommandWith(GetAccountSettingsCommand, {});
  });

  it("fails when the quota is above what the budget assumed while a database function is unreserved, and only warns when every one is reserved", async () => {
    world.accountConcurrency[EAST] = 3000;
    world.accountConcurrency[WEST] = 3000;
    const unreserved = {
      ...SETTINGS,
      lambdaBudget: { ...SETTINGS.lambdaBudget, unreserved: ["outbox-relay"] },
    };
    const deps = { ...world.deps(WEST), settings: unreserved };
    const [c] = (await evaluate(deps, ["lambda-concurrency"])).checks;
    expect(c).toMatchObject({
      status: "fail",
      reason: expect.stringContaining("more than the 1000 the connection budget assumed"),
      fix: expect.stringContaining("set LAMBDA_CONCURRENCY_LIMIT=3000"),
    });
    // Every database function reserved: the budget still holds, its figures are just not ours.
    expect(await check("lambda-concurrency")).toMatchObject({
      status: "warn",
      reason: `the connection budget assumed 1000 concurrent executions, ${WEST} allows 3000: its figures are not this account's`,
    });
  });

  it("orders instance sizes within a family", () => {
    expect(
      ["db.r6g.large", "db.r6g.xlarge", "db.r6g.2xlarge", "db.r6g.16xlarge"].map(classSize),
    ).toEqual([1, 2, 4, 32]);
  });
});

describe("freshness", () => {
  const cluster = TOPOLOGY.regions[EAST]!.clusterArn;

  it("dates Aurora's copy by its copy job's completion: the copy keeps the continuous backup's creation date", async () => {
    // The default world: Aurora's copies landed 9 and 33 h ago, but as recovery points they
    // carry the continuous recovery point's CreationDate, 90 days back (cross-region-backup.html).
    expect(await check("backup-copies")).toMatchObject({
      status: "ok",
      reason: `${1 + SETTINGS.tables.length} resources copied to ${WEST} within 26 h`,
    });
    // A copy job that failed or is still running is no copy.
    world.copies[cluster] = [];
    expect(await check("backup-copies")).toMatchObject({
      status: "fail",
      reason: `no copy to ${WEST} completed within 36 h for ${cluster.split(":").pop()}`,
    });
  });

  it("says unknown, not fail, when us-east-1's copy jobs cannot be read and the vault cannot date a copy", async () => {
    world.broken.set(EAST, () => Object.assign(sdkError("TimeoutError", 0), { code: "ETIMEDOUT" }));
    const c = await check("backup-copies");
    expect(c.status).toBe("unknown");
    expect(c.reason).toMatch(
      /^the copy jobs in us-east-1 could not be read \(.*\) and us-west-2's vault shows no copy newer than 36 h for payments-use1-test$/,
    );
    // Snapshot copies (dated within the bound) still count without the copy jobs.
    world.sourceCreatedHoursAgo = {};
    expect(await check("backup-copies")).toMatchObject({ status: "ok" });
  });

  it("warns when the newest copy is over 26 h old and fails past 36 h", async () => {
    world.copies[cluster] = [30];
    expect(await check("backup-copies")).toMatchObject({ status: "warn" });
    world.copies[cluster] = [37];
    const c = await check("backup-copies");
    expect(c).toMatchObject({ status: "fail", reason: expect.stringContaining("36 h") });
  });

  it("warns after 35 days without a successful drill and fails after 40", async () => {
    world.drillDaysAgo[WEST] = 36;
    expect(await check("drill-recency")).toMatchObject({ status: "warn" });
    world.drillDaysAgo[WEST] = 41;
    expect(await check("drill-recency")).toMatchObject({ status: "fail" });
    world.drillDaysAgo[EAST] = 3; // a drill started from the other region counts
    expect(await check("drill-recency")).toMatchObject({ status: "ok" });
  });

  it("fails when no drill succeeded, but only says unknown when a region did not answer", async () => {
    world.drillDaysAgo[WEST] = null;
    expect(await check("drill-recency")).toMatchObject({ status: "fail" });
    world.broken.set(EAST, () => sdkError("TimeoutError", 0));
    expect(await check("drill-recency")).toMatchObject({ status: "unknown" });
  });

  it("fails when the prober's heartbeat is older than 5 min or absent", async () => {
    world.heartbeatMinutesAgo = 12;
    expect(await check("prober-reporting")).toMatchObject({ status: "fail" });
    world.heartbeatMinutesAgo = null;
    expect(await check("prober-reporting")).toMatchObject({
      status: "fail",
      reason: expect.stringContaining("blind"),
    });
  });

  it("warns on a fresh INSUFFICIENT_DATA alarm and fails when one is stuck for an hour", async () => {
    world.insufficient[EAST] = [{ name: "payments-replication-lag-use1-test", minutesAgo: 5 }];
    expect(await check("alarms-insufficient-data")).toMatchObject({ status: "warn" });
    world.insufficient[EAST] = [{ name: "payments-replication-lag-use1-test", minutesAgo: 90 }];
    expect(await check("alarms-insufficient-data")).toMatchObject({ status: "fail" });
    // Another environment's alarm is not ours.
    world.insufficient[EAST] = [{ name: "payments-replication-lag-use1-prod", minutesAgo: 90 }];
    expect(await check("alarms-insufficient-data")).toMatchObject({ status: "ok" });
  });
});

describe("a new environment", () => {
  beforeEach(() => {
    // Deployed 3 h ago: no copy, no drill, prober silent, an alarm without data for 2 h.
    world.deployedDaysAgo = 3 / 24;
    world.copies = {};
    world.drillDaysAgo = { [EAST]: null, [WEST]: null };
    world.heartbeatMinutesAgo = null;
    world.insufficient[WEST] = [{ name: "payments-backup-copy-usw2-test", minutesAgo: 120 }];
  });
  const freshness = [
    "backup-copies",
    "drill-recency",
    "prober-reporting",
    "alarms-insufficient-data",
  ] as const;

  it("warns, never fails, on evidence that cannot exist yet, and says until when", async () => {
    const evaluation = await evaluate(world.deps(WEST), [...freshness]);
    for (const c of evaluation.checks) {
      expect({ id: c.id, status: c.status }).toEqual({ id: c.id, status: "warn" });
      expect(c.reason).toContain("new environment (deployed 3 h ago)");
      expect(c.fix).not.toBe("");
    }
    expect(evaluation.overall).toBe("warn");
    // The 48 h grace, from the control table's creation (its first deploy).
    expect(evaluation.checks[0]!.reason).toContain("a warning until 2026-12-02T07:00Z");
    // The first drill gets the 40 days any environment gets between two drills.
    expect(evaluation.checks[1]!.reason).toContain("until 2027-01-09T07:00Z");
    expect(world.stubs[WEST]!.dynamodb).toHaveReceivedCommandWith(DescribeTableCommand, {
      TableName: TOPOLOGY.controlTable,
    });
  });

  it("fails once the grace is over, and the drill once 40 days are", async () => {
    world.deployedDaysAgo = 3;
    const evaluation = await evaluate(world.deps(WEST), [...freshness]);
    expect(evaluation.checks.map((c) => [c.id, c.status])).toEqual([
      ["backup-copies", "fail"],
      ["drill-recency", "warn"],
      ["prober-reporting", "fail"],
      ["alarms-insufficient-data", "fail"],
    ]);
    world.deployedDaysAgo = 41;
    expect(await check("drill-recency")).toMatchObject({ status: "fail" });
  });

  it("excuses nothing when the grace is 0 or the deployment time cannot be read", async () => {
    const noGrace = { ...world.deps(WEST), settings: { ...SETTINGS, freshnessGraceHours: 0 } };
    const [backup] = (await evaluate(noGrace, ["backup-copies"])).checks;
    expect(backup).toMatchObject({ status: "fail" });
    world.tableCreatedAtMissing = true;
    expect(await check("backup-copies")).toMatchObject({ status: "fail" });
  });

  it("still fails on a prober that reported and then stopped: the grace only covers what never existed", async () => {
    world.heartbeatMinutesAgo = 20;
    expect(await check("prober-reporting")).toMatchObject({ status: "fail" });
  });
});

describe("when a region does not answer", () => {
  it("evaluates from the standby: the down region's checks are unknown, nothing throws", async () => {
    world.broken.set(EAST, () => Object.assign(sdkError("TimeoutError", 0), { code: "ETIMEDOUT" }));
    const evaluation = await evaluate(world.deps(WEST));
    const byId = Object.fromEntries(evaluation.checks.map((c) => [c.id, c.status]));
    expect(byId["lambda-parity"]).toBe("unknown");
    expect(byId["ssm-parity"]).toBe("unknown");
    // What lives in the standby region is still checked.
    expect(byId["aurora-replication-lag"]).toBe("ok");
    expect(byId["aurora-secondary-available"]).toBe("ok");
    expect(byId["prober-reporting"]).toBe("ok");
    expect(evaluation.overall).toBe("unknown");
    const unknown = evaluation.checks.find((c) => c.id === "lambda-parity")!;
    expect(unknown.reason).toMatch(/no answer/);
  });

  it("caps a check that hangs, and reports it as unknown", async () => {
    world.stubs[EAST]!.lambda.on(GetFunctionConfigurationCommand).callsFake(
      () => new Promise(() => undefined),
    );
    const evaluation = await evaluate(world.deps(WEST, { checkTimeoutMs: 50 }), ["lambda-parity"]);
    expect(evaluation.checks[0]).toMatchObject({
      status: "unknown",
      reason: expect.stringContaining("no answer within 50 ms"),
    });
  });

  it("fails a check whose read is denied, with the grant to add", async () => {
    world.broken.set(WEST, () => sdkError("AccessDeniedException", 400));
    const c = await check("kms-keys");
    expect(c.status).toBe("fail");
    expect(c.reason).toContain("AccessDeniedException");
  });
});

describe("metrics", () => {
  it("publishes one status per check and the overall, 0 ok to 3 fail", async () => {
    world.lagMs = 400_000;
    const evaluation = await evaluate(world.deps(WEST));
    const data = evaluationMetrics(evaluation);
    expect(data).toHaveLength(CHECK_IDS.length + 1);
    expect(data).toContainEqual(
      expect.objectContaining({
        name: "ReadinessCheckStatus",
        value: 3,
        dimensions: { Region: WEST, Check: "aurora-replication-lag" },
      }),
    );
    expect(data.at(-1)).toMatchObject({
      name: "ReadinessStatus",
      value: 3,
      dimensions: { Region: WEST },
    });
    expect(evaluationMetrics(evaluation, false)).toHaveLength(CHECK_IDS.length);
  });
});
