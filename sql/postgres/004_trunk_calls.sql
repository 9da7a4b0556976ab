-- tvphone schema 4 (PostgreSQL): calls through trunks. Trunk: the trunk a call went out through (the last one tried
-- when none answered); Dialled_number: the number as the caller dialled it; Sent_number: as sent to the carrier.
ALTER TABLE user_call ADD COLUMN Trunk TEXT;
ALTER TABLE user_call ADD COLUMN Dialled_number TEXT;
ALTER TABLE user_call ADD COLUMN Sent_number TEXT;
