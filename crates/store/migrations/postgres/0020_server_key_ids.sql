-- Which server key each stored secret verifier and SCIM token digest was made under (its key id:
-- a short HMAC of the key, never the key), so the server key can be rotated: a record names the
-- key that checks it, and the operator sees what still depends on a retired key. NULL for a
-- record made before keys had ids; the server stamps those with the id of the key the signing
-- keys are sealed under when it starts. Sealed signing keys and identity-provider secrets need no
-- column: AES-GCM tells which key of the ring opens them, and rotating the server key reseals them.
ALTER TABLE client_secrets ADD COLUMN server_key TEXT;
ALTER TABLE resource_servers ADD COLUMN server_key TEXT;
ALTER TABLE scim_tokens ADD COLUMN server_key TEXT;
