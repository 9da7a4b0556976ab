-- tvphone schema 11 (sqlite): bans (issue 16) kept in the database, so that a source or a user banned on one node is
-- banned on every node sharing it, and a restart does not lift a ban. kind: 'source' (an IP address) or 'user'.
CREATE TABLE bans (
  kind       TEXT NOT NULL,
  ban_key    TEXT NOT NULL,
  until_at   TEXT NOT NULL,
  node_id    TEXT NOT NULL,
  changed_at TEXT NOT NULL,
  PRIMARY KEY (kind, ban_key)
);
CREATE INDEX bans_changed ON bans (changed_at);
