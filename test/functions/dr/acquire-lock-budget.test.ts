// Review H2 (session 22): a planned run's AcquireLock must end before its Lambda is killed, its
// release included, in the case its retries exist for: the other region's DynamoDB connects and
// then does not answer. The timings are the SDK clients' own (functions/dr/shared/aws/clients.ts,
// bestEffort: 1 s to connect + 2 s for the request, one attempt), the Lambda timeout the state's
// TimeoutSeconds 10 minus 2 s (infra/constructs/orchestration.ts). A Lambda killed at its timeout
// is retried by the state's Retry with the same input
// (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html), so an
// attempt that runs past it may leave its lock behind (review H2).
import { acquireLock, LAMBDA_TIMEOUT_MS } from "../../../functions/dr/acquire-lock/core";
import { DEFAULT_SETTINGS } from "../../../functions/dr/shared/settings";
import { TransientError } from "../../../functions/dr/shared/errors";
import { TOPOLOGY } from "./support/fake-world";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Case {
  readonly name: string;
  /** How long each call to this region's copy takes (a throttled call is retried by the SDK). */
  readonly localMs: number;
  /** What the Lambda context reports at the start; undefined outside a Lambda. */
  readonly remainingMs?: number;
  readonly random: number;
}

async function run(c: Case) {
  jest.spyOn(Math, "random").mockReturnValue(c.random);
  const deletes: string[] = [];
  const local = {
    getLock: async () => (await sleep(c.localMs), null),
    getCooldown: async () => (await sleep(c.localMs), null),
    putLock: async () => (await sleep(c.localMs), true),
    deleteLock: async () => {
      await sleep(c.localMs);
      deletes.push("local");
      return true;
    },
  };
  const remote = {
    // Connected within 1 s, then no answer for the request timeout (2 s).
    claimLock: async () => {
      await sleep(2990);
      throw new TransientError("RequestTimeout after connect");
    },
    deleteLock: async () => {
      await sleep(2990);
      throw new TransientError("RequestTimeout");
    },
  };
  const t0 = Date.now();
  const deps = {
    topology: TOPOLOGY,
    settings: DEFAULT_SETTINGS,
    now: () => new Date(),
    log: { info: () => {}, warn: () => {}, error: () => {} },
    ports: (region: string) => ({ control: region === "us-east-1" ? local : remote }),
    ...(c.remainingMs === undefined
      ? {}
      : { remainingMs: () => c.remainingMs! - (Date.now() - t0) }),
  } as never;
  const state = {
    request: {
      workflow: "switchover",
      failoverId: "run-1",
      targetRegion: "us-east-1",
      sourceRegion: "us-west-2",
    },
    steps: {},
  } as never;
  let ended: number | undefined;
  let error: Error | undefined;
  void acquireLock(state, deps).then(
    () => (ended = Date.now() - t0),
    (e: Error) => {
      ended = Date.now() - t0;
      error = e;
    },
  );
  while (ended === undefined && Date.now() - t0 < 60_000) await jest.advanceTimersByTimeAsync(10);
  return { ended: ended!, error, deletes };
}

describe("a planned AcquireLock against its Lambda timeout", () => {
  beforeEach(() => jest.useFakeTimers({ now: Date.UTC(2026, 10, 30, 3, 0, 0) }));
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it.each<Case>([
    { name: "60 ms local calls, the longest backoff", localMs: 60, random: 0.95 },
    { name: "20 ms local calls, the longest backoff", localMs: 20, random: 0.95 },
    { name: "20 ms local calls, the shortest backoff", localMs: 20, random: 0 },
  ])("ends with its release done before the 8 s timeout: $name", async (c) => {
    const { ended, error, deletes } = await run(c);
    expect(error?.name).toBe("LockUnconfirmedError");
    expect(deletes).toEqual(["local"]);
    expect(ended).toBeLessThan(LAMBDA_TIMEOUT_MS);
  });

  it("with throttled local calls (1 s each), leaves the claim to a fresh invocation rather than start one its release could not follow", async () => {
    // Review 23 M1: 3 s of local calls leave 4 s before the SDK deadline (7 s): less than a
    // claim's worst case and its release (4.5 s). The state retries the task (TransientError);
    // the next invocation finds this run's lock and claims with a full budget.
    const { ended, error, deletes } = await run({
      name: "throttled",
      localMs: 1000,
      random: 0.95,
    });
    expect(error?.name).toBe("TransientError");
    expect(error?.message).toMatch(/no time left in this invocation to claim/);
    expect(deletes).toEqual([]);
    expect(ended).toBeLessThan(LAMBDA_TIMEOUT_MS - 1000);
  });

  it("bounds its retries by the time the Lambda context reports left", async () => {
    // A Lambda started late in its timeout (a cold start's init, a slow first call): 6 s left.
    const { ended, error, deletes } = await run({
      name: "6 s left",
      localMs: 60,
      random: 0.95,
      remainingMs: 6000,
    });
    expect(error?.name).toBe("LockUnconfirmedError");
    expect(deletes).toEqual(["local"]);
    expect(ended).toBeLessThan(6000);
  });
});

// Review L4 (session 22): the failed region answers the claim (refused: it holds another run's
// lock) and then fails the read that settles it. An unplanned failover must recover without that
// region: the lock stands in its own copy, as when the claim itself fails; a planned run stops
// with its page and its lock released, never leaving it to the ASL's retries.
describe("a read of the other copy that fails after its claim was refused", () => {
  const setup = (workflow: string) => {
    const deletes: string[] = [];
    const facts: Record<string, string> = {};
    const local = {
      getLock: async () => null,
      getCooldown: async () => null,
      putLock: async () => true,
      recordFact: async (_owner: string, name: string, value: string) => {
        facts[name] = value;
        return value;
      },
      deleteLock: async () => (deletes.push("local"), true),
    };
    const remote = {
      claimLock: async () => false,
      getLock: async () => {
        throw new TransientError("dynamodb:GetItem failover-lock: InternalServerError");
      },
      deleteLock: async () => (deletes.push("remote"), true),
    };
    const deps = {
      topology: TOPOLOGY,
      settings: DEFAULT_SETTINGS,
      now: () => new Date(),
      log: { info: () => {}, warn: () => {}, error: () => {} },
      ports: (region: string) => ({ control: region === "us-east-1" ? local : remote }),
    } as never;
    const state = {
      request: {
        workflow,
        failoverId: "run-1",
        targetRegion: "us-east-1",
        sourceRegion: "us-west-2",
        ignoreCooldown: true,
      },
      steps: {},
    } as never;
    return { deps, state, deletes, facts };
  };

  it("lets a failover go ahead on its own copy, saying so", async () => {
    const { deps, state, facts } = setup("failover");
    const held = await acquireLock(state, deps);
    expect(held.facts.lockScope).toMatch(/^us-east-1 only: us-west-2 did not answer/);
    expect(facts.lockScope).toBe(held.facts.lockScope);
  });

  it("fails a switchover with LockUnconfirmedError, its lock released in both copies", async () => {
    const { deps, state, deletes } = setup("switchover");
    const error = await acquireLock(state, deps).catch((e: Error) => e);
    expect((error as Error).name).toBe("LockUnconfirmedError");
    expect(deletes.sort()).toEqual(["local", "remote"]);
  });
});
