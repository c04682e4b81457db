//! An [axum] / [tower] layer for services that *are* the platform behind Trustgate: it
//! authenticates each request's bearer token, asks Trustgate what the token may do now, and lets
//! each route declare the permission it needs.
//!
//! For every request, [`AuthLayer`]:
//!
//! 1. reads the token from `Authorization: Bearer <token>` or Citrix's
//!    `Authorization: CwsAuth Bearer=<token>`;
//! 2. verifies it as Trustgate does: the signature against the deployment's key set
//!    (`/.well-known/jwks.json`, fetched once and kept; fetched again when a token names an
//!    unknown key — a rotation — at most once per [`TrustgateBuilder::jwks_refetch_interval`]),
//!    the algorithm the key set gives for the key, a lifetime of at most one hour, not expired,
//!    the issuer and the audience;
//! 3. asks the **live decision** by RFC 7662 introspection (`/oauth2/introspect`, authenticated
//!    as a resource server the operator created with `trustgate resource-server create`), which
//!    answers the client's permissions *now* — its owner's current access (R4), reduced with the
//!    owner (R5), gone with a removed owner or deleted client (R6);
//! 4. puts the [`Caller`] (client, customer, principal, permissions) into the request's
//!    extensions, or answers 401 / 403 / 503 in the Citrix gateway's problem shape.
//!
//! [`require`] then guards a route: `require("orders.read")` answers 403 to a caller without it.
//!
//! # Staleness bound
//!
//! Decisions are kept for [`TrustgateBuilder::decision_ttl`] (default
//! [`DEFAULT_DECISION_TTL`], 5 seconds; at most [`MAX_DECISION_TTL`]). A change to a caller's
//! rights in Trustgate — an owner's access reduced, the owner removed, the client deleted, the
//! token revoked — is enforced by this layer **within the decision TTL** of the change (plus the
//! introspection's own round trip): the first request after a cached decision expires asks
//! again. A TTL of zero asks Trustgate on every request, which is what Trustgate's own APIs do.
//! The key set cache never widens that bound: it only decides whether a token is genuine, never
//! what it may do.
//!
//! Trustgate being unreachable refuses requests (503) rather than serve them on an old decision.
//!
//! # Example
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use trustgate_tower::{require, Caller, Trustgate};
//!
//! async fn list_orders(caller: Caller) -> String {
//!     format!("orders of {}", caller.customer_id)
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let trustgate = Trustgate::builder("https://trustgate.example.com")
//!     .audience("https://api.example.com")
//!     .resource_server(std::env::var("ORDERS_RESOURCE_SERVER_ID")?, std::env::var("ORDERS_RESOURCE_SERVER_SECRET")?)
//!     .build()?;
//!
//! let app: Router = Router::new()
//!     .route("/orders", get(list_orders).route_layer(require("orders.read")))
//!     .layer(trustgate.layer());
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! # Why introspection rather than the gateway decision
//!
//! Trustgate also answers reverse proxies (`/gateway/authorize`), but that decision is per route
//! of the operator's catalog: the service's routes would be declared twice, in Trustgate and in
//! the service. Introspection answers every permission of the token at once, so one cached answer
//! serves all of a service's routes, the routes' permissions stay in the service's code, and the
//! resource server authenticates itself to Trustgate.
//!
//! [axum]: https://docs.rs/axum
//! [tower]: https://docs.rs/tower

#![deny(missing_docs)]

mod caller;
mod decision;
mod keys;
mod layer;
mod rejection;
mod verify;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use secrecy::SecretString;

pub use caller::{Caller, PrincipalKind};
pub use layer::{require, AuthLayer, AuthService, RequireLayer, RequireService};
pub use rejection::Rejection;
pub use verify::MAX_TOKEN_LIFETIME_SECS;

use decision::{Decisions, Introspector};
use keys::KeyCache;

/// How long a decision is kept unless configured: the staleness bound of R5 for this layer.
pub const DEFAULT_DECISION_TTL: Duration = Duration::from_secs(5);
/// The longest decision TTL accepted.
pub const MAX_DECISION_TTL: Duration = Duration::from_secs(60);
/// How often, at most, a token naming an unknown key makes the layer fetch the key set.
pub const DEFAULT_JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// How long a fetched key set is used before it is fetched again on the next request.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(3600);

/// One Trustgate deployment as this service sees it. Cheap to clone; clones share the caches.
#[derive(Clone)]
pub struct Trustgate {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    issuer: String,
    audience: String,
    keys: KeyCache,
    introspector: Introspector,
    decisions: Decisions,
}

/// Why a [`Trustgate`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting is missing, or a value is out of range.
    #[error("{0}")]
    Invalid(String),
    /// The HTTP client could not be built.
    #[error("the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Builds a [`Trustgate`]; see [`Trustgate::builder`].
#[must_use]
pub struct TrustgateBuilder {
    issuer: String,
    audience: Option<String>,
    resource_server: Option<(String, SecretString)>,
    jwks_url: Option<String>,
    introspection_url: Option<String>,
    decision_ttl: Duration,
    max_decisions: usize,
    jwks_refetch_interval: Duration,
    jwks_max_age: Duration,
    http: Option<reqwest::Client>,
}

impl Trustgate {
    /// Starts the configuration for the deployment whose issuer is `issuer`: its public URL,
    /// exactly as its tokens' `iss` and its `/.well-known/openid-configuration` say.
    pub fn builder(issuer: impl Into<String>) -> TrustgateBuilder {
        TrustgateBuilder {
            issuer: issuer.into(),
            audience: None,
            resource_server: None,
            jwks_url: None,
            introspection_url: None,
            decision_ttl: DEFAULT_DECISION_TTL,
            max_decisions: 100_000,
            jwks_refetch_interval: DEFAULT_JWKS_REFETCH_INTERVAL,
            jwks_max_age: DEFAULT_JWKS_MAX_AGE,
            http: None,
        }
    }

    /// The layer to put around a router or a service.
    pub fn layer(&self) -> AuthLayer {
        AuthLayer { trustgate: self.clone() }
    }

    /// What the layer does for each request, for use outside one: the caller of the request
    /// with these `headers`, or why it is refused. A `Citrix-CustomerId` header naming another
    /// customer than the token's is refused (403), as Trustgate's own APIs refuse it.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Caller>, Rejection> {
        let inner = &self.inner;
        let token = verify::bearer_token(headers)?;
        let (header, kid) = verify::header_of(token)?;
        let key = inner.keys.key(&inner.http, &kid).await?;
        let claims = verify::claims(token, &header, &key, &inner.issuer, &inner.audience)?;
        if let Some(customer) = headers.get("citrix-customerid") {
            if customer.as_bytes().trim_ascii() != claims.customer_id.as_bytes() {
                return Err(Rejection::Forbidden {
                    reason: "the token was issued for another customer".to_owned(),
                    scope: None,
                });
            }
        }
        let decision = match inner.decisions.get(&claims.jti) {
            Some(decision) => decision,
            None => {
                let decision = inner.introspector.ask(&inner.http, token, &claims).await?;
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let left = Duration::from_secs(u64::try_from(claims.exp).unwrap_or(0).saturating_sub(now));
                inner.decisions.put(&claims.jti, decision.clone(), left);
                decision
            }
        };
        decision.ok_or_else(Rejection::invalid)
    }

    /// Forgets every cached decision, so each token's next request asks Trustgate: for a service
    /// told of a change by other means (a webhook, an operator).
    pub fn forget_decisions(&self) {
        self.inner.decisions.clear();
    }
}

impl TrustgateBuilder {
    /// The audience Trustgate's tokens name (`aud`; its `--audience`). Required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The resource server's id and secret, as `trustgate resource-server create`
    /// printed them: the introspection endpoint answers only resource servers. Required.
    pub fn resource_server(mut self, id: impl Into<String>, secret: impl Into<SecretString>) -> Self {
        self.resource_server = Some((id.into(), secret.into()));
        self
    }

    /// Where the key set is, when this service reaches Trustgate by another URL than its issuer
    /// (`{issuer}/.well-known/jwks.json` by default).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Where introspection is (`{issuer}/oauth2/introspect` by default).
    pub fn introspection_url(mut self, url: impl Into<String>) -> Self {
        self.introspection_url = Some(url.into());
        self
    }

    /// How long a decision is kept: the bound on how stale a caller's rights can be (see the
    /// crate's documentation). [`DEFAULT_DECISION_TTL`] by default; zero asks on every request;
    /// more than [`MAX_DECISION_TTL`] is refused.
    pub fn decision_ttl(mut self, ttl: Duration) -> Self {
        self.decision_ttl = ttl;
        self
    }

    /// How many decisions are kept at most (100 000 by default).
    pub fn max_decisions(mut self, max: usize) -> Self {
        self.max_decisions = max.max(1);
        self
    }

    /// How often, at most, a token naming an unknown key fetches the key set again
    /// ([`DEFAULT_JWKS_REFETCH_INTERVAL`] by default).
    pub fn jwks_refetch_interval(mut self, interval: Duration) -> Self {
        self.jwks_refetch_interval = interval;
        self
    }

    /// How long a key set is used before it is fetched again ([`DEFAULT_JWKS_MAX_AGE`]).
    pub fn jwks_max_age(mut self, age: Duration) -> Self {
        self.jwks_max_age = age;
        self
    }

    /// An HTTP client of your own for the key set and introspection (roots, proxy, timeouts).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The configured [`Trustgate`]; nothing is fetched until the first request.
    pub fn build(self) -> Result<Trustgate, ConfigError> {
        let issuer = self.issuer.trim().trim_end_matches('/').to_owned();
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return Err(ConfigError::Invalid(format!("the issuer must be an https:// URL, not {issuer:?}")));
        }
        let audience = self.audience.ok_or_else(|| ConfigError::Invalid("audience(…) is required".into()))?;
        let (id, secret) = self
            .resource_server
            .ok_or_else(|| ConfigError::Invalid("resource_server(id, secret) is required".into()))?;
        if self.decision_ttl > MAX_DECISION_TTL {
            return Err(ConfigError::Invalid(format!(
                "decision_ttl must be at most {} s: it bounds how long a reduced caller keeps its rights",
                MAX_DECISION_TTL.as_secs()
            )));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .user_agent(concat!("trustgate-tower/", env!("CARGO_PKG_VERSION")))
                .build()?,
        };
        let jwks_url = self.jwks_url.unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json"));
        let introspection_url = self.introspection_url.unwrap_or_else(|| format!("{issuer}/oauth2/introspect"));
        Ok(Trustgate {
            inner: Arc::new(Inner {
                http,
                audience,
                keys: KeyCache::new(jwks_url, self.jwks_refetch_interval, self.jwks_max_age),
                introspector: Introspector { url: introspection_url, id, secret },
                decisions: Decisions::new(self.decision_ttl, self.max_decisions),
                issuer,
            }),
        })
    }
}
