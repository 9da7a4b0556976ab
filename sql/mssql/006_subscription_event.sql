-- tvphone schema 6 (SQL Server): a subscription names its event package (RFC 6665 §8.2.1): presence or
-- message-summary (RFC 3842). The rows of earlier schemas are presence subscriptions.
ALTER TABLE subscriptions ADD event NVARCHAR(64) NOT NULL DEFAULT 'presence';
