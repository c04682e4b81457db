//! Server settings that handlers read.

use std::time::Duration;

use trustgate_core::token::Issuer;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Adds `Secure` to session cookies; on whenever Trustgate is served over HTTPS.
    pub secure_cookies: bool,
    pub session_lifetime: Duration,
    /// Most clients (and most owner standings) the authorization cache holds.
    pub cache_capacity: usize,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// The `iss` and `aud` of every token, and the base of the URLs discovery publishes.
    pub issuer: Issuer,
}

/// Where a server listening on `listen` is reached when no public URL is configured.
pub fn default_public_url(listen: std::net::SocketAddr) -> String {
    format!("http://{listen}")
}

const DEFAULT_URL: &str = "http://127.0.0.1:8080";

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_lifetime: Duration::from_secs(8 * 3600),
            cache_capacity: 200_000,
            body_limit: 64 * 1024,
            issuer: Issuer { url: DEFAULT_URL.to_owned(), audience: DEFAULT_URL.to_owned() },
        }
    }
}
