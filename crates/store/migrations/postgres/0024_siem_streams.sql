-- SIEM streams (`trustgate serve --siem-syslog`, `--siem-jsonl`): every customer's system log,
-- in (tx, seq) order, to the operator's collector. One row per kind of stream holds the cursor
-- of the last record the receiver is known to have, and the lease of the node streaming it.
CREATE INDEX system_log_by_tx ON system_log (tx, seq);

CREATE TABLE siem_streams (
    -- 'syslog' or 'jsonl'.
    name TEXT PRIMARY KEY,
    -- The last record acknowledged, by (tx, seq): a restart resends what follows it. System-log
    -- retention does not prune the records after it while the stream is configured.
    cursor_tx BIGINT NOT NULL,
    cursor_seq BIGINT NOT NULL,
    -- The node streaming now holds the stream until `lease_until`, under `lease`.
    lease TEXT,
    lease_until BIGINT
);
