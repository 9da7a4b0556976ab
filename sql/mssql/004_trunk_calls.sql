-- tvphone schema 4 (SQL Server, Babelfish): calls through trunks. Trunk: the trunk a call went out through (the last
-- one tried when none answered); Dialled_number: the number as the caller dialled it; Sent_number: as sent to the carrier.
ALTER TABLE user_call ADD Trunk NVARCHAR(64) NULL;
ALTER TABLE user_call ADD Dialled_number NVARCHAR(64) NULL;
ALTER TABLE user_call ADD Sent_number NVARCHAR(64) NULL;
