-- tvphone schema 2 (SQLite): the time columns a DBA queries become ISO-8601 UTC text, YYYY-MM-DDTHH:MM:SS.sssZ (fixed
-- width, so text order is time order and `WHERE Call_date >= '2026-12-01'` works). SQLite cannot change a column's
-- type: each table is rebuilt under a new name, filled, and renamed; AUTOINCREMENT positions are carried over so an id
-- is never handed out twice. schema_version.applied_at stays epoch ms (the migration runner writes it at every
-- version); Duration_ms is a duration.

CREATE TABLE users_v2 (
  user_id    TEXT PRIMARY KEY,
  realm      TEXT NOT NULL,
  created_at TEXT NOT NULL
);
INSERT INTO users_v2 (user_id, realm, created_at)
  SELECT user_id, realm, strftime('%Y-%m-%dT%H:%M:%fZ', created_at / 1000.0, 'unixepoch') FROM users;
-- credentials is rebuilt with users: its foreign key then follows users_v2 through the rename
CREATE TABLE credentials_v2 (
  user_id    TEXT PRIMARY KEY REFERENCES users_v2 (user_id),
  realm      TEXT NOT NULL,
  ha1_md5    TEXT NOT NULL,
  ha1_sha256 TEXT NOT NULL
);
INSERT INTO credentials_v2 (user_id, realm, ha1_md5, ha1_sha256) SELECT user_id, realm, ha1_md5, ha1_sha256 FROM credentials;
DROP TABLE credentials;
DROP TABLE users;
ALTER TABLE users_v2 RENAME TO users;
ALTER TABLE credentials_v2 RENAME TO credentials;

CREATE TABLE user_property_v2 (
  User_id        TEXT PRIMARY KEY,
  User_ip        TEXT,
  User_netstate  INTEGER NOT NULL DEFAULT 0,
  Netstate_since TEXT NOT NULL
);
INSERT INTO user_property_v2 (User_id, User_ip, User_netstate, Netstate_since)
  SELECT User_id, User_ip, User_netstate, strftime('%Y-%m-%dT%H:%M:%fZ', Netstate_since / 1000.0, 'unixepoch') FROM user_property;
DROP TABLE user_property;
ALTER TABLE user_property_v2 RENAME TO user_property;

CREATE TABLE bindings_v2 (
  user_id       TEXT NOT NULL,
  contact       TEXT NOT NULL,
  expires_at    TEXT NOT NULL,
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
  updated_at    TEXT NOT NULL,
  PRIMARY KEY (user_id, contact)
);
INSERT INTO bindings_v2 (user_id, contact, expires_at, q, call_id, cseq, path, instance, reg_id, transport, source_ip, source_port,
    connection_id, user_agent, updated_at)
  SELECT user_id, contact, strftime('%Y-%m-%dT%H:%M:%fZ', expires_at / 1000.0, 'unixepoch'), q, call_id, cseq, path, instance, reg_id,
    transport, source_ip, source_port, connection_id, user_agent, strftime('%Y-%m-%dT%H:%M:%fZ', updated_at / 1000.0, 'unixepoch')
  FROM bindings;
DROP TABLE bindings;
ALTER TABLE bindings_v2 RENAME TO bindings;
CREATE INDEX bindings_expires_at ON bindings (expires_at);
CREATE INDEX bindings_connection_id ON bindings (connection_id);

CREATE TABLE user_call_v2 (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  User_id      TEXT NOT NULL,
  otheruser_id TEXT NOT NULL,
  Call_date    TEXT NOT NULL,
  Call_id      TEXT NOT NULL,
  Outcome      TEXT NOT NULL,
  Status       INTEGER,
  Answered_at  TEXT,
  Ended_at     TEXT,
  Duration_ms  INTEGER,
  Notified_at  TEXT
);
INSERT INTO user_call_v2 (id, User_id, otheruser_id, Call_date, Call_id, Outcome, Status, Answered_at, Ended_at, Duration_ms, Notified_at)
  SELECT id, User_id, otheruser_id, strftime('%Y-%m-%dT%H:%M:%fZ', Call_date / 1000.0, 'unixepoch'), Call_id, Outcome, Status,
    strftime('%Y-%m-%dT%H:%M:%fZ', Answered_at / 1000.0, 'unixepoch'), strftime('%Y-%m-%dT%H:%M:%fZ', Ended_at / 1000.0, 'unixepoch'),
    Duration_ms, strftime('%Y-%m-%dT%H:%M:%fZ', Notified_at / 1000.0, 'unixepoch')
  FROM user_call;
DELETE FROM sqlite_sequence WHERE name = 'user_call_v2';
INSERT INTO sqlite_sequence (name, seq) SELECT 'user_call_v2', seq FROM sqlite_sequence WHERE name = 'user_call';
DROP TABLE user_call;
ALTER TABLE user_call_v2 RENAME TO user_call;
CREATE INDEX user_call_caller ON user_call (User_id, id);
CREATE INDEX user_call_callee ON user_call (otheruser_id, id);

CREATE TABLE messages_v2 (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  to_user         TEXT NOT NULL,
  from_uri        TEXT NOT NULL,
  from_header     TEXT NOT NULL,
  to_uri          TEXT NOT NULL,
  content_type    TEXT NOT NULL,
  body            BLOB NOT NULL,
  body_bytes      INTEGER NOT NULL,
  received_at     TEXT NOT NULL,
  expires_at      TEXT NOT NULL,
  state           TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  delivered_at    TEXT
);
INSERT INTO messages_v2 (id, to_user, from_uri, from_header, to_uri, content_type, body, body_bytes, received_at, expires_at, state, attempts,
    next_attempt_at, delivered_at)
  SELECT id, to_user, from_uri, from_header, to_uri, content_type, body, body_bytes,
    strftime('%Y-%m-%dT%H:%M:%fZ', received_at / 1000.0, 'unixepoch'), strftime('%Y-%m-%dT%H:%M:%fZ', expires_at / 1000.0, 'unixepoch'),
    state, attempts, strftime('%Y-%m-%dT%H:%M:%fZ', next_attempt_at / 1000.0, 'unixepoch'),
    strftime('%Y-%m-%dT%H:%M:%fZ', delivered_at / 1000.0, 'unixepoch')
  FROM messages;
DELETE FROM sqlite_sequence WHERE name = 'messages_v2';
INSERT INTO sqlite_sequence (name, seq) SELECT 'messages_v2', seq FROM sqlite_sequence WHERE name = 'messages';
DROP TABLE messages;
ALTER TABLE messages_v2 RENAME TO messages;
CREATE INDEX messages_to_user_state ON messages (to_user, state, id);
CREATE INDEX messages_state_expires_at ON messages (state, expires_at);

CREATE TABLE subscriptions_v2 (
  id            TEXT PRIMARY KEY,
  watcher       TEXT NOT NULL,
  presentity    TEXT NOT NULL,
  call_id       TEXT NOT NULL,
  local_tag     TEXT NOT NULL,
  remote_tag    TEXT NOT NULL,
  remote_target TEXT NOT NULL,
  route_set     TEXT NOT NULL,
  cseq          INTEGER NOT NULL,
  expires_at    TEXT NOT NULL,
  transport     TEXT NOT NULL,
  source_ip     TEXT NOT NULL,
  source_port   INTEGER NOT NULL,
  connection_id TEXT
);
INSERT INTO subscriptions_v2 (id, watcher, presentity, call_id, local_tag, remote_tag, remote_target, route_set, cseq, expires_at, transport,
    source_ip, source_port, connection_id)
  SELECT id, watcher, presentity, call_id, local_tag, remote_tag, remote_target, route_set, cseq,
    strftime('%Y-%m-%dT%H:%M:%fZ', expires_at / 1000.0, 'unixepoch'), transport, source_ip, source_port, connection_id
  FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE subscriptions_v2 RENAME TO subscriptions;
CREATE INDEX subscriptions_presentity ON subscriptions (presentity, expires_at);
CREATE INDEX subscriptions_expires_at ON subscriptions (expires_at);
