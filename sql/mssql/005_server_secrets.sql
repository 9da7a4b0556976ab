-- tvphone schema 5 (mssql): keys the server keeps across restarts and shares between the nodes on one database
-- (the HMAC that signs its Record-Route, RFC 3261 §16.6 step 4; voice message tokens).
CREATE TABLE server_secrets (
  name       NVARCHAR(64) PRIMARY KEY,
  secret     VARBINARY(64) NOT NULL,
  created_at DATETIME2(3) NOT NULL
);
