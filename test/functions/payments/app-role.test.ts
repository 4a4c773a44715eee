// Migration 011's application role, on a real PostgreSQL: the payment path connects as
// payments_app (every handler test in this folder does, support/database.ts), which may read and
// write the rows it needs and is refused every schema change, DROP, TRUNCATE and DELETE (but the
// expiry job's pruning of idempotency records past their retention, which the trigger guards).
import { randomUUID } from "node:crypto";
import "aws-sdk-client-mock-jest";
import { Client } from "pg";
import { DATABASE_APP_USER } from "../../../functions/common/contract";
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import type { ApiHandler } from "../../../functions/payments/shared/runtime";
import { FakeAws, lambdaContext, setHandlerEnvironment } from "./support/aws";
import { createTestDatabase, writeCounts } from "./support/database";
import type { TestDatabase } from "./support/database";
import { apiEvent, json } from "./support/http";

const aws = new FakeAws();
let db: TestDatabase;
let app: Client;
const handlers: Record<string, ApiHandler> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  app = new Client({ connectionString: db.url });
  await app.connect();
  setHandlerEnvironment(db.url);
  handlers.authorize = (await import("../../../functions/payments/authorize/handler")).handler;
  handlers.get = (await import("../../../functions/payments/get-payment/handler")).handler;
  handlers.capture = (await import("../../../functions/payments/capture/handler")).handler;
  handlers.refund = (await import("../../../functions/payments/refund/handler")).handler;
  handlers.void = (await import("../../../functions/payments/void/handler")).handler;
  handlers.list = (await import("../../../functions/payments/list-payments/handler")).handler;
});

afterAll(async () => {
  await app.end();
  await closeAllDatabases();
  await db.drop();
});

beforeEach(() => aws.reset());

describe("the application role", () => {
  it("is who the test connections are, and holds no role attribute beyond LOGIN", async () => {
    const { rows } = await app.query("SELECT current_user AS who");
    expect(rows[0].who).toBe(DATABASE_APP_USER);
    const role = await db.sql.query(
      `SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin
       FROM pg_roles WHERE rolname = $1`,
      [DATABASE_APP_USER],
    );
    expect(role.rows).toEqual([
      {
        rolsuper: false,
        rolcreatedb: false,
        rolcreaterole: false,
        rolreplication: false,
        rolbypassrls: false,
        rolcanlogin: true,
      },
    ]);
    const owned = await db.sql.query(
      "SELECT count(*)::int AS n FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = $1)",
      [DATABASE_APP_USER],
    );
    expect(owned.rows[0].n).toBe(0);
  });

  it("has exactly the table privileges the payment path uses", async () => {
    const { rows } = await db.sql.query<{ table_name: string; privileges: string }>(
      `SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) AS privileges
       FROM information_schema.role_table_grants WHERE grantee = $1
       GROUP BY table_name ORDER BY table_name`,
      [DATABASE_APP_USER],
    );
    expect(Object.fromEntries(rows.map((r) => [r.table_name, r.privileges]))).toEqual({
      health_heartbeats: "INSERT,SELECT,UPDATE",
      idempotency_keys: "DELETE,INSERT,SELECT",
      payment_events: "INSERT,SELECT,UPDATE",
      payments: "INSERT,SELECT,UPDATE",
      writer_heartbeat: "SELECT",
    });
  });

  const refused: Array<[string, string]> = [
    ["CREATE TABLE", "CREATE TABLE planted (id int)"],
    ["CREATE FUNCTION", "CREATE FUNCTION planted() RETURNS int LANGUAGE sql AS 'SELECT 1'"],
    ["CREATE SCHEMA", "CREATE SCHEMA planted"],
    ["CREATE INDEX", "CREATE INDEX planted ON payments (card_token)"],
    ["ALTER TABLE", "ALTER TABLE payments ADD COLUMN planted int"],
    [
      "ALTER TABLE ... DISABLE TRIGGER",
      "ALTER TABLE payments DISABLE TRIGGER payments_enforce_lifecycle",
    ],
    ["ALTER ROLE", `ALTER ROLE ${DATABASE_APP_USER} CREATEDB`],
    ["DROP TABLE", "DROP TABLE payment_events"],
    ["DROP FUNCTION", "DROP FUNCTION payments_enforce_lifecycle() CASCADE"],
    ["TRUNCATE", "TRUNCATE payments CASCADE"],
    ["DELETE of a payment", "DELETE FROM payments"],
    ["DELETE of an event", "DELETE FROM payment_events"],
    ["UPDATE of the migration ledger", "UPDATE schema_migrations SET name = 'planted'"],
  ];

  it.each(refused)("rejects %s", async (_what, statement) => {
    await expect(app.query(statement)).rejects.toMatchObject({
      // insufficient_privilege (also "must be owner of table ...")
      code: "42501",
    });
  });

  it("runs the payment path's main flow as itself: authorize, capture, refund, void, read, list", async () => {
    const before = await writeCounts(db.sql);
    const post = async (
      name: string,
      path: string,
      body: unknown,
      routeKey?: string,
      id?: string,
    ) =>
      json(
        await handlers[name]!(
          apiEvent({
            path,
            routeKey,
            pathParameters: id ? { id } : undefined,
            headers: { "idempotency-key": randomUUID() },
            body,
          }),
          lambdaContext(),
        ),
      );
    const authorize = (amount: number) =>
      post("authorize", "/payments", {
        merchantId: "merchant-1",
        cardToken: "tok_mc_5555abcd",
        amount,
        currency: "USD",
      });

    const first = await authorize(1000);
    expect(first.status).toBe(201);
    const id = first.body.id as string;
    const captured = await post(
      "capture",
      `/payments/${id}/capture`,
      {},
      "POST /payments/{id}/capture",
      id,
    );
    expect(captured.status).toBe(200);
    const refunded = await post(
      "refund",
      `/payments/${id}/refund`,
      { amount: 400 },
      "POST /payments/{id}/refund",
      id,
    );
    expect(refunded.status).toBe(201);
    const second = await authorize(500);
    const otherId = second.body.id as string;
    const voided = await post(
      "void",
      `/payments/${otherId}/void`,
      {},
      "POST /payments/{id}/void",
      otherId,
    );
    expect(voided.status).toBe(200);
    const read = json(
      await handlers.get!(
        apiEvent({
          method: "GET",
          path: `/payments/${id}`,
          routeKey: "GET /payments/{id}",
          pathParameters: { id },
        }),
        lambdaContext(),
      ),
    );
    expect(read.body).toMatchObject({ status: "partially_refunded" });
    const listed = json(
      await handlers.list!(apiEvent({ method: "GET", path: "/payments" }), lambdaContext()),
    );
    expect(listed.status).toBe(200);

    const after = await writeCounts(db.sql);
    expect(after.payments - before.payments).toBe(2);
    expect(after.events - before.events).toBe(5);
    // The handlers' pooled connections are still open: they are the application role's.
    const sessions = await db.sql.query<{ usename: string }>(
      `SELECT DISTINCT usename FROM pg_stat_activity
       WHERE datname = current_database() AND application_name LIKE 'payments-%'`,
    );
    expect(sessions.rows).toEqual([{ usename: DATABASE_APP_USER }]);
  });
});
