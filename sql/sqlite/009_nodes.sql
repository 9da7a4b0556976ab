-- tvphone schema 9 (sqlite): several nodes on one database (issue 18). bindings.node_id: the node whose connection a
-- binding's (and a subscription's) flow is: its connection_id means something there only; nodes: each node's SIP
-- address and heartbeat.
ALTER TABLE bindings ADD COLUMN node_id TEXT;
CREATE INDEX bindings_node_connection ON bindings (node_id, connection_id);
ALTER TABLE subscriptions ADD COLUMN node_id TEXT;
CREATE TABLE nodes (
  node_id      TEXT PRIMARY KEY,
  sip_uri      TEXT,
  started_at   TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL
);
-- leases: what one node at a time does (a user's delivery of what was kept, the periodic expiry), held until expires_at
CREATE TABLE leases (
  name       TEXT PRIMARY KEY,
  node_id    TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
