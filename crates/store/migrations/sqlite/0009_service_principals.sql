-- no-transaction
-- Service principals (issue #11): an API client that belongs to its customer and no administrator
-- (SP1) and holds its own access (SP2). A principal has no owner and an access; a secure client an
-- owner and no access: the CHECK keeps every row one or the other. With `owner_id` NULL the
-- membership foreign key does not apply, so nothing done to an administrator reaches a principal
-- (SP5); a principal goes with its customer instead. Converting a secure client (SP7) is an UPDATE
-- of the same row: its id and secret stay.
--
-- SQLite cannot drop NOT NULL in place: the table is rebuilt as its documentation prescribes,
-- with foreign keys off (they cannot be switched inside a transaction).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE api_clients_rebuilt (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    owner_id TEXT,
    name TEXT NOT NULL,
    verifier BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    access_type TEXT,
    permissions TEXT,
    FOREIGN KEY (customer_id, owner_id) REFERENCES memberships (customer_id, admin_id) ON DELETE CASCADE,
    CHECK ((owner_id IS NULL) = (access_type IS NOT NULL) AND (access_type IS NULL) = (permissions IS NULL))
);
INSERT INTO api_clients_rebuilt (id, customer_id, owner_id, name, verifier, created_at, last_used_at)
    SELECT id, customer_id, owner_id, name, verifier, created_at, last_used_at FROM api_clients;
DROP TABLE api_clients;
ALTER TABLE api_clients_rebuilt RENAME TO api_clients;
CREATE INDEX api_clients_by_owner ON api_clients (customer_id, owner_id);

COMMIT;
PRAGMA foreign_keys = ON;
