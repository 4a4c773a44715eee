-- Payments and their lifecycle, enforced here as well as in the code:
-- authorized -> captured -> partially_refunded / refunded, or authorized -> voided.
-- Amounts are minor units. Capture is full only (captured_minor is 0 or amount_minor).

CREATE TABLE payments (
  id             uuid PRIMARY KEY,
  merchant_id    text NOT NULL CONSTRAINT payments_merchant_id_format
                   CHECK (merchant_id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
  card_token     text NOT NULL CONSTRAINT payments_card_token_format
                   CHECK (card_token ~ '^[A-Za-z][A-Za-z0-9_-]{7,127}$'),
  amount_minor   bigint NOT NULL CONSTRAINT payments_amount_range
                   CHECK (amount_minor > 0 AND amount_minor <= 1000000000000),
  currency       char(3) NOT NULL CONSTRAINT payments_currency_format
                   CHECK (currency ~ '^[A-Z]{3}$'),
  status         text NOT NULL CONSTRAINT payments_status_known
                   CHECK (status IN ('authorized', 'captured', 'partially_refunded', 'refunded', 'voided')),
  captured_minor bigint NOT NULL DEFAULT 0 CONSTRAINT payments_full_capture_only
                   CHECK (captured_minor = 0 OR captured_minor = amount_minor),
  refunded_minor bigint NOT NULL DEFAULT 0 CONSTRAINT payments_refunded_not_negative
                   CHECK (refunded_minor >= 0),
  version        integer NOT NULL DEFAULT 1,
  origin_region  text NOT NULL,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  CONSTRAINT payments_refund_within_capture CHECK (refunded_minor <= captured_minor),
  CONSTRAINT payments_status_matches_amounts CHECK (
    CASE status
      WHEN 'authorized' THEN captured_minor = 0 AND refunded_minor = 0
      WHEN 'voided' THEN captured_minor = 0 AND refunded_minor = 0
      WHEN 'captured' THEN captured_minor > 0 AND refunded_minor = 0
      WHEN 'partially_refunded' THEN refunded_minor > 0 AND refunded_minor < captured_minor
      WHEN 'refunded' THEN captured_minor > 0 AND refunded_minor = captured_minor
      ELSE false
    END
  ),
  CONSTRAINT payments_updated_after_created CHECK (updated_at >= created_at)
);

-- Transitions, immutable columns and no deletes. Raised as check_violation with the constraint
-- name payments_legal_transition, so the code can tell them apart.
CREATE FUNCTION payments_enforce_lifecycle() RETURNS trigger
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
     OR NEW.origin_region <> OLD.origin_region OR NEW.created_at <> OLD.created_at THEN
    RAISE EXCEPTION 'identity and amount of payment % are immutable', OLD.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
  END IF;

  IF NOT (
       (OLD.status = 'authorized' AND NEW.status IN ('captured', 'voided'))
    OR (OLD.status = 'captured' AND NEW.status IN ('partially_refunded', 'refunded'))
    OR (OLD.status = 'partially_refunded' AND NEW.status IN ('partially_refunded', 'refunded'))
  ) THEN
    RAISE EXCEPTION 'illegal payment transition % -> %', OLD.status, NEW.status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
  END IF;

  -- Once captured the captured amount is fixed; refunds only ever add up.
  IF OLD.status <> 'authorized' AND NEW.captured_minor <> OLD.captured_minor THEN
    RAISE EXCEPTION 'captured amount of payment % is fixed', OLD.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
  END IF;
  IF NEW.refunded_minor < OLD.refunded_minor
     OR (OLD.status = 'partially_refunded' AND NEW.refunded_minor = OLD.refunded_minor) THEN
    RAISE EXCEPTION 'refunds of payment % only add up', OLD.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_legal_transition';
  END IF;

  NEW.version := OLD.version + 1;
  RETURN NEW;
END;
$$;

CREATE TRIGGER payments_enforce_lifecycle
  BEFORE INSERT OR UPDATE OR DELETE ON payments
  FOR EACH ROW EXECUTE FUNCTION payments_enforce_lifecycle();

CREATE INDEX payments_merchant_created ON payments (merchant_id, created_at);
