-- WebAuthn passkeys of local administrators (issue #25 item 4): a second factor, or a sign-in on
-- their own. An administrator may hold several, each named by them.
--
-- `credential_id` is the authenticator's credential id, unique across the deployment: a
-- credential belongs to one administrator. `passkey` is the credential as webauthn-rs keeps it
-- (JSON: the public key, its algorithm, the flags seen at registration); `sign_count` is the
-- authenticator's signature counter last accepted, kept in a column of its own so an assertion
-- whose counter did not move on is refused by the same statement that records it.
CREATE TABLE admin_passkeys (
    id TEXT PRIMARY KEY,
    admin_id TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL UNIQUE,
    name TEXT NOT NULL,
    passkey TEXT NOT NULL,
    sign_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX admin_passkeys_admin ON admin_passkeys (admin_id);

-- WebAuthn ceremonies under way: the challenge and what webauthn-rs must check the browser's
-- answer against, serialised, so any node finishes what another started. `binding` is a keyed
-- digest of the purpose and of what the browser holds (its session, its pending second step, or
-- its sign-in form's token); a ceremony is taken once (deleted as it is read) and lives minutes.
CREATE TABLE webauthn_ceremonies (
    binding BYTEA PRIMARY KEY,
    admin_id TEXT REFERENCES admins (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);
