//! Work every node does in the background: system-log retention, secret-expiry warnings, and the
//! aggregated refusal records it flushes to the system log.

pub(crate) mod refusals;
pub(crate) mod retention;
pub mod secret_expiry;
