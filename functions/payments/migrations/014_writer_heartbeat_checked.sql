-- Review 24-18 L2/L3: 013 scheduled the heartbeat's new command without ever running it. pg_cron
-- runs a job as the user who scheduled it (cron.job's username, default current_user), so a
-- privilege or syntax problem would only show as failed runs in cron.job_run_details and a
-- stopped heartbeat (a healthy writer that looks stopped). Here the very command the job runs is
-- run once first, inside this migration, as the same user: if it cannot run, the migration fails
-- loudly and nothing is rescheduled. 013 itself is not edited: the migrator refuses a migration
-- changed after it was applied (MigrationDriftError), and 013 is on main.
-- lock_timeout 1 s (the migrator's connection has 10 s): the UPDATE waits for the heartbeat row,
-- which /health and the reader read every few seconds; a short wait fails fast, and the migrator
-- retries a lock_timeout (55P03) with backoff.
SET LOCAL lock_timeout = '1s';

DO $$
DECLARE
  command constant text :=
    'UPDATE writer_heartbeat SET beat_at = now(), writer = aurora_db_instance_identifier() WHERE id = 1';
  job bigint;
BEGIN
  IF to_regproc('aurora_version') IS NULL THEN
    RETURN;  -- plain PostgreSQL (a laptop, the tests' server): no pg_cron job, nothing beats
  END IF;
  IF to_regproc('aurora_db_instance_identifier') IS NULL THEN
    -- Aurora PostgreSQL before 13.7, 12.11, 11.16, 10.21 (review 24-18 L1): the beat keeps 010's
    -- job and names no writer, which the veto then cannot filter; say so in the migrate log.
    RAISE WARNING 'aurora_db_instance_identifier() is missing on this Aurora version: the writer heartbeat names no writer (upgrade the minor version, then re-run 013''s schedule)';
    RETURN;
  END IF;
  EXECUTE command;
  job := cron.schedule('payments-writer-heartbeat', '5 seconds', command);
  PERFORM cron.alter_job(job, active := true);
END
$$;
