-- tvphone schema 10 (SQLite): recordings in progress. The media server writes what a voicemail call has recorded so
-- far every few seconds (one row per call, replaced each time) and removes the row in the transaction that keeps the
-- voice message; a row left behind (the server was killed) is turned into a voice message, or the call stays missed.
CREATE TABLE voicemail_checkpoints (
  call_id         TEXT PRIMARY KEY,
  to_user         TEXT NOT NULL,
  caller          TEXT NOT NULL,
  call_record_id  INTEGER,
  from_uri        TEXT NOT NULL,
  from_header     TEXT NOT NULL,
  to_uri          TEXT NOT NULL,
  recorded_at     TEXT NOT NULL,
  codec           TEXT NOT NULL,
  duration_ms     INTEGER NOT NULL,
  audio           BLOB NOT NULL,
  checkpointed_at TEXT NOT NULL
);
CREATE INDEX voicemail_checkpoints_at ON voicemail_checkpoints (checkpointed_at);
-- a voice message is found by its call: a recovered one is replaced by the commit of the same call (never two)
CREATE INDEX voicemails_call_id ON voicemails (call_id);
