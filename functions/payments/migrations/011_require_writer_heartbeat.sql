-- The writer heartbeat must beat on Aurora (review of issue 10, H1). Migration 010 scheduled the
-- pg_cron job only where pg_cron was loaded, and on an existing cluster the parameter group's
-- shared_preload_libraries change is "pending-reboot": 010 wrote its row, was recorded, and the
-- heartbeat stayed frozen at the migration time. A frozen heartbeat looks like a writer that
-- stopped. So on Aurora (aurora_version() exists only there:
-- https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora_version.html) this fails,
-- and is not recorded, until pg_cron is loaded for this database; the next migrate after the
-- reboot schedules the job. cron.schedule with a job name replaces an existing job of that name
-- (so this also repairs one that was changed by hand), and the job is set active.
-- Elsewhere (a laptop, the tests' server) there is nothing to schedule.
DO $$
DECLARE
  job bigint;
BEGIN
  IF to_regproc('aurora_version') IS NULL THEN
    RETURN;
  END IF;
  IF coalesce(current_setting('shared_preload_libraries', true), '') NOT LIKE '%pg_cron%' THEN
    RAISE EXCEPTION 'pg_cron is not loaded (shared_preload_libraries = %): the writer heartbeat cannot beat. Reboot the writer instance so the cluster parameter group''s pending-reboot change takes effect, then run the migrate function again',
      coalesce(current_setting('shared_preload_libraries', true), '');
  END IF;
  IF coalesce(current_setting('cron.database_name', true), '') <> current_database() THEN
    RAISE EXCEPTION 'pg_cron runs its jobs in database % (cron.database_name), not in %: set cron.database_name in the cluster parameter group, reboot the writer instance, then run the migrate function again',
      coalesce(current_setting('cron.database_name', true), 'postgres'), current_database();
  END IF;
  CREATE EXTENSION IF NOT EXISTS pg_cron;
  job := cron.schedule(
    'payments-writer-heartbeat',
    '5 seconds',
    'UPDATE writer_heartbeat SET beat_at = now() WHERE id = 1'
  );
  PERFORM cron.alter_job(job, active := true);
END
$$;
