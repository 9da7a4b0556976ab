-- tvphone schema 10 (SQL Server, Babelfish): recordings in progress. The media server writes what a voicemail call has
-- recorded so far every few seconds (one row per call, replaced each time) and removes the row in the transaction that
-- keeps the voice message; a row left behind (the server was killed) is turned into a voice message, or the call stays
-- missed.
CREATE TABLE voicemail_checkpoints (
  call_id         NVARCHAR(255) NOT NULL PRIMARY KEY,
  to_user         NVARCHAR(128) NOT NULL,
  caller          NVARCHAR(512) NOT NULL,
  call_record_id  BIGINT NULL,
  from_uri        NVARCHAR(512) NOT NULL,
  from_header     NVARCHAR(1024) NOT NULL,
  to_uri          NVARCHAR(512) NOT NULL,
  recorded_at     DATETIME2(3) NOT NULL,
  codec           NVARCHAR(16) NOT NULL,
  duration_ms     BIGINT NOT NULL,
  audio           VARBINARY(MAX) NOT NULL,
  checkpointed_at DATETIME2(3) NOT NULL
);
CREATE INDEX voicemail_checkpoints_at ON voicemail_checkpoints (checkpointed_at);
-- a voice message is found by its call: a recovered one is replaced by the commit of the same call (never two)
CREATE INDEX voicemails_call_id ON voicemails (call_id);
