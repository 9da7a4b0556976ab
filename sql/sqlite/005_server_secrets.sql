-- tvphone schema 5 (sqlite): keys the server keeps across restarts and shares between the nodes on one database
-- (the HMAC that signs its Record-Route, RFC 3261 §16.6 step 4; voice message tokens).
CREATE TABLE server_secrets (
  name       TEXT PRIMARY KEY,
  secret     BLOB NOT NULL,
  created_at TEXT NOT NULL
);
