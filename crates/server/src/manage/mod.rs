//! Trustgate's own management API, for administrators signed in with a session: their clients
//! and secrets, service principals, identity providers and SCIM provisioning tokens.

pub(crate) mod clients;
pub(crate) mod identity_providers;
pub(crate) mod principals;
pub(crate) mod provisioning;
