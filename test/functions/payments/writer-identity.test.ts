// Review 23b-10 M1 and review 24-10l (H1, M1, L1): the write path confirms, on the connection it
// writes through, that it reaches this region's writer: the instance behind this region's own
// cluster endpoint, not in recovery. Databases on the real test PostgreSQL play the clusters; a
// TCP endpoint in front of them plays the global writer endpoint, whose resolution moves late and
// whose pooled connections stay where they were (support/global-endpoint.ts);
// DATABASE_OWN_CLUSTER_URL plays this region's cluster endpoint (db/cluster-endpoint), which
// reaches the promoted cluster. Aurora's identity function is modelled in each database from its
// documented behaviour (aurora_db_instance_identifier: "Reports the name of the DB instance name
// to which you're connected",
// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_db_instance_identifier.html),
// created by the superuser and granted to the application role as the migrate function does.
import { randomUUID } from "node:crypto";
import type { Client } from "pg";
import type { Context } from "aws-lambda";
import type { RelayReport } from "../../../functions/payments/outbox-relay/core";
import { RELAY_STOP_BEFORE_MS } from "../../../functions/payments/outbox-relay/core";
import { Database, closeAllDatabases } from "../../../functions/payments/shared/database";
import {
  DatabaseUnavailableError,
  WriterCheckFailedError,
  WriterMismatchError,
} from "../../../functions/payments/shared/errors";
import { PostgresPaymentStore } from "../../../functions/payments/shared/postgres-store";
import { metrics } from "../../../functions/payments/shared/observability";
import type { ApiHandler } from "../../../functions/payments/shared/runtime";
import { DR_API_KEY, FakeAws, REGION, lambdaContext, setHandlerEnvironment } from "./support/aws";
import { createTestDatabase, writeCounts } from "./support/database";
import type { TestDatabase } from "./support/database";
import { startGlobalEndpoint } from "./support/global-endpoint";
import type { GlobalEndpoint } from "./support/global-endpoint";
import { apiEvent, json } from "./support/http";
import type { JsonResult } from "./support/http";

const aws = new FakeAws();
// The function runs in REGION (the target of the move); the old writer is in the other region.
let oldWriter: TestDatabase;
let promoted: TestDatabase;
// Review 24-10l H1: an engine older than the function's floor; EXECUTE not granted; a stall.
let noFunction: TestDatabase;
let noExecute: TestDatabase;
let stalled: TestDatabase;
// Review 24-10l M1/L1: the old primary detached (standalone, writable, kept for reconciling);
// an old writer in the other region that shares the promoted writer's instance name.
let detachedOld: TestDatabase;
let namesake: TestDatabase;
let endpoint: GlobalEndpoint;
const handlers: Record<string, ApiHandler> = {};
let relay: (event: unknown, context: Context) => Promise<RelayReport>;

const PROMOTED_ID = `payments-db-1-usw2-abc`;

/** aurora_db_instance_identifier() of one instance, as a writer's (the kit's grant included). */
async function modelAurora(sql: Client, instance: string, body = `SELECT '${instance}'::text`) {
  await sql.query(`
    CREATE FUNCTION aurora_db_instance_identifier() RETURNS text LANGUAGE sql VOLATILE
      AS $$ ${body} $$;
    REVOKE EXECUTE ON FUNCTION aurora_db_instance_identifier() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION aurora_db_instance_identifier() TO payments_app;`);
}

/** Metrics published with publishSingleMetric, as name and dimensions. */
function captureSingleMetrics(): { name: string; dimensions: Record<string, string> }[] {
  const seen: { name: string; dimensions: Record<string, string> }[] = [];
  jest.spyOn(metrics, "singleMetric").mockImplementation(() => {
    let dimensions: Record<string, string> = {};
    const single = {
      clearDefaultDimensions: () => undefined,
      addDimensions: (d: Record<string, string>) => {
        dimensions = { ...d };
      },
      addMetric: (name: string) => {
        seen.push({ name, dimensions });
      },
    };
    return single as never;
  });
  return seen;
}

beforeAll(async () => {
  oldWriter = await createTestDatabase();
  promoted = await createTestDatabase();
  noFunction = await createTestDatabase();
  noExecute = await createTestDatabase();
  stalled = await createTestDatabase();
  detachedOld = await createTestDatabase();
  namesake = await createTestDatabase();
  await modelAurora(oldWriter.sql, `payments-db-1-use1-abc`);
  await modelAurora(promoted.sql, PROMOTED_ID);
  await modelAurora(noExecute.sql, PROMOTED_ID);
  await noExecute.sql.query(
    `REVOKE EXECUTE ON FUNCTION aurora_db_instance_identifier() FROM payments_app`,
  );
  // Answers only after 3 s, as the promoted writer: inside the write's own 5 s statement budget,
  // beyond the check's.
  await modelAurora(stalled.sql, PROMOTED_ID, `SELECT pg_sleep(3); SELECT '${PROMOTED_ID}'::text`);
  await modelAurora(detachedOld.sql, `payments-db-1-use1-abc-detached-r1`);
  // Another instance (its own postmaster), whatever its name: all test databases share one
  // server, so the namesake's start time is modelled by shadowing pg_catalog's for its sessions.
  await modelAurora(namesake.sql, PROMOTED_ID);
  await namesake.sql.query(`
    CREATE FUNCTION public.pg_postmaster_start_time() RETURNS timestamptz LANGUAGE sql
      AS $$ SELECT '2026-11-02 08:15:42.987654+00'::timestamptz $$;
    ALTER ROLE payments_app IN DATABASE ${new URL(namesake.url).pathname.slice(1)}
      SET search_path = public, pg_catalog;`);
  // Stale DNS: the global endpoint still resolves to the old writer.
  endpoint = await startGlobalEndpoint(oldWriter.url);
  setHandlerEnvironment(endpoint.url);
  process.env.DATABASE_WRITER_IDENTITY = "aurora";
  process.env.DATABASE_OWN_CLUSTER_URL = promoted.url;
  handlers.authorize = (await import("../../../functions/payments/authorize/handler")).handler;
  handlers.void = (await import("../../../functions/payments/void/handler")).handler;
  relay = (await import("../../../functions/payments/outbox-relay/handler")).handler;
});

afterAll(async () => {
  delete process.env.DATABASE_WRITER_IDENTITY;
  delete process.env.DATABASE_OWN_CLUSTER_URL;
  await closeAllDatabases();
  await endpoint.close();
  for (const db of [oldWriter, promoted, noFunction, noExecute, stalled, detachedOld, namesake]) {
    await db.drop();
  }
});

beforeEach(() => aws.reset());
afterEach(() => jest.restoreAllMocks());

const SYNTHETIC = {
  merchantId: "dr-synthetic",
  cardToken: "tok_dr_synthetic",
  amount: 1,
  currency: "USD",
};
const MERCHANT_PAYMENT = {
  cardToken: "tok_amex_0005abcd",
  amount: 500,
  currency: "GBP",
};

async function authorize(key: string, as: { apiKey?: string; body: object }): Promise<JsonResult> {
  return json(
    await handlers.authorize!(
      apiEvent({
        path: "/payments",
        headers: {
          "idempotency-key": key,
          ...(as.apiKey === undefined ? {} : { "x-api-key": as.apiKey }),
        },
        body: as.body,
      }),
      lambdaContext(),
    ),
  );
}

const FENCED_AFTER_PROOF = {
  activeRegion: REGION,
  phase: "fenced",
  promotingAt: "2026-11-30T23:00:00.000Z",
};

describe("the write path's writer identity (review 23b-10 M1)", () => {
  it("rejects Verify's synthetic payment while the global endpoint still reaches the old writer, and writes only on the promoted one once it moves; merchant writes after Unfence follow", async () => {
    aws.flag = FENCED_AFTER_PROOF;
    const oldBefore = await writeCounts(oldWriter.sql);
    const promotedBefore = await writeCounts(promoted.sql);
    const key = `dr-verify-${randomUUID()}`;

    // 1. Stale DNS: both the pooled and a fresh connection reach the old writer.
    const stale = await authorize(key, { apiKey: DR_API_KEY, body: SYNTHETIC });
    expect(stale.status).toBe(503);
    expect(stale.body).toMatchObject({ code: "database_unavailable" });
    expect(await writeCounts(oldWriter.sql)).toEqual(oldBefore);

    // 2. The endpoint moves. Verify's retry goes through, on the promoted writer only.
    endpoint.resolveTo(promoted.url);
    const moved = await authorize(key, { apiKey: DR_API_KEY, body: SYNTHETIC });
    expect(moved.status).toBe(201);
    const voided = json(
      await handlers.void!(
        apiEvent({
          path: `/payments/${moved.body.id as string}/void`,
          pathParameters: { id: moved.body.id as string },
          headers: { "idempotency-key": `${key}-void`, "x-api-key": DR_API_KEY },
        }),
        lambdaContext(),
      ),
    );
    expect(voided.status).toBe(200);

    // 3. Unfence: merchant writes open; they land on the promoted writer.
    aws.flag = { activeRegion: REGION, phase: "open" };
    const merchant = await authorize(randomUUID(), { body: MERCHANT_PAYMENT });
    expect(merchant.status).toBe(201);

    expect(await writeCounts(oldWriter.sql)).toEqual(oldBefore);
    const promotedAfter = await writeCounts(promoted.sql);
    expect(promotedAfter.payments).toBe(promotedBefore.payments + 2);
  });

  it("rejects a merchant write after Unfence on a new connection that stale DNS still sends to the old writer, and takes it once the endpoint moves", async () => {
    // A new Lambda environment, or a pool recycled (maxLifetimeSeconds), whose DNS answer for
    // the global endpoint is still the old writer's.
    await closeAllDatabases();
    endpoint.resolveTo(oldWriter.url);
    aws.flag = { activeRegion: REGION, phase: "open" };
    const oldBefore = await writeCounts(oldWriter.sql);
    const promotedBefore = await writeCounts(promoted.sql);

    const refused = await authorize(randomUUID(), { body: MERCHANT_PAYMENT });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ code: "database_unavailable" });
    expect(refused.headers["retry-after"]).toBeDefined();

    endpoint.resolveTo(promoted.url);
    const taken = await authorize(randomUUID(), { body: MERCHANT_PAYMENT });
    expect(taken.status).toBe(201);

    expect(await writeCounts(oldWriter.sql)).toEqual(oldBefore);
    expect((await writeCounts(promoted.sql)).payments).toBe(promotedBefore.payments + 1);
  });
});

describe("the writer identity check's own failures and the detach path (review 24-10l)", () => {
  const OPEN = { activeRegion: REGION, phase: "open" };

  async function refusedThrough(db: TestDatabase) {
    await closeAllDatabases();
    endpoint.resolveTo(db.url);
    aws.flag = OPEN;
    const before = await writeCounts(db.sql);
    const seen = captureSingleMetrics();
    const started = Date.now();
    const answer = await authorize(randomUUID(), { body: MERCHANT_PAYMENT });
    return { answer, seen, ms: Date.now() - started, before, after: await writeCounts(db.sql) };
  }

  it.each([
    [
      "the engine has no aurora_db_instance_identifier() (42883)",
      () => noFunction,
      "function_missing",
    ],
    ["the application role may not execute it (42501)", () => noExecute, "permission_denied"],
    ["it stalls past the check's statement_timeout (57014)", () => stalled, "timeout"],
  ])(
    "refuses a write with 503 database_unavailable and Retry-After, never a 500, when %s, and counts WriterCheckFailed by reason",
    async (_case, db, reason) => {
      const { answer, seen, ms, before, after } = await refusedThrough(db());

      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ code: "database_unavailable" });
      expect(answer.headers["retry-after"]).toBeDefined();
      expect(after).toEqual(before);
      expect(seen).toContainEqual({ name: "WriterCheckFailed", dimensions: { Region: REGION } });
      expect(seen).toContainEqual({
        name: "WriterCheckFailed",
        dimensions: { Region: REGION, Reason: reason },
      });
      // Two attempts (the retry on a new connection), each bounded by the check's own timeout,
      // not by the write's 5 s statement budget.
      expect(ms).toBeLessThan(2_900);
    },
  );

  it("takes writes again as soon as the cause is fixed, without a restart: a connection whose check failed is never reused", async () => {
    const db = await createTestDatabase();
    try {
      await modelAurora(db.sql, PROMOTED_ID);
      await db.sql.query(
        `REVOKE EXECUTE ON FUNCTION aurora_db_instance_identifier() FROM payments_app`,
      );
      const { answer } = await refusedThrough(db);
      expect(answer.status).toBe(503);

      // The operator's fix (what the migrate function does): no new Lambda environment.
      await db.sql.query(
        `GRANT EXECUTE ON FUNCTION aurora_db_instance_identifier() TO payments_app`,
      );
      const taken = await authorize(randomUUID(), { body: MERCHANT_PAYMENT });

      expect(taken.status).toBe(201);
    } finally {
      await closeAllDatabases();
      await db.drop();
    }
  });

  it("counts a refused old writer as WriterMismatch, not as WriterCheckFailed or a database outage", async () => {
    const { answer, seen } = await refusedThrough(oldWriter);

    expect(answer.status).toBe(503);
    expect(seen).toContainEqual({ name: "WriterMismatch", dimensions: { Region: REGION } });
    expect(seen.map((m) => m.name)).not.toContain("WriterCheckFailed");
  });

  it("rejects a write that stale DNS sends to an old-region instance sharing the promoted writer's name", async () => {
    const { answer, before, after } = await refusedThrough(namesake);

    expect(answer.status).toBe(503);
    expect(after).toEqual(before);
  });

  it("after a detach, rejects the detached old primary still reachable under a stale answer and takes the write on the detached-and-promoted survivor", async () => {
    // RemoveFromGlobalCluster: the survivor "becomes a standalone provisioned Aurora DB cluster
    // with full read/write capabilities", and the old primary, once back, is kept writable for
    // reconciling (state-machines/README.md, Rebuild after a detach); neither is in a global
    // database, so nothing here lists one
    // (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-detaching.html).
    const { answer, before, after } = await refusedThrough(detachedOld);
    expect(answer.status).toBe(503);
    expect(after).toEqual(before);

    endpoint.resolveTo(promoted.url);
    const survivorBefore = await writeCounts(promoted.sql);
    const taken = await authorize(randomUUID(), { body: MERCHANT_PAYMENT });
    expect(taken.status).toBe(201);
    expect((await writeCounts(promoted.sql)).payments).toBe(survivorBefore.payments + 1);
    expect(await writeCounts(detachedOld.sql)).toEqual(before);
  });
});

// Review 24-10l M2: the relay reads and marks outbox rows on the writer. Started by the flag
// opening this region (relay-on-flag), a stale global endpoint would have it publish the old
// writer's unpublished tail (the payments the failover lost) as if they had happened.
describe("the outbox relay's writer identity (review 24-10l M2)", () => {
  async function unpublishedOn(sql: Client): Promise<number> {
    const { rows } = await sql.query(
      "SELECT count(*)::int AS n FROM payment_events WHERE published_at IS NULL",
    );
    return rows[0].n as number;
  }

  it("publishes nothing and marks nothing on the old writer that stale DNS still reaches after Unfence, then relays the promoted writer's events once the endpoint moves", async () => {
    // The old writer's tail: committed there after the fork, never replicated.
    const oldStore = new PostgresPaymentStore(
      new Database({
        settings: async () => ({ kind: "url", connectionString: oldWriter.adminUrl }),
        applicationName: "test-old-writer",
      }),
    );
    await oldStore.authorize({
      paymentId: randomUUID(),
      merchantId: "merchant-1",
      cardToken: "tok_amex_0005abcd",
      amount: 700,
      currency: "GBP",
      idempotencyKey: randomUUID(),
      requestHash: "b".repeat(64),
      eventId: randomUUID(),
      originRegion: REGION,
      requestId: "req-lost-tail",
      reference: null,
      metadata: {},
      captureBefore: new Date(Date.now() + 7 * 86_400_000),
      at: new Date(),
    });
    const tail = await unpublishedOn(oldWriter.sql);
    expect(tail).toBeGreaterThan(0);
    await closeAllDatabases();
    endpoint.resolveTo(oldWriter.url);
    aws.flag = { activeRegion: REGION, phase: "open" };
    const context = {
      ...lambdaContext("payments-outbox-relay-test"),
      getRemainingTimeInMillis: () => RELAY_STOP_BEFORE_MS - 1,
    };

    const stale = await relay({}, context).then(
      (report) => report,
      (error: Error) => error,
    );

    expect(stale).toBeInstanceOf(Error);
    expect((stale as Error).name).toBe("WriterMismatchError");
    expect(aws.published).toEqual([]);
    expect(await unpublishedOn(oldWriter.sql)).toBe(tail);

    endpoint.resolveTo(promoted.url);
    const pending = await unpublishedOn(promoted.sql);
    const moved = await relay({}, context);
    expect(moved).toMatchObject({ skipped: null, published: pending, failed: 0 });
    expect(await unpublishedOn(promoted.sql)).toBe(0);
    expect(await unpublishedOn(oldWriter.sql)).toBe(tail);
  });
});

// Review 24-10l L2: a refusal by the check says DNS (or the deploy) is wrong, not that the SSM
// parameter changed or that every environment is reconnecting at once.
describe("a connection refused by the writer identity check", () => {
  it.each([
    ["a mismatch", () => new WriterMismatchError("reaches another instance")],
    ["a failed check", () => new WriterCheckFailedError("timeout", "the check timed out")],
  ])(
    "after %s: retried once on a new connection, without an SSM re-read or reconnect jitter",
    async (_case, refusal) => {
      let stale = 0;
      const sleeps: number[] = [];
      const database = new Database({
        settings: async () => ({ kind: "url", connectionString: promoted.url }),
        applicationName: "test-refusal",
        onStaleSettings: () => {
          stale += 1;
        },
        connectJitter: {
          capMs: 1_000,
          random: () => 0.99,
          sleep: async (ms) => {
            sleeps.push(ms);
          },
        },
      });
      let checks = 0;
      database.useConnectionCheck(async () => {
        checks += 1;
        throw refusal();
      });
      try {
        await expect(database.query("SELECT 1")).rejects.toThrow(DatabaseUnavailableError);
        expect(checks).toBe(2);
        expect(stale).toBe(0);
        expect(sleeps).toEqual([]);
      } finally {
        await database.end();
      }
    },
  );
});
