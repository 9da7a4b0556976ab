-- tvphone schema 7 (SQL Server): RFC 8599 push registrations. A binding whose Contact URI carried pn-provider/pn-prid
-- leaves one row per user and device (its +sip.instance, else its provider and prid) that outlives the binding by
-- push.standbySeconds: the TV is in standby (User_netstate 0) but can be woken by a push.
CREATE TABLE push_registrations (
  user_id     NVARCHAR(128) NOT NULL,
  device      NVARCHAR(300) NOT NULL,
  provider    NVARCHAR(64) NOT NULL,
  prid        NVARCHAR(255) NOT NULL,
  param       NVARCHAR(255) NULL,
  contact     NVARCHAR(300) NOT NULL,
  expires_at  DATETIME2(3) NOT NULL,
  updated_at  DATETIME2(3) NOT NULL,
  PRIMARY KEY (user_id, device)
);
CREATE INDEX push_registrations_expires_at ON push_registrations (expires_at);
