// The peer lease (PEER_LEASE, review M3) on the DR side: who renews it and when (the standby's
// prober), what the adapter sends to DynamoDB, who arms and disarms it (Unfence of a planned move
// to the deployed primary; every Fence), and the wait the database proof adds for it.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { FENCE_PHASE, METRICS, PEER_LEASE } from "../../../functions/common/contract";
import type { ActiveRegionItem } from "../../../functions/common/contract";
import { leaseStopMs } from "../../../functions/dr/check-old-writer/core";
import { fence } from "../../../functions/dr/fence/core";
import { CONDITIONS, DynamoControlTable } from "../../../functions/dr/shared/aws/control-table";
import type { MetricDatum } from "../../../functions/dr/shared/ports";
import type { DrRequest, WorkflowState } from "../../../functions/dr/shared/types";
import { unfence } from "../../../functions/dr/unfence/core";
import { probe, renewLease } from "../../../functions/monitoring/prober/core";
import type { ProberDeps } from "../../../functions/monitoring/prober/core";
import { leaseSettleSeconds } from "../../../infra/lib/fence-bound";
import { EAST, FakeWorld, silentLog, WEST } from "./support/fake-world";

const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());

describe("the control table adapter", () => {
  const table = () =>
    new DynamoControlTable(DynamoDBDocumentClient.from(new DynamoDBClient({})), "control-t");

  it("renews conditional on the region and token read and no move in progress, arming a flag that never had the lease", async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(await table().renewPeerLease(EAST, 3, "2026-11-30T10:00:00.000Z")).toBe(true);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toEqual({
      TableName: "control-t",
      Key: { pk: "active-region" },
      UpdateExpression:
        "SET #peerSeenAt = :at, #leaseRequired = if_not_exists(#leaseRequired, :armed)",
      ConditionExpression:
        "#activeRegion = :activeRegion AND #fencingToken = :token AND (attribute_not_exists(#phase) OR #phase <> :fenced)",
      ExpressionAttributeNames: {
        "#activeRegion": "activeRegion",
        "#fencingToken": "fencingToken",
        "#peerSeenAt": "peerSeenAt",
        "#leaseRequired": "leaseRequired",
        "#phase": "phase",
      },
      ExpressionAttributeValues: {
        ":activeRegion": EAST,
        ":token": 3,
        ":at": "2026-11-30T10:00:00.000Z",
        ":armed": true,
        ":fenced": "fenced",
      },
    });
  });

  it("arms the lease when asked, under the same condition (re-protect's end)", async () => {
    ddb.on(UpdateCommand).resolves({});
    expect(await table().renewPeerLease(EAST, 3, "2026-11-30T10:00:00.000Z", true)).toBe(true);
    const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.UpdateExpression).toBe("SET #peerSeenAt = :at, #leaseRequired = :armed");
    expect(input.ConditionExpression).toBe(CONDITIONS.leaseRenewable);
    expect(input.ExpressionAttributeValues).toMatchObject({ ":armed": true, ":token": 3 });
  });

  it("renews the Terraform seed (no token attribute) as token 0, and reports a failed condition as false", async () => {
    ddb
      .on(UpdateCommand)
      .rejects(Object.assign(new Error("failed"), { name: "ConditionalCheckFailedException" }));
    expect(await table().renewPeerLease(EAST, 0, "t")).toBe(false);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input.ConditionExpression).toBe(
      CONDITIONS.leaseRenewableFirstToken,
    );
  });

  it("arms the lease with the phase when asked, and writes leaseRequired on every flag change", async () => {
    ddb.on(UpdateCommand).resolves({});
    await table().setPhase(EAST, 5, "open", "2026-11-30T10:00:00.000Z", true);
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input).toMatchObject({
      UpdateExpression:
        "SET #phase = :phase, #phaseChangedAt = :at, #leaseRequired = :armed, #peerSeenAt = :at",
      ConditionExpression: CONDITIONS.phaseChange,
      ExpressionAttributeValues: { ":armed": true, ":at": "2026-11-30T10:00:00.000Z" },
    });
    const flag: ActiveRegionItem = {
      activeRegion: WEST,
      fencingToken: 6,
      updatedAt: "t",
      updatedBy: "run-1",
    };
    await table().putActiveRegion({ ...flag, activeRegion: EAST, fencingToken: 5 }, flag);
    const put = ddb.commandCalls(UpdateCommand)[1]!.args[0].input;
    expect(put.UpdateExpression).toContain("#leaseRequired = :leaseRequired");
    expect(put.ExpressionAttributeValues).toMatchObject({ ":leaseRequired": false });
    expect(put.UpdateExpression).not.toContain("peerSeenAt");
  });
});

describe("the prober renews the lease", () => {
  function prober(flag: Partial<ActiveRegionItem> | null, remote?: Partial<ActiveRegionItem>) {
    let clock = Date.parse("2026-11-30T10:00:00.000Z");
    const renewals: [string, number, string][] = [];
    const published: MetricDatum[] = [];
    const errors: string[] = [];
    const d: ProberDeps = {
      activeRegion: async () => flag?.activeRegion ?? null,
      now: () => new Date(clock),
      sleep: async (ms) => {
        clock += ms;
      },
      http: { request: async () => ({ status: 200, body: null }) },
      metrics: {
        put: async (_ns, data) => {
          published.push(...data);
        },
        replicationLag: async () => null,
        replicationLagHistory: async () => [],
        probeResults: async () => [],
      },
      lease: {
        control: {
          getActiveRegion: async () => (flag ? ({ fencingToken: 2, ...flag } as never) : null),
          renewPeerLease: async (region, token, at) => {
            renewals.push([region, token, at]);
            return true;
          },
        },
        remote: () => ({
          getActiveRegion: async () => (remote ? (remote as ActiveRegionItem) : null),
        }),
      },
      log: { ...silentLog, error: (message: string) => errors.push(message) },
    };
    const config = {
      targets: [{ region: EAST, url: "https://use1/health" }],
      intervalMs: 10_000,
      timeoutMs: 3000,
      windowMs: 60_000,
      heartbeatRegion: WEST,
    };
    return { d, config, renewals, published, errors, now: () => clock };
  }

  it("renews once per probe round while its replica names the other region, well within the lease", async () => {
    const p = prober({ activeRegion: EAST, phase: FENCE_PHASE.open });
    await probe(p.config, p.d);
    expect(p.renewals.map(([region, token]) => [region, token])).toEqual(Array(6).fill([EAST, 2]));
    const at = p.renewals.map(([, , t]) => Date.parse(t));
    const gaps = at.slice(1).map((t, i) => (t - at[i]!) / 1000);
    // Two renewals fit in the lease: one missed renewal does not stop the writer.
    for (const gap of gaps) expect(gap * 2).toBeLessThanOrEqual(PEER_LEASE.seconds);
  });

  it("does not renew while its own region is active, while a move is in progress, or with no flag", async () => {
    for (const flag of [
      { activeRegion: WEST, phase: FENCE_PHASE.open },
      { activeRegion: EAST, phase: FENCE_PHASE.fenced },
      null,
    ]) {
      const p = prober(flag);
      await renewLease(WEST, p.d);
      expect(p.renewals).toEqual([]);
    }
  });

  it("publishes the lease's age as the active region's replica holds it, and logs an error past the warning age", async () => {
    const p = prober(
      { activeRegion: EAST, phase: FENCE_PHASE.open },
      {
        activeRegion: EAST,
        leaseRequired: true,
        peerSeenAt: new Date(Date.parse("2026-11-30T10:00:00.000Z") - 25_000).toISOString(),
      },
    );
    await renewLease(WEST, p.d);
    expect(p.published).toEqual([
      {
        name: METRICS.peerLeaseAge,
        value: 25,
        unit: "Seconds",
        dimensions: { Region: EAST },
      },
    ]);
    expect(p.errors).toEqual(["the peer lease in the active region is close to lapsing"]);
  });

  it("publishes the age of a disarmed lease under Armed=false, which the aging alarm does not watch, without an error", async () => {
    const p = prober(
      { activeRegion: EAST, phase: FENCE_PHASE.open },
      {
        activeRegion: EAST,
        leaseRequired: false,
        peerSeenAt: new Date(Date.parse("2026-11-30T10:00:00.000Z") - 35_000).toISOString(),
      },
    );
    await renewLease(WEST, p.d);
    expect(p.published).toEqual([
      {
        name: METRICS.peerLeaseAge,
        value: 35,
        unit: "Seconds",
        dimensions: { Region: EAST, Armed: "false" },
      },
    ]);
    expect(p.errors).toEqual([]);
  });

  // Review 22 M3: while the lease is disarmed no age is published, so the failure itself is
  // counted (PeerLeaseRenewalFailed, in the renewer's region), armed or not, and an alarm on
  // sustained failures notifies (infra/constructs/observability.ts).
  it("counts every failed renewal in its own region, armed or disarmed, and not a refused condition", async () => {
    for (const leaseRequired of [false, true]) {
      const p = prober(
        { activeRegion: EAST, phase: FENCE_PHASE.open, leaseRequired },
        { activeRegion: EAST, leaseRequired, peerSeenAt: "2026-11-30T09:59:50.000Z" },
      );
      (p.d.lease!.control as { renewPeerLease: unknown }).renewPeerLease = async () => {
        throw new Error("AccessDeniedException: not authorized to perform dynamodb:UpdateItem");
      };
      await renewLease(WEST, p.d);
      expect(p.published).toEqual([
        {
          name: METRICS.peerLeaseRenewalFailed,
          value: 1,
          unit: "Count",
          dimensions: { Region: WEST },
        },
      ]);
    }
    const read = prober({ activeRegion: EAST, phase: FENCE_PHASE.open });
    (read.d.lease!.control as { getActiveRegion: unknown }).getActiveRegion = async () => {
      throw new Error("ThrottlingException");
    };
    await renewLease(WEST, read.d);
    expect(read.published.map((m) => m.name)).toEqual([METRICS.peerLeaseRenewalFailed]);
    // The flag changed between the read and the write: a race the next round resolves.
    const raced = prober({ activeRegion: EAST, phase: FENCE_PHASE.open });
    (raced.d.lease!.control as { renewPeerLease: unknown }).renewPeerLease = async () => false;
    await renewLease(WEST, raced.d);
    expect(raced.published).toEqual([]);
  });

  it("keeps probing when the renewal fails", async () => {
    const p = prober({ activeRegion: EAST, phase: FENCE_PHASE.open });
    (p.d.lease!.control as { renewPeerLease: unknown }).renewPeerLease = async () => {
      throw new Error("ThrottlingException");
    };
    const results = await probe(p.config, p.d);
    expect(results).toHaveLength(6);
    expect(p.errors).toContain("could not renew the peer lease");
  });
});

describe("who arms the lease", () => {
  const request = (workflow: DrRequest["workflow"], target: string): DrRequest => ({
    workflow,
    failoverId: "run-1",
    resumed: false,
    executionId: "arn:aws:states:us-west-2:123456789012:execution:sm:run-1",
    executionName: "run-1",
    stateMachineArn: "arn:aws:states:us-west-2:123456789012:stateMachine:sm",
    startedAt: "2026-01-01T00:00:00Z",
    targetRegion: target,
    sourceRegion: target === EAST ? WEST : EAST,
    reason: "drill",
    trigger: "console",
    mode: "automatic",
    forceDetach: false,
    ignoreCooldown: false,
    allowUnknownLag: false,
    assumeOldWriterStopped: false,
  });

  async function move(workflow: DrRequest["workflow"], target: string) {
    const world = new FakeWorld();
    const source = target === EAST ? WEST : EAST;
    world.table.set("active-region", {
      activeRegion: source,
      fencingToken: 1,
      updatedAt: "t",
      updatedBy: "earlier",
      phase: FENCE_PHASE.open,
      leaseRequired: true,
      peerSeenAt: "2026-01-01T00:00:00.000Z",
    });
    const deps = world.deps(target);
    const state: WorkflowState = {
      input: {},
      request: request(workflow, target),
      steps: {},
    } as unknown as WorkflowState;
    const fenced = await fence(state, deps);
    const afterFence = { ...world.table.get("active-region") };
    await unfence(
      {
        ...state,
        steps: { Fence: { ...fenced, startedAt: "t", endedAt: "t" } },
      } as unknown as WorkflowState,
      deps,
    );
    return { afterFence, afterUnfence: world.table.get("active-region"), world };
  }

  it("disarms it at every Fence: an unplanned failover's survivor never waits for its dead peer", async () => {
    const { afterFence, afterUnfence } = await move("failover", WEST);
    expect(afterFence).toMatchObject({ activeRegion: WEST, leaseRequired: false });
    expect(afterUnfence).toMatchObject({ phase: FENCE_PHASE.open, leaseRequired: false });
  });

  it("arms it at the Unfence of a failback to the deployed primary, starting at that write", async () => {
    const { afterFence, afterUnfence, world } = await move("failback", EAST);
    expect(afterFence).toMatchObject({ activeRegion: EAST, leaseRequired: false });
    expect(afterUnfence).toMatchObject({
      phase: FENCE_PHASE.open,
      leaseRequired: true,
      peerSeenAt: new Date(world.clock).toISOString(),
    });
  });

  it("leaves it off after a switchover away from the deployed primary (its peer runs no renewer)", async () => {
    const { afterUnfence } = await move("switchover", WEST);
    expect(afterUnfence).toMatchObject({ leaseRequired: false });
  });
});

describe("the database proof's wait for the lease", () => {
  it("counts DR_LEASE_SETTLE_SECONDS from the fence: lease, two clock skews, the write timeout and its last statement, the margin", () => {
    expect(leaseSettleSeconds({ writeTimeoutSeconds: 10, statementMs: 5_000 })).toBe(
      PEER_LEASE.seconds + 2 * PEER_LEASE.clockSkewSeconds + 10 + 5 + 2,
    );
    const deps = new FakeWorld().deps(WEST, { leaseSettleSeconds: 49 });
    expect(leaseStopMs("2026-11-30T10:00:00.000Z", deps)).toBe(
      Date.parse("2026-11-30T10:00:49.000Z"),
    );
  });
});
