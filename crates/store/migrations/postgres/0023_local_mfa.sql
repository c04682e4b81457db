-- A second factor for administrators who sign in with a password (issue #25).
--
-- The customer's policy: 1 when its local administrators must hold a second factor. Customers
-- that exist before this migration keep 0 (nothing changes for them until a Full administrator
-- turns it on); customers created from now on are created with 1 by the code that creates them.
ALTER TABLE customers ADD COLUMN require_local_mfa BIGINT NOT NULL DEFAULT 0;

-- One TOTP secret (RFC 6238) per administrator, sealed under the server key, with the last time
-- step a code was accepted for (a code is used once). Not confirmed until the administrator has
-- entered a code from it.
CREATE TABLE admin_totp (
    admin_id TEXT PRIMARY KEY REFERENCES admins (id) ON DELETE CASCADE,
    sealed_secret BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT NOT NULL DEFAULT 0
);

-- One-time recovery codes, kept as keyed digests under the server key, each used once.
CREATE TABLE admin_recovery_codes (
    admin_id TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    digest BYTEA NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (admin_id, digest)
);
