-- What merchants expect from a payment API (issue 11): partial and multiple captures up to the
-- authorized amount, authorization expiry, reference and metadata, captures and refunds as
-- objects on the event ledger, versioned events, and refusals recorded under their idempotency
-- key. 001-004 are applied in deployed databases and never edited: everything changes here.
--
-- For reconciliation after an unplanned failover (lost writes): payment_events and
-- idempotency_keys are written once and never changed (triggers below; only the outbox columns
-- of an event move), each row with a stable id, the region and the API request that wrote it
-- and the writer's clock. An insert-only row keeps the xmin of the transaction that inserted it,
-- so with track_commit_timestamp on, pg_xact_commit_timestamp(xmin) is its exact commit time.
-- payments is the projection of its events: its version is the number of its events, and each
-- event carries the version it produced.

-- Payments -------------------------------------------------------------------------------------

ALTER TABLE payments
  ADD COLUMN reference text CONSTRAINT payments_reference_length
    CHECK (char_length(reference) BETWEEN 1 AND 80),
  ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}' CONSTRAINT payments_metadata_object
    CHECK (jsonb_typeof(metadata) = 'object'),
  -- When the authorization lapses; set at authorization (the function's capture window).
  ADD COLUMN capture_before timestamptz;

-- Authorizations written before this migration get the default window (7 days, Stripe's). Not
-- a lifecycle change, so the lifecycle trigger stays out of it.
ALTER TABLE payments DISABLE TRIGGER payments_enforce_lifecycle;
UPDATE payments SET capture_before = created_at + interval '7 days' WHERE status = 'authorized';
ALTER TABLE payments ENABLE TRIGGER payments_enforce_lifecycle;

ALTER TABLE payments
  DROP CONSTRAINT payments_status_known,
  DROP CONSTRAINT payments_full_capture_only,
  DROP CONSTRAINT payments_status_matches_amounts,
  ADD CONSTRAINT payments_status_known CHECK (status IN (
    'authorized', 'partially_captured', 'captured', 'partially_refunded', 'refunded',
    'voided', 'expired')),
  ADD CONSTRAINT payments_capture_within_amount CHECK (captured_minor <= amount_minor),
  -- partially_captured: more may be captured; captured / partially_refunded / refunded: the
  -- capture is closed (the rest was released); voided / expired: nothing was captured.
  ADD CONSTRAINT payments_status_matches_amounts CHECK (
    CASE status
      WHEN 'authorized' THEN captured_minor = 0 AND refunded_minor = 0
      WHEN 'partially_captured' THEN captured_minor > 0 AND captured_minor < amount_minor
      WHEN 'voided' THEN captured_minor = 0 AND refunded_minor = 0
      WHEN 'expired' THEN captured_minor = 0 AND refunded_minor = 0
      WHEN 'captured' THEN captured_minor > 0 AND refunded_minor = 0
      WHEN 'partially_refunded' THEN refunded_minor > 0 AND refunded_minor < captured_minor
      WHEN 'refunded' THEN captured_minor > 0 AND refunded_minor = captured_minor
      ELSE false
    END
  ),
  ADD CONSTRAINT payments_capture_before_set CHECK (
    status NOT IN ('authorized', 'partially_captured') OR capture_before IS NOT NULL);

-- Transitions, immutable columns and no deletes, as in 001 with partial captures and expiry.
-- Raised as check_violation with the constraint name payments_legal_transition.
CREATE OR REPLACE FUNCTION payments_enforce_lifecycle() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status <> 'authorized' OR NEW.version <> 1 THEN
      RAISE EXCEPTION 'a payment starts authorized, got %', NEW.status
        USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
    END IF;
    RETURN NEW;
  END IF;

  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'payments are never deleted'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
  END IF;

  IF NEW.id <> OLD.id OR NEW.merchant_id <> OLD.merchant_id OR NEW.card_token <> OLD.card_token
     OR NEW.amount_minor <> OLD.amount_minor OR NEW.currency <> OLD.currency
     OR NEW.origin_region <> OLD.origin_region OR NEW.created_at <> OLD.created_at
     OR NEW.reference IS DISTINCT FROM OLD.reference OR NEW.metadata <> OLD.metadata
     OR NEW.capture_before IS DISTINCT FROM OLD.capture_before THEN
    RAISE EXCEPTION 'identity, amount and terms of payment % are immutable', OLD.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
  END IF;

  IF NOT (
       (OLD.status = 'authorized'
          AND NEW.status IN ('partially_captured', 'captured', 'voided', 'expired'))
    OR (OLD.status = 'partially_captured'
          AND NEW.status IN ('partially_captured', 'captured', 'partially_refunded', 'refunded'))
    OR (OLD.status = 'captured' AND NEW.status IN ('partially_refunded', 'refunded'))
    OR (OLD.status = 'partially_refunded' AND NEW.status IN ('partially_refunded', 'refunded'))
  ) THEN
    RAISE EXCEPTION 'illegal payment transition % -> %', OLD.status, NEW.status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
  END IF;

  -- Captures and refunds only add up; once the capture is closed the captured amount is fixed.
  IF NEW.captured_minor < OLD.captured_minor OR NEW.refunded_minor < OLD.refunded_minor THEN
    RAISE EXCEPTION 'captures and refunds of payment % only add up', OLD.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
  END IF;
  IF OLD.status IN ('captured', 'partially_refunded', 'refunded')
     AND NEW.captured_minor <> OLD.captured_minor THEN
    RAISE EXCEPTION 'captured amount of payment % is fixed', OLD.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
  END IF;
  -- Every change changes something: a status, a capture or a refund.
  IF NEW.status = OLD.status AND NEW.captured_minor = OLD.captured_minor
     AND NEW.refunded_minor = OLD.refunded_minor THEN
    RAISE EXCEPTION 'payment % did not change', OLD.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
  END IF;

  NEW.version := OLD.version + 1;
  RETURN NEW;
END;
$$;

-- The expiry job's work list: open authorizations by deadline.
CREATE INDEX payments_capture_due ON payments (capture_before)
  WHERE status IN ('authorized', 'partially_captured');
-- GET /payments?reference=...: a merchant's payments for one order, newest first.
CREATE INDEX payments_merchant_reference ON payments (merchant_id, reference, created_at)
  WHERE reference IS NOT NULL;

-- Events: the ledger of changes, and captures and refunds as objects ---------------------------

ALTER TABLE payment_events
  DROP CONSTRAINT payment_events_type_known,
  ADD CONSTRAINT payment_events_type_known CHECK (event_type IN (
    'payments.authorized', 'payments.captured', 'payments.partially_refunded',
    'payments.refunded', 'payments.voided', 'payments.expired')),
  -- The payment's version after this change: 1 for the authorization, +1 per change.
  ADD COLUMN payment_version integer,
  -- The capture or refund this event created (its id in the API), with the merchant's reference.
  ADD COLUMN operation_id uuid,
  ADD COLUMN operation_reference text CONSTRAINT payment_events_reference_length
    CHECK (char_length(operation_reference) BETWEEN 1 AND 80),
  -- Captures only: whether this capture closed the authorization (the rest released).
  ADD COLUMN final_capture boolean,
  -- The API request that caused the event; NULL for scheduled changes (expiry).
  ADD COLUMN request_id text;

-- Events written before this migration: numbered in the order they happened, and each capture
-- and refund becomes an object whose id is its event id (captures were full, so final).
UPDATE payment_events AS e
SET payment_version = n.version,
    operation_id = CASE WHEN e.event_type IN (
        'payments.captured', 'payments.partially_refunded', 'payments.refunded')
      THEN e.event_id END,
    final_capture = CASE WHEN e.event_type = 'payments.captured' THEN true END
FROM (
  SELECT event_id, row_number() OVER (PARTITION BY payment_id ORDER BY created_at, event_id) AS version
  FROM payment_events
) AS n
WHERE n.event_id = e.event_id;

ALTER TABLE payment_events
  ALTER COLUMN payment_version SET NOT NULL,
  ADD CONSTRAINT payment_events_version_unique UNIQUE (payment_id, payment_version),
  ADD CONSTRAINT payment_events_operation_id_unique UNIQUE (operation_id),
  ADD CONSTRAINT payment_events_operation_matches_type CHECK (
    (operation_id IS NOT NULL) = (event_type IN (
      'payments.captured', 'payments.partially_refunded', 'payments.refunded'))),
  ADD CONSTRAINT payment_events_final_only_on_capture CHECK (
    (final_capture IS NOT NULL) = (event_type = 'payments.captured'));

-- Written once: only the outbox bookkeeping of an event changes, and nothing is deleted.
CREATE FUNCTION payment_events_write_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR (to_jsonb(NEW) - ARRAY['published_at', 'publish_attempts', 'last_error'])
       IS DISTINCT FROM (to_jsonb(OLD) - ARRAY['published_at', 'publish_attempts', 'last_error']) THEN
    RAISE EXCEPTION 'payment event % is written once', OLD.event_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payment_events_write_once';
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER payment_events_write_once
  BEFORE UPDATE OR DELETE ON payment_events
  FOR EACH ROW EXECUTE FUNCTION payment_events_write_once();

-- Idempotency records: refusals (409, 422) are answers too --------------------------------------

ALTER TABLE idempotency_keys
  ADD COLUMN request_id text,
  ADD COLUMN origin_region text,
  ADD CONSTRAINT idempotency_keys_status_known CHECK (response_status BETWEEN 200 AND 499);

CREATE FUNCTION idempotency_keys_write_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'idempotency record (%, %) is written once', OLD.merchant_id, OLD.idempotency_key
    USING ERRCODE = 'check_violation', CONSTRAINT = 'idempotency_keys_write_once';
END;
$$;

CREATE TRIGGER idempotency_keys_write_once
  BEFORE UPDATE OR DELETE ON idempotency_keys
  FOR EACH ROW EXECUTE FUNCTION idempotency_keys_write_once();
