-- What merchants expect from a payment API (issue 11): partial and multiple captures up to the
-- authorized amount, authorization expiry, reference and metadata, captures and refunds as
-- objects on the event ledger, versioned events, and refusals recorded under their idempotency
-- key. 001-004 are applied in deployed databases and never edited.
--
-- Rollout (expand, then tighten; README "Upgrading a deployed region"): this file only expands.
-- It adds nullable columns and constraints NOT VALID (checked for new rows, existing rows left
-- for 006), so it touches the catalog only: no table rewrite, no scan, no row update, and the
-- ACCESS EXCLUSIVE locks its ALTERs take last milliseconds. The code of the previous release
-- keeps working on this schema and on 006's: what it leaves out is filled in here (the
-- capture_before default, payment_events_fill_versions), so its rows meet the rules 006
-- validates. 006 backfills older rows in batches, builds indexes concurrently and validates.
-- So: run the migrations, then deploy the code; the migrations never need the new code, and
-- the new code needs both (it reads and writes the new columns).
--
-- For reconciliation after an unplanned failover (lost writes): payment_events and
-- idempotency_keys are written once (triggers below; only the outbox columns of an event move,
-- and an idempotency record may be deleted once past its retention), each row with a stable id,
-- the region and the API request that wrote it and the writer's clock.
-- payments is the projection of its events: its version is the number of its events, and each
-- event carries the version it produced.

-- Every lock this migration needs, up front, giving up after 100 ms: while an ACCESS EXCLUSIVE
-- request waits, the table's traffic queues behind it, and a migration that took its locks one
-- ALTER at a time would deadlock with requests that touch these tables in another order (an
-- authorization takes idempotency_keys then payments, a capture payments then the others).
-- Below deadlock_timeout (1 s), so the migration is the one that gives up, never a request; the
-- migrator tries again after a pause (shared/migrator.ts).
SET LOCAL lock_timeout = '100ms';
LOCK TABLE idempotency_keys, payments, payment_events IN ACCESS EXCLUSIVE MODE;

-- Payments -------------------------------------------------------------------------------------

ALTER TABLE payments
  ADD COLUMN reference text,
  -- A constant default: stored in the catalog, no rewrite (PostgreSQL 11+, "ALTER TABLE").
  ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}',
  -- When the authorization lapses; set at authorization (the function's capture window).
  ADD COLUMN capture_before timestamptz,
  ADD CONSTRAINT payments_reference_length
    CHECK (char_length(reference) BETWEEN 1 AND 80) NOT VALID,
  ADD CONSTRAINT payments_metadata_object CHECK (jsonb_typeof(metadata) = 'object') NOT VALID;

-- The previous release inserts authorizations without a capture_before: they get the default
-- window of this release (7 days, Stripe's). The new code always sets it. Setting a default on
-- an existing column changes the catalog only.
ALTER TABLE payments ALTER COLUMN capture_before SET DEFAULT (now() + interval '7 days');

ALTER TABLE payments
  DROP CONSTRAINT payments_status_known,
  DROP CONSTRAINT payments_full_capture_only,
  DROP CONSTRAINT payments_status_matches_amounts,
  ADD CONSTRAINT payments_status_known CHECK (status IN (
    'authorized', 'partially_captured', 'captured', 'partially_refunded', 'refunded',
    'voided', 'expired')) NOT VALID,
  ADD CONSTRAINT payments_capture_within_amount CHECK (captured_minor <= amount_minor) NOT VALID,
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
  ) NOT VALID,
  ADD CONSTRAINT payments_capture_before_set CHECK (
    status NOT IN ('authorized', 'partially_captured') OR capture_before IS NOT NULL) NOT VALID;

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
     OR (OLD.capture_before IS NOT NULL
         AND NEW.capture_before IS DISTINCT FROM OLD.capture_before) THEN
    RAISE EXCEPTION 'identity, amount and terms of payment % are immutable', OLD.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
  END IF;

  -- 006's backfill: a deadline given once to an authorization written before 005, on its own.
  -- Not a change of the payment (no event, no new version).
  IF OLD.capture_before IS NULL AND NEW.capture_before IS NOT NULL THEN
    IF NEW.status <> OLD.status OR NEW.captured_minor <> OLD.captured_minor
       OR NEW.refunded_minor <> OLD.refunded_minor OR NEW.version <> OLD.version THEN
      RAISE EXCEPTION 'the deadline of payment % is set on its own', OLD.id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
    END IF;
    RETURN NEW;
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

-- Events: the ledger of changes, and captures and refunds as objects ---------------------------

ALTER TABLE payment_events
  DROP CONSTRAINT payment_events_type_known,
  ADD CONSTRAINT payment_events_type_known CHECK (event_type IN (
    'payments.authorized', 'payments.captured', 'payments.partially_refunded',
    'payments.refunded', 'payments.voided', 'payments.expired')) NOT VALID,
  -- The payment's version after this change: 1 for the authorization, +1 per change. NOT NULL
  -- once 006 has numbered the older events.
  ADD COLUMN payment_version integer,
  -- The capture or refund this event created (its id in the API), with the merchant's reference.
  ADD COLUMN operation_id uuid,
  ADD COLUMN operation_reference text,
  -- Captures only: whether this capture closed the authorization (the rest released).
  ADD COLUMN final_capture boolean,
  -- The API request that caused the event; NULL for scheduled changes (expiry).
  ADD COLUMN request_id text,
  ADD CONSTRAINT payment_events_reference_length
    CHECK (char_length(operation_reference) BETWEEN 1 AND 80) NOT VALID,
  ADD CONSTRAINT payment_events_operation_matches_type CHECK (
    (operation_id IS NOT NULL) = (event_type IN (
      'payments.captured', 'payments.partially_refunded', 'payments.refunded'))) NOT VALID,
  ADD CONSTRAINT payment_events_final_only_on_capture CHECK (
    (final_capture IS NOT NULL) = (event_type = 'payments.captured')) NOT VALID;

-- The previous release inserts events without the new columns. Until no such code runs, fill
-- them as 006 fills older events: the version the change produced (the payments row, updated
-- earlier in the same transaction; an authorization is version 1), the event id as the id of
-- the capture or refund (captures were full, so final). The new code sets them itself and this
-- does nothing for it. A later release drops this trigger.
CREATE FUNCTION payment_events_fill_versions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.payment_version IS NULL THEN
    NEW.payment_version := CASE WHEN NEW.event_type = 'payments.authorized' THEN 1
      ELSE (SELECT version FROM payments WHERE id = NEW.payment_id) END;
    IF NEW.event_type IN ('payments.captured', 'payments.partially_refunded', 'payments.refunded')
       AND NEW.operation_id IS NULL THEN
      NEW.operation_id := NEW.event_id;
    END IF;
    IF NEW.event_type = 'payments.captured' AND NEW.final_capture IS NULL THEN
      NEW.final_capture := true;
    END IF;
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER payment_events_fill_versions
  BEFORE INSERT ON payment_events
  FOR EACH ROW EXECUTE FUNCTION payment_events_fill_versions();

-- Written once: only the outbox bookkeeping of an event changes, and nothing is deleted. 006's
-- backfill may set the columns this migration added, once, on events written before it.
CREATE FUNCTION payment_events_write_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.payment_version IS NULL THEN
    IF (to_jsonb(NEW) - ARRAY['payment_version', 'operation_id', 'final_capture'])
       IS NOT DISTINCT FROM (to_jsonb(OLD) - ARRAY['payment_version', 'operation_id', 'final_capture'])
    THEN
      RETURN NEW;
    END IF;
  END IF;
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
  ADD CONSTRAINT idempotency_keys_status_known
    CHECK (response_status BETWEEN 200 AND 499) NOT VALID;

-- Written once, and kept 31 days (README "Idempotency"): the expiry job prunes older records in
-- batches; deleting a younger one, and every UPDATE, is refused. 31 days is Adyen's floor (keys
-- are valid "for a minimum period of 31 days", docs.adyen.com/development-resources/
-- api-idempotency), longer than Stripe's ("at least 24 hours old", docs.stripe.com/api/
-- idempotent_requests), so a merchant's retry after a long outage still replays.
CREATE FUNCTION idempotency_keys_write_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.created_at < now() - interval '31 days' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'idempotency record (%, %) is written once', OLD.merchant_id, OLD.idempotency_key
    USING ERRCODE = 'check_violation', CONSTRAINT = 'idempotency_keys_write_once';
END;
$$;

CREATE TRIGGER idempotency_keys_write_once
  BEFORE UPDATE OR DELETE ON idempotency_keys
  FOR EACH ROW EXECUTE FUNCTION idempotency_keys_write_once();
