//! A client for platforms protected by Trustgate: scripts and services that call Citrix Cloud
//! style APIs with an API client's ID and secret.
//!
//! - **Client credentials** on either token endpoint: the OAuth 2.0 form or Citrix's JSON body
//!   on `/cctrustoauth2/{customer}/tokens/clients`, or the legacy `/{customer}/tokens/clients`
//!   ([`TokenEndpoint`]).
//! - **The token is cached** and replaced [`DEFAULT_RENEW_BEFORE`] its one-hour expiry, and
//!   once more when an API answers 401 (a revoked token, a retired signing key). Tokens are never
//!   refreshed otherwise: Trustgate issues no refresh tokens.
//! - **Both header schemes**: `Authorization: CwsAuth Bearer=<token>` with `Citrix-CustomerId`
//!   (the default), or `Authorization: Bearer <token>` ([`AuthScheme`]).
//! - **Typed calls** for the administrators (with paging), notifications and the system log
//!   (with continuation), and [`Client::call`] for any other API of the platform.
//! - **Typed errors** from the problem bodies: [`Error::Api`] carries the gateway's
//!   [`Problem`] (`authorization`, `notFound`, its `reason`), [`Error::Token`] the token
//!   endpoint's RFC 6749 error.
//!
//! The client secret is a [`SecretString`]: it is never printed, not even by `Debug`.
//!
//! # Example
//!
//! ```no_run
//! use trustgate_client::{AdministratorsQuery, Client, NewNotification, SystemLogQuery};
//!
//! # async fn run() -> Result<(), trustgate_client::Error> {
//! let client = Client::builder("https://trustgate.example.com")
//!     .credentials("8a5e…client id", std::env::var("TRUSTGATE_CLIENT_SECRET").unwrap_or_default())
//!     .customer("acme")
//!     .build()?;
//!
//! for admin in client.all_administrators(&AdministratorsQuery::page_size(100)).await? {
//!     println!("{} {}", admin.display_name, admin.access_type);
//! }
//! client.post_notification(&NewNotification::new("backup", "Backup done", "All good.")).await?;
//! let page = client.system_log(&SystemLogQuery::page_size(50)).await?;
//! println!("{} records, more: {}", page.items.len(), page.continuation_token.is_some());
//!
//! // Any other API of the platform, with the same token handling.
//! let orders: serde_json::Value = client.get("/orders").await?;
//! # let _ = orders;
//! # Ok(())
//! # }
//! ```
//!
//! # TLS
//!
//! The default HTTP client uses rustls with Mozilla's root certificates (`webpki-roots`). Pass
//! your own [`reqwest::Client`] to [`ClientBuilder::http_client`] for other roots, a proxy or
//! another crypto provider.

#![deny(missing_docs)]

mod api;
mod client;
mod error;
mod token;

pub use api::{
    Administrator, AdministratorsQuery, LogRecord, NewNotification, Notification, NotificationContent, Page,
    SystemLogQuery,
};
pub use client::{Client, ClientBuilder, DEFAULT_RENEW_BEFORE};
pub use error::{Error, Problem, ProblemParameter, TokenError};
pub use reqwest;
pub use reqwest::Method;
pub use secrecy::{ExposeSecret, SecretString};
pub use token::{AuthScheme, TokenEndpoint};
