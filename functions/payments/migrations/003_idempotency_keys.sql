-- The final idempotency guard. The DynamoDB idempotency table replicates asynchronously
-- between regions, so during a failover only this table is authoritative: one row per
-- (merchant, key), written in the transaction of the change it names, holding the request hash
-- (same key with another request: refused) and the original answer (same request: replayed).

CREATE TABLE idempotency_keys (
  merchant_id     text NOT NULL,
  idempotency_key text NOT NULL CONSTRAINT idempotency_keys_key_length
                    CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  operation       text NOT NULL CONSTRAINT idempotency_keys_operation_known
                    CHECK (operation IN ('authorize', 'capture', 'refund', 'void')),
  request_hash    text NOT NULL CONSTRAINT idempotency_keys_hash_format
                    CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  -- Deferred: an authorization claims its key before the payment row exists (same statement).
  payment_id      uuid NOT NULL REFERENCES payments (id) DEFERRABLE INITIALLY DEFERRED,
  response_status smallint NOT NULL,
  response_body   json NOT NULL,
  created_at      timestamptz NOT NULL,
  CONSTRAINT idempotency_keys_pkey PRIMARY KEY (merchant_id, idempotency_key)
);
