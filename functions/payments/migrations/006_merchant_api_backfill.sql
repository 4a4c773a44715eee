-- migrate:no-transaction
--
-- The second half of 005 (expand, then tighten; README "Upgrading a deployed region"): rows
-- written before 005 are brought to its rules in small batches, the indexes are built
-- concurrently, then every NOT VALID constraint of 005 is validated. Statement by statement
-- (shared/migrator.ts), so no lock that blocks the API is held for longer than a catalog change:
-- - each backfill batch is a transaction of its own of at most 1000 rows (row locks only, short
--   enough for Aurora's replication to keep up);
-- - CREATE INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE, which lets reads and writes go on
--   ("Building Indexes Concurrently", www.postgresql.org/docs/16/sql-createindex.html);
-- - VALIDATE CONSTRAINT also takes only SHARE UPDATE EXCLUSIVE ("ALTER TABLE": "validation
--   acquires only a SHARE UPDATE EXCLUSIVE lock on the table being altered");
-- - SET NOT NULL skips its table scan when a valid CHECK (... IS NOT NULL) proves it (ibid.).
-- The code of the previous release keeps working throughout: 005 fills in what it leaves out.
-- Safe to run again from the start after a failure (the migrator records it only at the end).

-- Index builds and full validations may take longer than the migrate function's 240 s statement
-- timeout on a large table; they do not block traffic, so they are bounded by the caller (the
-- function's own timeout, or `npm run db:migrate` for a table too large for it). Their lock
-- waits (for transactions in flight, for rows a request holds) block no one either, so they may
-- wait; the statements that need ACCESS EXCLUSIVE below wait 100 ms at most.
SET statement_timeout = 0;
SET lock_timeout = '1min';

-- The expiry job's work list: open authorizations by deadline (with NULLs: the backfill below
-- finds the older authorizations through it).
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_capture_due ON payments (capture_before)
  WHERE status IN ('authorized', 'partially_captured');

-- Authorizations written before 005 had no deadline and, until now, never lapsed. They keep
-- theirs for 28 days from authorization, Adyen's expiry for the major card networks ("28 days
-- from the day the payment is authorised", adyen.help "authorisation validity"), and never less
-- than 7 days from this migration, so none lapses at deploy: a merchant who captured late under
-- the old rules gets a week (Stripe's default window) to capture or void.
-- migrate:repeat
UPDATE payments SET capture_before = greatest(created_at + interval '28 days',
                                              now() + interval '7 days')
WHERE id IN (
  SELECT id FROM payments
  WHERE status IN ('authorized', 'partially_captured') AND capture_before IS NULL
  LIMIT 1000
);

-- Events written before 005: numbered in the order they happened, and each capture and refund
-- becomes an object whose id is its event id (captures were full, so final). A temporary
-- partial index finds the rows left to do without scanning the ledger per batch.
CREATE INDEX CONCURRENTLY IF NOT EXISTS payment_events_unversioned ON payment_events (payment_id)
  WHERE payment_version IS NULL;

-- migrate:repeat
WITH batch AS (
  SELECT DISTINCT payment_id FROM (
    SELECT payment_id FROM payment_events WHERE payment_version IS NULL LIMIT 1000
  ) AS todo
), numbered AS (
  SELECT e.event_id,
         row_number() OVER (PARTITION BY e.payment_id ORDER BY e.created_at, e.event_id) AS version
  FROM payment_events e
  WHERE e.payment_id IN (SELECT payment_id FROM batch)
)
UPDATE payment_events AS e
SET payment_version = n.version,
    operation_id = CASE WHEN e.event_type IN (
        'payments.captured', 'payments.partially_refunded', 'payments.refunded')
      THEN e.event_id END,
    final_capture = CASE WHEN e.event_type = 'payments.captured' THEN true END
FROM numbered AS n
WHERE n.event_id = e.event_id AND e.payment_version IS NULL;

DROP INDEX CONCURRENTLY IF EXISTS payment_events_unversioned;

-- Indexes ---------------------------------------------------------------------------------------

-- GET /payments?reference=...: a merchant's payments for one order, newest first.
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_merchant_reference
  ON payments (merchant_id, reference, created_at) WHERE reference IS NOT NULL;
-- GET /payments?status=...: a merchant's payments in one status, newest first, without walking
-- the merchant's whole history for a rare status.
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_merchant_status_created
  ON payments (merchant_id, status, created_at);
-- The expiry job's pruning of idempotency records past their retention, oldest first.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);
-- One event per version of a payment, and one event per capture or refund id. Built
-- concurrently, then attached as constraints (which takes a brief lock and no scan).
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS payment_events_version_unique
  ON payment_events (payment_id, payment_version);
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS payment_events_operation_id_unique
  ON payment_events (operation_id);

-- Tighten: validate what 005 added NOT VALID ----------------------------------------------------

ALTER TABLE payments VALIDATE CONSTRAINT payments_reference_length;
ALTER TABLE payments VALIDATE CONSTRAINT payments_metadata_object;
ALTER TABLE payments VALIDATE CONSTRAINT payments_status_known;
ALTER TABLE payments VALIDATE CONSTRAINT payments_capture_within_amount;
ALTER TABLE payments VALIDATE CONSTRAINT payments_status_matches_amounts;
ALTER TABLE payments VALIDATE CONSTRAINT payments_capture_before_set;
ALTER TABLE payment_events VALIDATE CONSTRAINT payment_events_type_known;
ALTER TABLE payment_events VALIDATE CONSTRAINT payment_events_reference_length;
ALTER TABLE payment_events VALIDATE CONSTRAINT payment_events_operation_matches_type;
ALTER TABLE payment_events VALIDATE CONSTRAINT payment_events_final_only_on_capture;
ALTER TABLE idempotency_keys VALIDATE CONSTRAINT idempotency_keys_status_known;

-- From here on ACCESS EXCLUSIVE, briefly: give up fast (the migrator retries), as in 005.
SET lock_timeout = '100ms';

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'payment_events_version_unique') THEN
    ALTER TABLE payment_events ADD CONSTRAINT payment_events_version_unique
      UNIQUE USING INDEX payment_events_version_unique;
  END IF;
  IF NOT EXISTS (
    SELECT 1 FROM pg_constraint WHERE conname = 'payment_events_operation_id_unique'
  ) THEN
    ALTER TABLE payment_events ADD CONSTRAINT payment_events_operation_id_unique
      UNIQUE USING INDEX payment_events_operation_id_unique;
  END IF;
END;
$$;

-- payment_version NOT NULL without a scan under ACCESS EXCLUSIVE: a validated CHECK first.
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_attribute
    WHERE attrelid = 'payment_events'::regclass AND attname = 'payment_version' AND attnotnull
  ) AND NOT EXISTS (
    SELECT 1 FROM pg_constraint WHERE conname = 'payment_events_payment_version_set'
  ) THEN
    ALTER TABLE payment_events ADD CONSTRAINT payment_events_payment_version_set
      CHECK (payment_version IS NOT NULL) NOT VALID;
  END IF;
END;
$$;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'payment_events_payment_version_set') THEN
    ALTER TABLE payment_events VALIDATE CONSTRAINT payment_events_payment_version_set;
  END IF;
END;
$$;
ALTER TABLE payment_events ALTER COLUMN payment_version SET NOT NULL;
ALTER TABLE payment_events DROP CONSTRAINT IF EXISTS payment_events_payment_version_set;

RESET statement_timeout;
RESET lock_timeout;
