//! Work every node does in the background: system-log retention, secret-expiry warnings, the
//! aggregated refusal records it flushes to the system log, webhook deliveries, and the SIEM
//! streams.

pub(crate) mod refusals;
pub(crate) mod retention;
pub mod secret_expiry;
pub mod siem;
pub(crate) mod webhooks;

use crate::state::AppState;

/// Starts every job on this node; each ends when the state is dropped.
pub fn start(state: &AppState) {
    tokio::spawn(retention::prune_periodically(state.downgrade()));
    tokio::spawn(secret_expiry::check_periodically(state.downgrade()));
    tokio::spawn(webhooks::deliver_periodically(state.downgrade()));
    siem::start(&state.config.siem, &state.downgrade());
}
