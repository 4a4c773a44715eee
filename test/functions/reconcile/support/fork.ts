// Two real PostgreSQL servers built by the project's migrations: the old primary (us-east-1) and
// the new one (us-west-2). Writes go through the payment API's own parsers and cores on
// PostgresPaymentStore; "replication" copies rows committed so far from old to new as a physical
// replica would (session_replication_role = replica: triggers off, rows as they are), then the
// fork: the old side goes on alone. Each scenario gets fresh databases on both servers.
import { randomBytes, randomUUID } from "node:crypto";
import { Client } from "pg";
import { authorize, parseAuthorize } from "../../../../functions/payments/authorize/core";
import { capture, parseCapture } from "../../../../functions/payments/capture/core";
import { parseRefund, refund } from "../../../../functions/payments/refund/core";
import { parseVoid, voidPayment } from "../../../../functions/payments/void/core";
import { closeAllDatabases, Database } from "../../../../functions/payments/shared/database";
import { PostgresPaymentStore } from "../../../../functions/payments/shared/postgres-store";
import type { ApiAnswer } from "../../../../functions/payments/shared/ports";
import type { ApiRequest } from "../../../../functions/payments/shared/runtime";
import type { WriteDeps } from "../../../../functions/payments/shared/write-core";
import {
  ADMIN_URL_ENV,
  SECOND_ADMIN_URL_ENV,
  SECOND_TEMPLATE_DB_ENV,
  TEMPLATE_DB_ENV,
} from "../../payments/support/global-setup";

export const OLD_REGION = "us-east-1";
export const NEW_REGION = "us-west-2";

/** A server of the run (global-setup.ts): its admin URL and a migrated template database. */
export interface Server {
  readonly adminUrl: string;
  readonly template: string;
}

export interface Servers {
  readonly old: Server;
  readonly new: Server;
}

async function withClient<T>(url: string, work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The two servers global-setup.ts started: two regions' clusters. */
export function servers(): Servers {
  const env = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run the reconcile tests through jest`);
    return value;
  };
  return {
    old: { adminUrl: env(ADMIN_URL_ENV), template: env(TEMPLATE_DB_ENV) },
    new: { adminUrl: env(SECOND_ADMIN_URL_ENV), template: env(SECOND_TEMPLATE_DB_ENV) },
  };
}

export function urlOf(server: Server, database: string): string {
  const url = new URL(server.adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** One side: a fresh migrated database, a store on it, and a connection for arranging. */
export class Side {
  readonly store: PostgresPaymentStore;
  private constructor(
    readonly region: string,
    readonly url: string,
    readonly sql: Client,
    readonly db: Database,
  ) {
    this.store = new PostgresPaymentStore(db);
  }

  static async create(server: Server, region: string): Promise<Side> {
    const name = `reconcile_${randomBytes(5).toString("hex")}`;
    await withClient(server.adminUrl, (c) =>
      c.query(`CREATE DATABASE ${name} TEMPLATE ${server.template}`),
    );
    const url = urlOf(server, name);
    const sql = new Client({ connectionString: url });
    await sql.connect();
    const db = new Database({
      settings: async () => ({ kind: "url", connectionString: url }),
      applicationName: "reconcile-test",
    });
    return new Side(region, url, sql, db);
  }

  /** A read-only connection of its own, as the reconciliation gets. */
  async connect(): Promise<Client> {
    const c = new Client({ connectionString: this.url });
    await c.connect();
    return c;
  }

  private deps(at: Date, ids: string[] = []): WriteDeps {
    const queue = [...ids];
    return {
      store: this.store,
      region: this.region,
      now: () => at,
      newId: () => queue.shift() ?? randomUUID(),
      afterCommit: async () => undefined,
    };
  }

  private request(merchantId: string, key: string, body: unknown, id?: string): ApiRequest {
    return {
      headers: { "idempotency-key": key },
      body: JSON.stringify(body),
      isBase64Encoded: false,
      ...(id ? { pathParameters: { id } } : {}),
      requestId: `req-${randomUUID()}`,
      merchantId,
    };
  }

  async authorize(
    at: Date,
    key: string,
    body: Record<string, unknown>,
    merchantId = "merchant-1",
  ): Promise<ApiAnswer & { id: string }> {
    const answer = await authorize(parseAuthorize(this.request(merchantId, key, body)), {
      ...this.deps(at),
      captureWindowHours: 168,
      recordSession: async () => undefined,
    });
    return { ...answer, id: (answer.body as { id: string }).id };
  }

  capture(
    at: Date,
    id: string,
    key: string,
    body: Record<string, unknown> = {},
    merchantId = "merchant-1",
  ) {
    return capture(parseCapture(this.request(merchantId, key, body, id)), this.deps(at));
  }

  refund(
    at: Date,
    id: string,
    key: string,
    body: Record<string, unknown>,
    merchantId = "merchant-1",
  ) {
    return refund(parseRefund(this.request(merchantId, key, body, id)), this.deps(at));
  }

  void(at: Date, id: string, key: string, merchantId = "merchant-1") {
    return voidPayment(parseVoid(this.request(merchantId, key, {}, id)), this.deps(at));
  }

  /** The writer heartbeat as pg_cron would have left it. */
  async setHeartbeat(at: Date): Promise<void> {
    await this.sql.query("UPDATE writer_heartbeat SET beat_at = $1 WHERE id = 1", [at]);
  }

  /** Runs statements as a replica applies WAL: no triggers, no foreign-key checks. */
  async raw(statements: (c: Client) => Promise<void>): Promise<void> {
    await this.sql.query("SET session_replication_role = replica");
    try {
      await statements(this.sql);
    } finally {
      await this.sql.query("SET session_replication_role = origin");
    }
  }

  async counts(): Promise<{ payments: number; events: number; keys: number; snapshot: string }> {
    const { rows } = await this.sql.query<{
      payments: string;
      events: string;
      keys: string;
      snapshot: string;
    }>(`
      SELECT (SELECT count(*) FROM payments) AS payments,
             (SELECT count(*) FROM payment_events) AS events,
             (SELECT count(*) FROM idempotency_keys) AS keys,
             md5((SELECT coalesce(string_agg(p::text, '|' ORDER BY id), '') FROM payments p)
                 || (SELECT coalesce(string_agg(e::text, '|' ORDER BY event_id), '') FROM payment_events e)
                 || (SELECT coalesce(string_agg(k::text, '|' ORDER BY merchant_id, idempotency_key), '') FROM idempotency_keys k)) AS snapshot`);
    const r = rows[0]!;
    return {
      payments: Number(r.payments),
      events: Number(r.events),
      keys: Number(r.keys),
      snapshot: r.snapshot,
    };
  }

  async drop(server: Server): Promise<void> {
    await this.sql.end();
    await this.db.end();
    const name = new URL(this.url).pathname.slice(1);
    await withClient(server.adminUrl, (c) =>
      c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    );
  }
}

/**
 * Streams everything the old side committed so far to the new side, as replication would:
 * rows inserted or updated in place, triggers off.
 */
export async function replicate(from: Side, to: Side): Promise<void> {
  const table = async (name: string, key: string) => {
    const { rows } = await from.sql.query<{ r: unknown }>(
      `SELECT row_to_json(t) AS r FROM ${name} t`,
    );
    await to.raw(async (c) => {
      for (const { r } of rows) {
        await c.query(
          `INSERT INTO ${name} SELECT * FROM json_populate_record(NULL::${name}, $1::json)
           ON CONFLICT (${key}) DO NOTHING`,
          [JSON.stringify(r)],
        );
      }
    });
  };
  // Payments move in place: the replica takes the newest row.
  const { rows } = await from.sql.query<{ r: unknown; id: string }>(
    "SELECT id, row_to_json(t) AS r FROM payments t",
  );
  await to.raw(async (c) => {
    for (const { r, id } of rows) {
      await c.query("DELETE FROM payments WHERE id = $1", [id]);
      await c.query(
        "INSERT INTO payments SELECT * FROM json_populate_record(NULL::payments, $1::json)",
        [JSON.stringify(r)],
      );
    }
  });
  await table("payment_events", "event_id");
  await table("idempotency_keys", "merchant_id, idempotency_key");
}

/**
 * The fork the CLI tests share, on the two servers: one payment replicated (k-before, at 1 s),
 * the old primary's heartbeat at 10 s (the fork), then one lost authorization (k-lost, 42.00 USD
 * at 12 s) that only the old side has. `at` turns seconds into the test's dates.
 */
export async function forkWithOneLost(
  at: (seconds: number) => Date,
): Promise<{ old: Side; fresh: Side; lostId: string }> {
  const both = servers();
  const old = await Side.create(both.old, OLD_REGION);
  const fresh = await Side.create(both.new, NEW_REGION);
  await old.authorize(at(1), "k-before", {
    cardToken: "tok_visa_4242",
    amount: 100,
    currency: "USD",
  });
  await old.setHeartbeat(at(10));
  await replicate(old, fresh);
  const lost = await old.authorize(at(12), "k-lost", {
    cardToken: "tok_visa_4242",
    amount: 4200,
    currency: "USD",
  });
  return { old, fresh, lostId: lost.id };
}

/** Closes the pools and drops both sides' databases (the CLI tests' afterAll). */
export async function dropFork(old: Side, fresh: Side): Promise<void> {
  await closeAllDatabases();
  await old.drop(servers().old);
  await fresh.drop(servers().new);
}
