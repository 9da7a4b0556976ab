-- tvphone schema 3 (PostgreSQL): voice messages. The recording (WAV) is the body of its row in messages, which
-- carries its delivery (arrival order, quota, delivered = acknowledged); this row says what the recording is.
CREATE TABLE voicemails (
  message_id     BIGINT PRIMARY KEY REFERENCES messages (id),
  to_user        TEXT NOT NULL,
  caller         TEXT NOT NULL,
  call_id        TEXT NOT NULL,
  call_record_id BIGINT,
  recorded_at    timestamptz NOT NULL,
  duration_ms    BIGINT NOT NULL,
  codec          TEXT NOT NULL
);
CREATE INDEX voicemails_to_user ON voicemails (to_user, message_id);
