-- The permission catalog (issue 10): the operator's services, their permissions and the route
-- rules, as `trustgate catalog apply` last wrote them. Each table holds the whole of its part in
-- the order of the operator's file (ordinal); an apply replaces all three in one transaction.
-- Texts are the stored forms core parses back (`orders.read`, `GET`, `/orders/{id}`, `header`).
CREATE TABLE catalog_services (
    ordinal BIGINT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    description TEXT
);
CREATE TABLE catalog_permissions (
    ordinal BIGINT PRIMARY KEY,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    UNIQUE (service, name)
);
CREATE TABLE catalog_routes (
    ordinal BIGINT PRIMARY KEY,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    permission TEXT NOT NULL,
    customer TEXT NOT NULL
);
