-- Invitations (issue #12): a membership with a row here is pending. It grants nothing (no access,
-- no API clients, not counted as a Full administrator) until the invitee accepts through the
-- one-time link, whose token is kept only as a keyed verifier. Accepting or cancelling deletes the
-- row; an expired one stays (Citrix lists it with invitationExpired) until re-sent or cancelled,
-- and expiry_logged records that its expiry was written to the system log.
CREATE TABLE invitations (
    customer_id TEXT NOT NULL,
    admin_id TEXT NOT NULL,
    verifier BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    expiry_logged BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, admin_id),
    FOREIGN KEY (customer_id, admin_id) REFERENCES memberships (customer_id, admin_id) ON DELETE CASCADE
);
CREATE INDEX invitations_by_expiry ON invitations (expires_at);
