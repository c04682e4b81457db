//! Server settings that handlers read.

use std::time::Duration;

/// Hundreds of clients per owner covers every script an administrator runs, and bounds what one
/// stolen session or client with the apiClients right can create.
pub const DEFAULT_MAX_CLIENTS_PER_OWNER: u64 = 500;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Adds `Secure` to session cookies; on whenever Trustgate is served over HTTPS.
    pub secure_cookies: bool,
    pub session_lifetime: Duration,
    /// Most clients (and most owner standings) the authorization cache holds.
    pub cache_capacity: usize,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Most API clients one administrator may own in one customer.
    pub max_clients_per_owner: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_lifetime: Duration::from_secs(8 * 3600),
            cache_capacity: 200_000,
            body_limit: 64 * 1024,
            max_clients_per_owner: DEFAULT_MAX_CLIENTS_PER_OWNER,
        }
    }
}
