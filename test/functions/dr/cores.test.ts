// Behaviour of the cores that the workflow runs do not pin down on their own.
import { METRICS } from "../../../functions/common/contract";
import { notify } from "../../../functions/dr/notify/core";
import { clientSettings } from "../../../functions/dr/shared/aws/clients";
import { probe, probeCount } from "../../../functions/monitoring/prober/core";
import { heartbeatLiveness } from "../../../functions/dr/shared/heartbeat-watch";
import type { ProberDeps } from "../../../functions/monitoring/prober/core";
import { approvalMessage } from "../../../functions/dr/request-approval/core";
import { releaseLock } from "../../../functions/dr/release-lock/core";
import { bestEffort } from "../../../functions/dr/shared/best-effort";
import { TransientError } from "../../../functions/dr/shared/errors";
import type { HeartbeatWatch, MetricDatum } from "../../../functions/dr/shared/ports";
import { readSettings } from "../../../functions/dr/shared/settings";
import { parseTopology } from "../../../functions/dr/shared/topology";
import type { DrRequest, WorkflowState } from "../../../functions/dr/shared/types";
import { EAST, FakeWorld, silentLog, TOPOLOGY, WEST } from "./support/fake-world";

const request: DrRequest = {
  workflow: "failover",
  failoverId: "run-1",
  resumed: false,
  executionId: "arn:aws:states:us-west-2:123456789012:execution:sm:run-1",
  executionName: "run-1",
  stateMachineArn: "arn:aws:states:us-west-2:123456789012:stateMachine:sm",
  startedAt: "2026-01-01T00:00:00Z",
  targetRegion: WEST,
  sourceRegion: EAST,
  reason: "it's down",
  trigger: "alarm",
  mode: "approval",
  forceDetach: false,
  ignoreCooldown: false,
  allowUnknownLag: false,
  assumeOldWriterStopped: false,
};
const input = { targetRegion: WEST, reason: "it's down", trigger: "alarm", mode: "approval" };
const context = {
  executionId: request.executionId,
  executionName: "run-1",
  startTime: request.startedAt,
  stateMachineArn: request.stateMachineArn,
};

describe("the prober", () => {
  function deps(statuses: (number | Error)[]) {
    let clock = 0;
    const log: string[] = [];
    const published: MetricDatum[] = [];
    const d: ProberDeps = {
      now: () => new Date(clock),
      sleep: async (ms) => {
        clock += ms;
      },
      http: {
        request: async (_m, url, options) => {
          const next = statuses.shift() ?? 200;
          log.push(`GET ${url} t=${clock} timeout=${options.timeoutMs}`);
          clock += 150;
          if (next instanceof Error) throw next;
          return { status: next, body: null };
        },
      },
      metrics: {
        put: async (_ns, data) => {
          log.push(`put ${data.map((m) => m.value).join()}`);
          published.push(...data);
        },
        replicationLag: async () => null,
        replicationLagHistory: async () => [],
        probeResults: async () => [],
      },
      log: silentLog,
    };
    return { d, log, published };
  }

  it("probes six times a minute at 10 s intervals, publishing each result before the next probe", async () => {
    const { d, log, published } = deps([200, 503, new TransientError("timeout"), 200, 200, 200]);
    const results = await probe(
      {
        targets: [{ region: EAST, url: "https://use1/health" }],
        intervalMs: 10_000,
        timeoutMs: 3000,
        windowMs: 60_000,
      },
      d,
    );
    expect(results.map((r) => r.healthy)).toEqual([true, false, false, true, true, true]);
    expect(log).toEqual([
      "GET https://use1/health t=0 timeout=3000",
      "put 1",
      "GET https://use1/health t=10000 timeout=3000",
      "put 0",
      "GET https://use1/health t=20000 timeout=3000",
      "put 0",
      "GET https://use1/health t=30000 timeout=3000",
      "put 1",
      "GET https://use1/health t=40000 timeout=3000",
      "put 1",
      "GET https://use1/health t=50000 timeout=3000",
      "put 1",
    ]);
    expect(published[0]).toEqual({
      name: METRICS.probeHealthy,
      value: 1,
      unit: "None",
      dimensions: { Region: EAST },
      timestamp: new Date(0),
      storageResolution: 1,
    });
  });

  it("publishes no health datapoint for a 429 (the stage throttle anyone can drain on /health), only an inconclusive count", async () => {
    // Review H1: an anonymous flood of /health must not make the prober fail over a healthy
    // region; the alarm treats missing data as not breaching. Review 22b-18 M1': but it is
    // counted, so a 429 that persists pages (probe-inconclusive).
    const { d, published } = deps([429, 429, 500, 200]);
    const results = await probe(
      {
        targets: [{ region: EAST, url: "https://use1/health" }],
        intervalMs: 10_000,
        timeoutMs: 3000,
        windowMs: 40_000,
      },
      d,
    );
    expect(results.map((r) => [r.healthy, r.inconclusive ?? false])).toEqual([
      [false, true],
      [false, true],
      [false, false],
      [true, false],
    ]);
    expect(published.filter((m) => m.name === METRICS.probeHealthy).map((m) => m.value)).toEqual([
      0, 1,
    ]);
    expect(published.filter((m) => m.name === METRICS.probeInconclusive)).toEqual(
      [0, 10_000].map((t) => ({
        name: "ProbeInconclusive",
        value: 1,
        unit: "Count",
        dimensions: { Region: EAST },
        timestamp: new Date(t),
        storageResolution: 1,
      })),
    );
  });

  it("keeps probing when a metric cannot be published", async () => {
    const { d } = deps([200, 200]);
    const failing = {
      ...d,
      metrics: { ...d.metrics, put: async () => Promise.reject(new Error("throttled")) },
    };
    const results = await probe(
      {
        targets: [{ region: EAST, url: "https://use1/health" }],
        intervalMs: 10_000,
        timeoutMs: 3000,
        windowMs: 20_000,
      },
      failing,
    );
    expect(results).toHaveLength(2);
  });

  it("fits the probes into the window it is given", () => {
    expect(probeCount({ intervalMs: 10_000, windowMs: 60_000 })).toBe(6);
    expect(probeCount({ intervalMs: 10_000, windowMs: 26_000 })).toBe(2);
    expect(probeCount({ intervalMs: 10_000, windowMs: 1_000 })).toBe(1);
  });
});

describe("the approval request", () => {
  it("says how to approve and reject, with the token quoted for a shell", () => {
    const world = new FakeWorld();
    const { message } = approvalMessage(
      {
        state: { input, request, steps: {} } as WorkflowState,
        taskToken: "AAA'BBB",
        timeoutSeconds: 1800,
      },
      world.deps(WEST),
    );
    expect(message).toContain(
      `aws stepfunctions send-task-success --region us-west-2 --task-token 'AAA'\\''BBB' --task-output '{"approved":true}'`,
    );
    expect(message).toContain(
      `aws stepfunctions send-task-failure --region us-west-2 --task-token 'AAA'\\''BBB' --error ApprovalRejected`,
    );
    expect(message).toContain(
      "https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/v2/executions/details/",
    );
  });
});

describe("the completion page of a failover (review L3)", () => {
  it("says the target may be up to the RPO bound behind, whatever the last lag datapoint said", async () => {
    const world = new FakeWorld();
    const state = {
      input,
      request,
      steps: {
        AcquireLock: { owner: "run-1", facts: { replicationLagMs: 250 } },
        Preflight: { replicationLagMs: 250, replicationLagAt: "2026-01-01T00:00:00.000Z" },
        Fence: { fencingToken: 3 },
        Promote: { method: "managed-failover" },
      },
    } as unknown as WorkflowState;
    await notify({ workflow: "failover", outcome: "completed", state, context }, world.deps(WEST));
    const { message } = world.messages[WEST]![0]!;
    expect(message).toContain("RPO estimate (replication lag when the run began): 250 ms");
    expect(message).toContain(
      "RPO bound: up to 60 s of payments acknowledged in us-east-1 may be missing from us-west-2 (rds.global_db_rpo). The estimate above is the last lag datapoint (2026-01-01T00:00:00.000Z), published once a minute and possibly not at all while replication was cut",
    );
  });
});

describe("the page after a failure", () => {
  it("names the failed step, what changed, and the exact commands to resume or abandon", async () => {
    const world = new FakeWorld();
    const state = {
      input,
      request,
      steps: {
        AcquireLock: { owner: "run-1" },
        Fence: { fencingToken: 3 },
        Promote: { method: "managed-failover" },
      },
      failures: {
        CheckPromotion: {
          Error: "AccessDeniedError",
          Cause: JSON.stringify({ errorMessage: "not allowed" }),
        },
      },
    } as unknown as WorkflowState;
    const result = await notify(
      { workflow: "failover", outcome: "halted", state, context },
      world.deps(WEST),
    );
    const { subject, message } = world.messages[WEST]![0]!;
    expect(subject).toBe("[payments-dr test] failover to us-west-2 HALTED at CheckPromotion");
    expect(message).toContain("Error: AccessDeniedError\nCause: not allowed");
    expect(message).toContain(
      "us-east-1 is fenced: the active-region flag names us-west-2 (fencing token 3)",
    );
    expect(message).toContain(
      "The promotion of us-west-2 was requested (managed-failover) but is not confirmed",
    );
    expect(message).toContain(
      `aws stepfunctions start-execution --region us-west-2 --state-machine-arn ${request.stateMachineArn} --input '{"targetRegion":"us-west-2","reason":"it'\\''s down","trigger":"alarm","mode":"approval","resumeFailoverId":"run-1"}'`,
    );
    expect(message).toContain(
      `aws dynamodb delete-item --region us-west-2 --table-name ${TOPOLOGY.controlTable} --key '{"pk":{"S":"failover-lock"}}'`,
    );
    expect(result).toEqual(
      expect.objectContaining({
        error: "AccessDeniedError",
        cause: "CheckPromotion: not allowed (see the page for how to resume)",
      }),
    );
  });

  // SNS Publish: "Subjects must be ASCII text that begins with a letter, number, or punctuation
  // mark; must not include line breaks or control characters; and must be less than 100
  // characters long." https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
  it("keeps a long subject under 100 printable ASCII characters, so the page itself is accepted", async () => {
    const world = new FakeWorld({ ...TOPOLOGY, environmentSuffix: "longsufx" });
    const state = {
      input,
      request: { ...request, targetRegion: WEST },
      steps: {},
      failures: {
        ReleaseLockNotApprovedAfterAVeryLongRetryOfTheApproval: { Error: "States.Timeout" },
      },
    } as unknown as WorkflowState;
    await notify({ workflow: "switchover", outcome: "halted", state, context }, world.deps(WEST));
    const { subject } = world.messages[WEST]![0]!;
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^[\x21-\x7e][\x20-\x7e]*$/);
    expect(subject).toContain("HALTED");
  });

  // Review M1 (session 22): a run that stopped at AcquireLock has no steps.AcquireLock, whatever
  // it left behind; the page reads the lock instead of saying none is held.
  describe("after AcquireLock failed", () => {
    const halted = (error: string, cause: string) =>
      ({
        input,
        request,
        steps: {},
        failures: { AcquireLock: { Error: error, Cause: JSON.stringify({ errorMessage: cause }) } },
      }) as unknown as WorkflowState;
    const page = async (world: FakeWorld, state: WorkflowState) => {
      await notify({ workflow: "failover", outcome: "halted", state, context }, world.deps(WEST));
      return world.messages[WEST]![0]!.message;
    };
    const lockOf = (owner: string) => ({
      owner,
      operation: "switchover",
      acquiredAt: "2026-01-01T00:00:00Z",
      expiresAt: 1767247200,
      targetRegion: WEST,
      sourceRegion: EAST,
      facts: {},
    });

    it.each([
      [
        "a release that failed",
        "LockUnconfirmedError",
        "its lock could not be released in us-west-2's copy",
      ],
      [
        "every attempt killed before its release",
        "Sandbox.Timedout",
        "Task timed out after 8.00 seconds",
      ],
      [
        "an exception after its put",
        "TransientError",
        "dynamodb:UpdateItem failover-lock: throttled",
      ],
      [
        "IAM's refusal with a failed release",
        "AccessDeniedError",
        "not allowed; its lock could not be released",
      ],
    ])(
      "says the lock is still held, until when, and how to release it: %s",
      async (_, error, cause) => {
        const world = new FakeWorld();
        world.table.set("failover-lock", lockOf("run-1"));
        const message = await page(world, halted(error, cause));
        expect(message).not.toContain("No lock is held");
        expect(message).toContain(
          "The failover lock is still held by this run in us-west-2's copy, until 2026-01-01T06:00:00.000Z",
        );
        expect(message).toContain(
          `aws dynamodb delete-item --region us-west-2 --table-name ${TOPOLOGY.controlTable} --key '{"pk":{"S":"failover-lock"}}' --condition-expression "#o = :o" --expression-attribute-names '{"#o":"owner"}' --expression-attribute-values '{":o":{"S":"run-1"}}'`,
        );
      },
    );

    it("says no lock is held by this run only when the read says so", async () => {
      const world = new FakeWorld();
      world.table.set("failover-lock", lockOf("another-run"));
      const message = await page(world, halted("LockHeldError", "held"));
      expect(message).toContain(
        "No lock is held by this run in us-west-2's copy (read for this page; it names run another-run, a switchover)",
      );
    });

    it("says the lock may still be held, with the command, when it cannot be read", async () => {
      const world = new FakeWorld();
      world.table.set("failover-lock", lockOf("run-1"));
      world.inject("dynamodb:GetItem failover-lock", () => new Error("ECONNRESET"));
      const message = await page(world, halted("Sandbox.Timedout", "Task timed out"));
      expect(message).not.toContain("No lock is held");
      expect(message).toContain("This run may still hold the failover lock");
      expect(message).toContain("payments-dr status");
      expect(message).toContain('--expression-attribute-values \'{":o":{"S":"run-1"}}\'');
    });
  });

  it("says nothing changed when the input could not even be validated", async () => {
    const world = new FakeWorld();
    await notify(
      {
        workflow: "failover",
        outcome: "halted",
        state: {
          ...input,
          failures: { ValidateInput: { Error: "AccessDeniedError", Cause: "x" } },
        },
        context,
      },
      world.deps(WEST),
    );
    expect(world.messages[WEST]![0]!.message).toContain("Nothing was changed.");
  });
});

describe("best-effort calls", () => {
  it("give up after their time cap instead of hanging", async () => {
    const started = Date.now();
    const result = await bestEffort("hang", () => new Promise(() => undefined), {
      log: silentLog,
      settings: { bestEffortTimeoutMs: 50 },
    });
    expect(result).toEqual({ ok: false, error: "Error: no answer within 50 ms" });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe("AWS client settings", () => {
  it("give the other region one attempt and 1-2 s timeouts, the target region normal ones", () => {
    expect(clientSettings(EAST, "bestEffort")).toEqual({
      region: EAST,
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: 1000,
        requestTimeout: 2000,
        throwOnRequestTimeout: true,
      },
    });
    expect(clientSettings(WEST, "critical")).toEqual({
      region: WEST,
      maxAttempts: 2,
      requestHandler: {
        connectionTimeout: 1000,
        requestTimeout: 2000,
        throwOnRequestTimeout: true,
      },
    });
  });
});

describe("configuration", () => {
  it("rejects a topology without exactly one primary", () => {
    const bad = JSON.parse(JSON.stringify(TOPOLOGY));
    bad.regions[WEST].role = "primary";
    expect(() => parseTopology(JSON.stringify(bad))).toThrow(
      "DR_TOPOLOGY: exactly one region must have role primary",
    );
  });

  it("rejects a cluster ARN from the wrong region", () => {
    const bad = JSON.parse(JSON.stringify(TOPOLOGY));
    bad.regions[WEST].clusterArn = TOPOLOGY.regions[EAST]!.clusterArn;
    expect(() => parseTopology(JSON.stringify(bad))).toThrow(/clusterArn must be in us-west-2/);
  });

  it("reads the tunables with defaults and bounds", () => {
    expect(readSettings({})).toMatchObject({
      cooldownMinutes: 30,
      lockTtlMinutes: 360,
      failbackMaxLagMs: 1000,
    });
    expect(readSettings({ DR_COOLDOWN_MINUTES: "5" }).cooldownMinutes).toBe(5);
    expect(() => readSettings({ DR_LOCK_TTL_MINUTES: "1" })).toThrow(
      /DR_LOCK_TTL_MINUTES="1" must be a whole number from 30/,
    );
  });
});

describe("the prober and the active region", () => {
  const config = {
    targets: [
      { region: EAST, url: "https://use1/health" },
      { region: "eu-west-1", url: "https://euw1/health" },
    ],
    intervalMs: 10_000,
    timeoutMs: 3000,
    windowMs: 20_000,
  };
  function world(active: () => Promise<string | null>) {
    let clock = 0;
    const probed: string[] = [];
    const d: ProberDeps = {
      activeRegion: active,
      now: () => new Date(clock),
      sleep: async (ms) => {
        clock += ms;
      },
      http: {
        request: async (_m, url) => {
          probed.push(url);
          return { status: 503, body: null };
        },
      },
      metrics: {
        put: async () => undefined,
        replicationLag: async () => null,
        replicationLagHistory: async () => [],
        probeResults: async () => [],
      },
      log: silentLog,
    };
    return { d, probed };
  }

  it("probes only the region the flag names as active, so a passive region never raises the alarm", async () => {
    const { d, probed } = world(async () => "eu-west-1");
    const results = await probe(config, d);
    expect(probed).toEqual(["https://euw1/health", "https://euw1/health"]);
    expect(results.map((r) => r.region)).toEqual(["eu-west-1", "eu-west-1"]);
  });

  it("publishes nothing after a failover made the prober's own region active", async () => {
    const { d, probed } = world(async () => "us-west-2");
    expect(await probe(config, d)).toEqual([]);
    expect(probed).toEqual([]);
  });

  it("probes every target when the flag was never written or cannot be read", async () => {
    const unset = world(async () => null);
    await probe(config, unset.d);
    expect(unset.probed).toHaveLength(4);
    const broken = world(async () => Promise.reject(new Error("ResourceNotFoundException")));
    await probe(config, broken.d);
    expect(broken.probed).toHaveLength(4);
  });
});

describe("the prober's heartbeat", () => {
  it("reports every invocation in its own region, even with nothing to probe", async () => {
    const published: MetricDatum[] = [];
    const d: ProberDeps = {
      activeRegion: async () => "us-west-2",
      now: () => new Date(0),
      sleep: async () => undefined,
      http: { request: async () => ({ status: 200, body: null }) },
      metrics: {
        put: async (_ns, data) => {
          published.push(...data);
        },
        replicationLag: async () => null,
        replicationLagHistory: async () => [],
        probeResults: async () => [],
      },
      log: silentLog,
    };
    const results = await probe(
      {
        targets: [{ region: EAST, url: "https://use1/health" }],
        intervalMs: 10_000,
        timeoutMs: 3000,
        windowMs: 20_000,
        heartbeatRegion: "us-west-2",
      },
      d,
    );
    expect(results).toEqual([]);
    expect(published).toEqual([
      {
        name: METRICS.proberHeartbeat,
        value: 1,
        unit: "Count",
        dimensions: { Region: "us-west-2" },
      },
    ]);
  });
});

describe("releasing the lock", () => {
  // Its DeleteItem landed but the answer was lost (or the function timed out after it), another
  // run took the free lock, and Step Functions retries ReleaseLock.
  it("finishes when an earlier attempt released it and another run has taken it since", async () => {
    const world = new FakeWorld();
    const deps = world.deps(WEST);
    const now = Math.floor(world.clock / 1000);
    const other = {
      owner: "run-2",
      operation: "failover",
      acquiredAt: new Date(world.clock).toISOString(),
      expiresAt: now + 3600,
      targetRegion: WEST,
      sourceRegion: EAST,
      facts: {},
    };
    expect(await deps.ports(WEST, "critical").control.putLock(other, now)).toBe(true);
    const state: WorkflowState = { input, request, steps: {} };

    await expect(releaseLock(state, deps)).resolves.toMatchObject({ released: true });
    expect(world.lock()).toMatchObject({ owner: "run-2" });
  });
});

describe("the prober's watch of the writer heartbeat (review H1, H2)", () => {
  // The heartbeat the prober's own region's cluster holds, as its /health reports it, per look.
  function watching(held: (string | null)[], healthy: boolean[]) {
    let clock = Date.parse("2026-11-30T08:00:00.000Z");
    let stored: HeartbeatWatch | null = null;
    const published: MetricDatum[] = [];
    const d: ProberDeps = {
      activeRegion: async () => EAST,
      now: () => new Date(clock),
      sleep: async (ms) => {
        clock += ms;
      },
      http: {
        request: async () => ({ status: healthy.shift() === false ? 503 : 200, body: null }),
      },
      metrics: {
        put: async (_ns, data) => {
          published.push(...data);
        },
        replicationLag: async () => null,
        replicationLagHistory: async () => [],
        probeResults: async () => [],
      },
      replica: {
        writerHeartbeat: async () => {
          const beatAt = held.shift() ?? null;
          return beatAt === null ? null : { beatAt };
        },
      },
      control: {
        getHeartbeatWatch: async () => stored,
        putHeartbeatWatch: async (next, previous) => {
          if ((stored?.checkedAt ?? null) !== previous) return false;
          stored = next;
          return true;
        },
      },
      log: silentLog,
    };
    const config = {
      targets: [{ region: EAST, url: "https://use1/health" }],
      intervalMs: 10_000,
      timeoutMs: 3000,
      windowMs: 60_000,
      heartbeatRegion: WEST,
      heartbeatStaleAfterSeconds: 25,
    };
    return { d, config, published, watch: () => stored };
  }
  const stale = (published: MetricDatum[]) =>
    published.filter((m) => m.name === METRICS.writerHeartbeatStale).map((m) => m.value);

  it("records when each value was first seen and that it advanced", async () => {
    const { d, config, published, watch } = watching(
      [
        "2026-11-30T07:59:40.000Z",
        "2026-11-30T07:59:40.000Z",
        "2026-11-30T07:59:50.000Z",
        "2026-11-30T08:00:05.000Z",
        "2026-11-30T08:00:15.000Z",
        "2026-11-30T08:00:25.000Z",
      ],
      [],
    );
    await probe(config, d);
    expect(watch()).toMatchObject({
      beatAt: "2026-11-30T08:00:25.000Z",
      firstSeenAt: "2026-11-30T08:00:50.000Z",
      advanced: true,
    });
    expect(watch()!.staleSince).toBeUndefined();
    expect(stale(published)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("flags a heartbeat frozen since its migration (pg_cron not loaded) while the writer answers healthy", async () => {
    const frozen = "2026-11-30T06:00:00.000Z";
    const { d, config, published, watch } = watching(Array(6).fill(frozen), []);
    await probe(config, d);
    expect(watch()).toMatchObject({ beatAt: frozen, advanced: false });
    expect(watch()!.staleSince).toBeDefined();
    expect(stale(published).at(-1)).toBe(1);
    const liveness = heartbeatLiveness(watch(), new Date(Date.parse(watch()!.checkedAt)), 300);
    expect(liveness).toMatchObject({ alive: false });
  });

  it("does not flag a heartbeat that stands still while the writer is unhealthy (blocked, cut off, down)", async () => {
    const last = "2026-11-30T07:59:58.000Z";
    const { d, config, published, watch } = watching(
      ["2026-11-30T07:59:53.000Z", ...Array(5).fill(last)],
      [true, false, false, false, false, false],
    );
    await probe(config, d);
    expect(watch()).toMatchObject({ beatAt: last, advanced: true });
    expect(watch()!.staleSince).toBeUndefined();
    expect(stale(published)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(heartbeatLiveness(watch(), new Date(Date.parse(watch()!.checkedAt)), 300)).toEqual({
      alive: true,
    });
  });

  // Session 23: a failback's target answers 200 "taking-over" from its Fence while its
  // switchover runs (functions/payments/health/core.ts). No writer commits heartbeats then.
  it("counts a region taking over healthy for the alarm but not as a healthy writer, so a standing heartbeat is not flagged", async () => {
    const last = "2026-11-30T07:59:58.000Z";
    const { d, config, published, watch } = watching(
      ["2026-11-30T07:59:53.000Z", ...Array(5).fill(last)],
      [],
    );
    const answers = [{ status: "healthy" }, ...Array(5).fill({ status: "taking-over" })];
    const probed = {
      ...d,
      http: { request: async () => ({ status: 200, body: answers.shift() }) },
    };

    const results = await probe(config, probed);

    expect(results.map((r) => r.healthy)).toEqual(Array(6).fill(true));
    expect(results.map((r) => r.takingOver ?? false)).toEqual([false, ...Array(5).fill(true)]);
    expect(published.filter((m) => m.name === METRICS.probeHealthy).map((m) => m.value)).toEqual(
      Array(6).fill(1),
    );
    expect(watch()).toMatchObject({ beatAt: last, advanced: true });
    expect(watch()!.staleSince).toBeUndefined();
    expect(stale(published)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
