-- Issue #22, item 1: a federated administrator's provider id as Citrix returns it in `providerId`
-- (the Azure AD tenant id, or the Active Directory domain), as given at creation. NULL when none
-- was given, and for local (CitrixSts) administrators.
ALTER TABLE admins ADD COLUMN provider_id TEXT;
