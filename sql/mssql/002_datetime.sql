-- tvphone schema 2 (SQL Server, T-SQL): the time columns a DBA queries become DATETIME2(3) (UTC, milliseconds), so
-- `WHERE Call_date >= '2026-12-01'` works. schema_version.applied_at stays epoch ms (the migration runner writes it at
-- every version); Duration_ms is a duration. Statements run one at a time (split at a `;` that ends a line).
-- Babelfish refuses `ALTER COLUMN … NOT NULL`, and a rebuilt table would restart its IDENTITY (ids reused), so each
-- column is added anew, filled, swapped in with sp_rename, and kept NOT NULL by a CHECK (README, SQL Server). An epoch
-- ms value is added as days, seconds and milliseconds: DATEADD takes an INT, and Babelfish's DATEADD of more than a
-- second's milliseconds can be 1 ms off (86399999 ms gave 86400000).

-- the indexes on converted columns go first (a column in an index cannot be dropped)
DROP INDEX bindings_expires_at ON bindings;
DROP INDEX messages_state_expires_at ON messages;
DROP INDEX subscriptions_presentity ON subscriptions;
DROP INDEX subscriptions_expires_at ON subscriptions;

-- users
ALTER TABLE users ADD created_at_v2 DATETIME2(3) NULL;
UPDATE users SET created_at_v2 = DATEADD(MILLISECOND, CAST(created_at % 1000 AS INT), DATEADD(SECOND, CAST(created_at % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(created_at / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3)))));
ALTER TABLE users DROP COLUMN created_at;
EXEC sp_rename @objname = 'users.created_at_v2', @newname = 'created_at', @objtype = 'COLUMN';
ALTER TABLE users ADD CONSTRAINT users_created_at_not_null CHECK (created_at IS NOT NULL);

-- user_property
ALTER TABLE user_property ADD Netstate_since_v2 DATETIME2(3) NULL;
UPDATE user_property SET Netstate_since_v2 = DATEADD(MILLISECOND, CAST(Netstate_since % 1000 AS INT), DATEADD(SECOND, CAST(Netstate_since % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(Netstate_since / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3)))));
ALTER TABLE user_property DROP COLUMN Netstate_since;
EXEC sp_rename @objname = 'user_property.Netstate_since_v2', @newname = 'Netstate_since', @objtype = 'COLUMN';
ALTER TABLE user_property ADD CONSTRAINT user_property_netstate_since_not_null CHECK (Netstate_since IS NOT NULL);

-- bindings
ALTER TABLE bindings ADD expires_at_v2 DATETIME2(3) NULL;
ALTER TABLE bindings ADD updated_at_v2 DATETIME2(3) NULL;
UPDATE bindings SET expires_at_v2 = DATEADD(MILLISECOND, CAST(expires_at % 1000 AS INT), DATEADD(SECOND, CAST(expires_at % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(expires_at / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3))))),
  updated_at_v2 = DATEADD(MILLISECOND, CAST(updated_at % 1000 AS INT), DATEADD(SECOND, CAST(updated_at % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(updated_at / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3)))));
ALTER TABLE bindings DROP COLUMN expires_at;
ALTER TABLE bindings DROP COLUMN updated_at;
EXEC sp_rename @objname = 'bindings.expires_at_v2', @newname = 'expires_at', @objtype = 'COLUMN';
EXEC sp_rename @objname = 'bindings.updated_at_v2', @newname = 'updated_at', @objtype = 'COLUMN';
ALTER TABLE bindings ADD CONSTRAINT bindings_expires_at_not_null CHECK (expires_at IS NOT NULL);
ALTER TABLE bindings ADD CONSTRAINT bindings_updated_at_not_null CHECK (updated_at IS NOT NULL);
CREATE INDEX bindings_expires_at ON bindings (expires_at);

-- user_call
ALTER TABLE user_call ADD Call_date_v2 DATETIME2(3) NULL;
ALTER TABLE user_call ADD Answered_at_v2 DATETIME2(3) NULL;
ALTER TABLE user_call ADD Ended_at_v2 DATETIME2(3) NULL;
ALTER TABLE user_call ADD Notified_at_v2 DATETIME2(3) NULL;
UPDATE user_call SET Call_date_v2 = DATEADD(MILLISECOND, CAST(Call_date % 1000 AS INT), DATEADD(SECOND, CAST(Call_date % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(Call_date / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3))))),
  Answered_at_v2 = DATEADD(MILLISECOND, CAST(Answered_at % 1000 AS INT), DATEADD(SECOND, CAST(Answered_at % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(Answered_at / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3))))),
  Ended_at_v2 = DATEADD(MILLISECOND, CAST(Ended_at % 1000 AS INT), DATEADD(SECOND, CAST(Ended_at % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(Ended_at / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3))))),
  Notified_at_v2 = DATEADD(MILLISECOND, CAST(Notified_at % 1000 AS INT), DATEADD(SECOND, CAST(Notified_at % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(Notified_at / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3)))));
ALTER TABLE user_call DROP COLUMN Call_date;
ALTER TABLE user_call DROP COLUMN Answered_at;
ALTER TABLE user_call DROP COLUMN Ended_at;
ALTER TABLE user_call DROP COLUMN Notified_at;
EXEC sp_rename @objname = 'user_call.Call_date_v2', @newname = 'Call_date', @objtype = 'COLUMN';
EXEC sp_rename @objname = 'user_call.Answered_at_v2', @newname = 'Answered_at', @objtype = 'COLUMN';
EXEC sp_rename @objname = 'user_call.Ended_at_v2', @newname = 'Ended_at', @objtype = 'COLUMN';
EXEC sp_rename @objname = 'user_call.Notified_at_v2', @newname = 'Notified_at', @objtype = 'COLUMN';
ALTER TABLE user_call ADD CONSTRAINT user_call_call_date_not_null CHECK (Call_date IS NOT NULL);

-- messages
ALTER TABLE messages ADD received_at_v2 DATETIME2(3) NULL;
ALTER TABLE messages ADD expires_at_v2 DATETIME2(3) NULL;
ALTER TABLE messages ADD next_attempt_at_v2 DATETIME2(3) NULL;
ALTER TABLE messages ADD delivered_at_v2 DATETIME2(3) NULL;
UPDATE messages SET received_at_v2 = DATEADD(MILLISECOND, CAST(received_at % 1000 AS INT), DATEADD(SECOND, CAST(received_at % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(received_at / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3))))),
  expires_at_v2 = DATEADD(MILLISECOND, CAST(expires_at % 1000 AS INT), DATEADD(SECOND, CAST(expires_at % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(expires_at / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3))))),
  next_attempt_at_v2 = DATEADD(MILLISECOND, CAST(next_attempt_at % 1000 AS INT), DATEADD(SECOND, CAST(next_attempt_at % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(next_attempt_at / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3))))),
  delivered_at_v2 = DATEADD(MILLISECOND, CAST(delivered_at % 1000 AS INT), DATEADD(SECOND, CAST(delivered_at % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(delivered_at / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3)))));
ALTER TABLE messages DROP COLUMN received_at;
ALTER TABLE messages DROP COLUMN expires_at;
ALTER TABLE messages DROP COLUMN next_attempt_at;
ALTER TABLE messages DROP COLUMN delivered_at;
EXEC sp_rename @objname = 'messages.received_at_v2', @newname = 'received_at', @objtype = 'COLUMN';
EXEC sp_rename @objname = 'messages.expires_at_v2', @newname = 'expires_at', @objtype = 'COLUMN';
EXEC sp_rename @objname = 'messages.next_attempt_at_v2', @newname = 'next_attempt_at', @objtype = 'COLUMN';
EXEC sp_rename @objname = 'messages.delivered_at_v2', @newname = 'delivered_at', @objtype = 'COLUMN';
ALTER TABLE messages ADD CONSTRAINT messages_received_at_not_null CHECK (received_at IS NOT NULL);
ALTER TABLE messages ADD CONSTRAINT messages_expires_at_not_null CHECK (expires_at IS NOT NULL);
CREATE INDEX messages_state_expires_at ON messages (state, expires_at);

-- subscriptions
ALTER TABLE subscriptions ADD expires_at_v2 DATETIME2(3) NULL;
UPDATE subscriptions SET expires_at_v2 = DATEADD(MILLISECOND, CAST(expires_at % 1000 AS INT), DATEADD(SECOND, CAST(expires_at % 86400000 / 1000 AS INT),
    DATEADD(DAY, CAST(expires_at / 86400000 AS INT), CAST('1970-01-01' AS DATETIME2(3)))));
ALTER TABLE subscriptions DROP COLUMN expires_at;
EXEC sp_rename @objname = 'subscriptions.expires_at_v2', @newname = 'expires_at', @objtype = 'COLUMN';
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_expires_at_not_null CHECK (expires_at IS NOT NULL);
CREATE INDEX subscriptions_presentity ON subscriptions (presentity, expires_at);
CREATE INDEX subscriptions_expires_at ON subscriptions (expires_at);
