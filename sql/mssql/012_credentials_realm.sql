-- tvphone schema 12 (mssql): an index on credentials.realm, so that the start's check for users whose HA1s were made for
-- another realm than the profile's reads only those rows, not every user's (issue 18: 1,000,000 users).
CREATE INDEX credentials_realm ON credentials (realm);
