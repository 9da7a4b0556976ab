-- tvphone schema 2 (PostgreSQL): the time columns a DBA queries become timestamptz (UTC instants, millisecond values),
-- so `WHERE Call_date >= '2026-12-01'` works. Existing epoch milliseconds are converted in place; indexes follow.
-- schema_version.applied_at stays epoch ms (the migration runner writes it at every version); Duration_ms is a duration.
ALTER TABLE users ALTER COLUMN created_at TYPE timestamptz USING to_timestamp(created_at / 1000.0);

ALTER TABLE user_property ALTER COLUMN Netstate_since TYPE timestamptz USING to_timestamp(Netstate_since / 1000.0);

ALTER TABLE bindings
  ALTER COLUMN expires_at TYPE timestamptz USING to_timestamp(expires_at / 1000.0),
  ALTER COLUMN updated_at TYPE timestamptz USING to_timestamp(updated_at / 1000.0);

ALTER TABLE user_call
  ALTER COLUMN Call_date TYPE timestamptz USING to_timestamp(Call_date / 1000.0),
  ALTER COLUMN Answered_at TYPE timestamptz USING to_timestamp(Answered_at / 1000.0),
  ALTER COLUMN Ended_at TYPE timestamptz USING to_timestamp(Ended_at / 1000.0),
  ALTER COLUMN Notified_at TYPE timestamptz USING to_timestamp(Notified_at / 1000.0);

ALTER TABLE messages
  ALTER COLUMN received_at TYPE timestamptz USING to_timestamp(received_at / 1000.0),
  ALTER COLUMN expires_at TYPE timestamptz USING to_timestamp(expires_at / 1000.0),
  ALTER COLUMN next_attempt_at TYPE timestamptz USING to_timestamp(next_attempt_at / 1000.0),
  ALTER COLUMN delivered_at TYPE timestamptz USING to_timestamp(delivered_at / 1000.0);

ALTER TABLE subscriptions ALTER COLUMN expires_at TYPE timestamptz USING to_timestamp(expires_at / 1000.0);
