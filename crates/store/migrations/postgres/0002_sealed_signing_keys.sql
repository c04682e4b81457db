-- Signing keys are sealed under the server key (issue #8). The database cannot seal: rows stored
-- before this are marked raw, and the first node to start with the server key seals them.
ALTER TABLE signing_keys ADD COLUMN format TEXT NOT NULL DEFAULT 'raw';
