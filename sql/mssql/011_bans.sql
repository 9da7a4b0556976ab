-- tvphone schema 11 (mssql): bans (issue 16) kept in the database, so that a source or a user banned on one node is
-- banned on every node sharing it, and a restart does not lift a ban. kind: 'source' (an IP address) or 'user'.
CREATE TABLE bans (
  kind       NVARCHAR(16) NOT NULL,
  ban_key    NVARCHAR(400) NOT NULL,
  until_at   DATETIME2(3) NOT NULL,
  node_id    NVARCHAR(64) NOT NULL,
  changed_at DATETIME2(3) NOT NULL,
  PRIMARY KEY (kind, ban_key)
);
CREATE INDEX bans_changed ON bans (changed_at);
