//! The Trustgate server: token endpoints, platform APIs, management API, the administrator
//! console and the operator CLI.

pub mod authz_cache;
pub mod bench;
pub mod catalog_file;
pub mod cli;
pub mod config;
#[cfg(unix)]
pub mod control;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod ops;
pub mod routes;
pub mod secret_expiry;
pub mod state;
pub mod tls;

mod auth;
mod body;
mod bounded;
mod catalog_view;
mod conn;
mod console;
mod error;
mod grant;
mod list_cache;
pub mod mail;
mod observe;
mod oidc;
mod password;
mod refusals;
mod retention;
mod revoked;
mod scim;
mod session;
mod throttle;
mod token_cache;
mod transaction;
mod wire;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use config::ServerConfig;
pub use error::ApiError;
pub use revoked::REVOCATIONS_PER_CLIENT;
pub use state::AppState;
pub use throttle::{Policy as ThrottlePolicy, CEILING_FACTOR as THROTTLE_CEILING_FACTOR};

/// Serves on an already bound listener until `shutdown` completes (tests bind port 0), with the
/// connection limits of the state's configuration.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, None, shutdown).await
}

/// [`serve`], over TLS when `tls` is given (see [`tls::server_config`]).
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config.connections;
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let served = conn::serve(listener, routes::router(state.clone()), limits, tls, shutdown).await;
    // Counts of refusals still in their window are written before the process goes.
    state.flush_refusals().await;
    served
}

/// Serves Prometheus metrics at `/metrics` on a listener of their own (`serve --metrics-listen`),
/// until `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config.connections;
    conn::serve(listener, metrics::router(state), limits, None, shutdown).await
}
