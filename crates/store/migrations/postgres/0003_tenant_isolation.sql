-- Tenant isolation (issue #8): a person is known by their identity, not by e-mail alone — a local
-- administrator by e-mail (unique among local administrators), a federated one by (provider,
-- subject) — and each customer keeps its own profile of its administrators (e-mail and display
-- name as that customer entered them), so nothing one customer sees comes from another.

ALTER TABLE admins DROP CONSTRAINT admins_email_key;
CREATE UNIQUE INDEX admins_local_email ON admins (email) WHERE provider = 'CitrixSts';
CREATE UNIQUE INDEX admins_federated_subject ON admins (provider, external_id) WHERE external_id IS NOT NULL;

ALTER TABLE memberships ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
UPDATE memberships m SET email = a.email, display_name = a.display_name FROM admins a WHERE a.id = m.admin_id;
CREATE UNIQUE INDEX memberships_by_email ON memberships (customer_id, email);
