-- POST /jobs/{id}/deliveries/{deliveryId}/redeliver puts a delivered or failed delivery back to
-- pending. It then gets the whole retry budget and age limit again, counted from the redelivery:
-- a delivery that gave up after its last attempt (or after a day) would otherwise fail again on
-- the first transient error. Attempts keep their numbers, so the log shows every one in order.
ALTER TABLE webhook_deliveries
  -- When the delivery was last redelivered (NULL: never); the age limit counts from it.
  ADD COLUMN redelivered_at timestamptz,
  -- attempts before the last redelivery; attempts beyond it count against WEBHOOK_MAX_ATTEMPTS.
  ADD COLUMN attempts_before_redelivery integer NOT NULL DEFAULT 0;
