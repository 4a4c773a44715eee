// Issue 13: in fast mode the lab deploys the payment handlers with their own budgets scaled down
// to real-time floors (lab/write-path.ts labHandlerBudgets), so the DR settle times, which count
// those budgets, scale with --fast instead of staying ~13 s of real time each.
import { API_TIMEOUTS } from "../../functions/payments/shared/database";
import { FLAG_READ } from "../../functions/payments/shared/fencing";
import { FENCE_SETTLE_MARGIN_SECONDS } from "../../infra/lib/fence-bound";
import { writeTimeoutSeconds } from "../../infra/constructs/payments-api";
import { Lab } from "../../lab/lab";
import {
  checkHandlerBudgets,
  labFunctionTimeoutMs,
  labHandlerBudgets,
  labWriteBounds,
} from "../../lab/write-path";
import type { HandlerBudgets } from "../../lab/write-path";
import { authorize, flagIn, leaseArmedIn, whileLocked } from "./support/api";
import { labConfig } from "./support/run";
import { sleep, until } from "./support/wait";

jest.setTimeout(60_000);

const DEPLOYED = {
  database: { connectMs: API_TIMEOUTS.connectMs, statementMs: API_TIMEOUTS.statementMs },
  flagRead: {
    connectionTimeoutMs: FLAG_READ.connectionTimeoutMs,
    requestTimeoutMs: FLAG_READ.requestTimeoutMs,
  },
  settleMarginMs: FENCE_SETTLE_MARGIN_SECONDS * 1000,
};

describe("the handlers' budgets in the lab", () => {
  it("are the deployed ones at production timings", () => {
    expect(labHandlerBudgets(1)).toEqual(DEPLOYED);
  });

  // The deployed value over the factor, never below its floor: statement_timeout 5 s, the flag
  // read's 1 s / 2 s; the connect timeout (the function timeout's floor) and the margin stay.
  it.each([
    [
      1.5,
      { connectMs: 3000, statementMs: 3333 },
      { connectionTimeoutMs: 667, requestTimeoutMs: 1333 },
    ],
    [
      2,
      { connectMs: 3000, statementMs: 2500 },
      { connectionTimeoutMs: 500, requestTimeoutMs: 1000 },
    ],
    [
      5,
      { connectMs: 3000, statementMs: 2000 },
      { connectionTimeoutMs: 500, requestTimeoutMs: 1000 },
    ],
    [
      20,
      { connectMs: 3000, statementMs: 2000 },
      { connectionTimeoutMs: 500, requestTimeoutMs: 1000 },
    ],
    [
      100,
      { connectMs: 3000, statementMs: 2000 },
      { connectionTimeoutMs: 500, requestTimeoutMs: 1000 },
    ],
  ])("at --fast %s are %j and %j, with the deployed 2 s margin", (fast, database, flagRead) => {
    expect(labHandlerBudgets(fast)).toEqual({ database, flagRead, settleMarginMs: 2000 });
  });

  it("refuse a budget that is not a whole number of ms above 0, naming it", () => {
    const good = labHandlerBudgets(20);
    const without = { ...good, database: { connectMs: 3000 } } as unknown as HandlerBudgets;
    expect(() => checkHandlerBudgets(without)).toThrow(
      "handler budget database.statementMs must be a whole number of ms above 0, got undefined",
    );
    const zero = { ...good, flagRead: { ...good.flagRead, requestTimeoutMs: 0 } };
    expect(() => labWriteBounds(20, 5000, writeTimeoutSeconds(), 10, zero)).toThrow(
      "handler budget flagRead.requestTimeoutMs must be a whole number of ms above 0, got 0",
    );
    expect(checkHandlerBudgets(good)).toBe(good);
  });

  it("keep the statement inside the scaled function timeout, as deployed (statement 5 s < timeout 10 s)", () => {
    for (const fast of [1, 2, 5, 20, 40]) {
      expect(labHandlerBudgets(fast).database.statementMs).toBeLessThan(
        labFunctionTimeoutMs(writeTimeoutSeconds(), fast),
      );
    }
  });

  // At --fast 20 each real second is 20 lab s: the statement's 3 s and the flag read's 1.5 s no
  // longer waited are 60 lab s off both settles and 30 more off the fence's (which counts one flag
  // read; the lease settle does not: the guard checks the lease at every write).
  it("shorten the fence settle from 265 to 175 lab s and the lease settle from 252 to 192 at --fast 20", () => {
    const scaled = labWriteBounds(20, 5000, writeTimeoutSeconds(), 10);
    const unscaled = labWriteBounds(20, 5000, writeTimeoutSeconds(), 10, labHandlerBudgets(1));
    expect([unscaled.fenceSettleSeconds, unscaled.leaseSettleSeconds]).toEqual([265, 252]);
    expect([scaled.fenceSettleSeconds, scaled.leaseSettleSeconds]).toEqual([175, 192]);
  });

  it("rejects a fast factor below 1", () => {
    expect(() => labHandlerBudgets(0.5)).toThrow(/fast must be >= 1, got 0.5/);
  });
});

describe("a region's handlers in fast mode", () => {
  const FAST = 20;
  let lab: Lab;

  beforeAll(async () => {
    lab = new Lab(labConfig({ fast: FAST }));
    await lab.start(lab.config.primary);
  });

  afterAll(async () => {
    await lab?.stop();
  });

  // Read back by the region's API process from a connection's settings and a flag-read client
  // built as the handlers build theirs (handlerBudgetsInUse), not from what it was told.
  it("run with the budgets the settle times count, as their connections and flag-read client show", () => {
    const { database, flagRead } = lab.writeBounds.handlerBudgets;
    expect(lab.writeBounds.handlerBudgets).toEqual(labHandlerBudgets(FAST));
    expect(lab.handlerBudgets.get(lab.config.primary)).toEqual({ database, flagRead });
    expect(database.statementMs).toBeLessThan(DEPLOYED.database.statementMs);
    expect(flagRead.requestTimeoutMs).toBeLessThan(DEPLOYED.flagRead.requestTimeoutMs);
  });

  // A statement on a locked table ends at the lab's statement_timeout (2 s real at --fast 20),
  // inside the function's scaled timeout (3 s), as the deployed 5 s statement ends inside the
  // deployed 10 s: the handler answers, no timeout. With the deployed 5 s in the lab, the same
  // statement outlasted the 3 s function timeout (a 500) and ran on in the server.
  it("end a statement on a locked table at the scaled statement_timeout, with the handler's own answer before the function's timeout", async () => {
    const primary = lab.config.primary;
    const { statementMs } = lab.writeBounds.handlerBudgets.database;
    const enforcedMs = labFunctionTimeoutMs(writeTimeoutSeconds(), FAST);
    const answer = await whileLocked(lab, "LOCK TABLE payments IN ACCESS EXCLUSIVE MODE", [], () =>
      authorize(lab, primary),
    );
    expect(answer.status).toBe(503);
    expect(answer.ms).toBeGreaterThanOrEqual(statementMs - 50);
    expect(answer.ms).toBeLessThan(enforcedMs);
    expect(lab.functionTimeouts).toEqual([]);
  });

  // The lab process (the renewer, the control table's replication, the flag endpoint and the
  // links to the databases) stalls on a loaded box. The floors of the lease (LEASE_JITTER_FLOOR_MS)
  // and of the handlers' budgets (HANDLER_BUDGET_FLOORS_MS) are what keeps such a stall from
  // failing a healthy primary's payments: the flag read that meets it times out (1 s) and the SDK
  // retries it, inside the function's 3 s.
  it("keep the primary taking writes through a 1.7 s stall of the lab process (the lease's and the budgets' real-time floors)", async () => {
    const primary = lab.config.primary;
    await leaseArmedIn(lab, primary);
    // Just after a renewal reached the primary's replica, the lab process (the renewer, the
    // control table's replication and the flag endpoint) stops for 1.7 s of real time: 34 lab s
    // at --fast 20, past PEER_LEASE and its two skews (32 lab s) on their own, inside the lab's
    // floored lease (50 lab s + 2 skews).
    await until(
      "a fresh renewal in the primary's replica",
      () => lab.clock.nowMs() - Date.parse(flagIn(lab, primary).peerSeenAt!.S!) < 2_000,
      { limitMs: 10_000, everyMs: 5 },
    );
    const before = lab.leaseLapses.length;
    // A payment in flight: its handler's flag read reaches the stalled endpoint and is answered
    // when the process resumes, before the renewal the prober then writes can replicate.
    const pending = authorize(lab, primary);
    await sleep(30);
    const stallUntil = Date.now() + 1_700;
    while (Date.now() < stallUntil) {
      // The stall: nothing else in this process runs.
    }
    const answer = await pending;
    expect(answer.body).not.toMatchObject({ code: "peer_lease_lapsed" });
    expect(answer.status).toBe(201);
    await sleep(200);
    expect(lab.leaseLapses.slice(before)).toEqual([]);
  });
});
