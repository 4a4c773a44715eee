import { randomUUID } from "node:crypto";
import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import "aws-sdk-client-mock-jest";
import { Client } from "pg";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RelayReport } from "../../../functions/payments/outbox-relay/core";
import { RELAY_STOP_BEFORE_MS } from "../../../functions/payments/outbox-relay/core";
import type { ApiHandler } from "../../../functions/payments/shared/runtime";
import { Database, closeAllDatabases } from "../../../functions/payments/shared/database";
import { planCapture } from "../../../functions/payments/shared/payment";
import { PostgresPaymentStore } from "../../../functions/payments/shared/postgres-store";
import {
  FakeAws,
  OTHER_REGION,
  REGION,
  TEST_ENV,
  lambdaContext,
  setHandlerEnvironment,
} from "./support/aws";
import { createTestDatabase, writeCounts } from "./support/database";
import type { TestDatabase } from "./support/database";
import { apiEvent } from "./support/http";

const aws = new FakeAws();
let db: TestDatabase;
let store: PostgresPaymentStore;
let relay: (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<RelayReport>;
/** authorize as deployed: EVENT_PUBLICATION unset, so events go through the relay alone. */
let authorize: ApiHandler;

beforeAll(async () => {
  db = await createTestDatabase();
  store = new PostgresPaymentStore(
    new Database({
      settings: async () => ({ kind: "url", connectionString: db.url }),
      applicationName: "test",
    }),
  );
  setHandlerEnvironment(db.url);
  delete process.env.EVENT_PUBLICATION;
  ({ handler: relay } = await import("../../../functions/payments/outbox-relay/handler"));
  ({ handler: authorize } = await import("../../../functions/payments/authorize/handler"));
});

afterAll(async () => {
  await closeAllDatabases();
  await db.drop();
});

beforeEach(async () => {
  aws.reset();
  // Each test starts from an outbox with nothing waiting.
  await db.sql.query("UPDATE payment_events SET published_at = now() WHERE published_at IS NULL");
});

/** Authorizes `count` payments without publishing: their events wait in the outbox. */
async function pending(count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const result = await store.authorize({
      paymentId: randomUUID(),
      merchantId: "merchant-r",
      cardToken: "tok_relay_abcdef",
      amount: 100 + i,
      currency: "EUR",
      idempotencyKey: randomUUID(),
      requestHash: "a".repeat(64),
      eventId: randomUUID(),
      originRegion: REGION,
      requestId: "req-outbox",
      reference: null,
      metadata: {},
      captureBefore: new Date(Date.now() + 7 * 86_400_000),
      at: new Date(Date.now() + i),
    });
    ids.push(result.events[0]!.eventId);
  }
  return ids;
}

async function unpublished(): Promise<
  { event_id: string; publish_attempts: number; last_error: string | null }[]
> {
  const { rows } = await db.sql.query(
    "SELECT event_id, publish_attempts, last_error FROM payment_events WHERE published_at IS NULL ORDER BY created_at",
  );
  return rows;
}

/** One pass: an invocation with less time left than a draining run keeps for its end. */
/** Unpublished rows no session holds a lock on: what the relay's SKIP LOCKED query can take. */
async function lockable(): Promise<number> {
  const { rows } = await db.sql.query(
    "SELECT event_id FROM payment_events WHERE published_at IS NULL FOR UPDATE SKIP LOCKED",
  );
  return rows.length;
}

const run = () =>
  relay(
    {},
    {
      ...lambdaContext("payments-outbox-relay-test"),
      getRemainingTimeInMillis: () => RELAY_STOP_BEFORE_MS - 1,
    },
  );

/** An invocation whose remaining time counts down from `ms` past the relay's stop margin. */
function drainingContext(ms: number) {
  const ends = Date.now() + RELAY_STOP_BEFORE_MS + ms;
  return {
    ...lambdaContext("payments-outbox-relay-test"),
    getRemainingTimeInMillis: () => ends - Date.now(),
  };
}

describe("outbox-relay", () => {
  it("publishes every waiting event in PutEvents batches of at most 10 and marks them", async () => {
    const ids = await pending(23);

    const report = await run();

    expect(report).toEqual({ skipped: null, published: 23, failed: 0, errors: [] });
    expect(aws.eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 3);
    const sizes = aws.eventBridge
      .commandCalls(PutEventsCommand)
      .map((c) => c.args[0].input.Entries!.length);
    expect(sizes).toEqual([10, 10, 3]);
    const { rows } = await db.sql.query(
      "SELECT event_id, detail::text AS detail FROM payment_events WHERE event_id = $1",
      [ids[0]],
    );
    expect(aws.published[0]).toEqual({
      EventBusName: TEST_ENV.EVENT_BUS_NAME,
      Source: "payments",
      DetailType: "payments.authorized",
      Detail: rows[0].detail,
      Time: expect.any(Date),
    });
    expect(JSON.parse(aws.published[0]!.Detail!)).toMatchObject({
      eventId: ids[0],
      originRegion: REGION,
    });
    expect(await unpublished()).toEqual([]);
  });

  it("marks only the entries PutEvents accepted when it partially fails", async () => {
    const ids = await pending(5);
    aws.eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 2,
      Entries: [
        { EventId: "e0" },
        { ErrorCode: "InternalFailure", ErrorMessage: "try again" },
        { EventId: "e2" },
        { EventId: "e3" },
        { ErrorCode: "ThrottlingException", ErrorMessage: "slow down" },
      ],
    });

    const report = await run();

    expect(report).toMatchObject({ published: 3, failed: 2 });
    expect(report.errors).toEqual(["InternalFailure: try again", "ThrottlingException: slow down"]);
    expect(await unpublished()).toEqual([
      { event_id: ids[1], publish_attempts: 1, last_error: "InternalFailure: try again" },
      { event_id: ids[4], publish_attempts: 1, last_error: "ThrottlingException: slow down" },
    ]);
  });

  it("keeps a batch whose PutEvents call failed and publishes it on the next run", async () => {
    await pending(3);
    aws.eventBridge.on(PutEventsCommand).rejects(new Error("EventBridge unavailable"));
    const first = await run();
    aws.reset(); // EventBridge is back

    const second = await run();

    expect(first).toMatchObject({ published: 0, failed: 3 });
    expect(second).toMatchObject({ published: 3, failed: 0 });
    expect(await unpublished()).toEqual([]);
  });

  it("publishes nothing twice once events are marked", async () => {
    await pending(2);
    await run();

    const again = await run();

    expect(again).toMatchObject({ published: 0, failed: 0 });
    expect(aws.eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);
  });

  it("skips events another relay holds", async () => {
    const ids = await pending(3);
    const other = new Client({ connectionString: db.url });
    await other.connect();
    await other.query("BEGIN");
    await other.query("SELECT 1 FROM payment_events WHERE event_id = $1 FOR UPDATE", [ids[0]]);
    try {
      const report = await run();

      expect(report).toMatchObject({ published: 2, failed: 0 });
      expect((await unpublished()).map((r) => r.event_id)).toEqual([ids[0]]);
    } finally {
      await other.query("ROLLBACK");
      await other.end();
    }
  });

  it("publishes nothing in the passive region", async () => {
    await pending(2);
    aws.flag = { activeRegion: OTHER_REGION };

    const report = await run();

    expect(report).toEqual({
      skipped: `passive region: writes go to ${OTHER_REGION}`,
      published: 0,
      failed: 0,
      errors: [],
    });
    expect(aws.eventBridge).not.toHaveReceivedCommand(PutEventsCommand);
    expect(await unpublished()).toHaveLength(2);
  });

  it("drains continuously: publishes what is written while it runs, then stops with the invocation's margin left", async () => {
    const context = drainingContext(1_500);
    const started = Date.now();
    const running = relay({}, context);
    // Writes arriving while the run polls (OUTBOX_POLL_MS, 100 ms by default).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const first = await pending(3);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = await pending(2);

    const report = await running;

    expect(report).toMatchObject({ skipped: null, published: 5, failed: 0 });
    const sent = aws.published.map((e) => JSON.parse(e.Detail!).eventId as string);
    expect(sent.sort()).toEqual([...first, ...second].sort());
    expect(await unpublished()).toEqual([]);
    // It ran until the margin, not beyond it (under a loaded machine: generous bounds).
    const remaining = context.getRemainingTimeInMillis();
    expect(remaining).toBeLessThanOrEqual(RELAY_STOP_BEFORE_MS);
    expect(remaining).toBeGreaterThan(RELAY_STOP_BEFORE_MS - 2_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
  });

  it("stops draining when a failover makes its region passive mid-run", async () => {
    const running = relay({}, drainingContext(5_000));
    await new Promise((resolve) => setTimeout(resolve, 200));
    aws.flag = { activeRegion: OTHER_REGION };
    const report = await running;

    expect(report.skipped).toBe(`passive region: writes go to ${OTHER_REGION}`);
    await pending(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await unpublished()).toHaveLength(1);
  });

  it("publishes at once when the flag stream starts it, even right after a run that found the region passive", async () => {
    // The relay as deployed caches the flag for ACTIVE_REGION_CACHE_MS = 5 s (the suite's 0 would
    // hide the stale answer): a fresh module instance with the deployed setting.
    process.env.ACTIVE_REGION_CACHE_MS = "5000";
    let deployed!: typeof relay;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      ({ handler: deployed } = require("../../../functions/payments/outbox-relay/handler"));
    });
    process.env.ACTIVE_REGION_CACHE_MS = TEST_ENV.ACTIVE_REGION_CACHE_MS;
    const context = {
      ...lambdaContext("payments-outbox-relay-test"),
      getRemainingTimeInMillis: () => RELAY_STOP_BEFORE_MS - 1,
    };
    // The scheduled run a few seconds before the failover cached the passive answer; Unfence
    // then opens this region.
    aws.flag = { activeRegion: OTHER_REGION };
    expect((await deployed({}, context)).skipped).toBe(
      `passive region: writes go to ${OTHER_REGION}`,
    );
    aws.flag = { activeRegion: REGION };
    const ids = await pending(2);
    // As the event source mapping on the control stream delivers the Unfence record
    // (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html).
    const unfence = {
      Records: [
        {
          eventID: "1",
          eventName: "MODIFY",
          eventSource: "aws:dynamodb",
          awsRegion: REGION,
          dynamodb: {
            Keys: { pk: { S: "active-region" } },
            OldImage: { activeRegion: { S: REGION }, phase: { S: "fenced" } },
            NewImage: { activeRegion: { S: REGION }, phase: { S: "open" } },
            StreamViewType: "NEW_AND_OLD_IMAGES",
          },
        },
      ],
    };

    const report = await deployed(unfence, context);

    expect(report).toMatchObject({ skipped: null, published: 2, failed: 0 });
    expect(aws.published.map((e) => JSON.parse(e.Detail!).eventId as string).sort()).toEqual(
      ids.sort(),
    );
  });

  it("fails the run when the flag cannot be read", async () => {
    aws.flag = new Error("DynamoDB unavailable");

    await expect(run()).rejects.toMatchObject({ name: "ActiveRegionUnknownError" });
  });
});

describe("events as deployed (EVENT_PUBLICATION unset: the relay publishes)", () => {
  it("answers a write without any PutEvents on the request path and leaves its event to the relay", async () => {
    const result = await authorize(
      apiEvent({
        path: "/payments",
        headers: { "idempotency-key": randomUUID() },
        body: {
          merchantId: "merchant-1",
          cardToken: "tok_relay_abcdef",
          amount: 700,
          currency: "EUR",
        },
      }),
      lambdaContext("payments-authorize-test"),
    );
    expect(result.statusCode).toBe(201);
    const paymentId = JSON.parse(result.body!).id as string;
    expect(aws.eventBridge).not.toHaveReceivedCommand(PutEventsCommand);
    const waiting = await unpublished();
    expect(waiting).toHaveLength(1);

    await run();

    expect(aws.published).toHaveLength(1);
    expect(JSON.parse(aws.published[0]!.Detail!)).toMatchObject({
      eventId: waiting[0]!.event_id,
      paymentId,
      type: "payments.authorized",
    });
    expect(await unpublished()).toEqual([]);
  });

  it("loses no event when the relay dies mid-batch: the batch it sent is sent again, once more, with the same event ids", async () => {
    const ids = await pending(45);
    const dir = mkdtempSync(join(tmpdir(), "relay-crash-"));
    const sentFile = join(dir, "sent");
    try {
      // A relay process that publishes batches of 20 (two PutEvents each) and is killed
      // (SIGKILL: no cleanup, no rollback of its own) right after its third PutEvents went out,
      // before the transaction that would mark those rows committed.
      const child = spawn(
        process.execPath,
        ["--import", "tsx", join(__dirname, "support", "relay-crash-child.ts")],
        {
          env: { ...process.env, RELAY_DATABASE_URL: db.url, RELAY_SENT_FILE: sentFile },
          stdio: ["ignore", "inherit", "inherit"],
        },
      );
      const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
        child.on("exit", (_code, sig) => resolve(sig)),
      );
      expect(signal).toBe("SIGKILL");
      const sentBeforeCrash = readFileSync(sentFile, "utf8").trim().split("\n");
      expect(sentBeforeCrash).toHaveLength(30);
      // The first batch committed; the second's rows stay unpublished (PostgreSQL rolled back
      // the dead session's transaction and freed its row locks). Wait for the locks, not only for
      // the count: until the server notices the closed socket (slow on a loaded machine), the
      // dead session still holds 20 of the 25 rows and the relay's SKIP LOCKED would pass them by.
      await waitFor(async () => (await unpublished()).length === 25 && (await lockable()) === 25);

      const report = await run();

      expect(report).toMatchObject({ published: 25, failed: 0 });
      const sentAfter = aws.published.map((e) => JSON.parse(e.Detail!).eventId as string);
      // Nothing lost: every event went out at least once.
      expect(new Set([...sentBeforeCrash, ...sentAfter])).toEqual(new Set(ids));
      // What went out twice is exactly the batch in flight when the relay died, under the same
      // event ids, which is how a consumer deduplicates (README, Events).
      const twice = sentAfter.filter((id) => sentBeforeCrash.includes(id));
      expect(twice.sort()).toEqual(sentBeforeCrash.slice(20).sort());
      expect(await unpublished()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("outbox rows and the change they record", () => {
  async function withFailingOutbox<T>(work: () => Promise<T>): Promise<T> {
    await db.sql.query(`
      CREATE FUNCTION outbox_down() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN RAISE EXCEPTION 'outbox unavailable'; END $$;
      CREATE TRIGGER outbox_down BEFORE INSERT ON payment_events
        FOR EACH ROW EXECUTE FUNCTION outbox_down();`);
    try {
      return await work();
    } finally {
      await db.sql.query(
        "DROP TRIGGER outbox_down ON payment_events; DROP FUNCTION outbox_down();",
      );
    }
  }

  it("fails an authorization whose outbox row cannot be written, leaving no payment", async () => {
    const before = await writeCounts(db.sql);

    await withFailingOutbox(() =>
      expect(
        store.authorize({
          paymentId: randomUUID(),
          merchantId: "merchant-t",
          cardToken: "tok_tx_abcdefgh",
          amount: 100,
          currency: "EUR",
          idempotencyKey: randomUUID(),
          requestHash: "b".repeat(64),
          eventId: randomUUID(),
          originRegion: REGION,
          requestId: "req-outbox",
          reference: null,
          metadata: {},
          captureBefore: new Date(Date.now() + 7 * 86_400_000),
          at: new Date(),
        }),
      ).rejects.toThrow("outbox unavailable"),
    );

    expect(await writeCounts(db.sql)).toEqual(before);
  });

  it("fails a capture whose outbox row cannot be written, leaving the payment authorized", async () => {
    const [eventId] = await pending(1);
    const { rows } = await db.sql.query(
      "SELECT payment_id FROM payment_events WHERE event_id = $1",
      [eventId],
    );
    const paymentId = rows[0].payment_id as string;
    const before = await writeCounts(db.sql);

    await withFailingOutbox(() =>
      expect(
        store.transition({
          merchantId: "merchant-r",
          paymentId,
          operation: "capture",
          idempotencyKey: randomUUID(),
          requestHash: "c".repeat(64),
          eventId: randomUUID(),
          originRegion: REGION,
          at: new Date(),
          requestId: "req-outbox",
          plan: (payment, operations) =>
            planCapture(payment, operations, {
              final: true,
              captureId: randomUUID(),
              at: new Date(),
            }),
          refusal: () => undefined,
          respond: (view) => ({ statusCode: 200, body: view }),
        }),
      ).rejects.toThrow("outbox unavailable"),
    );

    expect(await writeCounts(db.sql)).toEqual(before);
    expect((await store.find("merchant-r", paymentId))!.status).toBe("authorized");
  });
});

describe("the database as the last word on the lifecycle", () => {
  it("turns a transition the schema refuses into IllegalTransitionError (409)", async () => {
    const [eventId] = await pending(1);
    const { rows } = await db.sql.query(
      "SELECT payment_id FROM payment_events WHERE event_id = $1",
      [eventId],
    );
    const before = await writeCounts(db.sql);

    // A plan that skips the code's own checks: authorized -> refunded.
    const attempt = store.transition({
      merchantId: "merchant-r",
      paymentId: rows[0].payment_id,
      operation: "refund",
      idempotencyKey: randomUUID(),
      requestHash: "d".repeat(64),
      eventId: randomUUID(),
      originRegion: REGION,
      at: new Date(),
      requestId: "req-outbox",
      refusal: () => undefined,
      respond: (view) => ({ statusCode: 200, body: view }),
      plan: (payment) => ({
        status: "refunded",
        capturedAmount: payment.amount,
        refundedAmount: payment.amount,
        eventType: "payments.refunded",
        eventAmount: payment.amount,
      }),
    });

    await expect(attempt).rejects.toMatchObject({
      name: "IllegalTransitionError",
      from: "authorized",
    });
    expect(await writeCounts(db.sql)).toEqual(before);
  });
});
