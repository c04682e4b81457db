-- Each signing key carries its JWS algorithm (ES256, EdDSA or RS256): a deployment chooses one, and
-- switching is a key rotation, so keys of two algorithms can verify side by side. Every key made
-- before the choice existed is an Ed25519 (EdDSA) key.
ALTER TABLE signing_keys ADD COLUMN algorithm TEXT NOT NULL DEFAULT 'EdDSA';
