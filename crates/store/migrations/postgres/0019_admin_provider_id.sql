-- Issue #22, item 1: a federated administrator's provider id as Citrix returns it in `providerId`
-- (the Azure AD tenant id, or the Active Directory domain), as given at creation. NULL when none
-- was given, and for local (CitrixSts) administrators. A SCIM token may name one: the
-- administrators it provisions get it.
ALTER TABLE admins ADD COLUMN provider_id TEXT;
ALTER TABLE scim_tokens ADD COLUMN provider_id TEXT;
