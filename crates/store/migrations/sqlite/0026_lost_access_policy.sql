-- What happens to a member whom a change to their groups leaves with no access at all (issue #25):
-- 'remove-from-customer' (the issue's rule: removed as a Full administrator removes someone, their
-- API clients deleted) or 'keep-in-customer' (they stay without access; their clients are deleted
-- either way). Every customer starts with the issue's rule, existing ones included: until now such
-- members stayed only because the removal was not built yet.
ALTER TABLE customers ADD COLUMN lost_access_policy TEXT NOT NULL DEFAULT 'remove-from-customer';
