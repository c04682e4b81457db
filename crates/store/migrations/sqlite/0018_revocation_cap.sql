-- Issue #21, item 9: the revocation list is bounded per client. Each revoked token names its
-- client; past the cap, a revocation becomes a "not before" time for the client instead: every
-- token of the client issued at or before it is refused, and the client's rows are deleted.
ALTER TABLE revoked_tokens ADD COLUMN client_id TEXT;
CREATE INDEX revoked_tokens_by_client ON revoked_tokens (client_id);
CREATE TABLE revoked_before (
    client_id TEXT PRIMARY KEY,
    -- Unix seconds: the client's tokens issued (iat) at or before it are refused.
    not_before BIGINT NOT NULL,
    -- Unix milliseconds after which no token issued before `not_before` can still be alive.
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_before_by_expiry ON revoked_before (expires_at);
