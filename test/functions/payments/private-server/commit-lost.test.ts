// Issue 10, review 22 L2 (the leftover): a commit wait that ends because the server terminated
// the backend or the connection dropped. The outcome is unknown to the client, as PostgreSQL
// documents (pg_xact_status exists "to determine whether their transaction committed or aborted
// after the application and database server become disconnected while a COMMIT is in progress",
// https://www.postgresql.org/docs/16/functions-info.html), and a terminate during a commit wait
// leaves the transaction "already committed locally, but might not have been replicated"
// (src/backend/replication/syncrep.c; https://www.postgresql.org/docs/16/warm-standby.html#
// SYNCHRONOUS-REPLICATION-HA: waiting commits "will be marked fully committed once the primary
// database recovers"). So it is answered as a commit the RPO guard paused: 503
// commit_unconfirmed, never run again on a new connection (which would replay its own answer as
// a 2xx, or answer `unavailable`), and the merchant's retry with the same key replays what
// committed once the replay's own commit is confirmed (review 23 H1): 503 again until then.
//
// A real commit wait: a server of its own whose synchronous_standby_names names a standby that
// never connects, so every commit of the application role waits in SyncRep (wait_event) as a
// commit paused by Aurora's rds.global_db_rpo does. synchronous_standby_names is server-wide, so
// this runs on the private server global-setup.ts starts for this folder.
import { randomUUID } from "node:crypto";
import { Client, Pool } from "pg";
import { DATABASE_APP_USER } from "../../../../functions/common/contract";
import { closeAllDatabases } from "../../../../functions/payments/shared/database";
import type { ApiHandler } from "../../../../functions/payments/shared/runtime";
import { FakeAws, lambdaContext, setHandlerEnvironment } from "../support/aws";
import {
  APP_ROLE_PASSWORD,
  PRIVATE_ADMIN_URL_ENV,
  PRIVATE_TEMPLATE_DB_ENV,
} from "../support/global-setup";
import { startProxy } from "../support/proxy";
import type { DatabaseProxy } from "../support/proxy";
import { apiEvent, json } from "../support/http";
import type { JsonResult } from "../support/http";

jest.setTimeout(60_000);

const aws = new FakeAws();
let adminUrl: string;
let proxy: DatabaseProxy;
let admin: Client;
let database: string;
let authorizeHandler: ApiHandler;
let captureHandler: ApiHandler;

async function setStandbys(names: string): Promise<void> {
  await admin.query(`ALTER SYSTEM SET synchronous_standby_names = '${names}'`);
  await admin.query("SELECT pg_reload_conf()");
  // The postmaster applies a reload asynchronously: wait until a new session sees it.
  for (let i = 0; i < 100; i++) {
    const probe = new Client({ connectionString: adminUrl });
    await probe.connect();
    const { rows } = await probe.query<{ v: string }>(
      "SELECT current_setting('synchronous_standby_names') AS v",
    );
    await probe.end();
    if (rows[0]!.v === names) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`synchronous_standby_names did not become '${names}'`);
}

beforeAll(async () => {
  adminUrl = process.env[PRIVATE_ADMIN_URL_ENV]!;
  database = process.env[PRIVATE_TEMPLATE_DB_ENV]!;
  if (!adminUrl || !database) throw new Error("no private PostgreSQL: run this through jest");
  admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  // Only the application role waits: the test's own superuser sessions commit at once. The
  // server runs with synchronous_commit=off on its command line; a per-role setting beats it.
  await admin.query(
    `ALTER ROLE ${DATABASE_APP_USER} IN DATABASE ${database} SET synchronous_commit = on`,
  );
  const app = new URL(adminUrl);
  app.username = DATABASE_APP_USER;
  app.password = APP_ROLE_PASSWORD;
  app.pathname = `/${database}`;
  proxy = await startProxy(app.toString());
  setHandlerEnvironment(proxy.url);
  authorizeHandler = (await import("../../../../functions/payments/authorize/handler")).handler;
  captureHandler = (await import("../../../../functions/payments/capture/handler")).handler;
});

afterAll(async () => {
  await closeAllDatabases();
  await proxy?.close();
  await admin?.end();
});

let connects: jest.SpyInstance;

beforeEach(async () => {
  aws.reset();
  await setStandbys("ghost");
  await proxy.up();
  connects = jest.spyOn(Pool.prototype, "connect");
});

afterEach(() => jest.restoreAllMocks());

const PAYMENT = {
  merchantId: "merchant-1",
  cardToken: "tok_visa_4242abcd",
  amount: 4100,
  currency: "EUR",
};

async function authorize(key: string): Promise<JsonResult> {
  return json(
    await authorizeHandler(
      apiEvent({ path: "/payments", headers: { "idempotency-key": key }, body: PAYMENT }),
      lambdaContext(),
    ),
  );
}

async function capture(id: string, key: string): Promise<JsonResult> {
  return json(
    await captureHandler(
      apiEvent({
        path: `/payments/${id}/capture`,
        routeKey: "POST /payments/{id}/capture",
        pathParameters: { id },
        headers: { "idempotency-key": key },
      }),
      lambdaContext(),
    ),
  );
}

/** The application's backend blocked in a commit wait (it committed locally, unreplicated). */
async function waitingCommit(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event = 'SyncRep'",
      [database],
    );
    if (rows.length === 1) return rows[0]!.pid;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("no commit waiting for synchronous replication");
}

async function paymentsUnder(key: string): Promise<string[]> {
  const sql = new Client({ connectionString: adminUrl.replace(/\/postgres$/, `/${database}`) });
  await sql.connect();
  try {
    const { rows } = await sql.query<{ payment_id: string }>(
      "SELECT payment_id FROM idempotency_keys WHERE idempotency_key = $1",
      [key],
    );
    return rows.map((row) => row.payment_id);
  } finally {
    await sql.end();
  }
}

describe("a commit wait ended by the server or the network", () => {
  it("answers 503 commit_unconfirmed when the server terminates the backend mid-commit, and the same key then replays what committed", async () => {
    const key = randomUUID();
    const pending = authorize(key);
    const pid = await waitingCommit();

    // As an admin_shutdown (57P01) of that backend: what a server restart or failover does.
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    const first = await pending;

    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({ code: "commit_unconfirmed" });
    // One connection: the transaction was not run again on a new one.
    expect(connects).toHaveBeenCalledTimes(1);
    // Committed locally despite the terminate: the outcome the 503 refused to promise.
    const stored = await paymentsUnder(key);
    expect(stored).toHaveLength(1);

    // Review 23 H1: the standby is still missing, so the stored answer is not durable yet. The
    // retry's replay commits a write of its own, which waits as the original's did; cut, it is
    // unconfirmed again, never a 2xx.
    const early = authorize(key);
    await admin.query("SELECT pg_terminate_backend($1)", [await waitingCommit()]);
    const unconfirmed = await early;

    expect(unconfirmed.status).toBe(503);
    expect(unconfirmed.body).toMatchObject({ code: "commit_unconfirmed" });

    // The standby answers (here: is no longer required): the replay's commit, later in WAL than
    // the original's, is confirmed, and so is the original.
    await setStandbys("");
    const retry = await authorize(key);

    expect(retry.status).toBe(201);
    expect(retry.headers["idempotent-replayed"]).toBe("true");
    expect(retry.body.id).toBe(stored[0]);
    expect(await paymentsUnder(key)).toEqual(stored);
  });

  it("answers 503 commit_unconfirmed when the connection drops mid-commit, and the same key replays the commit once the wait ends", async () => {
    const key = randomUUID();
    const pending = authorize(key);
    await waitingCommit();

    // The socket goes (a reset between the function and the writer); the server does not
    // notice a client gone during a commit wait, so the commit is still pending there.
    await proxy.down();
    const first = await pending;

    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({ code: "commit_unconfirmed" });
    expect(connects).toHaveBeenCalledTimes(1);

    // The standby answers again (here: is no longer required): the commit completes.
    await setStandbys("");
    await proxy.up();
    for (let i = 0; i < 100 && (await paymentsUnder(key)).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const stored = await paymentsUnder(key);
    expect(stored).toHaveLength(1);

    const retry = await authorize(key);

    expect(retry.status).toBe(201);
    expect(retry.headers["idempotent-replayed"]).toBe("true");
    expect(retry.body.id).toBe(stored[0]);
  });

  it("answers 503 commit_unconfirmed when a transaction's COMMIT is cut by a terminate, and the same key replays the capture", async () => {
    await setStandbys("");
    const authorized = await authorize(randomUUID());
    expect(authorized.status).toBe(201);
    await setStandbys("ghost");
    const key = randomUUID();
    connects.mockClear();
    const pending = capture(authorized.body.id as string, key);
    await admin.query("SELECT pg_terminate_backend($1)", [await waitingCommit()]);
    const first = await pending;

    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({ code: "commit_unconfirmed" });
    expect(connects).toHaveBeenCalledTimes(1);

    // Review 23 H1: replayed while the standby is still missing, the capture is unconfirmed.
    const early = capture(authorized.body.id as string, key);
    await admin.query("SELECT pg_terminate_backend($1)", [await waitingCommit()]);
    const unconfirmed = await early;

    expect(unconfirmed.status).toBe(503);
    expect(unconfirmed.body).toMatchObject({ code: "commit_unconfirmed" });

    await setStandbys("");
    const retry = await capture(authorized.body.id as string, key);

    expect(retry.status).toBe(200);
    expect(retry.headers["idempotent-replayed"]).toBe("true");
    expect(retry.body).toMatchObject({ id: authorized.body.id, status: "captured" });
  });
});
