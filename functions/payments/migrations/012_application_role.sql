-- The application role (issue 14): the payment functions, the expiry job and the outbox relay
-- connect as payments_app, never as the Aurora master user; the master credential is used by the
-- migrate function alone. payments_app owns nothing, so it cannot ALTER, DROP or TRUNCATE
-- anything (only an owner can), and it gets exactly the row privileges the payment path uses:
--   payments          SELECT, INSERT, UPDATE  (UPDATE also covers SELECT ... FOR UPDATE)
--   payment_events    SELECT, INSERT, UPDATE  (the outbox relay's published_at bookkeeping;
--                                              the write-once trigger refuses anything else)
--   idempotency_keys  SELECT, INSERT, DELETE  (written once; pruned past retention)
--   health_heartbeats SELECT, INSERT, UPDATE  (/health's upsert)
--   writer_heartbeat  SELECT                  (/health reports the newest beat; pg_cron writes)
-- No other DELETE (payments are never deleted), no TRUNCATE, no REFERENCES, no TRIGGER.
-- Sequences: none, every key is a uuid the code generates; a future migration adding a
-- serial/identity column grants USAGE on its sequence here-after (the app-role test runs the
-- payment path as this role, so a missing grant fails the tests, not production).
-- Functions: the trigger functions run on the table's behalf and need no grant; the payment path
-- calls no other function of ours.
--
-- Authentication is IAM database authentication (functions/payments/shared/database.ts says why):
-- on Aurora the role gets rds_iam and no password, so no password for it exists anywhere. Where
-- rds_iam does not exist (a laptop, the tests' server) the role is created the same way and a
-- local run gives it a password itself.

DO $$
BEGIN
  -- Roles are cluster-wide: a second database on the same server (or a re-run) finds it.
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'payments_app') THEN
    CREATE ROLE payments_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION;
  END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
    GRANT rds_iam TO payments_app;
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO payments_app', current_database());
END
$$;

-- PostgreSQL before 15 lets PUBLIC create objects in the public schema; nobody but the owner
-- (the master user, through migrations) may.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO payments_app;

GRANT SELECT, INSERT, UPDATE ON payments TO payments_app;
GRANT SELECT, INSERT, UPDATE ON payment_events TO payments_app;
-- DELETE: the expiry job prunes records past the retention (31 days, 11b); the write-once
-- trigger refuses deleting a younger one whoever asks.
GRANT SELECT, INSERT, DELETE ON idempotency_keys TO payments_app;
GRANT SELECT, INSERT, UPDATE ON health_heartbeats TO payments_app;
GRANT SELECT ON writer_heartbeat TO payments_app;
