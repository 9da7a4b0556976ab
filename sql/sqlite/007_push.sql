-- tvphone schema 7 (SQLite): RFC 8599 push registrations. A binding whose Contact URI carried pn-provider/pn-prid
-- leaves one row per user and device (its +sip.instance, else its provider and prid) that outlives the binding by
-- push.standbySeconds: the TV is in standby (User_netstate 0) but can be woken by a push.
CREATE TABLE push_registrations (
  user_id     TEXT NOT NULL,
  device      TEXT NOT NULL,
  provider    TEXT NOT NULL,
  prid        TEXT NOT NULL,
  param       TEXT,
  contact     TEXT NOT NULL,
  expires_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (user_id, device)
);
CREATE INDEX push_registrations_expires_at ON push_registrations (expires_at);
