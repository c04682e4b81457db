//! OAuth 2.0 and Citrix's token endpoint: client credentials for a token, discovery, revocation
//! and the key set.

pub(crate) mod discovery;
pub(crate) mod grant;
pub(crate) mod revocation;
pub(crate) mod tokens;
