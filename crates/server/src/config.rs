//! Server settings that handlers read.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Adds `Secure` to session cookies; on whenever Trustgate is served over HTTPS.
    pub secure_cookies: bool,
    pub session_lifetime: Duration,
    /// Most clients (and most owner standings) the authorization cache holds.
    pub cache_capacity: usize,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_lifetime: Duration::from_secs(8 * 3600),
            cache_capacity: 200_000,
            body_limit: 64 * 1024,
        }
    }
}
