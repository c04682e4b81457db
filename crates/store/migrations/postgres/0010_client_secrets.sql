-- A client's secrets (issue #11, SP6): up to three at once, each with its own id, creator,
-- optional expiry and last use. Each client's one existing secret moves here unchanged, marked
-- `legacy` (its clear text, in the first `tgs_` format, names no id), with no expiry: nothing
-- already issued stops working (R2). Times are Unix milliseconds.
CREATE TABLE client_secrets (
    client_id TEXT NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    legacy BIGINT NOT NULL,
    verifier BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    -- When the expiry warning went out, and when the expiry was logged: each happens once,
    -- whichever node gets there first.
    warned_at BIGINT,
    expiry_logged_at BIGINT,
    PRIMARY KEY (client_id, id)
);
CREATE INDEX client_secrets_by_expiry ON client_secrets (expires_at) WHERE expires_at IS NOT NULL;

INSERT INTO client_secrets (client_id, id, legacy, verifier, created_at, created_by, expires_at, last_used_at)
    SELECT id, substr(md5(random()::text || id), 1, 16), 1, verifier, created_at, 'Trustgate', NULL, last_used_at FROM api_clients;

ALTER TABLE api_clients DROP COLUMN verifier;
