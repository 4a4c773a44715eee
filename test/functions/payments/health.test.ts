import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import "aws-sdk-client-mock-jest";
import { activeRegionMetric, checkHealth } from "../../../functions/payments/health/core";
import type { HealthBody, HealthDeps } from "../../../functions/payments/health/core";
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import type { ApiHandler } from "../../../functions/payments/shared/runtime";
import {
  FakeAws,
  OTHER_REGION,
  REGION,
  TEST_ENV,
  lambdaContext,
  setHandlerEnvironment,
} from "./support/aws";
import { createTestDatabase } from "./support/database";
import type { TestDatabase } from "./support/database";
import { apiEvent, json } from "./support/http";
import type { JsonResult } from "./support/http";
import { startProxy } from "./support/proxy";
import type { DatabaseProxy } from "./support/proxy";

const aws = new FakeAws();
let db: TestDatabase;
let proxy: DatabaseProxy;
let handler: ApiHandler;

beforeAll(async () => {
  db = await createTestDatabase();
  proxy = await startProxy(db.url);
  setHandlerEnvironment(proxy.url);
  ({ handler } = await import("../../../functions/payments/health/handler"));
});

afterAll(async () => {
  await closeAllDatabases();
  await proxy.close();
  await db.drop();
});

beforeEach(async () => {
  aws.reset();
  await proxy.up();
});

async function health(): Promise<JsonResult> {
  return json(
    await handler(
      apiEvent({ method: "GET", path: "/health", anonymous: true }),
      lambdaContext("payments-health-test"),
    ),
  );
}

async function heartbeat(): Promise<Date | undefined> {
  const { rows } = await db.sql.query("SELECT beat_at FROM health_heartbeats WHERE region = $1", [
    REGION,
  ]);
  return rows[0]?.beat_at;
}

describe("GET /health", () => {
  it("answers 200 in the active region with a writable database, without an API key", async () => {
    const response = await health();

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      status: "healthy",
      region: REGION,
      activeRegion: REGION,
      reason: null,
      checks: { flag: "ok", role: "active", database: "writable" },
      replication: { writerHeartbeatAt: expect.any(String) },
      lease: { armed: false, peerSeenAt: null, ageSeconds: null, lapsed: false },
    });
    expect((await heartbeat())!.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it("reads the flag strongly consistently on every call", async () => {
    await health();
    aws.flag = { activeRegion: OTHER_REGION };

    const second = await health();

    expect(second.status).toBe(503);
    expect(aws.dynamodb).toHaveReceivedCommandTimes(GetItemCommand, 2);
    expect(aws.dynamodb).toHaveReceivedCommandWith(GetItemCommand, {
      TableName: TEST_ENV.CONTROL_TABLE,
      Key: { pk: { S: "active-region" } },
      ConsistentRead: true,
    });
  });

  it("answers 503 in the passive region and never writes the heartbeat there", async () => {
    await db.sql.query("DELETE FROM health_heartbeats");
    aws.flag = { activeRegion: OTHER_REGION, phase: "fenced" };

    const response = await health();

    expect(response.status).toBe(503);
    expect(response.body).toEqual({
      status: "passive",
      region: REGION,
      activeRegion: OTHER_REGION,
      reason: `passive region: writes go to ${OTHER_REGION}`,
      checks: { flag: "ok", role: "passive", database: "reachable", phase: "fenced" },
      replication: { writerHeartbeatAt: expect.any(String) },
      lease: { armed: false, peerSeenAt: null, ageSeconds: null, lapsed: false },
    });
    expect(await heartbeat()).toBeUndefined();
  });

  // The DR orchestrator reads this in the target region to tell whether the old primary still
  // replicates (state-machines/README.md, "Never two writers"): what this region's own cluster
  // holds, whatever the flag says.
  it("reports the newest writer heartbeat its own region's cluster holds, active or passive", async () => {
    const beat = new Date("2026-11-30T03:02:05.000Z");
    await db.sql.query("UPDATE writer_heartbeat SET beat_at = $1 WHERE id = 1", [beat]);
    const active = await health();
    aws.flag = { activeRegion: OTHER_REGION };
    const passive = await health();
    for (const response of [active, passive]) {
      expect(response.body.replication).toEqual({ writerHeartbeatAt: beat.toISOString() });
    }
  });

  it("reports no writer heartbeat when its cluster cannot be read, and still answers", async () => {
    await proxy.down();
    const response = await health();
    expect(response.status).toBe(503);
    expect(response.body.replication).toEqual({ writerHeartbeatAt: null });
  });

  it.each([
    ["missing", undefined, "active-region flag missing"],
    [
      "unreadable",
      new Error("RequestLimitExceeded"),
      "active-region flag unreadable: RequestLimitExceeded",
    ],
  ])("answers 503 when the flag is %s", async (_label, flag, reason) => {
    aws.flag = flag;

    const response = await health();

    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({
      status: "unhealthy",
      activeRegion: null,
      reason,
      checks: { flag: "unreadable", role: "unknown" },
    });
  });

  // Route 53 judges the status code only (2xx/3xx healthy: dns-failover-determining-health-of-
  // endpoints.html), and so does the prober whose alarm starts a failover: a lapsed lease shows
  // in the body, and the region still answers 200 (core.ts says why).
  it("shows a lapsed peer lease in the body and still answers 200, so Route 53 keeps the region", async () => {
    const seen = new Date(Date.now() - 45_000).toISOString();
    aws.flag = { activeRegion: REGION, phase: "open", leaseRequired: true, peerSeenAt: seen };

    const response = await health();

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      status: "healthy",
      reason: null,
      lease: { armed: true, peerSeenAt: seen, lapsed: true },
    });
    const age = (response.body as { lease: { ageSeconds: number } }).lease.ageSeconds;
    expect(age).toBeGreaterThanOrEqual(45);
    expect(age).toBeLessThan(60);
  });

  it("shows an armed, fresh peer lease with its age", async () => {
    const seen = new Date(Date.now() - 8_000).toISOString();
    aws.flag = { activeRegion: REGION, phase: "open", leaseRequired: true, peerSeenAt: seen };

    const response = await health();

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      lease: { armed: true, peerSeenAt: seen, lapsed: false },
    });
  });

  // Session 23: a move into this region is under way (its Fence wrote the flag here, phase
  // fenced, until its Unfence): 200 "taking-over" for Route 53, but the ActiveRegion metric
  // ("1 = takes writes") stays 0 until the flag opens.
  it("answers 200 taking-over once the run has proven the old writer stopped, writing no heartbeat, and counts it active only once open", async () => {
    await db.sql.query("DELETE FROM health_heartbeats");
    aws.flag = { activeRegion: REGION, phase: "fenced" };
    const beforeProof = await health();
    aws.flag = { activeRegion: REGION, phase: "fenced", promotingAt: "2026-11-30T03:00:00Z" };

    const response = await health();

    // Review 23 M2, L5: fenced without the proof stamp is 503, and nothing is written while fenced.
    expect(beforeProof.status).toBe(503);
    expect(beforeProof.body.reason).toMatch(/has not proven the old writer stopped/);
    expect(await heartbeat()).toBeUndefined();
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      status: "taking-over",
      activeRegion: REGION,
      checks: { flag: "ok", role: "active", database: "writable", phase: "fenced" },
    });
    expect(response.body.reason).toMatch(/^taking over: /);
    expect(activeRegionMetric(response.body as unknown as HealthBody)).toBe(0);
    aws.flag = { activeRegion: REGION, phase: "open" };
    const open = await health();
    expect(open.body).toMatchObject({ status: "healthy" });
    expect(activeRegionMetric(open.body as unknown as HealthBody)).toBe(1);
    aws.flag = { activeRegion: OTHER_REGION, phase: "fenced" };
    expect(activeRegionMetric((await health()).body as unknown as HealthBody)).toBe(0);
  });

  it("answers 503 when the database is unreachable", async () => {
    await proxy.down();

    const response = await health();

    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({
      status: "unhealthy",
      activeRegion: REGION,
      checks: { flag: "ok", role: "active", database: "unreachable" },
    });
    expect(response.body.reason).toMatch(/^database unreachable: /);
  });

  it("answers 503 when the database refuses writes", async () => {
    const name = new URL(db.url).pathname.slice(1);
    await db.sql.query(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
    // New sessions pick the setting up: drop the function's pooled connections.
    await proxy.down();
    await proxy.up();
    try {
      const response = await health();

      expect(response.status).toBe(503);
      expect(response.body).toMatchObject({
        status: "unhealthy",
        reason: "database refused the heartbeat write (read-only)",
        checks: { database: "read-only" },
      });
    } finally {
      await db.sql.query(`ALTER DATABASE ${name} RESET default_transaction_read_only`);
      await proxy.down();
    }
  });
});

describe("checkHealth", () => {
  const deps: HealthDeps = {
    region: REGION,
    readFlag: async () => ({ activeRegion: REGION }),
    probeDatabase: async () => "writable",
    probeOwnCluster: async () => "writable",
    readWriterHeartbeat: async () => new Date("2026-11-30T03:02:05.000Z"),
    checkTimeoutMs: 50,
  };
  const PROVEN = { activeRegion: REGION, phase: "fenced", promotingAt: "2026-11-30T03:00:00Z" };

  it("reads the writer heartbeat beside the flag, so a slow replica costs no extra time", async () => {
    const started = Date.now();
    const report = await checkHealth({
      ...deps,
      readFlag: () => new Promise((r) => setTimeout(() => r({ activeRegion: REGION }), 40)),
      readWriterHeartbeat: () => new Promise(() => undefined),
    });
    expect(report.statusCode).toBe(200);
    expect(report.body.replication).toEqual({ writerHeartbeatAt: null });
    // Flag (40 ms) then database; the heartbeat's own 50 ms ran beside the flag.
    expect(Date.now() - started).toBeLessThan(100 + 50);
  });

  it("reads the lease's age on its own clock, and counts a renewal stamped far ahead as lapsed", async () => {
    const now = Date.parse("2026-11-30T03:00:00.000Z");
    const at = (offsetMs: number) =>
      checkHealth({
        ...deps,
        now: () => now,
        readFlag: async () => ({
          activeRegion: REGION,
          leaseRequired: true,
          peerSeenAt: new Date(now - offsetMs).toISOString(),
        }),
      });

    expect((await at(30_000)).body.lease).toEqual({
      armed: true,
      peerSeenAt: "2026-11-30T02:59:30.000Z",
      ageSeconds: 30,
      lapsed: false,
    });
    expect((await at(30_100)).body.lease).toMatchObject({ ageSeconds: 30.1, lapsed: true });
    expect((await at(-2_500)).body.lease).toMatchObject({ ageSeconds: -2.5, lapsed: true });
    expect((await at(30_100)).statusCode).toBe(200);
  });

  it("shows no lease when the flag is unreadable", async () => {
    const report = await checkHealth({
      ...deps,
      readFlag: async () => {
        throw new Error("control flag unreadable");
      },
    });

    expect(report.statusCode).toBe(503);
    expect(report.body.lease).toBeNull();
  });

  it("answers 503 when the database is a recovering replica", async () => {
    const report = await checkHealth({ ...deps, probeDatabase: async () => "in recovery" });

    expect(report.statusCode).toBe(503);
    expect(report.body.reason).toBe("database is in recovery (a read replica)");
  });

  // Route 53 counts the target's checks from the run's proof, during the promotion (core.ts,
  // "Taking over"); nothing else makes a passive region healthy.
  // Review 23 H1: the check goes to this region's own cluster, read-only; the payment path's
  // endpoint (the global writer endpoint, the dead old writer in a region-down) is not asked.
  it("answers 200 taking-over after the proof from its own cluster in recovery, whatever the global endpoint does", async () => {
    const viaGlobal: boolean[] = [];
    const report = await checkHealth({
      ...deps,
      readFlag: async () => PROVEN,
      probeDatabase: (write) => {
        viaGlobal.push(write);
        return new Promise(() => undefined); // the old writer, down
      },
      probeOwnCluster: async () => "in recovery",
    });

    expect(report.statusCode).toBe(200);
    expect(report.body).toMatchObject({
      status: "taking-over",
      activeRegion: REGION,
      checks: { role: "active", database: "in recovery", phase: "fenced" },
    });
    expect(report.body.reason).toContain("payment writes answer 503 until the run's Unfence");
    expect(viaGlobal).toEqual([]);
  });

  // Review 23 M2: a run that halts before its proof (say, the fence never reached the old
  // region) must not draw clients away from the only region that can write.
  it("rejects taking over before the run has proven the old writer stopped: 503", async () => {
    const report = await checkHealth({
      ...deps,
      readFlag: async () => ({ activeRegion: REGION, phase: "fenced" }),
      probeOwnCluster: async () => "in recovery",
    });

    expect(report.statusCode).toBe(503);
    expect(report.body.status).toBe("unhealthy");
    expect(report.body.reason).toMatch(/has not proven the old writer stopped/);
  });

  it.each([
    ["a passive region no failover has fenced towards", { activeRegion: OTHER_REGION }],
    [
      "a passive region whose flag is open elsewhere",
      { activeRegion: OTHER_REGION, phase: "open" },
    ],
    ["the old region a failover fenced away", { activeRegion: OTHER_REGION, phase: "fenced" }],
    ["an open active region whose database is a replica", { activeRegion: REGION, phase: "open" }],
  ])("answers 503 in %s, its database in recovery", async (_label, flag) => {
    const report = await checkHealth({
      ...deps,
      readFlag: async () => flag,
      probeDatabase: async () => "in recovery",
    });

    expect(report.statusCode).toBe(503);
    expect(report.body.status).not.toBe("taking-over");
  });

  // Review 23b-10 L3: the guard refuses writes under a phase it does not know; /health agrees.
  it("answers 503 under a flag phase it does not know, writing no heartbeat, and counts the region inactive", async () => {
    const viaGlobal: boolean[] = [];
    const report = await checkHealth({
      ...deps,
      readFlag: async () => ({ ...PROVEN, phase: "draining" }),
      probeDatabase: async (write) => {
        viaGlobal.push(write);
        return "writable";
      },
    });

    expect(report.statusCode).toBe(503);
    expect(report.body.status).toBe("unhealthy");
    expect(report.body.reason).toMatch(/flag phase "draining" is not one this function knows/);
    expect(viaGlobal).toEqual([]);
    expect(activeRegionMetric(report.body)).toBe(0);
  });

  it("keeps taking over while its own cluster refuses connections (the promoted writer's restart): 200", async () => {
    // A managed failover ends with the new writer restarting into its role. Three failed checks
    // in that window would make this record unhealthy, and with both records unhealthy Route 53
    // answers the PRIMARY, the stopped old region
    // (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html).
    const report = await checkHealth({
      ...deps,
      readFlag: async () => PROVEN,
      probeOwnCluster: () => Promise.reject(new Error("connect ECONNREFUSED")),
    });
    expect(report.statusCode).toBe(200);
    expect(report.body.status).toBe("taking-over");
    expect(report.body.reason).toMatch(/^taking over: .*does not answer \(connect ECONNREFUSED\)/);
    expect(report.body.checks.database).toBe("unreachable");
  });

  it("does not take over with its own cluster down before the run's proof: 503", async () => {
    const report = await checkHealth({
      ...deps,
      readFlag: async () => ({ ...PROVEN, promotingAt: undefined }),
      probeOwnCluster: () => Promise.reject(new Error("connect ECONNREFUSED")),
    });
    expect(report.statusCode).toBe(503);
    expect(report.body.status).toBe("unhealthy");
    expect(report.body.reason).toMatch(/^own cluster unreachable: /);
  });

  it("answers 503 when a check hangs, in bounded time", async () => {
    const started = Date.now();

    const report = await checkHealth({
      ...deps,
      probeDatabase: () => new Promise(() => undefined),
    });

    expect(report.statusCode).toBe(503);
    expect(report.body.reason).toBe("database unreachable: database check timed out after 50 ms");
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("only probes the database read-only when the region is passive", async () => {
    const writes: boolean[] = [];

    await checkHealth({
      ...deps,
      readFlag: async () => ({ activeRegion: OTHER_REGION }),
      probeDatabase: async (write) => {
        writes.push(write);
        return "reachable";
      },
    });

    expect(writes).toEqual([false]);
  });
});
