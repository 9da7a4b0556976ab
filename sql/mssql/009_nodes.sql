-- tvphone schema 9 (mssql): several nodes on one database (issue 18). bindings.node_id: the node whose connection a
-- binding's (and a subscription's) flow is: its connection_id means something there only; nodes: each node's SIP
-- address and heartbeat.
ALTER TABLE bindings ADD node_id NVARCHAR(64) NULL;
CREATE INDEX bindings_node_connection ON bindings (node_id, connection_id);
ALTER TABLE subscriptions ADD node_id NVARCHAR(64) NULL;
CREATE TABLE nodes (
  node_id      NVARCHAR(64) PRIMARY KEY,
  sip_uri      NVARCHAR(400) NULL,
  started_at   DATETIME2(3) NOT NULL,
  heartbeat_at DATETIME2(3) NOT NULL
);
-- leases: what one node at a time does (a user's delivery of what was kept, the periodic expiry), held until expires_at
CREATE TABLE leases (
  name       NVARCHAR(200) PRIMARY KEY,
  node_id    NVARCHAR(64) NOT NULL,
  expires_at DATETIME2(3) NOT NULL
);
