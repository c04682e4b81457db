-- Sign-in through a customer's OpenID Connect provider (issue #12).
--
-- A customer connects providers by issuer; several customers may connect the same issuer, each
-- with its own client. The client secret is sealed (AES-256-GCM under a key derived from the
-- server key, the connection id as associated data), never stored in clear.
CREATE TABLE identity_providers (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    provider_type TEXT NOT NULL,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,
    email_claim TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX identity_providers_by_issuer ON identity_providers (customer_id, issuer);

-- Who a provider's subject is: one administrator per (issuer, subject), never found by e-mail.
CREATE TABLE federated_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    admin_id TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);

-- A sign-in under way: kept by the keyed digest of its `state`, used once, short-lived.
CREATE TABLE oidc_sign_ins (
    state_digest BLOB PRIMARY KEY,
    provider_id TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next_path TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- A session opened through a customer's provider reaches that customer only; NULL (password
-- sign-in) reaches every customer of the administrator.
ALTER TABLE sessions ADD COLUMN customer_id TEXT REFERENCES customers (id) ON DELETE CASCADE;
