-- tvphone schema 3 (SQL Server, Babelfish): voice messages. The recording (WAV) is the body of its row in messages,
-- which carries its delivery (arrival order, quota, delivered = acknowledged); this row says what the recording is.
CREATE TABLE voicemails (
  message_id     BIGINT NOT NULL PRIMARY KEY REFERENCES messages (id),
  to_user        NVARCHAR(128) NOT NULL,
  caller         NVARCHAR(512) NOT NULL,
  call_id        NVARCHAR(255) NOT NULL,
  call_record_id BIGINT NULL,
  recorded_at    DATETIME2(3) NOT NULL,
  duration_ms    BIGINT NOT NULL,
  codec          NVARCHAR(16) NOT NULL
);
CREATE INDEX voicemails_to_user ON voicemails (to_user, message_id);
