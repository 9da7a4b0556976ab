-- tvphone schema 8 (SQL Server, Babelfish): a user's own voicemail greeting (`tvphone users greeting USER FILE.wav`),
-- played by the media server instead of the built-in prompt, then the beep. The audio is a WAV, 16-bit PCM mono at
-- 8 kHz (converted when it is uploaded), so the media server reads it as it plays it.
CREATE TABLE greetings (
  user_id     NVARCHAR(128) NOT NULL PRIMARY KEY,
  audio       VARBINARY(MAX) NOT NULL,
  updated_at  DATETIME2(3) NOT NULL
);
