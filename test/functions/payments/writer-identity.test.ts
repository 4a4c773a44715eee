// Review 23b-10 M1: the write path confirms, on the connection it writes through, that it reaches
// this region's writer. Two databases on the real test PostgreSQL play the two clusters of an
// Aurora global database; a TCP endpoint in front of them plays the global writer endpoint, whose
// resolution moves late and whose pooled connections stay where they were (support/
// global-endpoint.ts). Aurora's identity functions are modelled in each database from their
// documented columns (aurora_db_instance_identifier, aurora_global_db_instance_status).
import { randomUUID } from "node:crypto";
import type { Client } from "pg";
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import type { ApiHandler } from "../../../functions/payments/shared/runtime";
import {
  DR_API_KEY,
  FakeAws,
  OTHER_REGION,
  REGION,
  lambdaContext,
  setHandlerEnvironment,
} from "./support/aws";
import { createTestDatabase, writeCounts } from "./support/database";
import type { TestDatabase } from "./support/database";
import { startGlobalEndpoint } from "./support/global-endpoint";
import type { GlobalEndpoint } from "./support/global-endpoint";
import { apiEvent, json } from "./support/http";
import type { JsonResult } from "./support/http";

const aws = new FakeAws();
// The function runs in REGION (the target of the move); the old writer is in OTHER_REGION.
let oldWriter: TestDatabase;
let promoted: TestDatabase;
let endpoint: GlobalEndpoint;
const handlers: Record<string, ApiHandler> = {};

/**
 * aurora_db_instance_identifier() names the connected instance; aurora_global_db_instance_status()
 * lists every instance of the global database with its aws_region, and session_id
 * MASTER_SESSION_ID for a writer. The old primary, not yet stopped by Aurora's best-effort
 * fencing, still believes it is the writer: each side lists itself as MASTER.
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_db_instance_identifier.html
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_global_db_instance_status.html
 */
async function modelAurora(sql: Client, instance: string, region: string): Promise<void> {
  const other = region === REGION ? OTHER_REGION : REGION;
  await sql.query(`
    CREATE FUNCTION aurora_db_instance_identifier() RETURNS varchar LANGUAGE sql STABLE
      AS $$ SELECT '${instance}'::varchar $$;
    CREATE FUNCTION aurora_global_db_instance_status()
      RETURNS TABLE (server_id varchar, session_id varchar, aws_region varchar)
      LANGUAGE sql STABLE AS $$
        VALUES ('${instance}'::varchar, 'MASTER_SESSION_ID'::varchar, '${region}'::varchar),
               ('instance-in-${other}', '${randomUUID()}', '${other}')
      $$;`);
}

beforeAll(async () => {
  oldWriter = await createTestDatabase();
  promoted = await createTestDatabase();
  await modelAurora(oldWriter.sql, `payments-${OTHER_REGION}-1`, OTHER_REGION);
  await modelAurora(promoted.sql, `payments-${REGION}-1`, REGION);
  // Stale DNS: the global endpoint still resolves to the old writer.
  endpoint = await startGlobalEndpoint(oldWriter.url);
  setHandlerEnvironment(endpoint.url);
  process.env.DATABASE_WRITER_IDENTITY = "aurora";
  handlers.authorize = (await import("../../../functions/payments/authorize/handler")).handler;
  handlers.void = (await import("../../../functions/payments/void/handler")).handler;
});

afterAll(async () => {
  delete process.env.DATABASE_WRITER_IDENTITY;
  await closeAllDatabases();
  await endpoint.close();
  await oldWriter.drop();
  await promoted.drop();
});

beforeEach(() => aws.reset());

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
