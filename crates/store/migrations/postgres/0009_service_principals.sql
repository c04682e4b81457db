-- Service principals (issue #11): an API client that belongs to its customer and no administrator
-- (SP1) and holds its own access (SP2). A principal has no owner and an access; a secure client an
-- owner and no access: the CHECK keeps every row one or the other. With `owner_id` NULL the
-- membership foreign key does not apply (MATCH SIMPLE), so nothing done to an administrator
-- reaches a principal (SP5); a principal goes with its customer instead. Converting a secure
-- client (SP7) is an UPDATE of the same row: its id and secret stay.
ALTER TABLE api_clients ALTER COLUMN owner_id DROP NOT NULL;
ALTER TABLE api_clients ADD COLUMN access_type TEXT;
ALTER TABLE api_clients ADD COLUMN permissions TEXT;
ALTER TABLE api_clients ADD CONSTRAINT api_clients_owner_or_access
    CHECK ((owner_id IS NULL) = (access_type IS NOT NULL) AND (access_type IS NULL) = (permissions IS NULL));
ALTER TABLE api_clients ADD CONSTRAINT api_clients_customer
    FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE;
