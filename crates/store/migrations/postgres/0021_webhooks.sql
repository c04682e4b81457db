-- Webhooks: the system log is the outbox. Every change already writes its system-log records in
-- its own transaction; an endpoint keeps a cursor into the log and is sent what follows it.
--
-- `seq` comes from a sequence, drawn at insert: a transaction that drew a lower `seq` can commit
-- after one that drew a higher one, so "every record after seq N" read at one moment can miss a
-- record that appears below N a moment later. Each record therefore also carries the id of the
-- transaction that wrote it; a reader orders by (tx, seq) and reads only records whose
-- transaction is older than every transaction still running (`pg_snapshot_xmin`), a set that can
-- no longer grow. Records written before this migration keep tx 0: they come first.
ALTER TABLE system_log ADD COLUMN tx BIGINT NOT NULL DEFAULT 0;
ALTER TABLE system_log ALTER COLUMN tx SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX system_log_by_customer_tx ON system_log (customer_id, tx, seq);

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- JSON array of system-log event types; empty: every one.
    event_types TEXT NOT NULL,
    -- 'standard', or 'citrix' for a subscription made through Citrix's API.
    style TEXT NOT NULL,
    citrix_event_type TEXT,
    citrix_change_type TEXT,
    -- Sealed under the server key (they are read back to sign and send); never in clear.
    sealed_secret BYTEA NOT NULL,
    sealed_previous_secret BYTEA,
    previous_until BIGINT,
    sealed_auth_headers BYTEA,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- The last record delivered or passed over, by (tx, seq). System-log retention does not
    -- prune the records after it while the endpoint is enabled.
    cursor_tx BIGINT NOT NULL,
    cursor_seq BIGINT NOT NULL,
    state TEXT NOT NULL,
    failing_since BIGINT,
    next_attempt_at BIGINT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    -- The node delivering now holds the endpoint until `lease_until`, under `lease`.
    lease TEXT,
    lease_until BIGINT
);
CREATE INDEX webhook_endpoints_by_customer ON webhook_endpoints (customer_id, created_at);
CREATE INDEX webhook_endpoints_due ON webhook_endpoints (state, next_attempt_at);

CREATE TABLE webhook_attempts (
    seq BIGSERIAL PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL,
    record_seq BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    at BIGINT NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, seq);
