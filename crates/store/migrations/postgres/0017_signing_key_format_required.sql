-- A signing key's format has no default (issue #21): a row written without one is refused,
-- instead of arriving as a raw key. Raw keys are no longer used at all until `trustgate keys
-- reseal` seals them.
ALTER TABLE signing_keys ALTER COLUMN format DROP DEFAULT;
