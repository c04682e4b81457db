-- SCIM 2.0 provisioning (issue 12): a customer's provider tokens, stored as keyed digests, and
-- what the provider said about each administrator it provisioned in that customer.
CREATE TABLE scim_tokens (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    digest BLOB NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX scim_tokens_by_name ON scim_tokens (customer_id, name);

CREATE TABLE scim_users (
    customer_id TEXT NOT NULL,
    admin_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    user_name_key TEXT NOT NULL,
    external_id TEXT,
    document TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, admin_id),
    FOREIGN KEY (customer_id, admin_id) REFERENCES memberships (customer_id, admin_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX scim_users_by_user_name ON scim_users (customer_id, user_name_key);
CREATE INDEX scim_users_by_external_id ON scim_users (customer_id, external_id);
