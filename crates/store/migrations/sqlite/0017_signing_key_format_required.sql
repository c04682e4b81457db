-- A signing key's format has no default (issue #21): a row written without one is refused,
-- instead of arriving as a raw key. Raw keys are no longer used at all until `trustgate keys
-- reseal` seals them.
CREATE TABLE signing_keys_rebuilt (
    kid TEXT PRIMARY KEY,
    private_key BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    format TEXT NOT NULL,
    algorithm TEXT NOT NULL DEFAULT 'EdDSA'
);
INSERT INTO signing_keys_rebuilt (kid, private_key, created_at, format, algorithm)
    SELECT kid, private_key, created_at, format, algorithm FROM signing_keys;
DROP TABLE signing_keys;
ALTER TABLE signing_keys_rebuilt RENAME TO signing_keys;
