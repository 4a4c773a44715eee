// Issue 13: a region's payment API as the lab runs it (lab/region-api.ts), a real process in front
// of the real handlers, in fast mode: what its timings mean in lab time.
import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { CONTROL, PEER_LEASE } from "../../functions/common/contract";
import { LAB, Lab } from "../../lab/lab";
import { labFunctionTimeoutMs } from "../../lab/write-path";
import { labConfig } from "./support/run";

jest.setTimeout(120_000);

const FAST = 20;
let lab: Lab;

beforeAll(async () => {
  lab = new Lab(labConfig({ fast: FAST }));
  await lab.start(lab.config.primary);
});

afterAll(async () => {
  await lab?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, value: () => T | undefined, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = value();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The active-region flag as `region`'s replica of the control table holds it. */
function flagIn(region: string): Record<string, { S?: string; BOOL?: boolean; N?: string }> {
  const entry = lab.tables
    .table(region, LAB.tables.control)
    .items.get(JSON.stringify({ S: CONTROL.activeRegionItem }));
  return (entry?.item ?? {}) as Record<string, { S?: string; BOOL?: boolean; N?: string }>;
}

interface Answer {
  status: number;
  body: unknown;
  ms: number;
}

/** POST /payments to `region`'s API as a merchant's client would. */
function authorize(region: string): Promise<Answer> {
  const [merchantId] = Object.keys(LAB.apiKeys);
  return post(region, "/payments", {
    amount: 1234,
    currency: "USD",
    merchantId,
    cardToken: "tok_lab_api",
  });
}

async function post(region: string, path: string, payload: unknown): Promise<Answer> {
  const [, key] = Object.entries(LAB.apiKeys)[0]!;
  const started = Date.now();
  const response = await fetch(`${lab.apiUrl(region)}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-api-key": key,
      "Idempotency-Key": randomUUID(),
    },
    body: JSON.stringify(payload),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: kept as text.
  }
  return { status: response.status, body, ms: Date.now() - started };
}

describe("a region's payment API in fast mode", () => {
  it("ends an invocation at its scaled function timeout and reports it per region and function", async () => {
    const primary = lab.config.primary;
    const enforcedMs = labFunctionTimeoutMs(10, FAST);
    // The table held by another session: the authorize statement waits on its lock.
    const holder = new Client({ connectionString: lab.primary.node.url(LAB.database) });
    holder.on("error", () => undefined);
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE payments IN ACCESS EXCLUSIVE MODE");
      const answer = await authorize(primary);
      expect(answer.status).toBe(500);
      expect(answer.ms).toBeGreaterThanOrEqual(enforcedMs - 50);
    } finally {
      await holder.query("ROLLBACK").catch(() => undefined);
      await holder.end().catch(() => undefined);
    }
    await until("the region API's report of the timeout", () =>
      lab.functionTimeouts.length > 0 ? true : undefined,
    );
    expect(lab.functionTimeouts).toEqual([
      expect.objectContaining({ region: primary, function: "authorize", timeoutMs: enforcedMs }),
    ]);
    const report = lab.functionTimeoutReport();
    expect(report[primary]!.authorize).toEqual({
      enforcedMs,
      deployedSeconds: 10,
      timedOut: 1,
    });
    expect(report[lab.config.secondary]!.authorize!.timedOut).toBe(0);
  });

  it("answers API Gateway's 500 when a handler outlasts its timeout, and commits nothing it sends after it", async () => {
    // An HTTP API whose Lambda integration fails answers {"message":"Internal Server Error"}
    // ("Troubleshooting issues with HTTP API Lambda integrations",
    // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html);
    // a function that times out is such a failure. Not 504: the deployed integration timeout is
    // the function's plus 500 ms (infra/constructs/payments-api.ts), so the function ends first.
    const primary = lab.config.primary;
    const enforcedMs = labFunctionTimeoutMs(10, FAST);
    const authorized = await authorize(primary);
    expect(authorized.status).toBe(201);
    const paymentId = (authorized.body as { id: string }).id;
    const before = lab.functionTimeouts.length;
    // Another session holds the payment's row: the capture's SELECT ... FOR UPDATE, sent in time,
    // waits; everything after it (the update, the key's record, COMMIT) comes past the deadline.
    const holder = new Client({ connectionString: lab.primary.node.url(LAB.database) });
    holder.on("error", () => undefined);
    await holder.connect();
    let answer: Answer;
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT id FROM payments WHERE id = $1 FOR UPDATE", [paymentId]);
      answer = await post(primary, `/payments/${paymentId}/capture`, {});
    } finally {
      await holder.query("ROLLBACK").catch(() => undefined);
    }
    try {
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual({ message: "Internal Server Error" });
      expect(answer.ms).toBeGreaterThanOrEqual(enforcedMs - 50);
      await until("the region API's report of the timeout", () =>
        lab.functionTimeouts.length > before ? true : undefined,
      );
      expect(lab.functionTimeouts.at(-1)).toMatchObject({
        region: primary,
        function: "capture",
        timeoutMs: enforcedMs,
      });
      // The lock is gone, so the capture could go on; its statements past the deadline close
      // the connection unsent (lab/invocation.ts): the payment stays authorized, nothing recorded.
      await sleep(1_000);
      const { rows } = await holder.query<{ status: string; events: number }>(
        "SELECT status, (SELECT count(*)::int FROM payment_events e WHERE e.payment_id = p.id) AS events FROM payments p WHERE id = $1",
        [paymentId],
      );
      expect(rows).toEqual([{ status: "authorized", events: 1 }]);
    } finally {
      await holder.end().catch(() => undefined);
    }
  });

  it("refuses the old primary's writes once the standby's last renewal is PEER_LEASE lab seconds old (the lease on the lab clock)", async () => {
    const primary = lab.config.primary;
    // The prober's first renewal arms the lease in the primary's replica (as deployed).
    await until("the peer lease to be armed in the primary's replica", () =>
      flagIn(primary).leaseRequired?.BOOL === true && flagIn(primary).peerSeenAt?.S
        ? true
        : undefined,
    );
    const accepted = await authorize(primary);
    expect(accepted.status).toBeLessThan(300);

    // The standby stops renewing (its prober is gone, as when the regions are cut apart).
    lab.proberStop();
    await sleep(500);
    const lastRenewal = Date.parse(flagIn(primary).peerSeenAt!.S!);
    const stoppedAt = Date.now();
    // Past the lease, its two clock skews and the flag cache, in lab time: 1.6 s of real time at
    // --fast 20. On wall-clock time the handlers would have honoured it for 30 s of real time.
    const lapseAt =
      lastRenewal + (PEER_LEASE.seconds + 2 * PEER_LEASE.clockSkewSeconds) * 1000 + 5_000;
    await until("the lease to lapse in lab time", () =>
      lab.clock.nowMs() > lapseAt ? true : undefined,
    );
    const refused = await authorize(primary);
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ code: "peer_lease_lapsed" });
    expect(Date.now() - stoppedAt).toBeLessThan(PEER_LEASE.seconds * 1000);
  });
});
