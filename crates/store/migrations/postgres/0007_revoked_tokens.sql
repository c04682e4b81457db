-- Tokens revoked before they expire (RFC 7009), by `jti`. A row is only needed until the token
-- would have expired anyway; rows past `expires_at` (ms since the epoch) are deleted at the next
-- revocation.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);
