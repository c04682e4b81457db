-- Resource servers (issue #10): deployment-level credentials with which a service that receives
-- tokens asks the introspection endpoint (RFC 7662) about them. The secret is kept only as an
-- HMAC verifier under the server key, as client secrets are. Read on every introspection, so a
-- deletion or rotation holds at once on every node.
CREATE TABLE resource_servers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    verifier BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
