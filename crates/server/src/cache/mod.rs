//! In-memory caches on the request path. Each is bounded and kept current by the store's change
//! feed ([`crate::state`] subscribes them), so a change made on any node reaches every cache.

pub mod authz;
pub(crate) mod bounded;
pub(crate) mod lists;
pub mod revoked_tokens;
pub mod shown_once;
pub(crate) mod verified_tokens;
