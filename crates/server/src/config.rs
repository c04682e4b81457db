//! Server settings that handlers and the connection loop read.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use trustgate_core::token::{Algorithm, Issuer};

pub use crate::clock::Clock;
use crate::throttle::Policy;

/// Hundreds of clients per owner covers every script an administrator runs, and bounds what one
/// stolen session or client with the apiClients right can create.
pub const DEFAULT_MAX_CLIENTS_PER_OWNER: u64 = 500;

/// The algorithm of a new deployment's signing key; docs/security.md says why.
pub const DEFAULT_SIGNING_ALGORITHM: Algorithm = Algorithm::Es256;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Adds `Secure` to session cookies; on whenever Trustgate is served over HTTPS.
    pub secure_cookies: bool,
    pub session_lifetime: Duration,
    /// Most clients (and most owner standings) the authorization cache holds.
    pub client_cache: usize,
    /// Most verified tokens remembered.
    pub token_cache: usize,
    /// Most customers' rendered notification lists held.
    pub list_cache: usize,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Failed client secrets allowed per client before it is locked out.
    pub client_throttle: Policy,
    /// Failed sign-ins allowed per e-mail and source address before they are locked out.
    pub sign_in_throttle: Policy,
    /// Most keys each throttle, and the refusal log, track at once.
    pub throttle_capacity: usize,
    /// How long refusals are counted before one system-log record sums them up.
    pub refusal_window: Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client's address.
    pub trusted_proxies: Vec<IpAddr>,
    pub connections: ConnectionLimits,
    /// Most API clients one administrator may own in one customer.
    pub max_clients_per_owner: u64,
    /// The `iss` and `aud` of every token, and the base of the URLs discovery publishes.
    pub issuer: Issuer,
    /// How long system-log records are kept.
    pub systemlog_retention: Duration,
    /// How often records past the retention are deleted.
    pub systemlog_prune_interval: Duration,
    /// The algorithm of the signing key made when the store has none.
    pub signing_algorithm: Algorithm,
    /// How long an invitation link works (Citrix: 5 days).
    pub invitation_lifetime: Duration,
    /// Where invitation e-mails are sent through; without it the link is only shown to the inviter.
    pub smtp: Option<crate::mail::SmtpSettings>,
    /// How long before a client secret expires its customer's Full administrators are warned;
    /// zero warns nobody.
    pub secret_expiry_warning: Duration,
    /// How often secrets are checked for a coming or passed expiry.
    pub secret_expiry_interval: Duration,
    /// Lets customers' OpenID providers be reached over plain HTTP on the loopback interface
    /// (a provider running beside Trustgate, as in tests); HTTPS only otherwise.
    pub allow_http_issuers: bool,
    /// Lets webhook endpoints be on loopback, link-local and private addresses (and plain HTTP
    /// to the loopback interface): for receivers on the operator's own network, and tests.
    pub webhooks_allow_private: bool,
    /// How often each node looks for webhook deliveries due.
    pub webhook_poll_interval: Duration,
    /// Where every customer's system log is streamed for the operator's SIEM (docs/siem.md).
    pub siem: crate::jobs::siem::SiemConfig,
    /// The time the throttles, secret expiry, invitations and webhook retries go by.
    pub clock: Clock,
}

/// Citrix Cloud's administrator invitations expire after 5 days.
pub const DEFAULT_INVITATION_LIFETIME: Duration = Duration::from_secs(5 * 86_400);
/// Cache sizes, in entries. A client entry (with its owner's standing) takes about 0.4 KB and a
/// verified token about 0.4 KB, so the defaults hold under 200 MB together; past them a miss costs
/// one read by primary key (clients) or one signature check (tokens).
pub const DEFAULT_CLIENT_CACHE: u64 = 200_000;
pub const DEFAULT_TOKEN_CACHE: u64 = 200_000;
/// A list is up to 100 notifications, a few KB.
pub const DEFAULT_LIST_CACHE: u64 = 10_000;

/// Citrix Cloud keeps system-log records for 90 days.
pub const DEFAULT_SYSTEMLOG_RETENTION_DAYS: u32 = 90;

/// What a connection may cost the server. The timeouts follow Ory's server defaults (Go's
/// `ReadHeaderTimeout`, `ReadTimeout`, `WriteTimeout`, `IdleTimeout`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// From a connection's first byte of a request (or from accepting it) to the end of the
    /// request's headers.
    pub header_timeout: Duration,
    /// From the end of the headers to the end of the body.
    pub body_timeout: Duration,
    /// The longest a write may stay blocked on a client that does not read the response.
    pub write_timeout: Duration,
    /// The longest a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections served at once. At the cap, the one that has waited longest for a request
    /// makes room; with none waiting, further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Connections one source address may hold; beyond, its own longest-waiting one makes room.
    pub max_connections_per_source: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            // Below the common open-file limit of 1,024, leaving room for the store's files.
            max_connections: 512,
            // Half: one stranger cannot take every slot, and a proxy in front — every
            // connection from one address — still has room for its keep-alive pool.
            max_connections_per_source: 256,
        }
    }
}

/// Keycloak's brute-force detection locks for 1 minute up to 15 after 30 failures; Trustgate
/// counts per client (or per e-mail and address), so it allows fewer and starts shorter.
pub const DEFAULT_THROTTLE: Policy = Policy {
    failures: match NonZeroU32::new(10) {
        Some(n) => n,
        None => NonZeroU32::MIN,
    },
    refill: Duration::from_secs(60),
    lockout: Duration::from_secs(30),
    max_lockout: Duration::from_secs(15 * 60),
};

/// Where a server listening on `listen` is reached when no public URL is configured.
pub fn default_public_url(listen: std::net::SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{listen}")
}

const DEFAULT_URL: &str = "http://127.0.0.1:8080";

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            session_lifetime: Duration::from_secs(8 * 3600),
            client_cache: DEFAULT_CLIENT_CACHE as usize,
            token_cache: DEFAULT_TOKEN_CACHE as usize,
            list_cache: DEFAULT_LIST_CACHE as usize,
            body_limit: 64 * 1024,
            client_throttle: DEFAULT_THROTTLE,
            sign_in_throttle: DEFAULT_THROTTLE,
            throttle_capacity: 100_000,
            refusal_window: Duration::from_secs(60),
            trusted_proxies: Vec::new(),
            connections: ConnectionLimits::default(),
            max_clients_per_owner: DEFAULT_MAX_CLIENTS_PER_OWNER,
            issuer: Issuer { url: DEFAULT_URL.to_owned(), audience: DEFAULT_URL.to_owned() },
            systemlog_retention: Duration::from_secs(u64::from(DEFAULT_SYSTEMLOG_RETENTION_DAYS) * 86_400),
            systemlog_prune_interval: Duration::from_secs(3600),
            signing_algorithm: DEFAULT_SIGNING_ALGORITHM,
            invitation_lifetime: DEFAULT_INVITATION_LIFETIME,
            smtp: None,
            secret_expiry_warning: Duration::from_secs(
                u64::from(trustgate_core::client_secrets::DEFAULT_EXPIRY_WARNING_DAYS) * 86_400,
            ),
            secret_expiry_interval: Duration::from_secs(600),
            allow_http_issuers: false,
            webhooks_allow_private: false,
            webhook_poll_interval: Duration::from_secs(1),
            siem: crate::jobs::siem::SiemConfig::default(),
            clock: Clock::default(),
        }
    }
}
