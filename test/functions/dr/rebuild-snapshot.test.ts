// Re-protect after a managed failover keeps Aurora's point-of-failure snapshot of the old
// primary: the real Rebuild core over the real RDS adapter, the SDK mocked, the exact calls
// asserted. AWS: "Before creating the new storage volume ... Aurora attempts to take a snapshot
// of the old storage volume at the point of failure", `rds:unplanned-global-failover-<old
// primary>-<timestamp>`, "a system snapshot that's subject to the backup retention period of the
// old primary DB cluster" (aurora-global-database-disaster-recovery.html); "After you copy a
// snapshot, the copy is a manual snapshot" (aurora-copy-snapshot.html).
import "./support/aws-env";
import {
  CopyDBClusterSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeGlobalClustersCommand,
  RDSClient,
} from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import { rebuild, retainedNames } from "../../../functions/dr/rebuild/core";
import { RdsDatabase } from "../../../functions/dr/shared/aws/rds";
import type { DrDeps } from "../../../functions/dr/shared/deps";
import type { WorkflowState } from "../../../functions/dr/shared/types";
import { EAST, FakeWorld, TOPOLOGY, WEST } from "./support/fake-world";

const rds = mockClient(RDSClient);
const east = TOPOLOGY.regions[EAST]!;
const west = TOPOLOGY.regions[WEST]!;
const names = retainedNames(east.clusterIdentifier, "run-1");

function setup() {
  const world = FakeWorld.afterManagedFailoverToWest(3);
  const failoverAt = new Date(world.flag()!.updatedAt);
  world.table.set("failover-lock", {
    owner: "run-1",
    operation: "reprotect",
    acquiredAt: failoverAt.toISOString(),
    expiresAt: Math.floor(failoverAt.getTime() / 1000) + 86_400,
    targetRegion: WEST,
    sourceRegion: EAST,
    facts: {},
  });
  const base = world.deps(WEST);
  const deps: DrDeps = {
    ...base,
    ports: (region, profile) => ({
      ...base.ports(region, profile),
      database: new RdsDatabase(new RDSClient({ region })),
    }),
  };
  const state = {
    request: {
      workflow: "reprotect",
      failoverId: "run-1",
      targetRegion: WEST,
      sourceRegion: EAST,
    },
    steps: {},
  } as unknown as WorkflowState;
  return { world, deps, state, failoverAt };
}

const at = (base: Date, minutes: number) => new Date(base.getTime() + minutes * 60_000);

beforeEach(() => {
  rds.reset();
  rds.on(DescribeGlobalClustersCommand).resolves({
    GlobalClusters: [
      {
        GlobalClusterIdentifier: TOPOLOGY.globalClusterIdentifier,
        Status: "available",
        GlobalClusterMembers: [
          { DBClusterArn: west.clusterArn, IsWriter: true },
          {
            DBClusterArn: east.clusterArn,
            IsWriter: false,
            SynchronizationStatus: "pending-resync",
          },
        ],
      },
    ],
  });
  rds.on(DescribeDBClustersCommand).resolves({
    DBClusters: [{ DBClusterArn: west.clusterArn, Status: "available" }],
  });
});

describe("re-protect after a managed failover keeps the point-of-failure snapshot", () => {
  it("copies the snapshot Aurora took after this failover, with exactly these parameters", async () => {
    const { deps, state, failoverAt } = setup();
    const taken = `rds:unplanned-global-failover-${east.clusterIdentifier}-2026-11-30-09-14`;
    const notFound = Object.assign(new Error("not found"), {
      name: "DBClusterSnapshotNotFoundFault",
    });
    rds
      .on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: names.pointOfFailure })
      .rejects(notFound)
      .on(DescribeDBClusterSnapshotsCommand, { DBClusterIdentifier: east.clusterIdentifier })
      .resolves({
        DBClusterSnapshots: [
          // An earlier failover's, from before this one's flag moved: not this fork.
          {
            DBClusterSnapshotIdentifier: `rds:unplanned-global-failover-${east.clusterIdentifier}-2026-10-01-02-00`,
            DBClusterIdentifier: east.clusterIdentifier,
            Status: "available",
            SnapshotCreateTime: at(failoverAt, -60 * 24 * 30),
          },
          {
            DBClusterSnapshotIdentifier: "rds:payments-use1-test-2026-11-30-02-00",
            DBClusterIdentifier: east.clusterIdentifier,
            Status: "available",
            SnapshotCreateTime: at(failoverAt, 30),
          },
          {
            DBClusterSnapshotIdentifier: taken,
            DBClusterIdentifier: east.clusterIdentifier,
            Status: "available",
            SnapshotCreateTime: at(failoverAt, 25),
          },
        ],
      })
      .on(CopyDBClusterSnapshotCommand)
      .resolves({});

    const outcome = await rebuild(state, deps);

    expect(outcome).toMatchObject({
      done: false,
      path: "managed",
      action: "copy-point-of-failure-snapshot",
    });
    expect(rds.commandCalls(DescribeDBClusterSnapshotsCommand).map((c) => c.args[0].input)).toEqual(
      [
        { DBClusterSnapshotIdentifier: names.pointOfFailure },
        { DBClusterIdentifier: east.clusterIdentifier, MaxRecords: 100 },
      ],
    );
    expect(rds.commandCalls(CopyDBClusterSnapshotCommand).map((c) => c.args[0].input)).toEqual([
      {
        SourceDBClusterSnapshotIdentifier: taken,
        TargetDBClusterSnapshotIdentifier: names.pointOfFailure,
        CopyTags: true,
        Tags: [
          {
            Key: "payments-dr",
            Value: "point-of-failure snapshot kept by re-protect for lost-write reconciliation",
          },
        ],
      },
    ]);
  });

  it("completes only once the copy is available, naming it", async () => {
    const { deps, state } = setup();
    rds
      .on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: names.pointOfFailure })
      .resolvesOnce({
        DBClusterSnapshots: [
          { DBClusterSnapshotIdentifier: names.pointOfFailure, Status: "copying" },
        ],
      })
      .resolves({
        DBClusterSnapshots: [
          { DBClusterSnapshotIdentifier: names.pointOfFailure, Status: "available" },
        ],
      });
    const first = await rebuild(state, deps);
    expect(first).toMatchObject({ done: false, action: "wait" });
    expect(first.message).toContain("(copying)");
    const second = await rebuild(state, deps);
    expect(second).toMatchObject({
      done: true,
      path: "managed",
      pointOfFailureSnapshot: names.pointOfFailure,
    });
    expect(rds.commandCalls(CopyDBClusterSnapshotCommand)).toEqual([]);
  });

  it("waits while Aurora's snapshot is still being taken, and copies nothing", async () => {
    const { deps, state, failoverAt } = setup();
    rds
      .on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: names.pointOfFailure })
      .rejects(Object.assign(new Error("nf"), { name: "DBClusterSnapshotNotFoundFault" }))
      .on(DescribeDBClusterSnapshotsCommand, { DBClusterIdentifier: east.clusterIdentifier })
      .resolves({
        DBClusterSnapshots: [
          {
            DBClusterSnapshotIdentifier: `rds:unplanned-global-failover-${east.clusterIdentifier}-x`,
            DBClusterIdentifier: east.clusterIdentifier,
            Status: "creating",
            SnapshotCreateTime: at(failoverAt, 5),
          },
        ],
      });
    const outcome = await rebuild(state, deps);
    expect(outcome).toMatchObject({ done: false, action: "wait" });
    expect(outcome.message).toContain("(creating)");
    expect(rds.commandCalls(CopyDBClusterSnapshotCommand)).toEqual([]);
  });

  describe("matches the snapshot on its documented name and source cluster, the time only ordering them", () => {
    const notFound = () =>
      Object.assign(new Error("not found"), { name: "DBClusterSnapshotNotFoundFault" });
    const arn = (id: string) => `arn:aws:rds:${EAST}:123456789012:cluster-snapshot:${id}`;
    const copied = () =>
      rds
        .commandCalls(CopyDBClusterSnapshotCommand)
        .map((c) => c.args[0].input.SourceDBClusterSnapshotIdentifier);

    it("keeps a snapshot whose create time precedes the flag update", async () => {
      // SnapshotCreateTime may be the point of failure itself: before Fence moved the flag.
      const { deps, state, failoverAt } = setup();
      const taken = `rds:unplanned-global-failover-${east.clusterIdentifier}-2026-11-30-09-02`;
      rds
        .on(DescribeDBClusterSnapshotsCommand, {
          DBClusterSnapshotIdentifier: names.pointOfFailure,
        })
        .rejects(notFound())
        .on(DescribeDBClusterSnapshotsCommand, { DBClusterIdentifier: east.clusterIdentifier })
        .resolves({
          DBClusterSnapshots: [
            {
              DBClusterSnapshotIdentifier: taken,
              DBClusterSnapshotArn: arn(taken),
              DBClusterIdentifier: east.clusterIdentifier,
              SnapshotType: "automated",
              Status: "available",
              SnapshotCreateTime: at(failoverAt, -3),
            },
          ],
        })
        .on(CopyDBClusterSnapshotCommand)
        .resolves({});
      // The old primary is listed again (pending-resync, setup): Aurora's attempt is over.
      const outcome = await rebuild(state, deps);
      expect(outcome).toMatchObject({ done: false, action: "copy-point-of-failure-snapshot" });
      expect(copied()).toEqual([taken]);
    });

    it("waits before keeping one dated before the flag while the old primary is not yet back", async () => {
      const { deps, state, failoverAt } = setup();
      rds.on(DescribeGlobalClustersCommand).resolves({
        GlobalClusters: [
          {
            GlobalClusterIdentifier: TOPOLOGY.globalClusterIdentifier,
            Status: "available",
            GlobalClusterMembers: [{ DBClusterArn: west.clusterArn, IsWriter: true }],
          },
        ],
      });
      const older = `rds:unplanned-global-failover-${east.clusterIdentifier}-2026-11-30-09-02`;
      rds
        .on(DescribeDBClusterSnapshotsCommand, {
          DBClusterSnapshotIdentifier: names.pointOfFailure,
        })
        .rejects(notFound())
        .on(DescribeDBClusterSnapshotsCommand, { DBClusterIdentifier: east.clusterIdentifier })
        .resolves({
          DBClusterSnapshots: [
            {
              DBClusterSnapshotIdentifier: older,
              DBClusterIdentifier: east.clusterIdentifier,
              Status: "available",
              SnapshotCreateTime: at(failoverAt, -3),
            },
          ],
        });
      const outcome = await rebuild(state, deps);
      expect(outcome).toMatchObject({ done: false, action: "wait" });
      expect(outcome.message).toContain(`before keeping ${older}`);
      expect(copied()).toEqual([]);
    });

    it("skips one an earlier re-protect kept, and another cluster's, whatever their times", async () => {
      const { deps, state, failoverAt } = setup();
      const earlier = `rds:unplanned-global-failover-${east.clusterIdentifier}-2026-10-01-02-00`;
      const taken = `rds:unplanned-global-failover-${east.clusterIdentifier}-2026-11-30-09-02`;
      const other = `rds:unplanned-global-failover-${east.clusterIdentifier}-old-2026-11-30-09-30`;
      rds
        .on(DescribeDBClusterSnapshotsCommand, {
          DBClusterSnapshotIdentifier: names.pointOfFailure,
        })
        .rejects(notFound())
        .on(DescribeDBClusterSnapshotsCommand, { DBClusterIdentifier: east.clusterIdentifier })
        .resolves({
          DBClusterSnapshots: [
            // Newest, but named for (and taken of) another cluster whose name extends this one's.
            {
              DBClusterSnapshotIdentifier: other,
              DBClusterIdentifier: `${east.clusterIdentifier}-old`,
              Status: "available",
              SnapshotCreateTime: at(failoverAt, 40),
            },
            // An earlier failover's, kept by an earlier re-protect: its copy names it as source,
            // and its time is made to look like this failover's.
            {
              DBClusterSnapshotIdentifier: earlier,
              DBClusterSnapshotArn: arn(earlier),
              DBClusterIdentifier: east.clusterIdentifier,
              Status: "available",
              SnapshotCreateTime: at(failoverAt, 30),
            },
            {
              DBClusterSnapshotIdentifier: `${east.clusterIdentifier}-at-failover-0badc0de`,
              DBClusterSnapshotArn: arn(`${east.clusterIdentifier}-at-failover-0badc0de`),
              DBClusterIdentifier: east.clusterIdentifier,
              SnapshotType: "manual",
              SourceDBClusterSnapshotArn: arn(earlier),
              Status: "available",
              SnapshotCreateTime: at(failoverAt, 35),
            },
            {
              DBClusterSnapshotIdentifier: taken,
              DBClusterSnapshotArn: arn(taken),
              DBClusterIdentifier: east.clusterIdentifier,
              Status: "available",
              SnapshotCreateTime: at(failoverAt, -2),
            },
          ],
        })
        .on(CopyDBClusterSnapshotCommand)
        .resolves({});
      await rebuild(state, deps);
      expect(copied()).toEqual([taken]);
    });

    describe("refuses a candidate older than the flag's previous move (review M2)", () => {
      // Fence records when the flag moved before (previousUpdatedAt): the failback that made
      // the old primary the writer again. Its point of failure in this failover is newer; an
      // older rds:unplanned-global-failover-* snapshot is an earlier failover's that no
      // re-protect copied (its re-protect found none yet, or never ran).
      const withPreviousMove = (world: FakeWorld, failoverAt: Date, days: number) =>
        world.table.set("active-region", {
          ...world.flag()!,
          previousUpdatedAt: at(failoverAt, -days * 24 * 60).toISOString(),
        });
      const earlier = `rds:unplanned-global-failover-${east.clusterIdentifier}-2026-10-31-02-00`;
      const listing = (failoverAt: Date, extra: object[] = []) => ({
        DBClusterSnapshots: [
          ...extra,
          {
            DBClusterSnapshotIdentifier: earlier,
            DBClusterSnapshotArn: arn(earlier),
            DBClusterIdentifier: east.clusterIdentifier,
            SnapshotType: "automated",
            Status: "available",
            SnapshotCreateTime: at(failoverAt, -30 * 24 * 60),
          },
        ],
      });

      it("does not keep an earlier failover's snapshot once the old primary is back, and says why", async () => {
        const { world, deps, state, failoverAt } = setup();
        withPreviousMove(world, failoverAt, 20);
        rds
          .on(DescribeDBClusterSnapshotsCommand, {
            DBClusterSnapshotIdentifier: names.pointOfFailure,
          })
          .rejects(notFound())
          .on(DescribeDBClusterSnapshotsCommand, { DBClusterIdentifier: east.clusterIdentifier })
          .resolves(listing(failoverAt))
          .on(CopyDBClusterSnapshotCommand)
          .resolves({});
        // Re-added (pending-resync, setup): before the fix the newest candidate was kept here.
        const outcome = await rebuild(state, deps);
        expect(copied()).toEqual([]);
        expect(outcome).toMatchObject({ done: false, action: "wait" });
        expect(outcome.message).toContain(
          `refused ${earlier}, taken ${at(failoverAt, -30 * 24 * 60).toISOString()}: older than the flag's previous move at ${at(failoverAt, -20 * 24 * 60).toISOString()}, so it belongs to an earlier failover`,
        );
      });

      it("completes with the warning, naming the refused one, once the old primary is rebuilt", async () => {
        const { world, deps, state, failoverAt } = setup();
        withPreviousMove(world, failoverAt, 20);
        rds.on(DescribeGlobalClustersCommand).resolves({
          GlobalClusters: [
            {
              GlobalClusterIdentifier: TOPOLOGY.globalClusterIdentifier,
              Status: "available",
              GlobalClusterMembers: [
                { DBClusterArn: west.clusterArn, IsWriter: true },
                {
                  DBClusterArn: east.clusterArn,
                  IsWriter: false,
                  SynchronizationStatus: "connected",
                },
              ],
            },
          ],
        });
        rds
          .on(DescribeDBClusterSnapshotsCommand, {
            DBClusterSnapshotIdentifier: names.pointOfFailure,
          })
          .rejects(notFound())
          .on(DescribeDBClusterSnapshotsCommand, { DBClusterIdentifier: east.clusterIdentifier })
          .resolves(listing(failoverAt));
        const outcome = await rebuild(state, deps);
        expect(copied()).toEqual([]);
        expect(outcome).toMatchObject({ done: true });
        expect(outcome.message).toMatch(
          /^WARNING: Aurora took no point-of-failure snapshot .* for this failover .*refused rds:unplanned-global-failover-/,
        );
      });

      it("still keeps this failover's, dated minutes before the flag moved", async () => {
        const { world, deps, state, failoverAt } = setup();
        withPreviousMove(world, failoverAt, 20);
        const taken = `rds:unplanned-global-failover-${east.clusterIdentifier}-2026-11-30-09-02`;
        rds
          .on(DescribeDBClusterSnapshotsCommand, {
            DBClusterSnapshotIdentifier: names.pointOfFailure,
          })
          .rejects(notFound())
          .on(DescribeDBClusterSnapshotsCommand, { DBClusterIdentifier: east.clusterIdentifier })
          .resolves(
            listing(failoverAt, [
              {
                DBClusterSnapshotIdentifier: taken,
                DBClusterSnapshotArn: arn(taken),
                DBClusterIdentifier: east.clusterIdentifier,
                SnapshotType: "automated",
                Status: "available",
                SnapshotCreateTime: at(failoverAt, -3),
              },
            ]),
          )
          .on(CopyDBClusterSnapshotCommand)
          .resolves({});
        await rebuild(state, deps);
        expect(copied()).toEqual([taken]);
      });
    });
  });
});
