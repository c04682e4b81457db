//! Trustgate's own management API, for administrators signed in with a session: their clients
//! and secrets, service principals, identity providers, SCIM provisioning tokens and webhooks.

pub(crate) mod clients;
pub(crate) mod identity_providers;
pub(crate) mod principals;
pub(crate) mod provisioning;
pub(crate) mod webhooks;
