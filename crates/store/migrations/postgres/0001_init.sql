-- Times are Unix milliseconds; ids are text. Only types both SQLite and PostgreSQL share are used.

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    disabled_owner_policy TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE admins (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    provider TEXT NOT NULL,
    external_id TEXT,
    status TEXT NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    admin_id TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    access_type TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, admin_id)
);
CREATE INDEX memberships_by_admin ON memberships (admin_id);

-- R1 and R6 in the schema: a client cannot exist without its owner's membership in its customer.
CREATE TABLE api_clients (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    verifier BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    FOREIGN KEY (customer_id, owner_id) REFERENCES memberships (customer_id, admin_id) ON DELETE CASCADE
);
CREATE INDEX api_clients_by_owner ON api_clients (customer_id, owner_id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    private_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_digest BYTEA PRIMARY KEY,
    admin_id TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    destination_admin TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX notifications_by_customer ON notifications (customer_id, created_at);

CREATE TABLE system_log (
    seq BIGSERIAL PRIMARY KEY,
    record_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    target_name TEXT NOT NULL,
    message TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX system_log_by_customer_time ON system_log (customer_id, at, seq);

-- The change feed: written in the same transaction as the change, read by every node's cache.
CREATE TABLE changes (
    seq BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    customer_id TEXT,
    admin_id TEXT,
    client_id TEXT,
    at BIGINT NOT NULL
);
