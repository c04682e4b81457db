-- no-transaction
-- Tenant isolation (issue #8): a person is known by their identity, not by e-mail alone — a local
-- administrator by e-mail (unique among local administrators), a federated one by (provider,
-- subject) — and each customer keeps its own profile of its administrators (e-mail and display
-- name as that customer entered them), so nothing one customer sees comes from another.
--
-- SQLite cannot drop the UNIQUE on admins.email in place: the table is rebuilt as its documentation
-- prescribes, with foreign keys off (they cannot be switched inside a transaction) and checked
-- before the commit.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE admins_rebuilt (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    provider TEXT NOT NULL,
    external_id TEXT,
    status TEXT NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL
);
INSERT INTO admins_rebuilt (id, email, display_name, provider, external_id, status, password_hash, created_at)
    SELECT id, email, display_name, provider, external_id, status, password_hash, created_at FROM admins;
DROP TABLE admins;
ALTER TABLE admins_rebuilt RENAME TO admins;
CREATE UNIQUE INDEX admins_local_email ON admins (email) WHERE provider = 'CitrixSts';
CREATE UNIQUE INDEX admins_federated_subject ON admins (provider, external_id) WHERE external_id IS NOT NULL;

ALTER TABLE memberships ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
UPDATE memberships SET
    email = (SELECT a.email FROM admins a WHERE a.id = memberships.admin_id),
    display_name = (SELECT a.display_name FROM admins a WHERE a.id = memberships.admin_id);
CREATE UNIQUE INDEX memberships_by_email ON memberships (customer_id, email);

COMMIT;
PRAGMA foreign_keys = ON;
