// The deployed RestoreCapacity handler (env, adapters, SDK clients) with the AWS SDK mocked, on a
// failback's release of the reader it added to the region it left (review 22b, M1'): the lock and
// the flag are read, strongly consistently, in that region's own copy of the control table too,
// and a later run seen only there stops the delete.
import "./support/aws-env";
import {
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { DR_ENV } from "../../../functions/common/contract";
import type { WorkflowState } from "../../../functions/dr/shared/types";
import { EAST, TEST_CAPACITY, TOPOLOGY, WEST } from "./support/fake-world";

const rds = mockClient(RDSClient);
const ddb = mockClient(DynamoDBDocumentClient);
const RESTORED = "payments-db-2-usw2-test";
const TOKEN = 7;

let handler: (state: WorkflowState) => Promise<unknown>;
beforeAll(async () => {
  // Read at module load, like every DR setting.
  process.env[DR_ENV.capacity] = JSON.stringify(TEST_CAPACITY);
  ({ handler } = (await import("../../../functions/dr/restore-capacity/handler")) as never);
});
afterAll(() => delete process.env[DR_ENV.capacity]);

beforeEach(() => {
  rds.reset();
  ddb.reset();
  jest.spyOn(process.stdout, "write").mockImplementation(() => true);
  jest.spyOn(process.stderr, "write").mockImplementation(() => true);
});
afterEach(() => jest.restoreAllMocks());

/** A failback to us-east-1 that fenced with TOKEN and opened; us-west-2 is the region it left. */
function failback(): WorkflowState {
  const times = { startedAt: "2026-11-30T20:00:00.000Z", endedAt: "2026-11-30T20:00:01.000Z" };
  return {
    input: {},
    request: {
      workflow: "failback",
      failoverId: "back-1",
      resumed: false,
      executionId:
        "arn:aws:states:us-east-1:123456789012:execution:payments-dr-failback-test:back-1",
      executionName: "back-1",
      stateMachineArn:
        "arn:aws:states:us-east-1:123456789012:stateMachine:payments-dr-failback-test",
      startedAt: times.startedAt,
      targetRegion: EAST,
      sourceRegion: WEST,
      reason: "drill",
      trigger: "drill",
      mode: "automatic",
      forceDetach: false,
      ignoreCooldown: true,
      allowUnknownLag: false,
      assumeOldWriterStopped: false,
    },
    steps: {
      Fence: {
        ...times,
        activeRegion: EAST,
        previousRegion: WEST,
        fencingToken: TOKEN,
        fencedAt: times.startedAt,
        phase: "fenced",
      },
    },
  } as unknown as WorkflowState;
}

/** us-east-1 at full capacity; us-west-2 with Terraform's instance and the reader we added. */
function clusters() {
  rds.on(DescribeDBInstancesCommand).callsFake(async (input, getClient) => {
    const region = await getClient().config.region();
    const code = region === EAST ? "use1" : "usw2";
    return {
      DBInstances: [1, 2].map((n) => ({
        DBInstanceIdentifier: `payments-db-${n}-${code}-test`,
        DBInstanceStatus: "available",
        DBInstanceClass: "db.r6g.large",
        DBClusterIdentifier: (input as { Filters: { Values: string[] }[] }).Filters[0]!.Values[0],
        ...(n === 2 && region === WEST
          ? { TagList: [{ Key: "created-by", Value: "payments-dr-restore-capacity" }] }
          : {}),
      })),
    };
  });
  rds.on(DescribeDBClustersCommand).resolves({
    DBClusters: [
      {
        DBClusterIdentifier: TOPOLOGY.regions[WEST]!.clusterIdentifier,
        DBClusterArn: TOPOLOGY.regions[WEST]!.clusterArn,
        Status: "available",
        Engine: "aurora-postgresql",
        DBClusterMembers: [
          { DBInstanceIdentifier: "payments-db-1-usw2-test", IsClusterWriter: false },
          { DBInstanceIdentifier: RESTORED, IsClusterWriter: false },
        ],
      },
    ],
  });
  rds.on(DeleteDBInstanceCommand).resolves({ DBInstance: { DBInstanceStatus: "deleting" } });
}

/** Each region's copy of the control table: the flag as `flags` gives it, no lock. */
function copies(flags: Record<string, Record<string, unknown>>) {
  const reads: { region: string; input: unknown }[] = [];
  ddb.on(GetCommand).callsFake(async (input, getClient) => {
    const region = await getClient().config.region();
    reads.push({ region, input });
    const pk = (input as { Key: { pk: string } }).Key.pk;
    return pk === "active-region" ? { Item: { pk, ...flags[region] } } : {};
  });
  return reads;
}

const ours = { activeRegion: EAST, fencingToken: TOKEN, phase: "open", updatedBy: "back-1" };

describe("RestoreCapacity handler, releasing in the region the run left", () => {
  it("reads the lock and the flag in that region's copy, strongly consistently, before it deletes", async () => {
    clusters();
    const reads = copies({ [EAST]: ours, [WEST]: ours });
    await handler(failback());
    expect(rds.commandCalls(DeleteDBInstanceCommand).map((c) => c.args[0].input)).toEqual([
      { DBInstanceIdentifier: RESTORED },
    ]);
    const west = reads.filter((r) => r.region === WEST).map((r) => r.input);
    expect(west).toEqual(
      expect.arrayContaining([
        { TableName: TOPOLOGY.controlTable, Key: { pk: "failover-lock" }, ConsistentRead: true },
        { TableName: TOPOLOGY.controlTable, Key: { pk: "active-region" }, ConsistentRead: true },
      ]),
    );
  });

  it("rejects the delete when only that region's copy shows a later run's fence", async () => {
    clusters();
    copies({
      [EAST]: ours,
      [WEST]: { activeRegion: WEST, fencingToken: TOKEN + 1, phase: "fenced", updatedBy: "later" },
    });
    await expect(handler(failback())).rejects.toMatchObject({
      name: "CapacitySupersededError",
      message: expect.stringContaining(
        `stopped before deleting ${RESTORED} in ${WEST}: the active-region flag names ${WEST} token ${TOKEN + 1} (fenced) set by later in ${WEST}'s copy`,
      ),
    });
    expect(rds.commandCalls(DeleteDBInstanceCommand)).toEqual([]);
  });
});
