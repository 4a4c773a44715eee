-- The database's own proof of life for the DR orchestrator (state-machines/README.md, "Never two
-- writers"). pg_cron commits this row every 5 seconds on whichever cluster is the writer ("pg_cron
-- does not run any jobs as long as a server is in hot standby mode"), with no traffic and no Lambda
-- involved. Under rds.global_db_rpo, a heartbeat that stopped reaching the secondary proves that
-- the old primary can no longer commit anything. Every region's /health reports the newest beat_at
-- its own cluster holds. Numbered 010: 005-009 are left to the payment API's migrations.

CREATE TABLE writer_heartbeat (
  id      smallint PRIMARY KEY CONSTRAINT writer_heartbeat_one_row CHECK (id = 1),
  beat_at timestamptz NOT NULL
);

INSERT INTO writer_heartbeat (id, beat_at) VALUES (1, now());

-- Only where pg_cron is loaded for this database (Aurora, with the cluster parameter group's
-- shared_preload_libraries and cron.database_name); elsewhere (a laptop, the tests' server) the
-- row stays and nothing beats. cron.schedule with a job name replaces an existing job of that
-- name, so running this again is harmless.
DO $$
BEGIN
  IF current_setting('shared_preload_libraries', true) LIKE '%pg_cron%'
     AND current_setting('cron.database_name', true) = current_database() THEN
    CREATE EXTENSION IF NOT EXISTS pg_cron;
    PERFORM cron.schedule(
      'payments-writer-heartbeat',
      '5 seconds',
      'UPDATE writer_heartbeat SET beat_at = now() WHERE id = 1'
    );
  END IF;
END
$$;
