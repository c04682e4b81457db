-- A federated administrator belongs to the customer whose administrators or identity provider
-- named them (issue #20): the same (provider type, subject) named by two customers is two people
-- to Trustgate, so one customer's SCIM token can never disable or re-point another customer's
-- administrator. The subject is unique within a customer, which the store checks in the
-- transaction that adds or changes it; across customers it is only an index.
DROP INDEX admins_federated_subject;
CREATE INDEX admins_by_federated_subject ON admins (provider, external_id) WHERE external_id IS NOT NULL;

-- A sign-in links an issuer's subject to the administrator of the signing-in customer, so two
-- customers that connect the same issuer each have their own link.
ALTER TABLE federated_identities DROP CONSTRAINT federated_identities_pkey;
ALTER TABLE federated_identities ADD PRIMARY KEY (issuer, subject, admin_id);
