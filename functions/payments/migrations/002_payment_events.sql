-- The outbox and ledger: one row per payment state change, written in the transaction of the
-- change. The relay publishes rows with published_at NULL to EventBridge (at least once;
-- consumers deduplicate on event_id, which is also the detail's eventId).

CREATE TABLE payment_events (
  event_id         uuid PRIMARY KEY,
  payment_id       uuid NOT NULL REFERENCES payments (id),
  event_type       text NOT NULL CONSTRAINT payment_events_type_known CHECK (event_type IN (
                     'payments.authorized', 'payments.captured', 'payments.partially_refunded',
                     'payments.refunded', 'payments.voided')),
  -- Minor units moved by this change: authorized, captured, refunded or voided amount.
  amount_minor     bigint NOT NULL CONSTRAINT payment_events_amount_positive
                     CHECK (amount_minor > 0),
  currency         char(3) NOT NULL,
  -- The EventBridge detail, published verbatim (json keeps the exact text).
  detail           json NOT NULL,
  origin_region    text NOT NULL,
  created_at       timestamptz NOT NULL,
  published_at     timestamptz,
  publish_attempts integer NOT NULL DEFAULT 0,
  last_error       text
);

CREATE INDEX payment_events_unpublished ON payment_events (created_at)
  WHERE published_at IS NULL;
CREATE INDEX payment_events_by_payment ON payment_events (payment_id, created_at);
