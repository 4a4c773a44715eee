// Issue 13: in fast mode the lab deploys the payment handlers with their own budgets scaled down
// to real-time floors (lab/write-path.ts labHandlerBudgets), so the DR settle times, which count
// those budgets, scale with --fast instead of staying ~13 s of real time each.
import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { API_TIMEOUTS } from "../../functions/payments/shared/database";
import { FLAG_READ } from "../../functions/payments/shared/fencing";
import { FENCE_SETTLE_MARGIN_SECONDS } from "../../infra/lib/fence-bound";
import { writeTimeoutSeconds } from "../../infra/constructs/payments-api";
import { LAB, Lab } from "../../lab/lab";
import {
  HANDLER_BUDGET_FLOORS_MS,
  labFunctionTimeoutMs,
  labHandlerBudgets,
  labWriteBounds,
} from "../../lab/write-path";
import { labConfig } from "./support/run";

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

  it.each([1.5, 2, 5, 20, 100])(
    "at --fast %s are the deployed ones divided by the factor, never below their floors nor above the deployed",
    (fast) => {
      const budgets = labHandlerBudgets(fast);
      const pairs: [number, number, number][] = [
        [
          budgets.database.connectMs,
          DEPLOYED.database.connectMs,
          HANDLER_BUDGET_FLOORS_MS.connectMs,
        ],
        [
          budgets.database.statementMs,
          DEPLOYED.database.statementMs,
          HANDLER_BUDGET_FLOORS_MS.statementMs,
        ],
        [
          budgets.flagRead.connectionTimeoutMs,
          DEPLOYED.flagRead.connectionTimeoutMs,
          HANDLER_BUDGET_FLOORS_MS.flagConnectionTimeoutMs,
        ],
        [
          budgets.flagRead.requestTimeoutMs,
          DEPLOYED.flagRead.requestTimeoutMs,
          HANDLER_BUDGET_FLOORS_MS.flagRequestTimeoutMs,
        ],
        [budgets.settleMarginMs, DEPLOYED.settleMarginMs, HANDLER_BUDGET_FLOORS_MS.settleMarginMs],
      ];
      for (const [value, deployed, floor] of pairs) {
        expect(value).toBeLessThanOrEqual(deployed);
        expect(value).toBeGreaterThanOrEqual(Math.min(floor, deployed));
        expect(value).toBe(Math.max(Math.min(floor, deployed), Math.round(deployed / fast)));
      }
    },
  );

  it("keep the statement inside the scaled function timeout, as deployed (statement 5 s < timeout 10 s)", () => {
    for (const fast of [1, 2, 5, 20, 40]) {
      expect(labHandlerBudgets(fast).database.statementMs).toBeLessThan(
        labFunctionTimeoutMs(writeTimeoutSeconds(), fast),
      );
    }
  });

  it("shorten both settles at --fast 20 by what they no longer wait in real time", () => {
    const fast = 20;
    const scaled = labWriteBounds(fast, 5000, writeTimeoutSeconds(), 10);
    const unscaled = labWriteBounds(fast, 5000, writeTimeoutSeconds(), 10, labHandlerBudgets(1));
    const b = scaled.handlerBudgets;
    // The statement and the margin count in both settles, the flag read in the fence's only;
    // each saved real ms is `fast` lab ms.
    const saved = (deployed: number, now: number) => ((deployed - now) * fast) / 1000;
    const writeSaved =
      saved(DEPLOYED.database.statementMs, b.database.statementMs) +
      saved(DEPLOYED.settleMarginMs, b.settleMarginMs);
    const flagSaved =
      saved(DEPLOYED.flagRead.connectionTimeoutMs, b.flagRead.connectionTimeoutMs) +
      saved(DEPLOYED.flagRead.requestTimeoutMs, b.flagRead.requestTimeoutMs);
    expect(writeSaved).toBeGreaterThan(0);
    expect(flagSaved).toBeGreaterThan(0);
    expect(unscaled.leaseSettleSeconds - scaled.leaseSettleSeconds).toBeCloseTo(writeSaved, 0);
    expect(unscaled.fenceSettleSeconds - scaled.fenceSettleSeconds).toBeCloseTo(
      writeSaved + flagSaved,
      0,
    );
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

  it("run with the budgets the settle times count, and report them", () => {
    expect(lab.handlerBudgets.get(lab.config.primary)).toEqual(lab.writeBounds.handlerBudgets);
    expect(lab.writeBounds.handlerBudgets).toEqual(labHandlerBudgets(FAST));
  });

  // A statement on a locked table ends at the lab's statement_timeout (1 s real at --fast 20),
  // inside the function's scaled timeout (3 s), as the deployed 5 s statement ends inside the
  // deployed 10 s: the handler answers, no timeout. With the deployed 5 s in the lab, the same
  // statement outlasted the 3 s function timeout (a 500) and ran on in the server.
  it("end a statement on a locked table at the scaled statement_timeout, with the handler's own answer before the function's timeout", async () => {
    const primary = lab.config.primary;
    const { statementMs } = lab.writeBounds.handlerBudgets.database;
    const enforcedMs = labFunctionTimeoutMs(writeTimeoutSeconds(), FAST);
    const holder = new Client({ connectionString: lab.primary.node.url(LAB.database) });
    holder.on("error", () => undefined);
    await holder.connect();
    const [merchantId, key] = Object.entries(LAB.apiKeys)[0]!;
    let status = 0;
    let ms = 0;
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE payments IN ACCESS EXCLUSIVE MODE");
      const started = Date.now();
      const response = await fetch(`${lab.apiUrl(primary)}/payments`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-api-key": key,
          "Idempotency-Key": randomUUID(),
        },
        body: JSON.stringify({
          amount: 1234,
          currency: "USD",
          merchantId,
          cardToken: "tok_lab_api",
        }),
      });
      await response.text();
      status = response.status;
      ms = Date.now() - started;
    } finally {
      await holder.query("ROLLBACK").catch(() => undefined);
      await holder.end().catch(() => undefined);
    }
    expect(status).toBe(503);
    expect(ms).toBeGreaterThanOrEqual(statementMs - 50);
    expect(ms).toBeLessThan(enforcedMs);
    expect(lab.functionTimeouts).toEqual([]);
  });
});
