// Review 24-18 L2/L3: migration 014 runs the heartbeat job's command once, as the migrating user,
// before it schedules it, and waits at most 1 s for the heartbeat row. Aurora's functions and
// pg_cron are modelled on the real test PostgreSQL from their documentation:
// aurora_db_instance_identifier() "returns the name of the DB instance that you're connected to"
// (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_db_instance_identifier.html);
// cron.schedule(job_name, schedule, command) returns the job id and cron.alter_job(job_id, ...,
// active) changes it (https://github.com/citusdata/pg_cron, README "Managing jobs").
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { createTestDatabase } from "./support/database";
import type { TestDatabase } from "./support/database";

const SQL = readFileSync(
  join(__dirname, "../../../functions/payments/migrations/014_writer_heartbeat_checked.sql"),
  "utf8",
);
const INSTANCE = "payments-db-1-use1-test";

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
  await db.sql.query(`
    CREATE FUNCTION aurora_version() RETURNS text LANGUAGE sql AS $$ SELECT '16.6.2' $$;
    CREATE FUNCTION aurora_db_instance_identifier() RETURNS text LANGUAGE sql AS $$ SELECT '${INSTANCE}' $$;
    CREATE SCHEMA cron;
    CREATE TABLE cron.jobs (jobid bigserial, name text, schedule text, command text, active boolean);
    CREATE FUNCTION cron.schedule(job_name text, schedule text, command text) RETURNS bigint
      LANGUAGE sql AS $$ INSERT INTO cron.jobs (name, schedule, command) VALUES (job_name, schedule, command) RETURNING jobid $$;
    CREATE FUNCTION cron.alter_job(job_id bigint, active boolean DEFAULT NULL) RETURNS void
      LANGUAGE sql AS $$ UPDATE cron.jobs SET active = alter_job.active WHERE jobid = job_id $$;
    UPDATE writer_heartbeat SET writer = NULL WHERE id = 1;
  `);
});
afterEach(async () => {
  await db.drop();
});

/** 014 as the migrator applies it: one transaction, its connection's lock_timeout 10 s. */
async function apply(client: Client): Promise<void> {
  await client.query("SET lock_timeout = '10s'");
  await client.query("BEGIN");
  try {
    await client.query(SQL);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  }
}

describe("migration 014 on Aurora", () => {
  it("runs the job's command once, then schedules exactly that command", async () => {
    await apply(db.sql);
    const { rows } = await db.sql.query("SELECT writer FROM writer_heartbeat WHERE id = 1");
    expect(rows[0].writer).toBe(INSTANCE);
    const jobs = await db.sql.query("SELECT name, schedule, command, active FROM cron.jobs");
    expect(jobs.rows).toEqual([
      {
        name: "payments-writer-heartbeat",
        schedule: "5 seconds",
        command:
          "UPDATE writer_heartbeat SET beat_at = now(), writer = aurora_db_instance_identifier() WHERE id = 1",
        active: true,
      },
    ]);
  });

  it("fails loudly, scheduling nothing, when the command cannot run as the migrating user", async () => {
    await db.sql.query(`CREATE OR REPLACE FUNCTION aurora_db_instance_identifier() RETURNS text
      LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'permission denied for function aurora_db_instance_identifier' USING ERRCODE = '42501'; END $$`);
    await expect(apply(db.sql)).rejects.toMatchObject({ code: "42501" });
    const jobs = await db.sql.query("SELECT count(*)::int AS n FROM cron.jobs");
    expect(jobs.rows[0].n).toBe(0);
  });

  it("gives up on the heartbeat row after about 1 s, not the migrator's 10 s (lock_timeout, 55P03)", async () => {
    const holder = new Client({ connectionString: db.adminUrl });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT * FROM writer_heartbeat WHERE id = 1 FOR UPDATE");
      const started = Date.now();
      await expect(apply(db.sql)).rejects.toMatchObject({ code: "55P03" });
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      await holder.query("ROLLBACK");
      await holder.end();
    }
  }, 20_000);
});
