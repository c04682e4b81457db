-- Groups of administrators (issue #25): the customer's identity provider says who belongs to a
-- group (SCIM /Groups, or the `groups` claim at sign-in); a Full administrator says what the group
-- may do. A member holds their own access joined with their groups'.
CREATE TABLE admin_groups (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    -- The display name folded to lower case: unique in the customer, and what filters compare.
    display_name_key TEXT NOT NULL,
    external_id TEXT,
    access_type TEXT NOT NULL,
    permissions TEXT NOT NULL,
    -- The group as the provider last wrote it over SCIM (members' display names and the like),
    -- returned as written; its members are always the rows below.
    document TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX admin_groups_by_name ON admin_groups (customer_id, display_name_key);
CREATE INDEX admin_groups_by_external_id ON admin_groups (customer_id, external_id);

-- A member of a group is a member of its customer: removing them from the customer (R6) or
-- deleting them takes them out of its groups too.
CREATE TABLE admin_group_members (
    group_id TEXT NOT NULL REFERENCES admin_groups (id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL,
    admin_id TEXT NOT NULL,
    PRIMARY KEY (group_id, admin_id),
    FOREIGN KEY (customer_id, admin_id) REFERENCES memberships (customer_id, admin_id) ON DELETE CASCADE
);
CREATE INDEX admin_group_members_by_member ON admin_group_members (customer_id, admin_id);

-- What a member holds through their groups, kept beside their own access and rewritten in the
-- transaction of every group change, so a standing is still read from one row.
ALTER TABLE memberships ADD COLUMN group_access_type TEXT NOT NULL DEFAULT 'Custom';
ALTER TABLE memberships ADD COLUMN group_permissions TEXT NOT NULL DEFAULT '';
