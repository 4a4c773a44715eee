-- The writer heartbeat names the instance that wrote it (review 23-18 L2). Preflight's veto reads
-- the beat the TARGET region's cluster holds as "the old primary still commits"; if the target
-- was already made writable out of band (a detach or promotion by hand), its own pg_cron beats,
-- and without a name that beat would pass for the old primary's. The job now stamps
-- aurora_db_instance_identifier() ("the name of the DB instance that you're connected to",
-- https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_db_instance_identifier.html),
-- whose name carries the region code (payments-db-<n>-<region code>-<suffix>, infra/naming.ts).
-- Elsewhere (a laptop, the tests' server) the column stays null and nothing beats.
ALTER TABLE writer_heartbeat ADD COLUMN IF NOT EXISTS writer text;

DO $$
DECLARE
  job bigint;
BEGIN
  IF to_regproc('aurora_version') IS NULL OR to_regproc('aurora_db_instance_identifier') IS NULL THEN
    RETURN;
  END IF;
  -- 011 made sure pg_cron is loaded here; cron.schedule with the same name replaces the job.
  job := cron.schedule(
    'payments-writer-heartbeat',
    '5 seconds',
    'UPDATE writer_heartbeat SET beat_at = now(), writer = aurora_db_instance_identifier() WHERE id = 1'
  );
  PERFORM cron.alter_job(job, active := true);
END
$$;
