// Each DR task's declared permissions (`*_TASK.permissions`, next to its core) against what the
// code really calls, link by link: core -> port methods (its source, and the workflow tests,
// which run every task with only its declaration: test/state-machines/support/harness.ts),
// port method -> the SDK commands its AWS adapter sends (here, with the SDK mocked), SDK command
// -> IAM action (IAM action names are the API operation names: Service Authorization Reference,
// https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
// A gap anywhere is an AccessDenied in the middle of a failover.
import "./support/aws-env";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { RDSClient } from "@aws-sdk/client-rds";
import { Route53Client } from "@aws-sdk/client-route-53";
import { SNSClient } from "@aws-sdk/client-sns";
import { SSMClient } from "@aws-sdk/client-ssm";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CloudWatchMetrics } from "../../../functions/dr/shared/aws/cloudwatch";
import { DynamoControlTable } from "../../../functions/dr/shared/aws/control-table";
import { EventBridgeEvents } from "../../../functions/dr/shared/aws/events";
import { SnsNotifier } from "../../../functions/dr/shared/aws/notifier";
import { SsmParameters } from "../../../functions/dr/shared/aws/parameters";
import { RdsDatabase } from "../../../functions/dr/shared/aws/rds";
import { Route53Dns } from "../../../functions/dr/shared/aws/route53";
import {
  FirstAnsweringReplica,
  HealthReplica,
  LambdaReplica,
} from "../../../functions/dr/shared/aws/replica";
import { LambdaReports } from "../../../functions/dr/shared/aws/reports";
import type { RunReportInput } from "../../../functions/reports/shared/model";
import { AccessDeniedError } from "../../../functions/dr/shared/errors";
import type { PortName, TaskPermissions } from "../../../functions/dr/shared/permissions";
import {
  allowedCalls,
  declaresAnything,
  PORT_ACTIONS,
  SECURE_PARAMETERS,
  WRITABLE_PARAMETERS,
} from "../../../functions/dr/shared/permissions";
import { DR_TASK_NAMES, drTask } from "../../../functions/dr/tasks";
import type { Denial } from "./support/permissions";
import { withPermissions } from "./support/permissions";
import { FakeWorld, TOPOLOGY, WEST } from "./support/fake-world";

const DR = join(__dirname, "../../../functions/dr");
const PORTS = Object.keys(PORT_ACTIONS) as PortName[];

/** `port.method(` calls in a source file, however the port was reached (`ports.control.x(`, `control.x(`). */
function portCalls(source: string): string[] {
  const pattern = new RegExp(`\\b(${PORTS.join("|")})\\.(\\w+)\\(`, "g");
  return [...source.matchAll(pattern)]
    .filter(([, port, method]) => method! in PORT_ACTIONS[port as PortName])
    .map(([, port, method]) => `${port}.${method}`);
}

/** A core's source and that of the shared modules it imports that call ports themselves. */
function sourcesOf(task: string): string {
  const core = readFileSync(join(DR, task, "core.ts"), "utf8");
  const shared = [...core.matchAll(/from "\.\.\/shared\/([a-z-]+)"/g)].map((m) =>
    readFileSync(join(DR, "shared", `${m[1]}.ts`), "utf8"),
  );
  return [core, ...shared.filter((s) => portCalls(s).length > 0)].join("\n");
}

describe("DR task permissions", () => {
  it.each(DR_TASK_NAMES)("declares what %s may call", (task) => {
    const permissions = (drTask(task) as { permissions?: TaskPermissions }).permissions;
    expect(permissions).toBeDefined();
    expect(declaresAnything(permissions!)).toBe(true);
  });

  it.each(DR_TASK_NAMES)("declares every port call in the source of %s", (task) => {
    const declared = allowedCalls(drTask(task).permissions);
    const called = [...new Set(portCalls(sourcesOf(task)))];
    expect(called.filter((c) => !declared.has(c))).toEqual([]);
  });

  it.each(DR_TASK_NAMES)("declares nothing %s does not call (least privilege)", (task) => {
    const called = new Set(portCalls(sourcesOf(task)));
    const declared = [...allowedCalls(drTask(task).permissions)];
    expect(declared.filter((c) => !called.has(c))).toEqual([]);
  });

  it("finds a port call however the port was reached", () => {
    expect(
      portCalls("await ports.control.getLock(); const d = deps.dns(); dns.makePrimary(z)"),
    ).toEqual(["control.getLock", "dns.makePrimary"]);
  });

  it("never lets a workflow write the password or an API key parameter", () => {
    expect(WRITABLE_PARAMETERS.filter((k) => SECURE_PARAMETERS.includes(k))).toEqual([]);
  });

  it("refuses an undeclared call with AccessDenied and records it", async () => {
    const world = new FakeWorld();
    const denials: Denial[] = [];
    const deps = withPermissions(world.deps(WEST), "notify", { notifier: ["publish"] }, denials);
    await expect(deps.ports(WEST, "critical").control.getLock()).rejects.toBeInstanceOf(
      AccessDeniedError,
    );
    await expect(
      deps.ports(WEST, "critical").parameters.get(`${TOPOLOGY.parameterPrefix}/db/password`, true),
    ).rejects.toBeInstanceOf(AccessDeniedError);
    await deps.ports(WEST, "critical").notifier.publish("s", "m");
    expect(denials).toEqual([
      { task: "notify", call: "control.getLock" },
      { task: "notify", call: "parameters.get" },
    ]);
  });

  it("refuses a parameter the declaration does not name", async () => {
    const world = new FakeWorld();
    const denials: Denial[] = [];
    const deps = withPermissions(
      world.deps(WEST),
      "verify",
      { parameters: { read: ["drVerifyApiKey"] } },
      denials,
    );
    await expect(
      deps.ports(WEST, "critical").parameters.get(`${TOPOLOGY.parameterPrefix}/db/password`, true),
    ).rejects.toBeInstanceOf(AccessDeniedError);
    expect(denials).toEqual([
      { task: "verify", call: `parameters.get(${TOPOLOGY.parameterPrefix}/db/password)` },
    ]);
  });
});

// ---- port method -> SDK commands -> IAM actions ----

const mocks = {
  rds: mockClient(RDSClient),
  dynamodb: mockClient(DynamoDBDocumentClient),
  ssm: mockClient(SSMClient),
  cloudwatch: mockClient(CloudWatchClient),
  events: mockClient(EventBridgeClient),
  sns: mockClient(SNSClient),
  route53: mockClient(Route53Client),
  lambda: mockClient(LambdaClient),
};

/** lib-dynamodb's document commands are the item operations of DynamoDB. */
const DOCUMENT_COMMANDS: Record<string, string> = {
  GetCommand: "GetItem",
  PutCommand: "PutItem",
  UpdateCommand: "UpdateItem",
  DeleteCommand: "DeleteItem",
};

/**
 * The few operations whose IAM action is not named after them (Service Authorization Reference:
 * Lambda's Invoke operation is authorized as lambda:InvokeFunction).
 */
const ACTION_OF_OPERATION: Record<string, string> = { "lambda:Invoke": "lambda:InvokeFunction" };

function actionsSent(): string[] {
  return Object.entries(mocks).flatMap(([service, mock]) =>
    mock.calls().map((call) => {
      const name = (call.args[0] as object).constructor.name;
      const operation = DOCUMENT_COMMANDS[name] ?? name.replace(/Command$/, "");
      const action = `${service}:${operation}`;
      return ACTION_OF_OPERATION[action] ?? action;
    }),
  );
}

const flag = {
  pk: "active-region",
  activeRegion: WEST,
  fencingToken: 1,
  updatedBy: "x",
  updatedAt: "t",
};
const lock = {
  owner: "o",
  operation: "failover",
  acquiredAt: "t",
  expiresAt: 1,
  targetRegion: WEST,
  sourceRegion: "us-east-1",
  facts: {},
};
const target = { region: WEST, dnsName: "d", hostedZoneId: "Z" };

/** One call of every port method, on the real adapter over mocked clients. */
const CALLS: Record<PortName, Record<string, () => Promise<unknown>>> = {
  database: {
    describeGlobalCluster: () => new RdsDatabase(new RDSClient({})).describeGlobalCluster("g"),
    describeCluster: () => new RdsDatabase(new RDSClient({})).describeCluster("c"),
    failoverGlobalCluster: () => new RdsDatabase(new RDSClient({})).failoverGlobalCluster("g", "a"),
    switchoverGlobalCluster: () =>
      new RdsDatabase(new RDSClient({})).switchoverGlobalCluster("g", "a"),
    removeFromGlobalCluster: () =>
      new RdsDatabase(new RDSClient({})).removeFromGlobalCluster("g", "a"),
    instances: () => new RdsDatabase(new RDSClient({})).instances("c"),
    describeInstance: () => new RdsDatabase(new RDSClient({})).describeInstance("i"),
    describeClusterSnapshot: () => new RdsDatabase(new RDSClient({})).describeClusterSnapshot("s"),
    createClusterSnapshot: () => new RdsDatabase(new RDSClient({})).createClusterSnapshot("c", "s"),
    listClusterSnapshots: () => new RdsDatabase(new RDSClient({})).listClusterSnapshots("c"),
    copyClusterSnapshot: () => new RdsDatabase(new RDSClient({})).copyClusterSnapshot("s", "t"),
    renameCluster: () => new RdsDatabase(new RDSClient({})).renameCluster("c", "c2"),
    renameInstance: () => new RdsDatabase(new RDSClient({})).renameInstance("i", "i2"),
    unprotectGlobalCluster: () => new RdsDatabase(new RDSClient({})).unprotectGlobalCluster("g"),
    deleteGlobalCluster: () => new RdsDatabase(new RDSClient({})).deleteGlobalCluster("g"),
    createGlobalCluster: () =>
      new RdsDatabase(new RDSClient({})).createGlobalCluster("g", "arn:c", true),
    createSecondaryCluster: () =>
      new RdsDatabase(new RDSClient({})).createSecondaryCluster({
        clusterIdentifier: "c",
        globalClusterIdentifier: "g",
        engine: "aurora-postgresql",
        engineVersion: "16.6",
        kmsKeyId: "k",
        dbSubnetGroupName: "s",
        vpcSecurityGroupIds: ["sg"],
        dbClusterParameterGroupName: "p",
        backupRetentionPeriod: 7,
        preferredBackupWindow: "03:00-04:00",
        preferredMaintenanceWindow: "sun:05:00-sun:06:00",
        deletionProtection: true,
        enableIamDatabaseAuthentication: true,
      }),
    createInstance: () =>
      new RdsDatabase(new RDSClient({})).createInstance({
        identifier: "i",
        clusterIdentifier: "c",
        instanceClass: "db.r5.large",
        engine: "aurora-postgresql",
        promotionTier: 1,
        dbSubnetGroupName: "s",
        monitoringRoleArn: "arn:aws:iam::1:role/m",
        monitoringInterval: 60,
        performanceInsightsKmsKeyId: "arn:k",
        caCertificateIdentifier: "rds-ca-rsa2048-g1",
        tags: { Name: "i" },
      }),
    deleteInstance: () => new RdsDatabase(new RDSClient({})).deleteInstance("i"),
  },
  control: Object.fromEntries(
    (
      [
        ["getActiveRegion", (c) => c.getActiveRegion()],
        ["putActiveRegion", (c) => c.putActiveRegion(flag, { ...flag, fencingToken: 2 })],
        ["setPhase", (c) => c.setPhase(WEST, 1, "fenced", "t")],
        ["markPromoting", (c) => c.markPromoting(WEST, 1, "t")],
        ["renewPeerLease", (c) => c.renewPeerLease(WEST, 1, "t")],
        ["getLock", (c) => c.getLock()],
        ["putLock", (c) => c.putLock(lock, 0)],
        ["claimLock", (c) => c.claimLock(lock, 0, "other")],
        ["recordFact", (c) => c.recordFact("o", "n", 1)],
        ["renewLock", (c) => c.renewLock("o", 1)],
        ["deleteLock", (c) => c.deleteLock("o")],
        ["getCooldown", (c) => c.getCooldown()],
        [
          "putCooldown",
          (c) => c.putCooldown({ lastCompletedAt: "t", lastExecution: "e", cooldownUntil: 1 }),
        ],
        ["getReadiness", (c) => c.getReadiness(WEST)],
        [
          "putReadiness",
          (c) => c.putReadiness({ region: WEST, at: "t", overall: "ok", checks: [] } as never),
        ],
        ["getHeartbeatWatch", (c) => c.getHeartbeatWatch()],
        [
          "putHeartbeatWatch",
          (c) =>
            c.putHeartbeatWatch(
              { beatAt: "t", firstSeenAt: "t", advanced: true, checkedAt: "t" },
              null,
            ),
        ],
      ] as [string, (c: DynamoControlTable) => Promise<unknown>][]
    ).map(([method, call]) => [
      method,
      () => call(new DynamoControlTable(DynamoDBDocumentClient.from(new DynamoDBClient({})), "t")),
    ]),
  ),
  parameters: {
    get: () => new SsmParameters(new SSMClient({})).get("/p", true),
    put: () => new SsmParameters(new SSMClient({})).put("/p", "v"),
  },
  metrics: {
    put: () =>
      new CloudWatchMetrics(new CloudWatchClient({})).put("N", [
        { name: "m", value: 1, unit: "Count", dimensions: {} },
      ]),
    replicationLag: () =>
      new CloudWatchMetrics(new CloudWatchClient({})).replicationLag("c", new Date(0)),
    replicationLagHistory: () =>
      new CloudWatchMetrics(new CloudWatchClient({})).replicationLagHistory("c", new Date(0)),
    probeResults: () =>
      new CloudWatchMetrics(new CloudWatchClient({})).probeResults("r", new Date(0)),
  },
  events: {
    put: () =>
      new EventBridgeEvents(new EventBridgeClient({}), "bus").put({
        source: "s",
        detailType: "d",
        detail: {},
      }),
  },
  notifier: { publish: () => new SnsNotifier(new SNSClient({}), "arn:t").publish("s", "m") },
  dns: {
    healthCheckStatus: () => new Route53Dns(new Route53Client({})).healthCheckStatus("h"),
    failoverRecords: () => new Route53Dns(new Route53Client({})).failoverRecords("Z", "api.x"),
    makePrimary: () =>
      new Route53Dns(new Route53Client({})).makePrimary("Z", "api.x", target, target),
  },
  replica: {
    // As functions/dr/shared/aws/ports.ts builds it: the heartbeat reader, then /health.
    writerHeartbeat: () =>
      new FirstAnsweringReplica(
        new LambdaReplica(new LambdaClient({}), "payments-heartbeat-test"),
        new HealthReplica(
          { request: () => Promise.resolve({ status: 200, body: {} }) },
          "https://api",
          1000,
        ),
      ).writerHeartbeat(),
  },
  reports: {
    submit: () =>
      new LambdaReports(new LambdaClient({}), "writer", "bucket", WEST).submit({
        kind: "failover",
        runId: "run-1",
        startedAt: "2026-01-01T00:00:00.000Z",
      } as unknown as RunReportInput),
  },
};

describe("the IAM actions of each port method", () => {
  beforeEach(() => {
    for (const mock of Object.values(mocks) as {
      reset(): void;
      onAnyCommand(): { resolves(o: object): unknown };
    }[]) {
      mock.reset();
      mock.onAnyCommand().resolves({});
    }
  });

  const cases = PORTS.flatMap((port) =>
    Object.keys(PORT_ACTIONS[port]).map((method) => [port, method] as const),
  );

  it("covers every port method", () => {
    expect(cases.map(([p, m]) => `${p}.${m}`).sort()).toEqual(
      PORTS.flatMap((p) => Object.keys(CALLS[p]).map((m) => `${p}.${m}`)).sort(),
    );
  });

  it.each(cases)("maps %s.%s to exactly the actions its adapter sends", async (port, method) => {
    await CALLS[port][method]!().catch(() => undefined); // empty answers may not parse
    const sent = [...new Set(actionsSent())].sort();
    expect(sent).toEqual(
      [...(PORT_ACTIONS[port] as Record<string, readonly string[]>)[method]!].sort(),
    );
  });
});
