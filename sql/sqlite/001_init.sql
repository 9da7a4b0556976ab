-- tvphone schema 1 (SQLite). Times are epoch milliseconds.
CREATE TABLE schema_version (
  version    INTEGER PRIMARY KEY,
  applied_at INTEGER NOT NULL
);

CREATE TABLE users (
  user_id    TEXT PRIMARY KEY,
  realm      TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- HA1 = H(user:realm:password) only, never the password (RFC 7616 §3.4.2)
CREATE TABLE credentials (
  user_id    TEXT PRIMARY KEY REFERENCES users (user_id),
  realm      TEXT NOT NULL,
  ha1_md5    TEXT NOT NULL,
  ha1_sha256 TEXT NOT NULL
);

-- the seed's table: one row per user, its online state and address
CREATE TABLE user_property (
  User_id        TEXT PRIMARY KEY,
  User_ip        TEXT,
  User_netstate  INTEGER NOT NULL DEFAULT 0,
  Netstate_since INTEGER NOT NULL
);

-- registrar bindings (RFC 3261 §10.3)
CREATE TABLE bindings (
  user_id       TEXT NOT NULL,
  contact       TEXT NOT NULL,
  expires_at    INTEGER NOT NULL,
  q             REAL,
  call_id       TEXT NOT NULL,
  cseq          INTEGER NOT NULL,
  path          TEXT NOT NULL,
  instance      TEXT,
  reg_id        INTEGER,
  transport     TEXT NOT NULL,
  source_ip     TEXT NOT NULL,
  source_port   INTEGER NOT NULL,
  connection_id TEXT,
  user_agent    TEXT,
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (user_id, contact)
);
CREATE INDEX bindings_expires_at ON bindings (expires_at);
CREATE INDEX bindings_connection_id ON bindings (connection_id);

-- the seed's table: one row per call attempt, User_id = caller, otheruser_id = callee
CREATE TABLE user_call (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  User_id      TEXT NOT NULL,
  otheruser_id TEXT NOT NULL,
  Call_date    INTEGER NOT NULL,
  Call_id      TEXT NOT NULL,
  Outcome      TEXT NOT NULL,
  Status       INTEGER,
  Answered_at  INTEGER,
  Ended_at     INTEGER,
  Duration_ms  INTEGER,
  Notified_at  INTEGER
);
CREATE INDEX user_call_caller ON user_call (User_id, id);
CREATE INDEX user_call_callee ON user_call (otheruser_id, id);

-- stored MESSAGEs (RFC 3428), body byte for byte
CREATE TABLE messages (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  to_user         TEXT NOT NULL,
  from_uri        TEXT NOT NULL,
  from_header     TEXT NOT NULL,
  to_uri          TEXT NOT NULL,
  content_type    TEXT NOT NULL,
  body            BLOB NOT NULL,
  body_bytes      INTEGER NOT NULL,
  received_at     INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL,
  state           TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  delivered_at    INTEGER
);
CREATE INDEX messages_to_user_state ON messages (to_user, state, id);
CREATE INDEX messages_state_expires_at ON messages (state, expires_at);

-- presence subscriptions (RFC 6665)
CREATE TABLE subscriptions (
  id            TEXT PRIMARY KEY,
  watcher       TEXT NOT NULL,
  presentity    TEXT NOT NULL,
  call_id       TEXT NOT NULL,
  local_tag     TEXT NOT NULL,
  remote_tag    TEXT NOT NULL,
  remote_target TEXT NOT NULL,
  route_set     TEXT NOT NULL,
  cseq          INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  transport     TEXT NOT NULL,
  source_ip     TEXT NOT NULL,
  source_port   INTEGER NOT NULL,
  connection_id TEXT
);
CREATE INDEX subscriptions_presentity ON subscriptions (presentity, expires_at);
CREATE INDEX subscriptions_expires_at ON subscriptions (expires_at);
