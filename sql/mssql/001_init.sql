-- tvphone schema 1 (SQL Server, T-SQL). Times are epoch milliseconds. No GO separators: run as one batch.
CREATE TABLE schema_version (
  version    INT NOT NULL PRIMARY KEY,
  applied_at BIGINT NOT NULL
);

CREATE TABLE users (
  user_id    NVARCHAR(128) NOT NULL PRIMARY KEY,
  realm      NVARCHAR(255) NOT NULL,
  created_at BIGINT NOT NULL
);

-- HA1 = H(user:realm:password) only, never the password (RFC 7616 §3.4.2)
CREATE TABLE credentials (
  user_id    NVARCHAR(128) NOT NULL PRIMARY KEY REFERENCES users (user_id),
  realm      NVARCHAR(255) NOT NULL,
  ha1_md5    VARCHAR(32) NOT NULL,
  ha1_sha256 VARCHAR(64) NOT NULL
);

-- the seed's table: one row per user, its online state and address
CREATE TABLE user_property (
  User_id        NVARCHAR(128) NOT NULL PRIMARY KEY,
  User_ip        NVARCHAR(64) NULL,
  User_netstate  TINYINT NOT NULL DEFAULT 0,
  Netstate_since BIGINT NOT NULL
);

-- registrar bindings (RFC 3261 §10.3)
CREATE TABLE bindings (
  user_id       NVARCHAR(128) NOT NULL,
  contact       NVARCHAR(300) NOT NULL,
  expires_at    BIGINT NOT NULL,
  q             FLOAT NULL,
  call_id       NVARCHAR(255) NOT NULL,
  cseq          BIGINT NOT NULL,
  path          NVARCHAR(MAX) NOT NULL,
  instance      NVARCHAR(255) NULL,
  reg_id        INT NULL,
  transport     NVARCHAR(16) NOT NULL,
  source_ip     NVARCHAR(64) NOT NULL,
  source_port   INT NOT NULL,
  connection_id NVARCHAR(200) NULL,
  user_agent    NVARCHAR(512) NULL,
  updated_at    BIGINT NOT NULL,
  PRIMARY KEY (user_id, contact)
);
CREATE INDEX bindings_expires_at ON bindings (expires_at);
CREATE INDEX bindings_connection_id ON bindings (connection_id);

-- the seed's table: one row per call attempt, User_id = caller, otheruser_id = callee
CREATE TABLE user_call (
  id           BIGINT IDENTITY(1, 1) NOT NULL PRIMARY KEY,
  User_id      NVARCHAR(128) NOT NULL,
  otheruser_id NVARCHAR(128) NOT NULL,
  Call_date    BIGINT NOT NULL,
  Call_id      NVARCHAR(255) NOT NULL,
  Outcome      NVARCHAR(16) NOT NULL,
  Status       INT NULL,
  Answered_at  BIGINT NULL,
  Ended_at     BIGINT NULL,
  Duration_ms  BIGINT NULL,
  Notified_at  BIGINT NULL
);
CREATE INDEX user_call_caller ON user_call (User_id, id);
CREATE INDEX user_call_callee ON user_call (otheruser_id, id);

-- stored MESSAGEs (RFC 3428), body byte for byte
CREATE TABLE messages (
  id              BIGINT IDENTITY(1, 1) NOT NULL PRIMARY KEY,
  to_user         NVARCHAR(128) NOT NULL,
  from_uri        NVARCHAR(512) NOT NULL,
  from_header     NVARCHAR(1024) NOT NULL,
  to_uri          NVARCHAR(512) NOT NULL,
  content_type    NVARCHAR(255) NOT NULL,
  body            VARBINARY(MAX) NOT NULL,
  body_bytes      BIGINT NOT NULL,
  received_at     BIGINT NOT NULL,
  expires_at      BIGINT NOT NULL,
  state           NVARCHAR(16) NOT NULL,
  attempts        INT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NULL,
  delivered_at    BIGINT NULL
);
CREATE INDEX messages_to_user_state ON messages (to_user, state, id);
CREATE INDEX messages_state_expires_at ON messages (state, expires_at);

-- presence subscriptions (RFC 6665)
CREATE TABLE subscriptions (
  id            NVARCHAR(200) NOT NULL PRIMARY KEY,
  watcher       NVARCHAR(512) NOT NULL,
  presentity    NVARCHAR(400) NOT NULL,
  call_id       NVARCHAR(255) NOT NULL,
  local_tag     NVARCHAR(128) NOT NULL,
  remote_tag    NVARCHAR(128) NOT NULL,
  remote_target NVARCHAR(1024) NOT NULL,
  route_set     NVARCHAR(MAX) NOT NULL,
  cseq          BIGINT NOT NULL,
  expires_at    BIGINT NOT NULL,
  transport     NVARCHAR(16) NOT NULL,
  source_ip     NVARCHAR(64) NOT NULL,
  source_port   INT NOT NULL,
  connection_id NVARCHAR(200) NULL
);
CREATE INDEX subscriptions_presentity ON subscriptions (presentity, expires_at);
CREATE INDEX subscriptions_expires_at ON subscriptions (expires_at);
